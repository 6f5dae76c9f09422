"""Data step of the health model: this quarter's spending beside the customer's own past.

The components need, per customer: this quarter's total, credit and check amounts, the
essential/discretionary split, insurance use and the detail mix; the previous quarter's
total and credit amount (change); and the spread of log spending over the quarters with
spending up to this one (stability). Earlier quarters are read one at a time; later
quarters never (a score is what was knowable at the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, datasets, peers
from fipro.datasets import earlier_quarters

MODEL_NAME = "health"
PEER_COLUMNS: tuple[str, ...] = peers.STAGE_AGE_GROUP
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", "AGE", "SEX_CD", "LIFE_STAGE", "TOT_USE_AM", "CRDSL_USE_AM",
                                  "CNF_USE_AM", *contract.DETAIL_COLUMNS)
LOG_OFFSET = 20.0  # 천원 (2만원): log(amount + 20) keeps a near-zero quarter from looking like a collapse


SHARE_KINDS: tuple[str, ...] = ("credit_share", "care_share", "discretionary_share")
_CARE = ("INSU_AM", "HOS_AM")


def _shares(t: pd.DataFrame) -> np.ndarray:
    """Credit share of card spending, insurance + hospital share of the total, discretionary
    share of the detail-classified spending (rows × ``SHARE_KINDS``; 0 where undefined)."""
    total = t["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    credit = t["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    check = t["CNF_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    details = t[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
    essential = np.array([c in contract.ESSENTIAL_DETAILS for c in contract.DETAIL_COLUMNS])
    care = t[list(_CARE)].to_numpy(dtype=np.float64).clip(min=0).sum(1)
    d = details.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.column_stack([credit / (credit + check), care / total, details[:, ~essential].sum(1) / d])
    return np.nan_to_num(out)


@dataclass
class HealthInputs:
    """One quarter's customers (rows in ``datasets.load_quarter`` order).

    ``frame``: keys, ``AGE``, ``SEX_CD`` (shown in the fairness view only, never used by
    a component or model), ``LIFE_STAGE``, ``total``, ``credit``, ``check``,
    ``insurance``, ``essential``, ``discretionary``, ``prev_total`` / ``prev_credit``
    (NaN without a previous-quarter row), ``n_active`` (quarters with spending up to
    this one), ``log_sd`` (sd of log(total + 20) over them, NaN below two),
    ``now_<share>`` this quarter's and ``hist_<share>`` the mean over the active
    quarters of each of ``SHARE_KINDS`` (0 where undefined; ``hist`` NaN with no activity).
    ``mix``: this quarter's detail shares (rows × details).
    """

    quarter: str
    frame: pd.DataFrame
    mix: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


class _History:
    """Running sums over a customer set's quarters with spending (log total, its square, the
    shares) and the quarter right before, filled one earlier table at a time."""

    def __init__(self, quarter: str, cur: pd.DataFrame):
        seq = cur["SEQ"].astype(str).to_numpy()
        self.index = pd.Index(seq)
        if not self.index.is_unique:
            raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
        self.quarter, self.cur, self.seq = quarter, cur, seq
        n = len(cur)
        total = cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
        lt = np.log(total + LOG_OFFSET)
        active = total > 0
        self.s1, self.s2 = np.where(active, lt, 0.0), np.where(active, lt ** 2, 0.0)
        self.count = active.astype(np.int64)
        self.now_shares = _shares(cur)
        self.share_sum = np.where(active[:, None], self.now_shares, 0.0)
        self.prev_total = np.full(n, np.nan)
        self.prev_credit = np.full(n, np.nan)
        self.seen = 0

    def add(self, t: pd.DataFrame) -> None:
        """An earlier quarter's table (newest first: the first one added is the previous quarter)."""
        pos = self.index.get_indexer(t["SEQ"].astype(str).to_numpy())
        hit = pos >= 0
        tot = t["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)[hit]
        if self.seen == 0:
            self.prev_total[pos[hit]] = tot
            self.prev_credit[pos[hit]] = t["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)[hit]
        self.seen += 1
        act = tot > 0
        rows = pos[hit][act]
        l = np.log(tot[act] + LOG_OFFSET)
        self.s1[rows] += l
        self.s2[rows] += l ** 2
        self.count[rows] += 1
        self.share_sum[rows] += _shares(t.iloc[np.flatnonzero(hit)[act]])

    def inputs(self) -> HealthInputs:
        cur, count = self.cur, self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.s1 / np.maximum(count, 1)
            var = (self.s2 - count * mean ** 2) / np.maximum(count - 1, 1)
        log_sd = np.where(count >= 2, np.sqrt(np.maximum(var, 0)), np.nan)
        details = cur[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
        detail_total = details.sum(1)
        essential_mask = np.array([c in contract.ESSENTIAL_DETAILS for c in contract.DETAIL_COLUMNS])
        mix = np.divide(details, detail_total[:, None], out=np.zeros_like(details), where=detail_total[:, None] > 0)
        frame = pd.DataFrame({
            "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": self.seq,
            **{c: cur[c].astype(str).to_numpy() for c in ("AGE", "SEX_CD", "LIFE_STAGE")},
            "total": cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
            "credit": cur["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
            "check": cur["CNF_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
            "insurance": cur["INSU_AM"].to_numpy(dtype=np.float64).clip(min=0),
            "essential": details[:, essential_mask].sum(1), "discretionary": details[:, ~essential_mask].sum(1),
            "prev_total": self.prev_total, "prev_credit": self.prev_credit, "n_active": count, "log_sd": log_sd,
            **{f"now_{k}": self.now_shares[:, j] for j, k in enumerate(SHARE_KINDS)},
            **{f"hist_{k}": np.where(count > 0, self.share_sum[:, j] / np.maximum(count, 1), np.nan)
               for j, k in enumerate(SHARE_KINDS)},
        })
        return HealthInputs(quarter=self.quarter, frame=frame, mix=mix.astype(np.float32))


def load_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None, *, with_previous: bool = False):
    """This quarter's spending and each customer's history from the earlier quarters.

    ``tables``: preloaded tables by quarter (tests); the processed tables otherwise.
    ``with_previous``: also return the previous quarter's inputs (``None`` for the first
    quarter), built in the same pass so that each table is read once.
    """
    def table(q: str) -> pd.DataFrame:
        return tables[q] if tables is not None else datasets.load_quarter(q, columns=list(TABLE_COLUMNS))

    current = _History(quarter, table(quarter))
    previous = None
    past = earlier_quarters(quarter, sorted(tables) if tables is not None else None)
    for q in reversed(past):
        t = table(q)
        current.add(t)
        if not with_previous:
            continue
        if previous is None:
            previous = _History(q, t)
        else:
            previous.add(t)
    if not with_previous:
        return current.inputs()
    return current.inputs(), (previous.inputs() if previous is not None else None)
