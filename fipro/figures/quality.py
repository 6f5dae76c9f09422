"""Figures of notebook 00 (data check): Korean labels, amounts in 천원 on log axes.

Each function takes a frame or a table from :mod:`fipro.quality` and returns a closed
Figure through :func:`fipro.figures.finish` (shown once, as a PNG, as a cell's value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from fipro import contract, quality
from fipro.figures import finish, plt, sns, use_style

AMOUNT_AXIS_KO = f"금액 ({contract.AMOUNT_UNIT_LABEL}, {contract.AMOUNT_PERIOD_LABEL}, 로그 축)"


def _pct_axis(ax, axis: str = "x") -> None:
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0))


def plot_code_distributions(frame: pd.DataFrame) -> "plt.Figure":
    """Share of rows per code for every coded column, codes in code-table order."""
    use_style()
    columns = contract.CODE_COLUMNS
    fig, axes = plt.subplots(2, 4, figsize=(17, 8.5))
    for ax, column in zip(axes.flat, columns):
        table = quality.code_distribution(frame, column)
        labels = [f"{c} {lab}" if c != lab else c for c, lab in zip(table["code"], table["label_ko"])]
        colors = [sns.color_palette()[0] if ok else sns.color_palette()[3] for ok in table["in_table"]]
        ax.barh(labels, table["share"].to_numpy(), color=colors)
        ax.invert_yaxis()
        ax.set_title(contract.label(column))
        ax.set_xlabel("행 비율")
        _pct_axis(ax)
    axes.flat[-1].axis("off")
    fig.suptitle("코드 분포 (코드표 순서, 빨간색은 코드표에 없는 값)", fontsize=14)
    return finish(fig)


def plot_missing_zero(table: pd.DataFrame) -> "plt.Figure":
    """Zero share of amount columns and missing share of every column (two panels)."""
    use_style()
    amounts = table[table["column"].isin(contract.AMOUNT_COLUMNS)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 0.22 * len(amounts) + 2), gridspec_kw={"width_ratios": [3, 2]})
    ax1.barh(amounts["label_ko"], amounts["zero_share"], color=sns.color_palette()[0])
    ax1.invert_yaxis()
    ax1.set_xlabel("0원인 행의 비율")
    ax1.set_title("금액 열별 0 비율")
    _pct_axis(ax1)
    ax2.barh(table["label_ko"], table["missing_share"], color=sns.color_palette()[1])
    ax2.invert_yaxis()
    ax2.set_xlabel("결측 비율")
    ax2.set_title("열별 결측 비율")
    ax2.tick_params(axis="y", labelsize=7)
    _pct_axis(ax2)
    return finish(fig)


def plot_amount_distributions(frame: pd.DataFrame, columns=contract.TOTAL_COLUMNS) -> "plt.Figure":
    """Histograms of positive amounts on a log axis, with the zero share in the title."""
    use_style()
    fig, axes = plt.subplots(1, len(columns), figsize=(5.5 * len(columns), 4.2), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        s = frame[column].to_numpy(dtype="float64")
        pos = s[s > 0]
        if pos.size:
            bins = np.logspace(0, np.log10(pos.max()) + 0.05, 50)
            ax.hist(pos, bins=bins, color=sns.color_palette()[0])
            ax.set_xscale("log")
            ax.axvline(np.median(pos), color="k", ls="--", lw=1)
        ax.set_title(f"{contract.label(column)} (0원 {np.mean(s == 0):.1%})")
        ax.set_xlabel(AMOUNT_AXIS_KO)
        ax.set_ylabel("행 수")
    fig.suptitle("금액 분포 (점선: 0보다 큰 값의 중앙값)", fontsize=13)
    return finish(fig)


def plot_identities(table: pd.DataFrame) -> "plt.Figure":
    """Share of rows where each identity holds exactly and within tolerance."""
    use_style()
    labels = [row.label_ko if row.identity in ("TOT_USE_AM", "UPPER+UNASSIGNED")
              else f"{row.label_ko} = 세부 합계" for row in table.itertuples()]
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(table) + 1.5))
    ax.barh(y - 0.2, table["share_exact"], height=0.4, label="정확히 일치", color=sns.color_palette()[0])
    ax.barh(y + 0.2, table["share_within_tolerance"], height=0.4,
            label=f"±{quality.IDENTITY_TOLERANCE}{contract.AMOUNT_UNIT_LABEL} 이내", color=sns.color_palette()[2])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("항등식이 성립하는 행의 비율")
    _pct_axis(ax)
    ax.legend(loc="lower right")
    ax.set_title("합계·계층 항등식")
    return finish(fig)


def plot_rejects(summary: pd.DataFrame) -> "plt.Figure":
    """Rejected lines per reason (a note when there are none)."""
    use_style()
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(summary), 1) + 1.5))
    if summary.empty:
        ax.text(0.5, 0.5, "거절된 행 없음", ha="center", va="center", fontsize=14)
        ax.axis("off")
    else:
        ax.barh(summary["reason"], summary["rows"], color=sns.color_palette()[3])
        ax.invert_yaxis()
        for i, v in enumerate(summary["rows"]):
            ax.text(v, i, f" {v:,}", va="center")
        ax.set_xlabel("거절된 행 수")
    ax.set_title("거절 사유별 행 수 (파일 전체)")
    return finish(fig)


def plot_outliers(table: pd.DataFrame) -> "plt.Figure":
    """Outlier share per amount column under the robust log-scale rule."""
    use_style()
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.5))
    ax.barh(table["label_ko"], table["share"], color=sns.color_palette()[4])
    ax.invert_yaxis()
    ax.set_xlabel(f"이상치 비율 (log 금액 Q3 + {quality.OUTLIER_IQR_K:g}×IQR 초과)")
    _pct_axis(ax)
    ax.set_title("금액 열별 이상치 비율")
    return finish(fig)
