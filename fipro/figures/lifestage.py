"""Figures of the life-stage notebook: distribution, comparison, confusion, reliability, SHAP.

Every function takes the frames that :mod:`fipro.lifestage` and :mod:`fipro.evaluation`
return and gives back a closed ``Figure`` through :func:`fipro.figures.finish` (the
notebook shows it once, as a PNG, as its cell's value; ``save_figure`` writes it for the
report site).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from matplotlib.ticker import NullFormatter

from fipro.figures import finish, plt, sns, use_style


def plot_class_distribution(distribution: pd.DataFrame, title: str = "라이프스테이지 분포"):
    """Horizontal bars of customer share per life stage (``lifestage.class_distribution``)."""
    use_style()
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(distribution) + 1.2))
    ax.barh(distribution["라이프스테이지"], distribution["비중"], color=sns.color_palette("crest", len(distribution)))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    for i, (share, n) in enumerate(zip(distribution["비중"], distribution["고객 수"])):
        ax.text(share, i, f" {share:.1%} ({n:,}명)", va="center", fontsize=9)
    ax.set_xlabel("고객 비중")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.set_xlim(0, distribution["비중"].max() * 1.35)
    return finish(fig)


def plot_model_comparison(table: pd.DataFrame, title: str = "모델과 기준선 비교 (평가 고객)"):
    """Grouped bars of accuracy and macro-F1 per model (``lifestage.comparison_table_ko``)."""
    use_style()
    long = table[["정확도", "매크로 F1"]].reset_index().melt(id_vars=table.index.name or "index",
                                                         var_name="지표", value_name="값")
    fig, ax = plt.subplots(figsize=(8, 3.6))
    sns.barplot(data=long, y=table.index.name or "index", x="값", hue="지표", ax=ax, palette="Set2")
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=8, padding=2)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return finish(fig)


def plot_confusion(confusion: pd.DataFrame, title: str = "혼동 행렬 (행 기준 비율)"):
    """Heat map of a row-normalised confusion frame with Korean labels."""
    use_style()
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(0.75 * n + 2.5, 0.62 * n + 1.8))
    sns.heatmap(confusion, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax,
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white")
    ax.set_xlabel("예측")
    ax.set_ylabel("실제")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    plt.setp(ax.get_xticklabels(), ha="right")
    return finish(fig)


def plot_per_class(per_class: pd.DataFrame, title: str = "클래스별 정밀도·재현율·F1"):
    """Grouped bars of precision, recall and F1 per class (``metrics.per_class_table``)."""
    use_style()
    long = per_class.rename(columns={"precision": "정밀도", "recall": "재현율", "f1": "F1"})
    long = long.melt(id_vars="name", value_vars=["정밀도", "재현율", "F1"], var_name="지표", value_name="값")
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(data=long, x="name", y="값", hue="지표", ax=ax, palette="Set2")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8, ncol=3, loc="lower right")
    return finish(fig)


def plot_reliability(before: pd.DataFrame, after: pd.DataFrame, ece_before: Optional[float] = None,
                     ece_after: Optional[float] = None, title: str = "신뢰도 곡선 (보정 전후)"):
    """Reliability diagram: mean confidence against accuracy per bin, before and after."""
    use_style()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="완벽한 보정")
    for table, label, color, ece in ((before, "보정 전", "#d95f02", ece_before), (after, "보정 후", "#1b9e77", ece_after)):
        name = label if ece is None else f"{label} (ECE {ece:.3f})"
        ax.plot(table["confidence"], table["accuracy"], marker="o", color=color, label=name)
        ax.scatter(table["confidence"], table["accuracy"], s=np.clip(table["share"] * 600, 8, 200), color=color,
                   alpha=0.35)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("예측 확률(최댓값)")
    ax.set_ylabel("실제 정답 비율")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    return finish(fig)


def plot_shap_importance(importance: pd.DataFrame, top: int = 15, title: str = "SHAP 전역 중요도 (상위 특성)"):
    """Horizontal bars of mean |SHAP| per feature, stacked by class (``lifestage.shap_importance``)."""
    use_style()
    head = importance.head(top).iloc[::-1]
    class_cols = [c for c in importance.columns if c not in ("label", "importance", "share")]
    fig, ax = plt.subplots(figsize=(8, 0.36 * len(head) + 1.4))
    left = np.zeros(len(head))
    colors = sns.color_palette("tab10", len(class_cols))
    for color, col in zip(colors, class_cols):
        ax.barh(head["label"], head[col], left=left, color=color, label=col)
        left += head[col].to_numpy()
    ax.set_xlabel("평균 |SHAP| (로그 오즈, 클래스별 누적)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return finish(fig)


def plot_learning_curve(curve: pd.DataFrame, chosen: Optional[int] = None,
                        title: str = "학습 곡선: 학습 행 수에 따른 검증 매크로 F1"):
    """Validation macro-F1 (and fit seconds) against training rows, the chosen size marked.

    ``curve`` is ``ModelSelection.curve_table()`` (``n_train``, ``macro_f1``,
    ``fit_seconds``); ``chosen`` the training size used (``None``: every row).
    """
    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(curve["n_train"], curve["macro_f1"], marker="o", color=sns.color_palette("crest", 3)[1],
            label="검증 매크로 F1")
    ax.set_xscale("log")
    ax.set_xlabel("학습 행 수 (로그 눈금)")
    ax.set_ylabel("매크로 F1")
    ax.set_xticks(curve["n_train"].to_numpy(), [f"{int(n):,}" for n in curve["n_train"]], fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    size = int(curve["n_train"].max()) if chosen is None else int(chosen)
    ax.axvline(size, color="0.4", linestyle="--", linewidth=1)
    ax.annotate(f"선택: {size:,}행", (size, curve["macro_f1"].min()), xytext=(4, 4), textcoords="offset points",
                fontsize=9, color="0.3")
    if "fit_seconds" in curve:
        twin = ax.twinx()
        twin.bar(curve["n_train"], curve["fit_seconds"], width=curve["n_train"] * 0.15, alpha=0.25, color="0.5",
                 label="학습 시간(초)")
        twin.set_ylabel("학습 시간(초)")
        twin.grid(False)
        ax.set_zorder(twin.get_zorder() + 1)  # the curve above the time bars
        ax.patch.set_visible(False)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return finish(fig)
