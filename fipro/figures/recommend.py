"""Figures of the recommendation notebook: first-card shares, expected benefit by group, the
realised benefit against the oracle and the baselines.

Same convention as every figure module: take what :mod:`fipro.recommend` returns and give
back a closed ``Figure`` through :func:`fipro.figures.finish`.
"""

from __future__ import annotations

from typing import Optional

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


def plot_oracle_shares(m: dict, title: Optional[str] = None):
    """The recommender and the two baselines against the best single card in hindsight (the
    headline, target 92%) when the measurement has it, else against the per-quarter oracle
    (target 90%); a dotted line marks what the hindsight card itself gets of the per-quarter oracle."""
    use_style()
    hindsight = m.get("share_of_hindsight_card") is not None
    names = ["추천 1순위", "가장 많이 추천된 카드", "무작위 가입 가능 카드(기댓값)" if hindsight else "무작위 가입 가능 카드"]
    if hindsight:
        values = [m["share_of_hindsight_card"], m["popular_share_of_hindsight_card"], m["random_share_of_hindsight_card"]]
        target, xlabel = 92, "사후 최선 카드 한 장(측정 분기까지) 혜택 대비 (%)"
        title = title or "지난 분기 추천을 이번 분기 실제 지출로 잰 혜택 (사후 최선 카드 한 장 = 100%)"
    else:
        values = [m["oracle_share"], m["popular_oracle_share"], m["random_oracle_share"]]
        target, xlabel = 90, "사후 최선 카드 혜택 대비 (%)"
        title = title or "지난 분기 추천을 이번 분기 실제 지출로 잰 혜택 (사후 최선 = 100%)"
    fig, ax = plt.subplots(figsize=(6.5, 3))
    ax.barh(names[::-1], [100 * v for v in values[::-1]], color=["#BBBBBB", "#DD8452", "#55A868"])
    ax.axvline(target, color="#C44E52", ls="--", lw=1, label=f"목표 {target}%")
    if hindsight and m.get("oracle_share") is not None:
        ax.axvline(100 * m["oracle_share"], color="#4C72B0", ls="-.", lw=1.2,
                   label=f"참고: 추천 1순위의 분기별 사후 최선 대비 {100 * m['oracle_share']:.0f}%")
    if hindsight and m.get("hindsight_card_oracle_share") is not None:
        ax.axvline(100 * m["hindsight_card_oracle_share"], color="#8172B2", ls=":", lw=1.5,
                   label=f"참고: 사후 최선 카드 한 장의 분기별 사후 최선 대비 {100 * m['hindsight_card_oracle_share']:.0f}%")
    for y, v in enumerate(values[::-1]):
        ax.text(100 * v, y, f" {100 * v:.1f}%", va="center", fontsize=9)
    ax.set_xlim(min(0, 100 * min(values)) - 5, 110)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return finish(fig)
