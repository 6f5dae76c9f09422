"""Data step of the health model: this quarter's spending beside the customer's own past.

The components need, per customer: this quarter's total, credit and check amounts, the
essential/discretionary split, insurance use and the detail mix; the previous quarter's
total and credit amount (change); and the spread of log spending over the quarters with
spending up to this one (stability). The past comes from the history states of
:mod:`fipro.history` (built once per quarter); later quarters are never read (a score is
what was knowable at the time).

The smoothed history is the ``health`` part declared here (:data:`SMOOTHED_HISTORY`): per
customer, an exponentially weighted mean of each of ``SHARE_KINDS`` over the active
quarters up to this one (weight ``(1 − EWM_ALPHA)^k`` for the active quarter k quarters
with spending back; quarters without spending or absent are skipped), kept as a weighted
sum and its weight, ``s ← x + (1 − α) s`` and ``w ← 1 + (1 − α) w``, so the mean is
``s / w``. The spread of log spending over the quarters *before* this one comes from the
previous quarter's ``core`` state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, history, peers

MODEL_NAME = "health"
PEER_COLUMNS: tuple[str, ...] = peers.STAGE_AGE_GROUP
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", "AGE", "SEX_CD", "LIFE_STAGE", "TOT_USE_AM", "CRDSL_USE_AM",
                                  "CNF_USE_AM", *contract.DETAIL_COLUMNS)
LOG_OFFSET = history.STABILITY_LOG_OFFSET  # 천원 (2만원): log(amount + 20) keeps a near-zero quarter from looking like a collapse
SHARE_KINDS: tuple[str, ...] = history.SHARE_KINDS
EWM_ALPHA = 0.2  # weight of the newest active quarter in the smoothed shares (measured: see components)


def _smoothed_empty(n: int) -> dict:
    return {"ewm_weight": np.zeros(n), "ewm_sum": np.zeros((n, len(SHARE_KINDS)))}


def _smoothed_update(values: dict, rows: np.ndarray, table: pd.DataFrame, quarter: str) -> None:
    """Fold one quarter into the exponentially weighted sums (active rows only), in place."""
    active = history.is_active(table)
    at = rows[active]
    keep = 1.0 - EWM_ALPHA
    values["ewm_sum"][at] = history.share_kinds(table.loc[active]) + keep * values["ewm_sum"][at]
    values["ewm_weight"][at] = 1.0 + keep * values["ewm_weight"][at]


SMOOTHED_HISTORY = history.Part(
    name="health", columns=("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM", *contract.DETAIL_COLUMNS),
    empty=_smoothed_empty, update=_smoothed_update,
    matrix_columns={"ewm_sum": tuple(f"ewm_sum_{k}" for k in SHARE_KINDS)}, sources=(__file__,))


def smoothed_shares(state: pd.DataFrame) -> np.ndarray:
    """Customers × ``SHARE_KINDS``: the exponentially weighted mean shares of a ``health``
    state (NaN for a customer with no active quarter yet)."""
    weight = state["ewm_weight"].to_numpy(dtype=np.float64)
    total = history.matrix(state, "health", "ewm_sum").astype(np.float64)
    return np.where(weight[:, None] > 0, total / np.where(weight > 0, weight, 1.0)[:, None], np.nan)


def spread(count: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Sample sd from a count, sum and sum of squares (NaN below two)."""
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / np.maximum(count, 1)
        var = (s2 - count * mean ** 2) / np.maximum(count - 1, 1)
    return np.where(count >= 2, np.sqrt(np.maximum(var, 0)), np.nan)


@dataclass
class HealthInputs:
    """One quarter's customers (rows in ``datasets.load_quarter`` order).

    ``frame``: keys, ``AGE``, ``SEX_CD`` (shown in the fairness view only, never used by
    a component or model), ``LIFE_STAGE``, ``total``, ``credit``, ``check``,
    ``insurance``, ``essential``, ``discretionary``, ``prev_total`` / ``prev_credit``
    (NaN without a previous-quarter row), ``n_active`` (quarters with spending up to
    this one), ``log_sd`` (sd of log(total + 20) over them, NaN below two),
    ``now_<share>`` this quarter's and ``hist_<share>`` the mean over the active
    quarters of each of ``SHARE_KINDS`` (0 where undefined; ``hist`` NaN with no activity),
    ``ewm_<share>`` its exponentially weighted mean (the smoothed history, NaN with no
    activity), ``log_sd_before`` the sd of log(total + 20) over the active quarters before
    this one (NaN below two).
    ``mix``: this quarter's detail shares (rows × details).
    """

    quarter: str
    frame: pd.DataFrame
    mix: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def _inputs(src, quarter: str) -> HealthInputs:
    """One quarter's inputs: its table, its history state (sums up to and including it) and
    the previous quarter's state (that quarter's amounts)."""
    cur = src.table(quarter, TABLE_COLUMNS)
    seq = cur["SEQ"].astype(str).to_numpy()
    if not pd.Index(seq).is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    state = history.aligned(src, quarter, seq, "core", ["n_active", "stable_log_sum", "stable_log_sq",
                                                          *history.columns_of("core", "share_sum")])
    before = history.previous_quarter(quarter, src.quarters)
    last = history.aligned(src, before, seq, "core", ["last_quarter", "last_TOT_USE_AM", "last_CRDSL_USE_AM",
                                                       "n_active", "stable_log_sum", "stable_log_sq"])
    was_there = (last["last_quarter"].to_numpy() == before) if before is not None else np.zeros(len(seq), bool)
    count = state["n_active"].to_numpy().astype(np.int64)
    log_sd = spread(count, state["stable_log_sum"].to_numpy(), state["stable_log_sq"].to_numpy())
    log_sd_before = spread(last["n_active"].to_numpy(), last["stable_log_sum"].to_numpy(), last["stable_log_sq"].to_numpy())
    smoothed = smoothed_shares(history.aligned(src, quarter, seq, "health"))
    share_sum = history.matrix(state, "core", "share_sum")
    now_shares = history.share_kinds(cur)
    details = cur[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
    detail_total = details.sum(1)
    essential_mask = np.array([c in contract.ESSENTIAL_DETAILS for c in contract.DETAIL_COLUMNS])
    mix = np.divide(details, detail_total[:, None], out=np.zeros_like(details), where=detail_total[:, None] > 0)
    frame = pd.DataFrame({
        "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
        **{c: cur[c].astype(str).to_numpy() for c in ("AGE", "SEX_CD", "LIFE_STAGE")},
        "total": cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "credit": cur["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "check": cur["CNF_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "insurance": cur["INSU_AM"].to_numpy(dtype=np.float64).clip(min=0),
        "essential": details[:, essential_mask].sum(1), "discretionary": details[:, ~essential_mask].sum(1),
        "prev_total": np.where(was_there, last["last_TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0), np.nan),
        "prev_credit": np.where(was_there, last["last_CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0), np.nan),
        "n_active": count, "log_sd": log_sd, "log_sd_before": log_sd_before,
        **{f"ewm_{k}": smoothed[:, j] for j, k in enumerate(SHARE_KINDS)},
        **{f"now_{k}": now_shares[:, j] for j, k in enumerate(SHARE_KINDS)},
        **{f"hist_{k}": np.where(count > 0, share_sum[:, j] / np.maximum(count, 1), np.nan)
           for j, k in enumerate(SHARE_KINDS)},
    })
    return HealthInputs(quarter=quarter, frame=frame, mix=mix.astype(np.float32))


def load_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None, *, with_previous: bool = False):
    """This quarter's spending and each customer's history up to it (:mod:`fipro.history`).

    ``tables``: tables by quarter held in memory (tests); the processed tables and saved
    states otherwise. ``with_previous``: also return the previous quarter's inputs
    (``None`` for the first quarter), for the stability between quarters.
    """
    src = history.source(tables)
    current = _inputs(src, quarter)
    if not with_previous:
        return current
    before = history.previous_quarter(quarter, src.quarters)
    return current, (_inputs(src, before) if before is not None else None)


def iter_window(quarter: str, n: int, tables: Optional[Mapping[str, pd.DataFrame]] = None) -> Iterator[HealthInputs]:
    """The inputs of ``quarter`` and of up to ``n − 1`` quarters before it, newest first (fewer
    at the start of the file), each read when asked for: the quarters the smoothed score reads,
    each scored by this quarter's rule. A caller that keeps only the scores of the earlier
    quarters holds one quarter's inputs at a time (≈ 0.5 GB each at full scale)."""
    src = history.source(tables)
    yield _inputs(src, quarter)
    before, given = history.previous_quarter(quarter, src.quarters), 1
    while before is not None and given < n:
        yield _inputs(src, before)
        before, given = history.previous_quarter(before, src.quarters), given + 1
