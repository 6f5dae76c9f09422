"""What each panel of the customer explorer shows, as plain tables, sentences and figures.

Every function takes the customer's row from :func:`fipro.views.data.customer` (and the
peer row), so the widgets stay thin and everything here is unit-tested without a browser.
Customers appear only by pseudonymous label.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from fipro import contract
from fipro.views.data import CATEGORIES, N_NOTIFICATIONS, N_RECOMMENDATIONS


def _num(value) -> Optional[float]:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def spending_table(row: pd.Series, peer: Optional[pd.Series], top: int = 12) -> pd.DataFrame:
    """The customer's spending by category beside the peer group's mean and last quarter (천원, monthly)."""
    mine = pd.Series({c: float(row[c]) for c in CATEGORIES})
    table = pd.DataFrame({"업종": [contract.LABEL_KO[c] for c in CATEGORIES], "본인": mine.to_numpy(),
                          "또래 평균": [float(peer[c]) if peer is not None else np.nan for c in CATEGORIES],
                          "지난 분기": [_num(row.get(f"prev_{c}")) for c in CATEGORIES]}, index=list(CATEGORIES))
    table["또래 대비(배)"] = np.where(table["또래 평균"] > 0, table["본인"] / table["또래 평균"], np.nan)
    order = table[["본인", "또래 평균"]].max(axis=1).sort_values(ascending=False, kind="stable").index[:top]
    return table.loc[order].round(2)


def change_sentence(row: pd.Series) -> str:
    now, before = _num(row["TOT_USE_AM"]), _num(row.get("prev_TOT_USE_AM"))
    if before is None:
        return "지난 분기 기록이 없습니다(이번 분기에 처음 나타난 고객)."
    if before == 0:
        return f"지난 분기에는 이용이 없었고, 이번 분기 총이용금액은 {contract.format_amount(now)}입니다."
    pct = 100 * (now - before) / before
    word = "늘었습니다" if pct > 0 else "줄었습니다" if pct < 0 else "같습니다"
    return (f"총이용금액 {contract.format_amount(now)}({contract.AMOUNT_PERIOD_LABEL}): 지난 분기 "
            f"{contract.format_amount(before)}보다 {abs(pct):.0f}% {word}.")


def health_table(row: pd.Series) -> Optional[pd.DataFrame]:
    from fipro.health.components import COMPONENTS  # the health package (~0.1 s) on first use: the app imports this module

    if _num(row.get("health_score")) is None:
        return None
    return pd.DataFrame({"구성 요소": [c.title_ko for c in COMPONENTS],
                         "점수": [round(float(row[f"health_{c.name}"]), 1) for c in COMPONENTS]}).set_index("구성 요소")


def lifestage_table(row: pd.Series, top: int = 3) -> Optional[pd.DataFrame]:
    cols = [c for c in row.index if c.startswith("lifestage_proba_")]
    if not cols or _num(row[cols[0]]) is None:
        return None
    p = pd.Series({c.removeprefix("lifestage_proba_"): float(row[c]) for c in cols}).sort_values(ascending=False)
    return pd.DataFrame({"라이프스테이지": [contract.LIFE_STAGE_CODES.get(k, k) for k in p.index[:top]],
                         "확률": p.to_numpy()[:top].round(3)})


def notification_table(row: pd.Series) -> Optional[pd.DataFrame]:
    """The customer's notifications of the quarter in the order they are shown (``None``: none)."""
    rows = [{"순서": r, "종류": row[f"note{r}_kind"], "알림": row[f"note{r}_message"]}
            for r in range(1, N_NOTIFICATIONS + 1)
            if isinstance(row.get(f"note{r}_kind"), str) and row.get(f"note{r}_kind")]
    return pd.DataFrame(rows).set_index("순서") if rows else None


def recommendation_table(row: pd.Series, names: dict) -> Optional[pd.DataFrame]:
    if pd.isna(row.get("rec1_product")):
        return None
    rows = []
    for r in range(1, N_RECOMMENDATIONS + 1):
        pid = row.get(f"rec{r}_product")
        if pd.isna(pid):
            continue
        rows.append({"순위": r, "카드": names.get(pid, pid), "기대 월 순혜택(원)": _num(row[f"rec{r}_benefit_won"]),
                     "이유": row[f"rec{r}_reason"]})
    return pd.DataFrame(rows).set_index("순위")


def summary_sentences(row: pd.Series, names: Optional[dict] = None) -> list[str]:
    """The generated Korean summary of one customer, from their saved results."""
    names = names or {}
    lines = [f"{row['label']}: {contract.code_label('AGE', row['AGE'])}, {contract.code_label('SEX_CD', row['SEX_CD'])}, "
             f"{contract.LIFE_STAGE_CODES.get(row['LIFE_STAGE'], row['LIFE_STAGE'])}.", change_sentence(row)]
    if _num(row.get("health_score")) is not None:
        lines.append(str(row["health_reason"]))
        if _num(row.get("risk_grade")) is not None:
            lines.append(f"소비 기반 위험 등급 {int(row['risk_grade'])} (1 = 가장 낮음 … 5).")
    if row.get("anomaly_flagged") is True or row.get("anomaly_flagged") == 1:
        lines.append(f"이상 소비 검토 대상입니다: {row['anomaly_reason']}")
    if not pd.isna(row.get("segment_name")):
        lines.append(f"소비 스타일 세그먼트: {row['segment_name']}.")
    if not pd.isna(row.get("rec1_product")):
        lines.append(f"추천 카드: {names.get(row['rec1_product'], row['rec1_product'])} — {row['rec1_reason']}")
    return lines


def plot_spending(table: pd.DataFrame, label: str):
    """Bars of the customer's spending beside the peer mean for the top categories."""
    from fipro.figures import finish, plt, use_style  # matplotlib (~1.4 s) only when a chart is drawn

    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    y = np.arange(len(table))[::-1]
    ax.barh(y + 0.2, table["본인"], height=0.4, label=label, color="#4C72B0")
    ax.barh(y - 0.2, table["또래 평균"], height=0.4, label="또래 평균", color="#BBBBBB")
    ax.set_yticks(y, table["업종"])
    ax.set_xlabel(f"{contract.AMOUNT_UNIT_LABEL} ({contract.AMOUNT_PERIOD_LABEL})")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("업종별 이용금액: 본인과 또래(같은 연령대·성별·라이프스테이지)")
    return finish(fig)
