"""Product recommendation (notebook 07): benefit-based card ranking, segment fallback, life-stage products.

Laid out as the life-stage model's template (:mod:`fipro.lifestage`), with the catalogue
and the benefit rules in :mod:`fipro.products`:

==============  ==============================================================
``data``        spending profiles (this quarter, the mean over active quarters), history depth, segment
``estimator``   :class:`CardRanker` (eligible cards by expected net benefit), segment profiles, the blend,
                non-card product fit
``evaluation``  realised benefit on the next quarter against the best single card in hindsight (the
                headline) and the per-quarter oracle, the popular and a random card (its expected
                value); top-3 hit rate, robustness at tier floors, coverage, diversity
``reasons``     a Korean sentence naming the categories and won amounts
``artifacts``   ``recommendations.parquet`` (the log), registry entry, model card; declarations
``pipeline``    :func:`run_quarter` (what notebook 07 calls and ``make benchmark`` times)
==============  ==============================================================
"""

from fipro.recommend.artifacts import (HANDOFF, LOG_COLUMNS, REPORT, SUMMARY, load_log, log_path, model_dir,
                                       save_artifacts)
from fipro.recommend.data import MODEL_NAME, RecommendInputs, load_inputs
from fipro.recommend.estimator import (BenefitHistory, CardRanker, blend, order_cards, prior_formula_ko,
                                       segment_profiles, settled, spending_spread, tier_likelihood_benefit)
from fipro.recommend.evaluation import TARGETS, baseline_table, evaluate, hindsight_cards, measurement_table
from fipro.recommend.pipeline import (Ranked, Recommended, RecommendRun, amount_period_table, benefit_by, benefit_table,
                                      catalogue_overview, describe_run, measure_on, measure_recommended, rank_quarter, run_quarter,
                                      saved_recommended,
                                      top_card_table, worked_examples)
from fipro.evaluation.registry import artifact_table
from fipro.recommend.reasons import customer_reasons

__all__ = [name for name in dir() if not name.startswith("_")]
