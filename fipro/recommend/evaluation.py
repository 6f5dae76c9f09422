"""Evaluation step: recommend from quarter t, measure on quarter t+1's real spending.

There is no click data, so the test is offline and honest: for each customer present in
both quarters, what each recommended card would really have paid on the next quarter's
spending, against two clairvoyant references — the best single card in hindsight (the
card with the highest mean benefit over the customer's quarters up to and including the
measured one, never a later one: what holding one card would at best have paid; the
headline ``share_of_hindsight_card``) and the per-quarter oracle (the best eligible card
for t+1 alone, which no card held for a while can match when spending moves) — and
against the most-popular-card baseline and a random eligible card (its exact expected
value: the mean over the customer's eligible cards). Also: how often the oracle card is
in the top 3, robustness at 실적 tier boundaries (monthly spend jittered by ±15%),
catalogue coverage and diversity across customers.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from scipy import stats

from fipro.evaluation import intervals as iv
from fipro.modelrun import Target, targets_frame
from fipro.recommend.estimator import CardRanker, order_cards

JITTER = 0.15
# of the best single card in hindsight (issue 26: the per-quarter oracle was the wrong reference,
# no card held for a while reaches it), from the third quarter on (two quarters of history)
MIN_HINDSIGHT_SHARE = 0.92
MIN_LIFT_OVER_POPULAR = 1.3
# the targets beside this quarter's measurement (measurement_table); all need the next quarter
TARGETS = (
    Target("share_of_hindsight_card", "사후 최선 카드 한 장 대비 혜택 비율 (측정 분기까지)",
           at_least=MIN_HINDSIGHT_SHARE, needs="has_measurement"),
    Target("oracle_share", "참고: 분기별 사후 최선 카드 대비 혜택 비율", needs="has_measurement"),
    Target("hindsight_card_oracle_share", "참고: 사후 최선 카드 한 장이 분기별 사후 최선에서 얻는 비율",
           needs="has_measurement"),
    Target("lift_over_popular", "인기 카드 기준선 대비 배수", at_least=MIN_LIFT_OVER_POPULAR, needs="has_measurement"),
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


def random_expected(realised: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """A random eligible card's exact expected benefit per customer: the mean of ``realised``
    over the customer's eligible cards (NaN when none is)."""
    n = eligible.sum(1)
    total = np.where(eligible, realised, 0.0).sum(1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def hindsight_cards(ranker: CardRanker, benefit_sum: np.ndarray, benefit_count: np.ndarray, realised: np.ndarray,
                    outcome: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Each customer's best single card in hindsight: the highest mean net benefit over the
    quarters with spending up to and including the measured one (``benefit_sum`` /
    ``benefit_count``: the ``benefit`` history up to the recommendation quarter; ``realised``:
    every card's benefit on the measured quarter's ``outcome``). The same mean as the ``benefit``
    history state of the measured quarter, with no later quarter and no second engine pass."""
    active = outcome.sum(1) > 0
    # float32 in place: customers × cards matrices at full scale (the benefit history's own dtype)
    mean = np.array(benefit_sum, dtype=np.float32)
    mean += np.where(active[:, None] & eligible, realised, np.float32(0))
    count = np.asarray(benefit_count, dtype=np.float32) + active
    mean /= np.maximum(count, 1)[:, None]
    never = count == 0
    mean[never] = -ranker.engine.fee_month.astype(np.float32)
    mean[~eligible] = -np.inf
    return order_cards(mean, ranker.fee, 1)[:, 0]


def _pick(net: np.ndarray, cards: np.ndarray) -> np.ndarray:
    return np.where(cards >= 0, np.take_along_axis(net, np.maximum(cards, 0)[:, None], 1)[:, 0], np.nan)


def evaluate(ranker: CardRanker, top: np.ndarray, eligible: np.ndarray, outcome: np.ndarray, *,
             benefit_sum: Optional[np.ndarray] = None, benefit_count: Optional[np.ndarray] = None,
             intervals: bool = False, seed: Optional[int] = None) -> dict:
    """Realised benefit on the next quarter (``outcome``: those customers' won per month; ``top``,
    ``eligible`` for the same customers) for the recommender, the baselines, the per-quarter
    oracle and (given the customers' ``benefit`` history up to the recommendation quarter) the
    best single card in hindsight.

    With ``intervals``, the recommender's and the baselines' numbers carry 95% intervals over the
    measured customers (``<key>_lo``, ``<key>_hi``, ``intervals``): a bootstrap (``seed``) for the
    shares (a ratio of sums), the lift over the popular card (the ratio of the two sums: the
    oracle's cancels) and the mean regrets, Wilson's for the shares of customers (best card in the
    top 3, first card the best)."""
    realised = ranker.net(outcome, eligible)
    fee = ranker.fee
    oracle_card = order_cards(realised, fee, 1)[:, 0]
    has = oracle_card >= 0
    oracle = _pick(realised, oracle_card)
    chosen = _pick(realised, top[:, 0])
    popular = _pick(realised, popular_card(top[:, 0], eligible))
    rand = random_expected(realised, eligible)
    denom = float(np.nansum(oracle[has]))

    def share(values, base=denom):
        return float(np.nansum(values[has]) / base) if base > 0 else float("nan")

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
    if benefit_sum is not None:
        card = hindsight_cards(ranker, benefit_sum, benefit_count, realised, outcome, eligible)
        hindsight = _pick(realised, card)
        base = float(np.nansum(hindsight[has]))
        out.update({"share_of_hindsight_card": share(chosen, base), "hindsight_card_oracle_share": share(hindsight),
                    "popular_share_of_hindsight_card": share(popular, base),
                    "random_share_of_hindsight_card": share(rand, base),
                    "hindsight_card_top1": float((top[:, 0] == card)[has].mean()) if has.any() else float("nan"),
                    "mean_hindsight_benefit_won": float(np.nanmean(hindsight[has]))})
    if intervals and has.any():
        found = {"oracle_share": iv.ratio_interval(chosen[has], oracle[has], seed=seed),
                 "mean_regret_won": iv.mean_interval((oracle - chosen)[has], seed=seed),
                 "oracle_in_top3": iv.share_interval(in_top[has]),
                 "oracle_top1": iv.share_interval((top[:, 0] == oracle_card)[has]),
                 "lift_over_popular": (iv.ratio_interval(chosen[has], popular[has], seed=seed)
                                       if np.isfinite(out["lift_over_popular"]) else None)}
        for name, values in (("popular", popular), ("random", rand)):  # the baselines, measured alike
            found[f"{name}_oracle_share"] = iv.ratio_interval(values[has], oracle[has], seed=seed)
            found[f"{name}_mean_regret_won"] = iv.mean_interval((oracle - values)[has], seed=seed)
        if benefit_sum is not None:
            found["hindsight_card_top1"] = iv.share_interval((top[:, 0] == card)[has])
            for name, values in (("", chosen), ("popular_", popular), ("random_", rand)):
                found[f"{name}share_of_hindsight_card"] = iv.ratio_interval(values[has], hindsight[has], seed=seed)
        iv.add_intervals(out, found)
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
    out = {"rank_change_share": float(changed.mean()) if len(changed) else float("nan"),
           "near_floor_share": float(near.mean()) if len(near) else float("nan"),
           "near_floor_rank_change_share": float(changed[near].mean()) if near.any() else float("nan")}
    # shares of customers: Wilson's interval
    return iv.add_intervals(out, {"rank_change_share": iv.share_interval(changed) if len(changed) else None,
                                  "near_floor_share": iv.share_interval(near) if len(near) else None,
                                  "near_floor_rank_change_share": iv.share_interval(changed[near]) if near.any() else None})


def coverage(top: np.ndarray, n_cards: int) -> dict:
    """Catalogue coverage of the top 3 and diversity of the first card (normalised entropy)."""
    shown = np.unique(top[top >= 0])
    counts = np.bincount(top[:, 0][top[:, 0] >= 0], minlength=n_cards).astype(float)
    entropy = float(stats.entropy(counts) / np.log(n_cards)) if n_cards > 1 and counts.sum() else 0.0
    return {"catalogue_coverage": float(len(shown) / n_cards), "top1_entropy": entropy,
            "top1_largest_share": float(counts.max() / counts.sum()) if counts.sum() else float("nan")}


def baseline_table(m: dict) -> pd.DataFrame:
    """The recommender beside the baselines (Korean); ``m``: :func:`evaluate`'s numbers. The random
    card's row is its exact expected value over the eligible cards."""
    rows = [("추천(1순위)", m.get("share_of_hindsight_card"), m["oracle_share"], m["mean_regret_won"]),
            ("가장 많이 추천된 카드", m.get("popular_share_of_hindsight_card"), m["popular_oracle_share"],
             m["popular_mean_regret_won"]),
            ("무작위 가입 가능 카드(기댓값)", m.get("random_share_of_hindsight_card"), m["random_oracle_share"],
             m["random_mean_regret_won"])]
    columns = ["방법", "사후 최선 카드 한 장 대비", "분기별 사후 최선 대비", "평균 후회(원/월)"]
    table = pd.DataFrame(rows, columns=columns).set_index("방법")
    return table if table[columns[1]].notna().any() else table.drop(columns=columns[1])


def measurement_table(run) -> pd.DataFrame:
    """The targets beside this quarter's measurement (Korean); empty without a next quarter."""
    return targets_frame(run.headline, TARGETS)


def score_comparison(ranker: CardRanker, scores: dict, eligible: np.ndarray, outcome: np.ndarray,
                     benefit_sum: np.ndarray, benefit_count: np.ndarray) -> pd.DataFrame:
    """Share of the best single card in hindsight and of the per-quarter oracle for rankings made
    from different expected-benefit matrices (customers × cards), measured the same way on the
    next quarter (every argument for the same customers)."""
    rows = {}
    for name, score in scores.items():
        top = ranker.rank_scores(score, eligible).top
        m = evaluate(ranker, top, eligible, outcome, benefit_sum=benefit_sum, benefit_count=benefit_count)
        rows[name] = {"사후 최선 카드 한 장 대비": m["share_of_hindsight_card"], "분기별 사후 최선 대비": m["oracle_share"],
                      "최선 카드가 3순위 안": m["oracle_in_top3"], "평균 후회(원/월)": m["mean_regret_won"]}
    return pd.DataFrame(rows).T
