"""Data step of the recommenders: each customer's monthly spending profile and how much history backs it.

Per customer of the quarter: this quarter's spend per detail category (won per month),
the mean over the customer's quarters with spending up to this one (the profile the rule
recommender ranks cards on), the number of such quarters and of categories used this
quarter (how informative the customer's own history is), age band, grade, life stage,
and the customer's segment from notebook 05 when it has run. The past comes from the
history states (:mod:`fipro.history`), including the ``benefit`` part declared here; no
later quarter is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, datasets, history
from fipro.products import CATALOGUE_DIR, CATEGORIES, BenefitEngine, Catalogue, load_catalogue, monthly_won
from fipro.recommend.estimator import CHUNK_ROWS
from fipro.segments.artifacts import ASSIGNMENTS_FILE, model_dir

MODEL_NAME = "recommendation"
TABLE_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", "AGE", "SEX_CD", "MBR_RK", "LIFE_STAGE", "TOT_USE_AM", *CATEGORIES)


@dataclass
class RecommendInputs:
    """One quarter's customers (``datasets.load_quarter`` order).

    ``frame``: keys, ``AGE``, ``MBR_RK``, ``LIFE_STAGE``, ``n_active`` (quarters with spending
    up to this one), ``n_categories`` (categories used this quarter), ``group`` (segment from
    notebook 05, or the life stage when segments have not run), ``group_source``, ``log_sd``
    (sd of log(1 + total) over the active quarters, NaN below two).
    ``now``: this quarter's won per month (customers × ``CATEGORIES``); ``history``: the mean
    over the active quarters (zeros without any); ``benefit_sum`` / ``benefit_count``: every
    card's net monthly benefit summed over those quarters and their number (the rule
    recommender's expected benefit, :class:`~fipro.recommend.estimator.BenefitHistory`).
    """

    quarter: str
    frame: pd.DataFrame
    now: np.ndarray
    history: np.ndarray
    benefit_sum: np.ndarray
    benefit_count: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def _spread(count: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Sample sd of log(1 + total) from the active quarters' count, sum and sum of squares (NaN below two)."""
    count = np.asarray(count, dtype=np.float64)
    mean = s1 / np.maximum(count, 1)
    var = (s2 - count * mean ** 2) / np.maximum(count - 1, 1)
    return np.where(count >= 2, np.sqrt(np.maximum(var, 0)), np.nan)


def _spend(table: pd.DataFrame) -> np.ndarray:
    return monthly_won(table[list(CATEGORIES)].to_numpy(dtype=np.float64))


def segment_groups(quarter: str, seq: np.ndarray) -> Optional[np.ndarray]:
    """Each customer's (soft) segment from notebook 05's saved assignments, or ``None`` before it ran."""

    path = model_dir(quarter) / ASSIGNMENTS_FILE
    if not path.exists():
        return None
    saved = pd.read_parquet(path, columns=["SEQ", "soft_segment"])
    mapped = pd.Series(saved["soft_segment"].to_numpy(), index=saved["SEQ"].astype(str)).reindex(seq)
    return mapped.fillna(-1).astype(int).astype(str).radd("S").to_numpy()


def _benefit_part(catalogue: Catalogue) -> history.Part:
    """Running sum of every card's monthly net benefit on each active quarter's spending."""
    engine = BenefitEngine(catalogue)

    def contribute(t: pd.DataFrame) -> np.ndarray:
        spend = _spend(t)
        out = np.empty((len(spend), len(catalogue.card_ids)), dtype=np.float32)
        for start in range(0, len(spend), CHUNK_ROWS):  # bounded memory at full scale
            out[start:start + CHUNK_ROWS] = engine.evaluate(spend[start:start + CHUNK_ROWS]).net
        return out

    files = [str(p) for p in sorted(CATALOGUE_DIR.glob("*.csv"))]
    return history.running_sum("benefit", CATEGORIES, catalogue.card_ids, contribute, dtype=np.float32,
                               sources=(__file__, history.module_file("fipro.products"), *files))


@lru_cache(maxsize=1)
def benefit_history_part() -> history.Part:
    """The ``benefit`` part of the history states, on the committed catalogue (declared in
    :data:`fipro.history.HISTORY_PARTS`; a change to the catalogue rebuilds it)."""
    return _benefit_part(load_catalogue())


def load_inputs(quarter: str, tables: Optional[Mapping[str, pd.DataFrame]] = None,
                groups: Optional[np.ndarray] = None, catalogue: Optional[Catalogue] = None) -> RecommendInputs:
    """This quarter's spending and each customer's history up to it (:mod:`fipro.history`).

    ``tables``: tables by quarter held in memory (tests); ``groups`` overrides the segment
    lookup; ``catalogue``: a catalogue other than the committed one, whose benefit history is
    then folded over the quarters here instead of read from the saved states.
    """
    src = history.source(tables)
    cur = src.table(quarter, TABLE_COLUMNS)
    seq = cur["SEQ"].astype(str).to_numpy()
    if not pd.Index(seq).is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    now = _spend(cur)
    state = history.aligned(src, quarter, seq, "core",
                            ["n_detail_active", "n_active", "log1p_sum", "log1p_sq", *(f"category_sum_{c}" for c in CATEGORIES)])
    count = state["n_detail_active"].to_numpy().astype(np.int64)
    history_mean = monthly_won(state[[f"category_sum_{c}" for c in CATEGORIES]].to_numpy()) / np.maximum(count, 1)[:, None]
    if catalogue is None:
        benefit = history.aligned(src, quarter, seq, "benefit")
    else:
        p = _benefit_part(catalogue)
        benefit = history.aligned_state(p, history.fold(p, src, quarter), seq)
    if groups is None:
        groups = segment_groups(quarter, seq) if tables is None else None
    source = "segment" if groups is not None else "life_stage"
    if groups is None:
        groups = cur["LIFE_STAGE"].astype(str).to_numpy()
    frame = pd.DataFrame({
        "BAS_YH": cur["BAS_YH"].astype(str).to_numpy(), "SEQ": seq,
        **{c: cur[c].astype(str).to_numpy() for c in ("AGE", "MBR_RK", "LIFE_STAGE")},
        "n_active": count, "n_categories": (now > 0).sum(1), "group": np.asarray(groups, dtype=str),
        "log_sd": _spread(state["n_active"].to_numpy(), state["log1p_sum"].to_numpy(), state["log1p_sq"].to_numpy()),
        "group_source": source,
    })
    benefit_sum, benefit_count = benefit_arrays(benefit)
    return RecommendInputs(quarter=quarter, frame=frame, now=now, history=history_mean,
                           benefit_sum=benefit_sum, benefit_count=benefit_count)


def benefit_arrays(state: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(every card's summed monthly net benefit, the number of quarters summed) of ``benefit``
    state rows (:func:`fipro.history.aligned`), as float32."""
    return (state[[c for c in state.columns if c.startswith("sum_")]].to_numpy(np.float32),
            state["n"].to_numpy(np.float32))


def previous_quarter(quarter: str) -> Optional[str]:
    """The ingested quarter before ``quarter`` (``None`` for the first): whose recommendations
    this quarter's spending measures."""
    earlier = [q for q in datasets.available_quarters() if q < quarter]
    return earlier[-1] if earlier else None


def category_label(category: str) -> str:
    return contract.LABEL_KO.get(category, category)
