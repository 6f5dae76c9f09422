"""Reasons step of the health model: the two parts that lower a customer's score most (components or
the outlook), in Korean."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from fipro.health.components import COMPONENT_BY_NAME, COMPONENT_NAMES
from fipro.modelrun import saved_reasons

N_REASONS = 2
SHORTFALL_MIN = 5.0  # weighted points: smaller shortfalls are not worth a sentence


def shortfalls(components: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Points each component takes off the score: weight × (100 − component)."""
    w = np.asarray(weights) / np.sum(weights)
    return (100.0 - components[list(COMPONENT_NAMES)]) * w


# the score's other part: the risk model's outlook and the customer's recent quarters (issue 26)
OUTLOOK = "outlook"
OUTLOOK_LOW_KO = "소비 흐름으로 본 다음 분기 전망(위험 모델, 최근 분기 포함)이 이번 분기 구성 요소보다 나쁩니다"


def lowest(components: pd.DataFrame, weights: np.ndarray, n: int = N_REASONS,
           outlook_points: Optional[np.ndarray] = None) -> list[list[str]]:
    """Per customer, the names of the ``n`` parts that lower the score most (largest first): the
    components by their weighted shortfall and, given ``outlook_points`` (the score minus the
    components' weighted mean), ``OUTLOOK`` by the points it takes off."""
    s = shortfalls(components, weights).to_numpy()
    names = list(COMPONENT_NAMES)
    if outlook_points is not None:
        s = np.column_stack([s, np.maximum(0.0, -np.asarray(outlook_points, dtype=np.float64))])
        names.append(OUTLOOK)
    order = np.argsort(-s, axis=1, kind="stable")[:, :n]
    names = np.array(names)
    return [[names[j] for j in row if s[i, j] >= SHORTFALL_MIN] for i, row in enumerate(order)]


def _low_ko(name: str) -> str:
    return OUTLOOK_LOW_KO if name == OUTLOOK else COMPONENT_BY_NAME[name].low_ko


def sentence(score: float, tier: str, percentile: float, low: list[str]) -> str:
    """One Korean paragraph: score, tier, peer percentile and the components that lower it."""
    head = f"건강 점수 {score:.0f}점({tier})으로, 같은 연령대·라이프스테이지 또래의 {percentile:.0f}%보다 높습니다."
    if not low:
        return head + " 크게 깎인 항목이 없습니다."
    marks = "①②③④"
    return head + " 점수를 가장 낮춘 항목: " + " ".join(f"{marks[i]} {_low_ko(c)}."
                                                   for i, c in enumerate(low))


def reasons_for(scores: np.ndarray, tiers: np.ndarray, percentiles: np.ndarray, low: list[list[str]]) -> list[str]:
    return [sentence(s, t, p, l) for s, t, p, l in zip(scores, tiers, percentiles, low)]


def customer_reasons(run, seqs) -> pd.Series:
    """The reason sentence of each customer of ``seqs`` in ``run`` (index ``SEQ`` in that order):
    the score, its tier and the components that lower it most; NaN for a customer not in the
    run's quarter."""
    return saved_reasons(run.table, seqs)
