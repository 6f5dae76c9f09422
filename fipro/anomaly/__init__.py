"""Anomaly detection: explained rules plus an Isolation Forest, combined (notebook 04).

Laid out as the life-stage model's template (:mod:`fipro.lifestage`):

==============  ==============================================================
``data``        this quarter's amounts beside each customer's earlier quarters
``rules``       six rules: statistic, threshold with its reason, Korean sentence
``estimator``   :class:`OneSidedIsolationForest` on the rules' statistics
``evaluation``  planted truth (synthetic data), per type and magnitude band, and
                the observable yardstick (:mod:`fipro.evaluation.yardstick`)
``reasons``     fired rules and the model's pushes, in Korean
``artifacts``   ``scores.parquet``, model, registry entry, model card; declarations
``pipeline``    :func:`run_quarter` (what notebook 04 calls and ``make benchmark`` times)
==============  ==============================================================
"""

from fipro.anomaly.artifacts import HANDOFF, REPORT, SCORES_FILE, SUMMARY, model_dir, save_artifacts
from fipro.anomaly.data import MODEL_NAME, AnomalyInputs, load_inputs
from fipro.anomaly.estimator import DEFAULT_PARAMS, OneSidedIsolationForest, fit_anomaly, model_inputs
from fipro.anomaly.evaluation import (TARGETS, UPPER_HALF_RECALL_TARGETS, YARDSTICK_SHARE_TARGET, AnomalyEvaluation,
                                      describe, describe_hard_types, display_by_type, display_scores, evaluate,
                                      load_labels, measurement_table, pooled_upper_half)
from fipro.anomaly.pipeline import (FLAG_SHARE, REVIEW_N, AnomalyRun, combined_score, describe_run, run_quarter,
                                   worked_examples)
from fipro.evaluation.registry import artifact_table
from fipro.anomaly.reasons import customer_reasons
from fipro.anomaly.rules import (DEFAULT_THRESHOLDS, RULE_NAMES, RULES, ranking, rule_rates, rule_statistics,
                                 threshold_table)

__all__ = [name for name in dir() if not name.startswith("_")]
