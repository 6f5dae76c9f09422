"""Reasons step of the health model: the two components that lower a customer's score most, in Korean."""

from __future__ import annotations

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


def lowest(components: pd.DataFrame, weights: np.ndarray, n: int = N_REASONS) -> list[list[str]]:
    """Per customer, the names of the ``n`` components that lower the score most (largest first)."""
    s = shortfalls(components, weights).to_numpy()
    order = np.argsort(-s, axis=1, kind="stable")[:, :n]
    names = np.array(COMPONENT_NAMES)
    return [[names[j] for j in row if s[i, j] >= SHORTFALL_MIN] for i, row in enumerate(order)]


def sentence(score: float, tier: str, percentile: float, low: list[str]) -> str:
    """One Korean paragraph: score, tier, peer percentile and the components that lower it."""
    head = f"건강 점수 {score:.0f}점({tier})으로, 같은 연령대·라이프스테이지 또래의 {percentile:.0f}%보다 높습니다."
    if not low:
        return head + " 크게 깎인 항목이 없습니다."
    marks = "①②③④"
    return head + " 점수를 가장 낮춘 항목: " + " ".join(f"{marks[i]} {COMPONENT_BY_NAME[c].low_ko}."
                                                   for i, c in enumerate(low))


def reasons_for(scores: np.ndarray, tiers: np.ndarray, percentiles: np.ndarray, low: list[list[str]]) -> list[str]:
    return [sentence(s, t, p, l) for s, t, p, l in zip(scores, tiers, percentiles, low)]


def customer_reasons(run, seqs) -> pd.Series:
    """The reason sentence of each customer of ``seqs`` in ``run`` (index ``SEQ`` in that order):
    the score, its tier and the components that lower it most; NaN for a customer not in the
    run's quarter."""
    return saved_reasons(run.table, seqs)
