"""Reasons step: which rules fired and which inputs pushed the model, in Korean."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from fipro.anomaly.estimator import OneSidedIsolationForest
from fipro.anomaly.rules import RULE_BY_NAME, RULE_NAMES, rule_sentence
from fipro.evaluation.explainability import josa
from fipro.modelrun import saved_reasons

INPUT_LABEL_KO: dict[str, str] = {
    "stat_total_spike": "총이용금액의 상승", "stat_category_burst": "한 업종의 급증",
    "stat_mix_shift": "지출 구성의 변화", "stat_dormant_burst": "휴면 뒤 사용",
    "stat_habit_shift": "평소 안 쓰던 업종의 이용", "stat_category_rise": "평소 총액 대비 한 업종의 증가",
    "broad_rise": "평소 이용 업종 전반의 상승", "category_z": "본인 업종 이력 대비 한 업종의 변화",
    "category_tail": "이용 습관이 비슷한 고객 대비 한 업종의 증가",
    "log_quiet_run": "직전 무이용 분기 수",
}
MAX_PUSH_SHARE = 0.05  # an input counts as a push only when fewer than 5% of customers are this high


def fired_names(flags: pd.DataFrame) -> np.ndarray:
    """Per customer, the fired rules' names joined by commas ("" when none)."""
    out = np.full(len(flags), "", dtype=object)
    for r in RULE_NAMES:
        hit = flags[r].to_numpy()
        out[hit] = np.where(out[hit] == "", r, out[hit] + "," + r)
    return out


def model_pushes(model: OneSidedIsolationForest, X: pd.DataFrame, k: int = 2) -> list[list[str]]:
    """Per row, up to ``k`` inputs that made the row rare (smallest upper-tail share below 5%)."""
    shares = model.feature_tail_shares(X)
    names = list(X.columns)
    order = np.argsort(shares, axis=1, kind="stable")[:, :k]
    return [[names[j] for j in row if shares[i, j] < MAX_PUSH_SHARE] for i, row in enumerate(order)]


def reason_text(stats_row: Mapping, rules_fired: Sequence[str], pushes: Sequence[str]) -> str:
    """One Korean paragraph: a sentence per fired rule, then what moved the model."""
    fired = tuple(r for r in rules_fired if r)
    parts = [f"[{RULE_BY_NAME[r].title_ko}] {rule_sentence(r, stats_row, fired)}" for r in fired]
    if pushes:
        words = ", ".join(INPUT_LABEL_KO.get(p, p) for p in pushes)
        parts.append(f"[모델] {josa(words, '이/가')} 같은 분기 고객 대부분보다 두드러집니다.")
    if not parts:
        parts.append("규칙 기준을 넘지는 않았지만 여러 신호가 함께 높아 순위가 높습니다.")
    if stats_row.get("baseline") == "peers":
        parts.append("(이전 분기 이용 기록이 없어 또래와 비교했습니다.)")
    return " ".join(parts)


def reasons_for(rows: np.ndarray, stats: pd.DataFrame, rules_column: np.ndarray, pushes: list[list[str]]) -> np.ndarray:
    """Reasons for the customers at positions ``rows`` ("" for everyone else)."""
    out = np.full(len(stats), "", dtype=object)
    records = stats.iloc[rows].to_dict("records")
    for pos, rec, push in zip(rows, records, pushes):
        out[pos] = reason_text(rec, [r for r in str(rules_column[pos]).split(",") if r], push)
    return out


def customer_reasons(run, seqs: Sequence[str]) -> pd.Series:
    """The reason sentence of each customer of ``seqs`` in ``run`` (index ``SEQ`` in that order):
    the rules that fired and the model's pushes for a flagged customer, empty otherwise;
    NaN for a customer not in the run's quarter."""
    return saved_reasons(run.table, seqs)
