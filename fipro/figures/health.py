"""Figures of the health notebook: components, score and tiers, validation against the ceiling,
the transient trade-off, calibration and the fairness view.

Same convention as every figure module: take what :mod:`fipro.health` returns and give back
a closed ``Figure`` through :func:`fipro.figures.finish`.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from fipro import contract
from fipro.figures import finish, plt, use_style

TIER_COLORS = {"취약": "#C44E52", "보통": "#DD8452", "건강": "#55A868"}


def plot_components(components: pd.DataFrame, titles: Mapping[str, str], weights: Mapping[str, float]):
    """One histogram per component (0–100), titled with its Korean name and weight."""
    use_style()
    names = list(components.columns)
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.6 * rows), sharex=True)
    for ax, name in zip(np.ravel(axes), names):
        ax.hist(components[name].to_numpy(), bins=np.linspace(0, 100, 26), color="#4C72B0")
        ax.set_title(f"{titles.get(name, name)}\n가중치 {weights.get(name, 0):.2f}", fontsize=9)
        ax.set_yticks([])
    for ax in np.ravel(axes)[len(names):]:
        ax.axis("off")
    fig.suptitle("구성 요소 분포 (0–100, 높을수록 건강)")
    return finish(fig)


def plot_score(score: np.ndarray, tiers, title: str = "소비 건강 점수와 등급"):
    """Histogram of the score with the tier bounds shaded."""
    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bounds = [b for _, b in tiers] + [100.0]
    for (name, lo), hi in zip(tiers, bounds[1:]):
        ax.axvspan(lo, hi, color=TIER_COLORS.get(name, "#DDDDDD"), alpha=0.12)
        share = float(np.mean((score >= lo) & (score < hi if hi < 100 else score <= hi)))
        ax.text((lo + hi) / 2, 0.92, f"{name} {100 * share:.0f}%", transform=ax.get_xaxis_transform(), ha="center",
                color=TIER_COLORS.get(name, "black"), fontsize=10)
    ax.hist(score, bins=np.linspace(0, 100, 51), color="#4C72B0")
    ax.set_xlim(0, 100)
    ax.set_xlabel("건강 점수")
    ax.set_ylabel("고객 수")
    ax.set_title(title)
    return finish(fig)


def plot_rates(by_tier: pd.DataFrame, by_grade: pd.DataFrame, overall: float):
    """Next-quarter adverse rate per tier and per risk grade (held-out customers)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    rate = "adverse_rate"
    for ax, table, title, colors in (
            (axes[0], by_tier, "건강 등급별", [TIER_COLORS.get(str(i), "#4C72B0") for i in by_tier.index]),
            (axes[1], by_grade, "위험 등급별 (1 = 가장 낮음)", plt.cm.Reds(np.linspace(0.3, 0.9, len(by_grade))))):
        values = table[rate].fillna(0).to_numpy()
        ax.bar([str(i) for i in table.index], 100 * values, color=colors)
        ax.axhline(100 * overall, color="grey", ls="--", lw=1)
        for i, (v, n) in enumerate(zip(values, table["customers"].fillna(0).astype(int))):
            ax.text(i, 100 * v, f"{100 * v:.1f}%\n({n:,}명)", ha="center", va="bottom", fontsize=8)
        ax.set_title(title)
        ax.set_ylabel("다음 분기 악화 비율 (%)")
        ax.margins(y=0.25)
    fig.suptitle("평가 고객의 다음 분기 악화 비율 (점선: 전체)")
    return finish(fig)


def plot_roc(y: np.ndarray, scores: Mapping[str, np.ndarray], ceiling: Optional[np.ndarray] = None,
             title: str = "ROC 곡선: 다음 분기 악화 (평가 고객)"):
    """ROC curves of the scores (higher = riskier) beside the latent stress level's (the ceiling)."""

    use_style()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    items = list(scores.items()) + ([("상한: 잠재 스트레스", ceiling)] if ceiling is not None else [])
    for name, s in items:
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=2 if not name.startswith("상한") else 1.2, ls="-" if not name.startswith("상한") else "--",
                label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.set_xlabel("거짓 양성 비율")
    ax.set_ylabel("참 양성 비율")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return finish(fig)


def plot_tradeoff(table: pd.DataFrame, chosen: float, auc_target: float = 0.75, corr_target: float = 0.8):
    """Held-out AUC against the score's quarter-to-quarter correlation as the transient weight grows."""
    use_style()
    fig, ax = plt.subplots(figsize=(6, 4))
    x, y = table["stability_corr"].to_numpy(), table["health_auc"].to_numpy()
    ax.plot(x, y, marker="o", color="#4C72B0")
    for w, a, b in zip(table["transient_weight"], x, y):
        ax.annotate(f"{w:.2f}", (a, b), textcoords="offset points", xytext=(4, 4), fontsize=8,
                    color="#C44E52" if np.isclose(w, chosen) else "black",
                    fontweight="bold" if np.isclose(w, chosen) else "normal")
    ax.axhline(auc_target, color="#55A868", ls="--", lw=1, label=f"AUC 목표 {auc_target}")
    ax.axvline(corr_target, color="#DD8452", ls="--", lw=1, label=f"분기 간 상관 목표 {corr_target}")
    ax.set_xlabel("분기 간 점수 상관 (이상 없는 고객)")
    ax.set_ylabel("건강 점수 ROC-AUC (평가 고객)")
    ax.set_title("'지출 급감' 가중치: 순위 정확도와 점수 안정성의 교환")
    ax.legend(fontsize=8, loc="lower left")
    return finish(fig)


def plot_fairness(frame: pd.DataFrame, score: np.ndarray, title: str = "성별·연령대별 점수 분포"):
    """Box plots of the score by sex and by age band (sex is used by no component or model)."""

    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 3]})
    for ax, col in zip(axes, ("SEX_CD", "AGE")):
        codes = sorted(frame[col].astype(str).unique())
        data = [score[(frame[col].astype(str) == c).to_numpy()] for c in codes]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(codes) + 1), [contract.code_label(col, c) for c in codes], fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("건강 점수")
    fig.suptitle(title)
    return finish(fig)
