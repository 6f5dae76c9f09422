"""Data step of the recommenders: each customer's monthly spending profile and how much history backs it.

Per customer of the quarter: this quarter's spend per detail category (won per month),
the mean over the customer's quarters with spending up to this one (the profile the rule
recommender ranks cards on), the number of such quarters and of categories used this
quarter (how informative the customer's own history is), age band, grade, life stage,
and the customer's segment from notebook 05 when it has run. Earlier quarters are read
one at a time; later quarters only by :func:`next_spend`, for the measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, datasets
from fipro.datasets import earlier_quarters
from fipro.products import CATEGORIES, monthly_won

MODEL_NAME = "recommendation"
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", "AGE", "SEX_CD", "MBR_RK", "LIFE_STAGE", "TOT_USE_AM", *CATEGORIES)


@dataclass
class RecommendInputs:
    """One quarter's customers (``datasets.load_quarter`` order).

    ``frame``: keys, ``AGE``, ``MBR_RK``, ``LIFE_STAGE``, ``n_active`` (quarters with spending
    up to this one), ``n_categories`` (categories used this quarter), ``group`` (segment from
    notebook 05, or the life stage when segments have not run), ``group_source``.
    ``now``: this quarter's won per month (customers × ``CATEGORIES``); ``history``: the mean
    over the active quarters (zeros without any).
    """

    quarter: str
    frame: pd.DataFrame
    now: np.ndarray
    history: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def _spend(table: pd.DataFrame) -> np.ndarray:
    return monthly_won(table[list(CATEGORIES)].to_numpy(dtype=np.float64))


def segment_groups(quarter: str, seq: np.ndarray) -> Optional[np.ndarray]:
    """Each customer's (soft) segment from notebook 05's saved assignments, or ``None`` before it ran."""
    from fipro.segments.artifacts import ASSIGNMENTS_FILE, model_dir

    path = model_dir(quarter) / ASSIGNMENTS_FILE
    if not path.exists():
        return None
    saved = pd.read_parquet(path, columns=["SEQ", "soft_segment"])
    mapped = pd.Series(saved["soft_segment"].to_numpy(), index=saved["SEQ"].astype(str)).reindex(seq)
    return mapped.fillna(-1).astype(int).astype(str).radd("S").to_numpy()


def load_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None,
                groups: Optional[np.ndarray] = None,
                visit=None) -> RecommendInputs:
    """This quarter's spending and each customer's history; ``tables`` for tests, ``groups``
    to override the segment lookup. ``visit``: an object whose ``start(n)`` is called with the
    number of customers and which is then called as ``visit(positions, spend)`` once per
    quarter (this one first, then older ones) with the customers who spent in it, so that
    per-quarter results accumulate while each table is read once."""
    def table(q: str, columns=TABLE_COLUMNS) -> pd.DataFrame:
        return tables[q] if tables is not None else datasets.load_quarter(q, columns=list(columns))

    cur = table(quarter)
    seq = cur["SEQ"].astype(str).to_numpy()
    index = pd.Index(seq)
    if not index.is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    now = _spend(cur)
    active = now.sum(1) > 0
    total = np.where(active[:, None], now, 0.0)
    count = active.astype(np.int64)
    if visit is not None:
        visit.start(len(cur))
        visit(np.flatnonzero(active), now[active])
    for q in earlier_quarters(quarter, sorted(tables) if tables is not None else None):
        t = table(q, ("SEQ", *CATEGORIES))
        pos = index.get_indexer(t["SEQ"].astype(str).to_numpy())
        hit = pos >= 0
        spend = _spend(t)[hit]
        del t
        act = spend.sum(1) > 0
        rows = pos[hit][act]
        total[rows] += spend[act]
        count[rows] += 1
        if visit is not None:
            visit(rows, spend[act])
    history = total / np.maximum(count, 1)[:, None]
    if groups is None:
        groups = segment_groups(quarter, seq) if tables is None else None
    source = "segment" if groups is not None else "life_stage"
    if groups is None:
        groups = cur["LIFE_STAGE"].astype(str).to_numpy()
    frame = pd.DataFrame({
        "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
        **{c: cur[c].astype(str).to_numpy() for c in ("AGE", "MBR_RK", "LIFE_STAGE")},
        "n_active": count, "n_categories": (now > 0).sum(1), "group": np.asarray(groups, dtype=str),
        "group_source": source,
    })
    return RecommendInputs(quarter=quarter, frame=frame, now=now, history=history)


def next_quarter(quarter: str) -> Optional[str]:
    later = [q for q in datasets.available_quarters() if q > quarter]
    return later[0] if later else None


def next_spend(quarter: str, seq: np.ndarray, tables: Optional[Mapping[str, pd.DataFrame]] = None) -> tuple[np.ndarray, np.ndarray]:
    """The next quarter's won per month for the customers of ``seq`` that appear in it:
    (positions in ``seq``, spend). Measurement only: never used to recommend."""
    t = tables[quarter] if tables is not None else datasets.load_quarter(quarter, columns=["SEQ", *CATEGORIES])
    pos = pd.Index(seq).get_indexer(t["SEQ"].astype(str).to_numpy())
    hit = pos >= 0
    return pos[hit], _spend(t)[hit]


def category_label(category: str) -> str:
    return contract.LABEL_KO.get(category, category)
