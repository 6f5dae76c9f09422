"""Data step of the segment model: each customer's spending style relative to peers, over their quarters.

A segment should describe how people spend, not who they are, so every style value is
taken relative to the customer's peers (same age band × sex × life stage, within the
quarter): per detail category (``CATEGORIES``)

* ``use_<c>``: whether the customer used it, minus the peers' use rate;
* ``amt_<c>``: log amount where used, minus the peers' mean among users, minus the
  customer's own mean of that deviation (their spending level, which grade and income
  set, is taken out; 0 where not used);
* ``share_<c>``: the category's share of the total, minus the peers' mean share.

A style is a habit that outlasts one quarter, so the model reads the mean of these over
the customer's quarters with spending up to this one (never later ones): on the sample
a single quarter's style recovers the planted segments at ARI 0.11–0.28 with k-means,
the mean over the history at 0.53–0.55 (notebook 05 shows the comparison).
The running sum of the style is kept in the history states (:mod:`fipro.history`), so a
quarter reads its own table and one state, however many quarters came before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from fipro import contract, peers, split
from fipro import history as _history

MODEL_NAME = "segments"
CATEGORIES: tuple[str, ...] = contract.DETAIL_COLUMNS
CATEGORY_LABEL_KO: dict[str, str] = {c: contract.LABEL_KO[c] for c in CATEGORIES}
PEER_COLUMNS: tuple[str, ...] = peers.PEER_GROUP
PROFILE_COLUMNS: tuple[str, ...] = ("AGE", "SEX_CD", "LIFE_STAGE", "MBR_RK", "TOT_USE_AM", "CRDSL_USE_AM")
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", *dict.fromkeys(PEER_COLUMNS + PROFILE_COLUMNS), *CATEGORIES)
STYLE_KINDS: tuple[str, ...] = ("use", "amt", "share")
STYLE_COLUMNS: tuple[str, ...] = tuple(f"{k}_{c}" for k in STYLE_KINDS for c in CATEGORIES)


@dataclass
class SegmentInputs:
    """One quarter's customers (rows in ``datasets.load_quarter`` order) with their style.

    ``frame``: ``BAS_YH``, ``SEQ``, the profile columns (this quarter) and
    ``n_style_quarters`` (quarters with spending up to this one; 0 means no style can be
    judged). ``style``: the history-mean style (rows × ``STYLE_COLUMNS``, 0 where
    ``n_style_quarters`` is 0). ``amounts``: this quarter's detail amounts (for profiles).
    """

    quarter: str
    frame: pd.DataFrame
    style: np.ndarray
    amounts: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_style(self) -> np.ndarray:
        return self.frame["n_style_quarters"].to_numpy() > 0


def _group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(groups × columns) sums of ``values`` by group code."""
    return np.stack([np.bincount(codes, weights=values[:, j], minlength=n_groups) for j in range(values.shape[1])],
                    axis=1)


def _group_mean(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-row mean of each column of ``values`` over the row's group."""
    count = np.maximum(np.bincount(codes, minlength=n_groups), 1)
    return (_group_sums(values, codes, n_groups) / count[:, None]).astype(values.dtype)[codes]


def quarter_style(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(style rows × ``STYLE_COLUMNS``, active mask) for one quarter's table, relative to its own peers.

    Rows with no spending get NaN style (they say nothing about a habit).
    """
    # float32 throughout: a full-scale quarter is 673k rows × 96 values, several times over
    amounts = table[list(CATEGORIES)].to_numpy(dtype=np.float32).clip(min=0)
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    active = total > 0
    peer = peers.peer_group_codes(table, PEER_COLUMNS) if len(table) else np.zeros(0, int)
    codes, n_groups = peer[active], int(peer.max()) + 1 if len(peer) else 0
    a, tot = amounts[active], total[active]
    used = (a > 0).astype(np.float32)
    style = np.full((len(table), len(STYLE_COLUMNS)), np.nan, dtype=np.float32)
    if not active.any():
        return style, active
    use = used - _group_mean(used, codes, n_groups)
    log_amount = np.log1p(a)
    user_count = _group_sums(used, codes, n_groups)
    user_sum = _group_sums(log_amount * used, codes, n_groups)
    peer_log = (user_sum / np.maximum(user_count, 1)).astype(np.float32)[codes]
    dev = np.where(used > 0, log_amount - peer_log, np.float32(0))
    n_used = used.sum(1)
    level = np.divide(dev.sum(1), n_used, out=np.zeros(len(dev), np.float32), where=n_used > 0)
    amt = np.where(used > 0, dev - level[:, None], np.float32(0))
    share = a / tot[:, None].astype(np.float32)
    share = share - _group_mean(share, codes, n_groups)
    style[active] = np.hstack([use, amt, share])
    return style, active


STYLE_HISTORY = _history.running_sum("style", TABLE_COLUMNS[2:], STYLE_COLUMNS, lambda t: quarter_style(t)[0],
                                    dtype=np.float32, sources=(__file__,))


def _inputs(src, quarter: str, history_mean: bool = True) -> SegmentInputs:
    cur = src.table(quarter, TABLE_COLUMNS)
    seq = cur["SEQ"].astype(str).to_numpy()
    if not pd.Index(seq).is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    if history_mean:
        state = _history.aligned(src, quarter, seq, "style")
        count = state["n"].to_numpy(np.int16)
        total = _history.matrix(state, "style", "sum").astype(np.float32)
    else:
        style, active = quarter_style(cur)
        count = active.astype(np.int16)
        total = np.where(active[:, None], style, np.float32(0))
    mean = np.divide(total, count[:, None].astype(np.float32), out=np.zeros_like(total), where=count[:, None] > 0)
    frame = pd.DataFrame({"BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
                          **{c: cur[c].astype(str).to_numpy() for c in ("AGE", "SEX_CD", "LIFE_STAGE", "MBR_RK")},
                          "total": cur["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
                          "credit": cur["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0),
                          "n_style_quarters": count})
    return SegmentInputs(quarter=quarter, frame=frame, style=mean,
                         amounts=cur[list(CATEGORIES)].to_numpy(dtype=np.float32).clip(min=0))


def load_inputs(quarter: str, *, history: bool = True, tables: Optional[dict] = None,
                with_previous: bool = False):
    """This quarter's customers with the mean style over their quarters with spending up to this one.

    The running sum of the style is the ``style`` part of the history states
    (:data:`STYLE_HISTORY`, built once per quarter). ``history=False``: this quarter's
    style alone (the single-quarter comparison above). ``tables``: tables by quarter held
    in memory (tests); the processed tables and saved states otherwise. ``with_previous``:
    return ``(this quarter, previous quarter or None)``, the previous quarter's customers
    with their history up to it.
    """
    src = _history.source(tables)
    current = _inputs(src, quarter, history)
    if not with_previous:
        return current
    before = _history.previous_quarter(quarter, src.quarters)
    return current, (_inputs(src, before, history) if before is not None else None)


def stratified_sample(frame: pd.DataFrame, n: int, seed: Optional[int] = None,
                      strata: Sequence[str] = ("LIFE_STAGE", "AGE")) -> np.ndarray:
    """Sorted row positions of a sample of about ``n`` rows, proportional within each stratum
    (:func:`fipro.split.stratified_positions`; ``seed`` ``None`` reads ``config.RANDOM_SEED``)."""
    return split.stratified_positions(frame, strata, n, seed)
