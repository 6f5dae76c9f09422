"""Figures of the drift notebook (08) and the site's 변화 감시 page: each measure against its
threshold, and the customer notifications per kind.

Same convention as every figure module: frames in, a closed ``Figure`` out through
:func:`fipro.figures.finish`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from fipro.figures import finish, plt, use_style

FIRED, QUIET = "#C44E52", "#8C8C8C"


def plot_drift(table: pd.DataFrame, top: int = 20, title: str = "전분기 대비 변화 (값 ÷ 경보 기준)"):
    """The ``top`` measures with a threshold by value ÷ threshold (1 = the alert line); red bars alert.

    ``table``: a drift table of :func:`fipro.drift.run_quarter` (``subject_ko``, ``value``,
    ``threshold``)."""
    use_style()
    t = table[table["threshold"].notna() & (table["threshold"] > 0)].copy()
    t["ratio"] = t["value"] / t["threshold"]
    t = t.sort_values("ratio", ascending=False).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.3 * max(len(t), 1) + 1.3))
    if len(t):
        ax.barh(np.arange(len(t)), t["ratio"], color=np.where(t["ratio"] > 1, FIRED, QUIET))
        ax.set_yticks(np.arange(len(t)), t["subject_ko"], fontsize=8)
    ax.axvline(1.0, color="black", ls="--", lw=1, label="경보 기준")
    ax.set_xlabel("값 ÷ 기준 (1을 넘으면 경보)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return finish(fig)


def plot_notification_counts(counts: Mapping[str, int], title: str = "고객 알림 수 (종류별)"):
    """Notifications per kind, in priority order (``counts``: kind → number)."""
    use_style()
    kinds = list(counts)
    values = [int(counts[k]) for k in kinds]
    fig, ax = plt.subplots(figsize=(6.5, 0.4 * max(len(kinds), 1) + 1.2))
    ax.barh(kinds[::-1], values[::-1], color="#4C72B0")
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.set_xlabel("알림 수")
    ax.set_title(title)
    ax.margins(x=0.15)
    return finish(fig)
