"""Data step of the anomaly model: this quarter's amounts beside the customer's own past.

Every rule compares a customer with their own earlier quarters or with their peers
(same life stage and age band), so the inputs are this quarter's amounts plus, per
customer, what the earlier quarters looked like. Only earlier quarters count: a
quarter's flags never depend on what came after it, as in a live system.

:func:`load_inputs` returns one :class:`AnomalyInputs` per quarter: a frame of keys,
peer codes and history statistics, and the category amount matrices (current and the
customer's mean over earlier active quarters) kept as arrays, since 33 columns × 673k
customers are compared column-wise many times. The history comes from the previous
quarter's saved state (:mod:`fipro.history`), built once per quarter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, history, peers

MODEL_NAME = "anomaly"
# the mix: every detail category plus the remainder the details do not cover
CATEGORIES: tuple[str, ...] = history.CATEGORIES
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
    (NaN without one); ``habit``: in how many earlier active quarters each category was
    used (0 without one).
    """

    quarter: str
    frame: pd.DataFrame
    amounts: np.ndarray
    prev_amounts: np.ndarray
    habit: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def load_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None) -> AnomalyInputs:
    """This quarter's amounts and each customer's history from the earlier quarters.

    The history is the saved state of the previous quarter (:mod:`fipro.history`), so the
    cost does not grow with the number of earlier quarters. ``tables``: tables by quarter
    held in memory (tests; must hold ``quarter`` and every earlier quarter that should
    count); the processed tables and saved states otherwise.
    """
    src = history.source(tables)
    cur = src.table(quarter, TABLE_COLUMNS)
    seq = cur["SEQ"].astype(str).to_numpy()
    if not pd.Index(seq).is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    past = history.aligned(src, history.previous_quarter(quarter, src.quarters), seq, "core",
                           ["n_present", "n_active", "quiet_run", "log1p_sum", "log1p_sq", "total_sum",
                            *history.columns_of("core", "category_sum"), *history.columns_of("core", "category_n")])
    k = past["n_active"].to_numpy().astype(float)
    log_sum, log_sq = past["log1p_sum"].to_numpy(), past["log1p_sq"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        log_mean = np.where(k > 0, log_sum / np.maximum(k, 1), np.nan)
        var = np.where(k > 1, (log_sq - k * np.nan_to_num(log_mean) ** 2) / np.maximum(k - 1, 1), np.nan)
        prev_amounts = np.where(k[:, None] > 0, history.matrix(past, "core", "category_sum") / np.maximum(k, 1)[:, None],
                                np.nan)
    frame = pd.DataFrame({
        "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
        **{c: cur[c].astype(str).to_numpy() for c in PEER_COLUMNS},
        "total": cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "n_prev": past["n_present"].to_numpy(np.int16), "n_prev_active": past["n_active"].to_numpy(np.int16),
        "prev_log_mean": log_mean, "prev_log_sd": np.sqrt(np.maximum(var, 0)),
        "prev_mean_total": np.where(k > 0, past["total_sum"].to_numpy() / np.maximum(k, 1), np.nan),
        "quiet_run": past["quiet_run"].to_numpy(np.int16),
    })
    return AnomalyInputs(quarter=quarter, frame=frame, amounts=history.category_matrix(cur), prev_amounts=prev_amounts,
                         habit=history.matrix(past, "core", "category_n").astype(np.int16))
