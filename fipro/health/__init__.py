"""Spending health score and spending-based risk grade (notebook 06).

Laid out as the life-stage model's template (:mod:`fipro.lifestage`):

==============  ==============================================================
``data``        this quarter's spending beside the customer's own past
``components``  eight components over four pillars (rules, 0–100), tiers
``estimator``   :class:`HealthWeights` (weights corrected by the outcome), :class:`RiskModel`,
                :class:`ScoreFunction` (components beside the risk outlook), :func:`smoothed`
``evaluation``  held-out AUC beside the stress ceiling, monotone tiers and grades,
                calibration, stability between quarters, fairness
``reasons``     the components that lower a score most, in Korean
``artifacts``   ``scores.parquet``, models, registry entry, model card; declarations
``pipeline``    :func:`run_quarter` (what notebook 06 calls and ``make benchmark`` times)
==============  ==============================================================
"""

from fipro.health.artifacts import HANDOFF, REPORT, SCORES_FILE, SUMMARY, component_table, model_dir, save_artifacts
from fipro.health.components import (COMPONENT_BY_NAME, COMPONENT_NAMES, COMPONENTS, TIERS, TRANSIENT_WEIGHT, compute_components, peer_percentile,
                                     rule_weights, tier_of, weighted_score)
from fipro.health.data import MODEL_NAME, HealthInputs, iter_window, load_inputs
from fipro.health.estimator import (OUTLOOK_SHARE, SMOOTH_ALPHA, WINDOW, HealthWeights, RiskModel, ScoreFunction,
                                    grades_from_score, smoothed)
from fipro.health.estimator import FIT_ROWS, RISK_MONOTONE, fit_rows_of, risk_inputs
from fipro.health.evaluation import (TARGETS, compare_learners, display_ko, evaluate, fairness_table, load_labels,
                                     measurement_table, tier_cut_note_ko, tier_mix_table, transient_tradeoff)
from fipro.health.pipeline import HealthRun, describe_run, fairness_sentence, run_quarter, score_table, worked_examples
from fipro.health.reasons import customer_reasons, lowest
from fipro.evaluation.registry import artifact_table

__all__ = [name for name in dir() if not name.startswith("_")]
