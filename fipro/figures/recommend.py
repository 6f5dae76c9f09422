"""Figures of the recommendation notebook: first-card shares, expected benefit by group, the
realised benefit against the oracle and the baselines.

Same convention as every figure module: take what :mod:`fipro.recommend` returns and give
back a closed ``Figure`` through :func:`fipro.figures.finish`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fipro.figures import finish, plt, use_style


def plot_top_cards(table: pd.DataFrame, top: int = 12, title: str = "1순위로 추천된 카드"):
    use_style()
    t = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(t) + 1.2))
    ax.barh(t["카드"], 100 * t["비율"], color="#4C72B0")
    for y, (share, n) in enumerate(zip(t["비율"], t["고객 수"])):
        ax.text(100 * share, y, f" {100 * share:.1f}% ({n:,}명)", va="center", fontsize=8)
    ax.set_xlabel("고객 비율 (%)")
    ax.set_title(title)
    ax.margins(x=0.2)
    return finish(fig)


def plot_benefit_by(table: pd.DataFrame, title: str):
    use_style()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["평균(원/월)"], width=0.4, label="평균", color="#4C72B0")
    ax.bar(x + 0.2, table["중앙값(원/월)"], width=0.4, label="중앙값", color="#DD8452")
    ax.set_xticks(x, [str(i) for i in table.index], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("월 기대 순혜택 (원)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return finish(fig)


def plot_oracle_shares(m: dict, title: str = "다음 분기 실제 지출로 잰 혜택 (사후 최선 = 100%)"):
    use_style()
    names = ["추천 1순위", "가장 많이 추천된 카드", "무작위 가입 가능 카드"]
    values = [m["oracle_share"], m["popular_oracle_share"], m["random_oracle_share"]]
    fig, ax = plt.subplots(figsize=(6.5, 3))
    ax.barh(names[::-1], [100 * v for v in values[::-1]], color=["#BBBBBB", "#DD8452", "#55A868"])
    ax.axvline(90, color="#C44E52", ls="--", lw=1, label="목표 90%")
    if m.get("fixed_card_ceiling_share") is not None:
        ax.axvline(100 * m["fixed_card_ceiling_share"], color="#8172B2", ls=":", lw=1.5,
                   label=f"참고: 전 기간 최선 카드 한 장 {100 * m['fixed_card_ceiling_share']:.0f}%")
    for y, v in enumerate(values[::-1]):
        ax.text(100 * v, y, f" {100 * v:.1f}%", va="center", fontsize=9)
    ax.set_xlim(min(0, 100 * min(values)) - 5, 110)
    ax.set_xlabel("사후 최선 카드 혜택 대비 (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return finish(fig)
