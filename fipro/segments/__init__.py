"""Customer segments and similar-customer search (notebook 05).

Laid out as the life-stage model's template (:mod:`fipro.lifestage`):

==============  ==============================================================
``data``        each customer's spending style relative to peers, over their quarters
``estimator``   :class:`SegmentModel` (style space, k-means), :class:`MapEmbedder` (UMAP map)
``evaluation``  silhouette, DBCV, planted segments and their ceilings, stability,
                the UMAP + HDBSCAN comparison
``profiles``    each segment's profile and Korean name (the model's reasons)
``similarity``  :class:`SimilarityIndex`: nearest customers and the traits they share
``artifacts``   assignments, index, profiles, model, card; declarations
``pipeline``    :func:`run_quarter` (what notebook 05 calls and ``make benchmark`` times)
==============  ==============================================================
"""

from fipro.segments.artifacts import (ASSIGNMENTS_FILE, HANDOFF, INDEX_FILE, NOISE_NAME, REPORT, SUMMARY,
                                      load_assignments, load_index, model_dir, save_artifacts)
from fipro.segments.data import (CATEGORIES, MODEL_NAME, STYLE_COLUMNS, SegmentInputs, load_inputs, quarter_style,
                                 stratified_sample)
from fipro.segments.estimator import DEFAULT_PARAMS, MapEmbedder, SegmentModel, fit_segments
from fipro.segments.evaluation import (TARGETS, agreement_table, compare_methods, dbcv, evaluate, load_labels,
                                       measurement_table)
from fipro.segments.pipeline import (FIT_ROWS, SegmentRun, assign, describe_run, map_groups, query_latency, run_quarter,
                                     size_history, worked_query)
from fipro.segments.profiles import customer_reasons, name_segments, profile_segments, profile_table
from fipro.segments.similarity import SimilarityIndex, trait_scores
from fipro.evaluation.registry import artifact_table

__all__ = [name for name in dir() if not name.startswith("_")]
