"""Figures of the anomaly notebook: rule rates, score distribution, precision–recall, recall by magnitude.

Same convention as every figure module: take the frames :mod:`fipro.anomaly` returns and
give back a closed ``Figure`` through :func:`fipro.figures.finish`.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve

from fipro.figures import finish, plt, sns, use_style
from fipro.text_ko import ANOMALY_TYPE_KO, MAGNITUDE_BAND_KO

SCORER_COLORS = {"rules": "#4C72B0", "model": "#DD8452", "combined": "#55A868", "yardstick": "#8C8C8C"}
SCORER_LABELS = {"rules": "규칙", "model": "모델", "combined": "결합", "yardstick": "지도학습 기준"}


def plot_rule_rates(rates: pd.DataFrame, title: str = "규칙별 해당 고객 비율"):
    """Bars of the share of customers each rule flags (``anomaly.rule_rates``)."""
    use_style()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.barh(rates["이름"], rates["비율(%)"], color=sns.color_palette("flare", len(rates)))
    ax.invert_yaxis()
    for i, (pct, n) in enumerate(zip(rates["비율(%)"], rates["해당 고객"])):
        ax.text(pct, i, f" {pct:.2f}% ({n:,}명)", va="center", fontsize=9)
    ax.set_xlim(0, max(rates["비율(%)"].max(), 0.01) * 1.45)
    ax.set_xlabel("고객 비율 (%)")
    ax.set_title(title)
    return finish(fig)


def plot_score_distribution(score: np.ndarray, flagged: np.ndarray, title: str = "결합 이상 점수 분포"):
    """Histogram of the combined score (log count) with the review cut-off."""
    use_style()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(score, bins=60, color="#9AA9BF", log=True)
    cut = float(np.min(score[flagged])) if flagged.any() else None
    if cut is not None:
        ax.axvline(cut, color="#C44E52", ls="--", lw=1.2)
        ax.text(cut, ax.get_ylim()[1] * 0.5, f" 검토 대상 ({int(flagged.sum()):,}명)", color="#C44E52", fontsize=9)
    ax.set_xlabel("결합 점수 (두 부분의 -log 꼬리 비율 합)")
    ax.set_ylabel("고객 수 (로그)")
    ax.set_title(title)
    return finish(fig)


def plot_precision_recall(y: np.ndarray, scores: Mapping[str, np.ndarray], title: str = "정밀도–재현율 곡선"):
    """Precision–recall curves of each scorer against the planted anomalies, AP in the legend."""

    use_style()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, s in scores.items():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, color=SCORER_COLORS.get(name), lw=1.6,
                label=f"{SCORER_LABELS.get(name, name)} (AP {average_precision_score(y, s):.3f})")
    ax.axhline(float(np.mean(y)), color="#999999", lw=0.8, ls=":", label=f"무작위 ({np.mean(y):.3f})")
    ax.set_xlabel("재현율")
    ax.set_ylabel("정밀도")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title)
    return finish(fig)


def plot_recall_by_magnitude(by_type: pd.DataFrame, title: str = "유형·크기 구간별 재현율@k",
                             targets: Optional[Mapping[str, float]] = None):
    """Grouped bars: recall at k per planted type and magnitude half, for each scorer.

    ``targets``: each type's upper-half goal, drawn as a red dash over that group (one
    line at 0.8 across when not given).
    """
    use_style()
    cols = [c for c in by_type.columns if c.startswith("recall_")]
    group = (by_type["type"].map(lambda t: ANOMALY_TYPE_KO.get(t, t)) + " · "
             + by_type["band"].map(MAGNITUDE_BAND_KO).str.replace(" 절반", ""))
    long = by_type.assign(구간=group).melt(
        id_vars=["구간"], value_vars=cols, var_name="점수", value_name="재현율")
    long["점수"] = long["점수"].str.replace("recall_", "").map(lambda s: SCORER_LABELS.get(s, s))
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(by_type) + 2), 3.6))
    sns.barplot(data=long, x="구간", y="재현율", hue="점수", ax=ax,
                palette=[SCORER_COLORS.get(c.removeprefix("recall_"), "#8C8C8C") for c in cols])
    if targets is None:
        ax.axhline(0.8, color="#C44E52", lw=0.8, ls="--")
    else:
        for i, (t, band) in enumerate(zip(by_type["type"], by_type["band"])):
            if band == "upper" and t in targets:
                ax.hlines(targets[t], i - 0.45, i + 0.45, color="#C44E52", lw=1.0, ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelsize=8, rotation=30)
    for label in ax.get_xticklabels():
        label.set_ha("right")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title)
    return finish(fig)
