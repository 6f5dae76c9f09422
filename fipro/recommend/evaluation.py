"""Evaluation step: recommend from quarter t, measure on quarter t+1's real spending.

There is no click data, so the test is offline and honest: for each customer present in
both quarters, what each recommended card would really have paid on the next quarter's
spending, against the oracle (the best eligible card for t+1 in hindsight), the
most-popular-card baseline and a random eligible card. Also: how often the oracle card is
in the top 3, robustness at 실적 tier boundaries (monthly spend jittered by ±15%),
catalogue coverage and diversity across customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fipro import history, split
from fipro.modelrun import Target, targets_frame
from fipro.recommend.estimator import CardRanker, order_cards

JITTER = 0.15
MIN_ORACLE_SHARE = 0.9   # of the hindsight-best card's benefit on the next quarter
MIN_LIFT_OVER_POPULAR = 1.3
# the targets beside this quarter's measurement (measurement_table); all need the next quarter
TARGETS = (
    Target("oracle_share", "사후 최선 대비 혜택 비율", at_least=MIN_ORACLE_SHARE, needs="has_measurement"),
    Target("lift_over_popular", "인기 카드 기준선 대비 배수", at_least=MIN_LIFT_OVER_POPULAR, needs="has_measurement"),
    Target("fixed_card_ceiling_share", "참고: 한 장을 전 기간 들고 있는 사후 최선(미래 포함)", needs="has_measurement"),
    Target("oracle_in_top3", "사후 최선 카드가 3순위 안", needs="has_measurement"),
    Target("rank_change_share", f"지출 ±{JITTER:.0%}에 1순위가 바뀌는 비율", needs="has_measurement"),
    Target("near_floor_rank_change_share", "  그중 실적 구간 경계 근처 고객", needs="has_measurement"),
)


def popular_card(top1: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per customer, the most often recommended first card they are eligible for."""
    counts = np.bincount(top1[top1 >= 0], minlength=eligible.shape[1]).astype(float)
    preference = np.argsort(-counts, kind="stable")
    ranked = eligible[:, preference]
    first = np.argmax(ranked, axis=1)
    return np.where(ranked.any(1), preference[first], -1)


def random_card(eligible: np.ndarray, seed: int) -> np.ndarray:
    """A seeded random eligible card per customer (−1 when none is)."""
    rng = np.random.default_rng(seed)
    noise = np.where(eligible, rng.random(eligible.shape), -1.0)
    return np.where(eligible.any(1), noise.argmax(1), -1)


def _pick(net: np.ndarray, cards: np.ndarray) -> np.ndarray:
    return np.where(cards >= 0, np.take_along_axis(net, np.maximum(cards, 0)[:, None], 1)[:, 0], np.nan)


def evaluate(ranker: CardRanker, top: np.ndarray, eligible: np.ndarray, outcome: np.ndarray, *, seed: int) -> dict:
    """Realised benefit on the next quarter (``outcome``: those customers' won per month; ``top``,
    ``eligible`` for the same customers) for the recommender, the baselines and the oracle."""
    realised = ranker.net(outcome, eligible)
    fee = ranker.fee
    oracle_card = order_cards(realised, fee, 1)[:, 0]
    has = oracle_card >= 0
    oracle = _pick(realised, oracle_card)
    chosen = _pick(realised, top[:, 0])
    popular = _pick(realised, popular_card(top[:, 0], eligible))
    rand = _pick(realised, random_card(eligible, seed))
    denom = float(np.nansum(oracle[has]))

    def share(values):
        return float(np.nansum(values[has]) / denom) if denom > 0 else float("nan")

    in_top = (top == oracle_card[:, None]).any(1)
    out = {"n_measured": int(has.sum()),
           "oracle_share": share(chosen), "popular_oracle_share": share(popular), "random_oracle_share": share(rand),
           "mean_regret_won": float(np.nanmean((oracle - chosen)[has])),
           "popular_mean_regret_won": float(np.nanmean((oracle - popular)[has])),
           "random_mean_regret_won": float(np.nanmean((oracle - rand)[has])),
           "oracle_in_top3": float(in_top[has].mean()) if has.any() else float("nan"),
           "oracle_top1": float((top[:, 0] == oracle_card)[has].mean()) if has.any() else float("nan"),
           "mean_oracle_benefit_won": float(np.nanmean(oracle[has])),
           "mean_realised_benefit_won": float(np.nanmean(chosen[has]))}
    out["lift_over_popular"] = (out["oracle_share"] / out["popular_oracle_share"]
                                if out["popular_oracle_share"] and out["popular_oracle_share"] > 0 else float("nan"))
    return out


def robustness(ranker: CardRanker, profiles: np.ndarray, eligible: np.ndarray, seed: int) -> dict:
    """Share of customers whose first card on their monthly profile changes when the profile is
    scaled by a seeded factor in [1 − 15%, 1 + 15%]; overall and for those whose 실적-eligible
    spend lies within 15% of some card's tier floor."""
    rng = np.random.default_rng(seed)
    factor = rng.uniform(1 - JITTER, 1 + JITTER, len(profiles))
    top1 = order_cards(ranker.net(profiles, eligible), ranker.fee, 1)[:, 0]
    jittered = order_cards(ranker.net(profiles * factor[:, None], eligible), ranker.fee, 1)[:, 0]
    changed = jittered != top1
    floors = ranker.engine.floors[np.isfinite(ranker.engine.floors) & (ranker.engine.floors > 0)]
    spend = profiles[:, ~ranker.engine.excluded].sum(1)
    near = (np.abs(spend[:, None] / np.unique(floors)[None, :] - 1) <= JITTER).any(1) if len(floors) else np.zeros(len(spend), bool)
    return {"rank_change_share": float(changed.mean()) if len(changed) else float("nan"),
            "near_floor_share": float(near.mean()) if len(near) else float("nan"),
            "near_floor_rank_change_share": float(changed[near].mean()) if near.any() else float("nan")}


def coverage(top: np.ndarray, n_cards: int) -> dict:
    """Catalogue coverage of the top 3 and diversity of the first card (normalised entropy)."""
    shown = np.unique(top[top >= 0])
    counts = np.bincount(top[:, 0][top[:, 0] >= 0], minlength=n_cards).astype(float)
    p = counts[counts > 0] / counts.sum() if counts.sum() else np.array([1.0])
    entropy = float(-(p * np.log(p)).sum() / np.log(n_cards)) if n_cards > 1 else 0.0
    return {"catalogue_coverage": float(len(shown) / n_cards), "top1_entropy": entropy,
            "top1_largest_share": float(counts.max() / counts.sum()) if counts.sum() else float("nan")}


def baseline_table(m: dict) -> pd.DataFrame:
    """The recommender beside the baselines (Korean); ``m``: :func:`evaluate`'s numbers."""
    rows = [("추천(1순위)", m["oracle_share"], m["mean_regret_won"]),
            ("가장 많이 추천된 카드", m["popular_oracle_share"], m["popular_mean_regret_won"]),
            ("무작위 가입 가능 카드", m["random_oracle_share"], m["random_mean_regret_won"])]
    table = pd.DataFrame(rows, columns=["방법", "사후 최선 대비 혜택 비율", "평균 후회(원/월)"]).set_index("방법")
    return table


def measurement_table(run) -> pd.DataFrame:
    """The targets beside this quarter's measurement (Korean); empty without a next quarter."""
    return targets_frame(run.headline, TARGETS)


def score_comparison(ranker: CardRanker, scores: dict, eligible: np.ndarray, pos: np.ndarray,
                     outcome: np.ndarray, seed: int) -> pd.DataFrame:
    """Oracle share of rankings made from different expected-benefit matrices (customers × cards),
    measured the same way on the next quarter."""
    rows = {}
    for name, score in scores.items():
        top = ranker.rank_scores(score, eligible).top[pos]
        m = evaluate(ranker, top, eligible[pos], outcome, seed=seed)
        rows[name] = {"사후 최선 대비 혜택 비율": m["oracle_share"], "최선 카드가 3순위 안": m["oracle_in_top3"],
                      "평균 후회(원/월)": m["mean_regret_won"]}
    return pd.DataFrame(rows).T


def fixed_card_ceiling(ranker: CardRanker, seq: np.ndarray, eligible: np.ndarray, pos: np.ndarray,
                       outcome: np.ndarray, last_quarter: str, seed: int, max_customers: int = 100_000) -> dict:
    """A clairvoyant reference, not a model: each customer's best single card over *all* the
    quarters up to ``last_quarter`` (the next one included), measured like the recommender. It
    shows how much of the per-quarter oracle any card held for a whole period can reach when
    spending varies from quarter to quarter. On a seeded draw of at most ``max_customers``
    measured customers; the mean benefits come from the ``benefit`` history state of
    ``last_quarter`` (the committed catalogue's)."""
    keep = split.sample_positions(len(pos), max_customers, seed)
    state = history.aligned(history.source(), last_quarter, np.asarray(seq)[pos[keep]], "benefit")
    total = history.matrix(state, "benefit", "sum").astype(np.float64)
    count = state["n"].to_numpy(dtype=np.float64)
    best = ranker.rank_scores(total / np.maximum(count, 1)[:, None], eligible[pos[keep]]).top
    m = evaluate(ranker, best, eligible[pos[keep]], outcome[keep], seed=seed)
    return {"fixed_card_ceiling_share": m["oracle_share"], "fixed_card_ceiling_customers": int(len(keep))}
