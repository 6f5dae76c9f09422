"""Life-stage classifier: the model template every later model copies.

A model is a small package with one module per step, so a newcomer finds any model's
parts in the same places:

============  ==============================================================
``data``      labels, features, pooled quarters, stratified training sample
``estimator`` :class:`LifeStageClassifier` (LightGBM + scikit-learn calibration)
``selection`` tuning once per run: a small grid and the learning curve that
              sets the training size (``outputs/models/lifestage/selection.json``)
``evaluation`` baselines, held-out scores, calibration, Bayes ceiling (the temporal check: :mod:`fipro.decay`)
``reasons``   Korean feature names, SHAP importance, a reason sentence per customer
``feedback``  user corrections folded into training
``artifacts`` model, registry entry, model card, ``predictions.parquet``
``pipeline``  :func:`run_quarter`: the steps chained with one set of defaults
              (what notebook 03 calls and ``make benchmark`` times)
============  ==============================================================

Shared parts (metrics, calibration, baselines, SHAP, registry, cards) live in
:mod:`fipro.evaluation`; paths and loaders in :mod:`fipro.datasets`.
"""

from fipro.evaluation.baselines import GroupMajorityClassifier
from fipro.lifestage.artifacts import (HANDOFF, REPORT, SUMMARY, artifact_table, model_dir, prediction_table,
                                       save_artifacts)
from fipro.lifestage.data import (CODE_NAMES, CODES, DEFAULT_HISTORY, MODEL_DISPLAY, MODEL_NAME, TARGET,
                                  available_features, class_distribution, current_rows, feature_columns, load_inputs,
                                  pooled_quarters, sample_training_rows, train_test_rows)
from fipro.lifestage.estimator import DEFAULT_PARAMS, LifeStageClassifier, fit_lifestage
from fipro.lifestage.evaluation import (TARGETS, Evaluation, bayes_ceiling, comparison_table_ko, describe_ceiling,
                                        evaluate, fit_baselines, load_labels, measurement_table,
                                        uses_previous_quarter)
from fipro.lifestage.feedback import (FEEDBACK_COLUMNS, apply_feedback, describe_feedback, feedback_effect,
                                      feedback_path, feedback_report_table, feedback_summary, read_feedback,
                                      validate_feedback)
from fipro.lifestage.pipeline import LifeStageRun, describe_run, headline_metrics, run_quarter
from fipro.lifestage.reasons import (customer_reasons, example_reasons, explain, feature_label_ko, feature_labels_ko, predict,
                                     predict_customer, reason_phrases, shap_importance)
from fipro.lifestage.selection import ModelSelection, load_or_select, select_model

__all__ = [name for name in dir() if not name.startswith("_")]
