"""Per customer × quarter features shared by every model, and their contract.

One vectorised function, :func:`build_features`, turns a quarter of the processed
table (``datasets.load_quarter``) plus, optionally, the previous quarter into one row
of features per customer; the serving path, :func:`customer_features`, calls the same
function on one customer's rows, so batch and serving agree exactly.

One job per module:

=================================  ========================================================
:mod:`~fipro.features.spec`        the contract: :data:`FEATURE_SPECS` (families and rules),
                                   names, Korean labels, the schema as a dict and a table
:mod:`~fipro.features.build`       computing them: :func:`build_features`,
                                   :func:`customer_features`, the measures of a built frame
:mod:`~fipro.features.cache`       the files: per-quarter cache (:func:`load_features`,
                                   :func:`build_report`), the schema file, the command line
=================================  ========================================================

The names below are the package's public API (``from fipro import features``).
"""

from __future__ import annotations

from fipro.datasets import normalise_quarter, previous_quarter
from fipro.features import build, cache, spec
from fipro.features.build import (
    build_features, customer_features, feature_metrics, metrics_summary_ko, missing_pattern, summary_ko,
)
from fipro.features.cache import (
    PREVIOUS_COLUMNS, FeatureReport, build_report, features_path, is_fresh, load_features, load_quarter_pair, main,
    schema_path, write_feature_schema, write_features,
)
from fipro.features.spec import (
    CATEGORY_COLUMNS, CHANGE_COLUMNS, FAMILIES, FEATURE_BY_NAME, FEATURE_SPECS, GRADE_ORDINAL, HEADLINE_FEATURES,
    KEY_COLUMNS, REGION_ROMAN, FeatureSpec, family_counts, feature_label_ko, feature_names, feature_schema,
    model_feature_names, schema_table,
)

__all__ = [
    "CATEGORY_COLUMNS", "CHANGE_COLUMNS", "FAMILIES", "FEATURE_BY_NAME", "FEATURE_SPECS", "GRADE_ORDINAL",
    "HEADLINE_FEATURES", "KEY_COLUMNS", "PREVIOUS_COLUMNS", "REGION_ROMAN", "FeatureReport", "FeatureSpec", "build",
    "build_features", "build_report", "cache", "customer_features", "family_counts", "feature_label_ko",
    "feature_metrics", "feature_names", "feature_schema", "features_path", "is_fresh", "load_features",
    "load_quarter_pair", "main", "metrics_summary_ko", "missing_pattern", "model_feature_names",
    "normalise_quarter", "previous_quarter", "schema_path", "schema_table", "spec", "summary_ko",
    "write_feature_schema", "write_features",
]
