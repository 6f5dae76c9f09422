"""Figures of the segment notebook: the 2-D map, the profile heat map, migration between quarters.

Same convention as every figure module: take what :mod:`fipro.segments` returns and give
back a closed ``Figure`` through :func:`fipro.figures.finish`. Maps draw a seeded sample
of at most ``MAX_POINTS`` customers (a full quarter is 673k points).
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import split
from fipro.figures import finish, plt, sns, use_style

MAX_POINTS = 15_000


def plot_map(x: np.ndarray, y: np.ndarray, groups, title: str, *, order: Optional[list] = None,
             seed: Optional[int] = None):
    """The 2-D map coloured by ``groups`` (names); a seeded sample when there are many points.

    ``seed``: of the sample of at most ``MAX_POINTS`` points (``None``: ``config.RANDOM_SEED``).
    """
    use_style()
    rows = split.sample_positions(len(x), MAX_POINTS, seed)
    g = pd.Series(np.asarray(groups)[rows])
    order = order or list(g.value_counts().index)
    palette = dict(zip(order, sns.color_palette("tab10" if len(order) <= 10 else "tab20", len(order))))
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for name in order:
        m = (g == name).to_numpy()
        color = "#BBBBBB" if name == "미분류" else palette[name]
        ax.scatter(x[rows][m], y[rows][m], s=3, alpha=0.5, color=color, label=f"{name} ({m.sum():,})", rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title + (f" (표본 {len(rows):,}명)" if len(rows) < len(x) else ""))
    ax.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return finish(fig)


def plot_lift_heatmap(lift: pd.DataFrame, names: Mapping[int, str], labels: Mapping[str, str], top: int = 14,
                      title: str = "세그먼트별 업종 지출 비중 배율 (모집단 대비, log2)"):
    """Segments × the categories with the largest lifts anywhere: log2 of the lift."""
    use_style()
    logl = np.log2(lift.clip(lower=1 / 16, upper=16))
    cols = logl.abs().max(0).sort_values(ascending=False).index[:top]
    data = logl[cols].rename(index=dict(names), columns=dict(labels))
    fig, ax = plt.subplots(figsize=(min(1.0 + 0.55 * len(cols), 11), 0.5 * len(data) + 2))
    sns.heatmap(data, cmap="RdBu_r", center=0, vmin=-3, vmax=3, annot=2 ** data, fmt=".1f", annot_kws={"fontsize": 7},
                cbar_kws={"label": "log2(배율)"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    return finish(fig)


def plot_migration(migration: pd.DataFrame, names_from: Mapping[int, str], names_to: Mapping[int, str],
                   labels: tuple[str, str], title: str = "세그먼트 이동 (두 분기 모두 있는 고객)"):
    """An alluvial diagram: each band carries the customers from a segment (left) to a segment (right)."""
    use_style()
    m = migration.to_numpy(dtype=float)
    total = m.sum()
    rows, cols = list(migration.index), list(migration.columns)
    keys = sorted(set(rows) | set(cols))
    palette = dict(zip(keys, sns.color_palette("tab10" if len(keys) <= 10 else "tab20", len(keys))))
    gap = 0.02
    fig, ax = plt.subplots(figsize=(8, 5.5))

    def stack(sizes):
        tops, y = [], 1.0
        for s in sizes:
            tops.append(y)
            y -= s / total + gap
        return tops

    left_top, right_top = stack(m.sum(1)), stack(m.sum(0))
    right_fill = list(right_top)
    t = np.linspace(0, 1, 50)
    smooth = 3 * t ** 2 - 2 * t ** 3
    for i, r in enumerate(rows):
        y0 = left_top[i]
        for j, c in enumerate(cols):
            h = m[i, j] / total
            if h <= 0:
                continue
            y1 = right_fill[j]
            top = y0 + (y1 - y0) * smooth
            ax.fill_between(0.1 + 0.8 * t, top - h, top, color=palette[r], alpha=0.45 if r != c else 0.65, lw=0)
            y0 -= h
            right_fill[j] -= h
    for side, tops, keys_, sizes, names in ((0.0, left_top, rows, m.sum(1), names_from),
                                            (0.9, right_top, cols, m.sum(0), names_to)):
        for k, y, s in zip(keys_, tops, sizes):
            ax.add_patch(plt.Rectangle((side, y - s / total), 0.1, s / total, color=palette[k]))
            ax.text(side + (-0.01 if side == 0 else 0.11), y - s / total / 2, f"{names.get(k, k)} ({int(s):,})",
                    ha="right" if side == 0 else "left", va="center", fontsize=8)
    stay = np.trace(m) / total if m.shape[0] == m.shape[1] and rows == cols else float("nan")
    ax.set_xlim(-0.6, 1.5)
    ax.axis("off")
    ax.text(0.05, 1.04, labels[0], ha="center", fontsize=10, fontweight="bold")
    ax.text(0.95, 1.04, labels[1], ha="center", fontsize=10, fontweight="bold")
    ax.set_title(title + (f": {100 * stay:.1f}%가 같은 세그먼트에 머묾" if stay == stay else ""), pad=22)
    return finish(fig)


def plot_sizes(sizes: pd.DataFrame, title: str = "분기별 세그먼트 규모"):
    """Stacked shares of the segments by quarter (``sizes``: quarter × name, counts)."""
    use_style()
    share = sizes.div(sizes.sum(1), axis=0) * 100
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    share.plot(kind="bar", stacked=True, ax=ax, width=0.8, colormap="tab20", legend=False)
    ax.set_ylabel("고객 비율 (%)")
    ax.set_xlabel("")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return finish(fig)
