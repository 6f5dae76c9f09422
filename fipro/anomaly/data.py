"""Data step of the anomaly model: this quarter's amounts beside the customer's own past.

Every rule compares a customer with their own earlier quarters or with their peers
(same life stage and age band), so the inputs are this quarter's amounts plus, per
customer, what the earlier quarters looked like. Only earlier quarters are read: a
quarter's flags never depend on what came after it, as in a live system.

:func:`quarter_inputs` returns one :class:`AnomalyInputs` per quarter: a frame of keys,
peer codes and history statistics, and the category amount matrices (current and the
customer's mean over earlier active quarters) kept as arrays, since 33 columns × 673k
customers are compared column-wise many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from fipro import contract, datasets, peers
from fipro.datasets import earlier_quarters

MODEL_NAME = "anomaly"
# the mix: every detail category plus the remainder the details do not cover
CATEGORIES: tuple[str, ...] = contract.DETAIL_COLUMNS + ("REST",)
CATEGORY_LABEL_KO: dict[str, str] = {**{c: contract.LABEL_KO[c] for c in contract.DETAIL_COLUMNS}, "REST": "기타(미분류)"}
PEER_COLUMNS: tuple[str, ...] = peers.STAGE_AGE_GROUP
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", "AGE", "LIFE_STAGE", "TOT_USE_AM", *contract.DETAIL_COLUMNS)


@dataclass
class AnomalyInputs:
    """One quarter's customers with their history (rows in ``datasets.load_quarter`` order).

    ``frame``: ``BAS_YH``, ``SEQ``, peer codes, ``total`` and the history columns
    (``n_prev`` earlier quarters present, ``n_prev_active`` of them with spending,
    ``prev_log_mean`` / ``prev_log_sd`` of log1p(total) over the active ones,
    ``prev_mean_total``, ``quiet_run``: earlier quarters in a row right before this one
    present with no spending). ``amounts``: this quarter's category amounts
    (rows × ``CATEGORIES``); ``prev_amounts``: the mean over earlier active quarters
    (NaN without one).
    """

    quarter: str
    frame: pd.DataFrame
    amounts: np.ndarray
    prev_amounts: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def _category_matrix(table: pd.DataFrame) -> np.ndarray:
    details = table[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    rest = np.maximum(total - details.sum(1), 0.0)
    return np.column_stack([details, rest])


def load_tables(quarters: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The columns the rules read, per quarter (only what they need: 33 amounts, 3 codes)."""
    return {q: datasets.load_quarter(q, columns=list(TABLE_COLUMNS)) for q in quarters}


def quarter_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None) -> AnomalyInputs:
    """This quarter's amounts and each customer's history from the earlier quarters.

    ``tables``: preloaded :func:`load_tables` output (must hold ``quarter`` and every
    earlier quarter that should count); read from the processed tables when omitted.
    """
    if tables is not None and quarter not in tables:
        raise KeyError(f"no table for quarter {quarter!r} among {sorted(tables)}")
    # without preloaded tables, earlier quarters are read one at a time (a full-scale
    # history of seven quarters would otherwise sit in memory at once)
    past_quarters = (sorted((q for q in tables if q < quarter), reverse=True) if tables is not None
                     else earlier_quarters(quarter)[::-1])

    def past_table(q: str) -> pd.DataFrame:
        return tables[q] if tables is not None else datasets.load_quarter(q, columns=list(TABLE_COLUMNS))

    cur = tables[quarter] if tables is not None else datasets.load_quarter(quarter, columns=list(TABLE_COLUMNS))
    seq = cur["SEQ"].astype(str).to_numpy()
    n = len(cur)
    index = pd.Index(seq)
    if not index.is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    n_prev = np.zeros(n, np.int16)
    n_active = np.zeros(n, np.int16)
    log_sum = np.zeros(n)
    log_sq = np.zeros(n)
    tot_sum = np.zeros(n)
    cat_sum = np.zeros((n, len(CATEGORIES)))
    quiet_run = np.zeros(n, np.int16)
    still_quiet = np.ones(n, bool)  # walking back from the latest earlier quarter
    for q in past_quarters:
        past = past_table(q)
        pos = index.get_indexer(past["SEQ"].astype(str).to_numpy())
        hit = pos >= 0
        rows = pos[hit]
        total = past["TOT_USE_AM"].to_numpy(dtype=np.float64)[hit].clip(min=0)
        active = total > 0
        present = np.zeros(n, bool)
        present[rows] = True
        is_quiet = np.zeros(n, bool)
        is_quiet[rows[~active]] = True
        quiet_run += (still_quiet & is_quiet).astype(np.int16)
        still_quiet &= is_quiet  # an absent quarter or a spending one ends the run
        n_prev[rows] += 1
        a = rows[active]
        n_active[a] += 1
        lt = np.log1p(total[active])
        log_sum[a] += lt
        log_sq[a] += lt ** 2
        tot_sum[a] += total[active]
        cat_sum[a] += _category_matrix(past.iloc[np.flatnonzero(hit)[active]])
    with np.errstate(invalid="ignore", divide="ignore"):
        k = n_active.astype(float)
        log_mean = np.where(k > 0, log_sum / np.maximum(k, 1), np.nan)
        var = np.where(k > 1, (log_sq - k * np.nan_to_num(log_mean) ** 2) / np.maximum(k - 1, 1), np.nan)
        prev_amounts = np.where(k[:, None] > 0, cat_sum / np.maximum(k, 1)[:, None], np.nan)
    frame = pd.DataFrame({
        "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
        **{c: cur[c].astype(str).to_numpy() for c in PEER_COLUMNS},
        "total": cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "n_prev": n_prev, "n_prev_active": n_active,
        "prev_log_mean": log_mean, "prev_log_sd": np.sqrt(np.maximum(var, 0)),
        "prev_mean_total": np.where(k > 0, tot_sum / np.maximum(k, 1), np.nan),
        "quiet_run": quiet_run,
    })
    return AnomalyInputs(quarter=quarter, frame=frame, amounts=_category_matrix(cur), prev_amounts=prev_amounts)
