"""Each customer's history, built once per quarter from the previous quarter's.

The data arrives a quarter at a time, and every model asks the same question of the past:
what did this customer do before? Instead of each model re-reading every earlier quarter
(work that grows with the number of quarters), the *state* of quarter ``q`` holds, for
every customer seen in any quarter up to and including ``q``, the running values the
models read, and

    state(q) = advance(state(q − 1), table(q))

so a new quarter costs one quarter. A state is made of *parts*, one Parquet file each
under ``data/processed/history/<q>/<part>.parquet``:

``core`` (this module, :data:`CORE`)
    presence (``first_quarter``, ``last_quarter``, ``last_active_quarter``, ``n_present``,
    ``n_active``, ``n_detail_active``, ``quiet_run``), running sums over the active
    quarters (log spending and its square in two scales, the total, the health shares, every
    category amount), ``category_n`` (in how many of them each category was used) and the
    amounts of the customer's last quarter present (``last_*``).
``style`` (:data:`fipro.segments.data.STYLE_HISTORY`)
    the running sum of the peer-relative spending style.
``benefit`` (:data:`fipro.recommend.data.BENEFIT_HISTORY`)
    the running sum of every card's monthly net benefit on each quarter's spending.
``health`` (:data:`fipro.health.data.SMOOTHED_HISTORY`)
    the exponentially weighted mean of the health shares over the active quarters.

A quarter is *active* for a customer when ``TOT_USE_AM > 0`` — one definition for every
model; a row with no total but detail amounts (inconsistent, counted by the data check)
adds to no running sum.

Each part's file carries its digest (the table's digest, the previous state's digest and
the part's code version) in a JSON beside it; a state whose digest no longer matches is
rebuilt from the newest fresh one, so a changed quarter or changed part code rebuilds only
what follows from it. :func:`ensure` builds what is missing (``make history`` before the
notebooks; the loaders call it too), :func:`aligned` reads a state for given customers.
Tests and hand-made data use :class:`MemoryHistory`, which runs the same :func:`advance`
over tables held in memory.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fipro import contract, datasets
from fipro.export import write_json_atomic, write_parquet_atomic

HISTORY_DIR = "history"
# the parts every state has, in build order ("module:attribute", imported when asked for)
# (a declaration may be a function returning the part, for parts that load data to be defined)
HISTORY_PARTS: tuple[str, ...] = ("fipro.history:CORE", "fipro.segments.data:STYLE_HISTORY",
                                  "fipro.recommend.data:benefit_history_part", "fipro.health.data:SMOOTHED_HISTORY")
NO_QUARTER = ""  # first/last quarter of a customer not seen yet

# the rest of the total that no detail category covers, as a 33rd category
CATEGORIES: tuple[str, ...] = contract.DETAIL_COLUMNS + ("REST",)
LAST_COLUMNS: tuple[str, ...] = ("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM", *contract.DETAIL_COLUMNS)
# log(total + 20 천원): a near-zero quarter does not look like a collapse (health's stability)
STABILITY_LOG_OFFSET = 20.0
SHARE_KINDS: tuple[str, ...] = ("credit_share", "care_share", "discretionary_share")
_CARE = ("INSU_AM", "HOS_AM")


# --- what one quarter contributes ---------------------------------------------------------

def category_matrix(table: pd.DataFrame) -> np.ndarray:
    """Rows × :data:`CATEGORIES`: the detail amounts (clipped at 0) and the rest of the total."""
    details = table[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    return np.column_stack([details, np.maximum(total - details.sum(1), 0.0)])


def share_kinds(table: pd.DataFrame) -> np.ndarray:
    """Rows × :data:`SHARE_KINDS`: credit share of card spending, insurance + hospital share
    of the total, discretionary share of the detail-classified spending (0 where undefined)."""
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    credit = table["CRDSL_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    check = table["CNF_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    details = table[list(contract.DETAIL_COLUMNS)].to_numpy(dtype=np.float64).clip(min=0)
    essential = np.array([c in contract.ESSENTIAL_DETAILS for c in contract.DETAIL_COLUMNS])
    care = table[list(_CARE)].to_numpy(dtype=np.float64).clip(min=0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.column_stack([credit / (credit + check), care / total, details[:, ~essential].sum(1) / details.sum(1)])
    return np.nan_to_num(out)


def is_active(table: pd.DataFrame) -> np.ndarray:
    """The one definition of a quarter with spending: ``TOT_USE_AM > 0``."""
    return table["TOT_USE_AM"].to_numpy(dtype=np.float64) > 0


# --- parts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """One kind of running state.

    Parameters
    ----------
    name : str
        File stem under ``history/<q>/``.
    columns : tuple of str
        The quarter-table columns :attr:`update` reads (besides ``SEQ``).
    empty : callable
        ``empty(n)`` → dict of column arrays for ``n`` customers not seen yet.
    update : callable
        ``update(values, rows, table, quarter)``: fold one quarter's ``table`` into
        ``values`` (the arrays of :attr:`empty`, over every customer of the new state),
        where ``rows[i]`` is the position of the table's row ``i``; in place.
    matrix_columns : mapping
        For each matrix-valued array of :attr:`empty`, the names of its columns in the
        saved table.
    sources : tuple of str
        Files (besides this module) whose content is the part's code version: a change
        to any of them rebuilds the part's states.
    summary : callable, optional
        ``summary(table)`` → JSON-able dict of the quarter's table, kept in the state's
        sidecar (``history/<q>/<name>.json``) under ``"table"``: what a later quarter
        needs of this one as a whole, read without loading the table again.
    """

    name: str
    columns: tuple[str, ...]
    empty: Callable[[int], dict]
    update: Callable[[dict, np.ndarray, pd.DataFrame, str], None]
    matrix_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = field(default=())
    summary: Optional[Callable[[pd.DataFrame], dict]] = None

    def version(self) -> str:
        """Digest of the code (and data files) that define the part."""
        h = hashlib.sha256()
        for path in (Path(__file__), *(Path(s) for s in self.sources)):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        return h.hexdigest()[:16]


def module_file(name: str) -> str:
    """The source file of an imported module (a part's ``sources`` entry)."""
    return inspect.getfile(sys.modules[name])


def running_sum(name: str, columns: Sequence[str], value_names: Sequence[str],
                contribute: Callable[[pd.DataFrame], np.ndarray], *, dtype=np.float64,
                sources: Sequence[str] = ()) -> Part:
    """A part that sums ``contribute(table)`` (rows × ``value_names``) over each customer's
    active quarters and counts them (``n``)."""
    value_names = tuple(value_names)
    sum_columns = tuple(f"sum_{v}" for v in value_names)

    def empty(n: int) -> dict:
        return {"n": np.zeros(n, np.int16), "sum": np.zeros((n, len(value_names)), dtype)}

    def update(values: dict, rows: np.ndarray, table: pd.DataFrame, quarter: str) -> None:
        active = is_active(table)
        if not active.any():
            return
        at = rows[active]
        values["n"][at] += 1
        values["sum"][at] += contribute(table.loc[active]).astype(dtype, copy=False)

    # the total decides which quarters count
    return Part(name=name, columns=tuple(dict.fromkeys(("TOT_USE_AM", *columns))), empty=empty, update=update,
                matrix_columns={"sum": sum_columns},
                sources=tuple(sources))


def _core_empty(n: int) -> dict:
    return {
        "first_quarter": np.full(n, NO_QUARTER, object), "last_quarter": np.full(n, NO_QUARTER, object),
        "last_active_quarter": np.full(n, NO_QUARTER, object),
        "n_present": np.zeros(n, np.int16), "n_active": np.zeros(n, np.int16),
        "n_detail_active": np.zeros(n, np.int16), "quiet_run": np.zeros(n, np.int16),
        "log1p_sum": np.zeros(n), "log1p_sq": np.zeros(n), "total_sum": np.zeros(n),
        "stable_log_sum": np.zeros(n), "stable_log_sq": np.zeros(n),
        "share_sum": np.zeros((n, len(SHARE_KINDS))), "category_sum": np.zeros((n, len(CATEGORIES))),
        "category_n": np.zeros((n, len(CATEGORIES)), np.int16),
        "last": np.zeros((n, len(LAST_COLUMNS)), np.int64),
    }


def _core_update(v: dict, rows: np.ndarray, table: pd.DataFrame, quarter: str) -> None:
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64).clip(min=0)
    active = total > 0
    present = np.zeros(len(v["n_present"]), bool)
    present[rows] = True
    # a quiet run is quarters in a row present with no spending; absence ends it
    quiet = np.zeros_like(present)
    quiet[rows[~active]] = True
    v["quiet_run"] = np.where(quiet, v["quiet_run"] + 1, 0).astype(np.int16)
    first = v["first_quarter"][rows]
    v["first_quarter"][rows] = np.where(first == NO_QUARTER, quarter, first)
    v["last_quarter"][rows] = quarter
    v["n_present"][rows] += 1
    v["last"][rows] = table[list(LAST_COLUMNS)].to_numpy(dtype=np.int64)
    at = rows[active]
    t = total[active]
    v["last_active_quarter"][at] = quarter
    v["n_active"][at] += 1
    lt = np.log1p(t)
    v["log1p_sum"][at] += lt
    v["log1p_sq"][at] += lt ** 2
    v["total_sum"][at] += t
    ls = np.log(t + STABILITY_LOG_OFFSET)
    v["stable_log_sum"][at] += ls
    v["stable_log_sq"][at] += ls ** 2
    active_rows = table.loc[active]
    v["share_sum"][at] += share_kinds(active_rows)
    categories = category_matrix(active_rows)
    v["category_sum"][at] += categories
    v["category_n"][at] += (categories > 0).astype(np.int16)  # the customer's habit: quarters each category was used
    v["n_detail_active"][at[categories[:, :-1].sum(1) > 0]] += 1


def _core_summary(table: pd.DataFrame) -> dict:
    # notebook 01's seasonal index and quarter level read every quarter up to its own: their
    # means (and the total's sum of squared deviations, for its standard error) are kept here,
    # so its cost stays flat in the number of quarters (reading each table took 1-5 s at full scale)
    total = table["TOT_USE_AM"].to_numpy(dtype=np.float64)
    mean = float(total.mean()) if len(total) else float("nan")
    return {"rows": int(len(table)),
            "column_means": {c: float(table[c].mean()) for c in contract.DETAIL_COLUMNS},
            "total_moments": [int(len(total)), mean, float(((total - mean) ** 2).sum()) if len(total) else 0.0]}


CORE = Part(name="core", columns=("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM", *contract.DETAIL_COLUMNS),
            empty=_core_empty, update=_core_update, summary=_core_summary,
            matrix_columns={"share_sum": tuple(f"share_sum_{k}" for k in SHARE_KINDS),
                            "category_sum": tuple(f"category_sum_{c}" for c in CATEGORIES),
                            "category_n": tuple(f"category_n_{c}" for c in CATEGORIES),
                            "last": tuple(f"last_{c}" for c in LAST_COLUMNS)})


def parts() -> list[Part]:
    """The declared parts, in :data:`HISTORY_PARTS` order."""
    out = []
    for spec in HISTORY_PARTS:
        module, attribute = spec.split(":")
        declared = getattr(importlib.import_module(module), attribute)
        out.append(declared if isinstance(declared, Part) else declared())
    return out


def part(name: str) -> Part:
    """The declared part called ``name``."""
    for p in parts():
        if p.name == name:
            return p
    raise KeyError(f"no history part {name!r}; parts: {[p.name for p in parts()]}")


# --- the state as a table -------------------------------------------------------------------

def matrix_names(p: Part, key: str) -> tuple[str, ...]:
    """Column names of the matrix-valued array ``key`` of part ``p`` in its saved table."""
    return p.matrix_columns[key]


def to_frame(p: Part, seq: np.ndarray, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One part's arrays as the table saved for it (``SEQ`` first)."""
    columns: dict[str, np.ndarray] = {"SEQ": np.asarray(seq, dtype=object)}
    for key, arr in values.items():
        if arr.ndim == 2:
            for j, name in enumerate(matrix_names(p, key)):
                columns[name] = arr[:, j]
        else:
            columns[key] = arr
    return pd.DataFrame(columns)


def from_frame(p: Part, frame: pd.DataFrame) -> dict:
    """The arrays of a part's saved table (the inverse of :func:`to_frame`)."""
    template = p.empty(0)
    out = {}
    for key, arr in template.items():
        if arr.ndim == 2:
            names = matrix_names(p, key)
            out[key] = frame[list(names)].to_numpy(dtype=arr.dtype)
        elif arr.dtype == object:
            out[key] = frame[key].astype(object).to_numpy()
        else:
            out[key] = frame[key].to_numpy(dtype=arr.dtype)
    return out


def advance(p: Part, previous: Optional[pd.DataFrame], table: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """State of ``quarter`` for part ``p``: the ``previous`` state (``None`` before the first
    quarter) with ``table`` (that quarter's rows, one per ``SEQ``) folded in.

    Rows come sorted by ``SEQ``: every customer of ``previous`` and of ``table``.
    """
    seq_now = table["SEQ"].astype(str).to_numpy()
    if not pd.Index(seq_now).is_unique:
        raise ValueError(f"{quarter}: SEQ is not unique within the quarter")
    seq_before = previous["SEQ"].astype(str).to_numpy() if previous is not None else np.array([], dtype=object)
    union = pd.Index(seq_before).union(pd.Index(seq_now))  # sorted
    values = p.empty(len(union))
    if previous is not None and len(previous):
        at = union.get_indexer(seq_before)
        for key, arr in from_frame(p, previous).items():
            values[key][at] = arr
    p.update(values, union.get_indexer(seq_now), table.reset_index(drop=True), quarter)
    return to_frame(p, union.to_numpy(dtype=object), values)


def aligned_state(p: Part, state: Optional[pd.DataFrame], seq: Sequence[str],
                  columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """``state``'s rows for the customers ``seq``, in that order; a customer the state has not
    seen (or no state at all) gets the part's starting values."""
    seq = np.asarray(seq).astype(str)
    empty = to_frame(p, np.array([NO_QUARTER], dtype=object), p.empty(1)).drop(columns="SEQ")
    wanted = list(columns) if columns is not None else list(empty.columns)
    if state is None or not len(state):
        return pd.DataFrame({c: np.repeat(empty[c].to_numpy(), len(seq)) for c in wanted})
    pos = pd.Index(state["SEQ"].astype(str).to_numpy()).get_indexer(seq)
    hit = pos >= 0
    out = {}
    for c in wanted:
        col = state[c].to_numpy()
        fill = empty[c].to_numpy()
        values = np.repeat(fill, len(seq)).astype(col.dtype if col.dtype != object else object)
        values[hit] = col[pos[hit]]
        out[c] = values
    return pd.DataFrame(out)


# --- states on disk -----------------------------------------------------------------------------

def history_dir(quarter: str) -> Path:
    """``data/processed/history/<quarter>``."""
    return datasets.processed_dir() / HISTORY_DIR / datasets.normalise_quarter(quarter)


def state_path(quarter: str, name: str) -> Path:
    """One part's state of ``quarter``: ``history/<quarter>/<name>.parquet``."""
    return history_dir(quarter) / f"{name}.parquet"


def _meta_path(quarter: str, name: str) -> Path:
    return history_dir(quarter) / f"{name}.json"


def table_digest(quarter: str) -> str:
    """The ingested table's content digest (:func:`fipro.datasets.quarter_digest`), or, for a
    manifest written before ingest recorded digests, the file's size and modification time."""
    digest = datasets.quarter_digest(quarter)
    if digest is not None:
        return digest
    st = datasets.quarter_table_path(quarter).stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _digest(quarter: str, version: str, previous_digest: str) -> str:
    h = hashlib.sha256(f"{quarter}|{table_digest(quarter)}|{previous_digest}|{version}".encode())
    return h.hexdigest()[:20]


def _read_meta(quarter: str, name: str) -> dict:
    try:
        return json.loads(_meta_path(quarter, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def expected_digests(p: Part, quarters: Sequence[str]) -> dict[str, str]:
    """The digest each quarter's state of ``p`` must carry to be fresh (chained from the first)."""
    out, previous, version = {}, "", p.version()  # the part's sources are read once
    for q in quarters:
        previous = out[q] = _digest(q, version, previous)
    return out


def stale_quarters(name: str = "core", quarters: Optional[Sequence[str]] = None) -> list[str]:
    """Quarters (of the ingested ones, or ``quarters``) whose state of part ``name`` is missing
    or out of date."""
    quarters = list(quarters) if quarters is not None else datasets.available_quarters()
    want = expected_digests(part(name), quarters)
    return [q for q in quarters
            if _read_meta(q, name).get("digest") != want[q] or not state_path(q, name).exists()]


def ensure(quarter: Optional[str] = None, names: Optional[Sequence[str]] = None, *,
           progress: Optional[Callable[[str], None]] = None) -> list[tuple[str, str]]:
    """Build every missing or stale state up to ``quarter`` (default: the last ingested one).

    Each part's states are built oldest first from the newest fresh one, so a new quarter
    costs one :func:`advance`. Returns the (quarter, part) pairs built.
    """
    quarters = datasets.available_quarters()
    if quarter is not None:
        quarters = [q for q in quarters if q <= datasets.normalise_quarter(quarter)]
    built = []
    for p in parts():
        if names is not None and p.name not in names:
            continue
        want, version = expected_digests(p, quarters), p.version()
        previous, previous_quarter = None, None
        for q in quarters:
            fresh = _read_meta(q, p.name).get("digest") == want[q] and state_path(q, p.name).exists()
            if fresh:
                previous, previous_quarter = None, q  # read only if a later quarter needs it
                continue
            if previous is None and previous_quarter is not None:
                previous = pd.read_parquet(state_path(previous_quarter, p.name))
            table = datasets.load_quarter(q, columns=["SEQ", *p.columns])
            state = advance(p, previous, table, q)
            write_parquet_atomic(state, state_path(q, p.name))
            meta = {"quarter": q, "part": p.name, "digest": want[q], "customers": int(len(state)),
                    "version": version}
            if p.summary is not None:
                meta["table"] = p.summary(table)
            write_json_atomic(_meta_path(q, p.name), meta)
            built.append((q, p.name))
            if progress is not None:
                progress(f"이력 {q} · {p.name} ({len(state):,}명)")
            previous, previous_quarter = state, q
            del table
    return built


def _ensure_fresh(quarter: str, name: str) -> None:
    """Build part ``name``'s states up to ``quarter`` if any of them is missing or stale."""
    if stale_quarters(name, [q for q in datasets.available_quarters() if q <= quarter]):
        ensure(quarter, [name])


def load_state(quarter: str, name: str = "core", columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """The saved state of ``quarter`` (built first when missing or stale)."""
    _ensure_fresh(quarter, name)
    cols = None if columns is None else ["SEQ", *[c for c in columns if c != "SEQ"]]
    return pq.read_table(state_path(quarter, name), columns=cols).to_pandas()


def table_summaries(quarters: Sequence[str], name: str = "core") -> dict[str, dict]:
    """Each quarter's table summary (:attr:`Part.summary`) from its saved state's sidecar,
    building missing or stale states first."""
    quarters = sorted(quarters)
    if quarters:
        _ensure_fresh(quarters[-1], name)
    return {q: _read_meta(q, name)["table"] for q in quarters}


def quarter_means(quarters: Sequence[str]) -> pd.DataFrame:
    """Mean amount per customer (천원) of every detail category in each quarter (rows:
    quarters, in order), as :func:`fipro.eda.quarter_means` computes it from the tables."""
    means = {q: s["column_means"] for q, s in table_summaries(quarters).items()}
    return (pd.DataFrame.from_dict(means, orient="index", columns=list(contract.DETAIL_COLUMNS))
            .astype("float64").rename_axis("BAS_YH"))


def amount_moments(quarters: Sequence[str]) -> dict[str, tuple[int, float, float]]:
    """Each quarter's ``(rows, mean, sum of squared deviations)`` of ``TOT_USE_AM`` (one row per
    customer), for :func:`fipro.eda.level_table_from_moments`."""
    return {q: tuple(s["total_moments"]) for q, s in table_summaries(quarters).items()}


# --- reading the past: one interface on disk and in memory ------------------------------------

class DiskHistory:
    """The ingested tables and their saved states (what the pipelines read)."""

    @property
    def quarters(self) -> list[str]:
        return datasets.available_quarters()

    def table(self, quarter: str, columns: Sequence[str]) -> pd.DataFrame:
        return datasets.load_quarter(quarter, columns=list(columns))

    def state(self, quarter: str, name: str, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
        return load_state(quarter, name, columns)


class MemoryHistory:
    """Tables held in memory (tests, hand-made data): states by the same :func:`advance`,
    computed on first use and kept."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]):
        self.tables = dict(tables)
        self._states: dict[tuple[str, str], pd.DataFrame] = {}

    @property
    def quarters(self) -> list[str]:
        return sorted(self.tables)

    def table(self, quarter: str, columns: Sequence[str]) -> pd.DataFrame:
        if quarter not in self.tables:
            raise KeyError(f"no table for quarter {quarter!r} among {self.quarters}")
        return self.tables[quarter]

    def state(self, quarter: str, name: str, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
        if (quarter, name) not in self._states:
            self._states[(quarter, name)] = fold(part(name), self, quarter)
        return self._states[(quarter, name)]


def fold(p: Part, src, quarter: str) -> Optional[pd.DataFrame]:
    """Part ``p``'s state of ``quarter`` folded from nothing over ``src``'s tables up to it (what
    :func:`ensure` does step by step on disk; for parts that are not saved, e.g. a what-if
    catalogue)."""
    state = None
    for q in src.quarters:
        if q > quarter:
            break
        state = advance(p, state, src.table(q, ["SEQ", *p.columns]), q)
    return state


def source(tables: Optional[Mapping[str, pd.DataFrame]] = None):
    """:class:`MemoryHistory` over ``tables``, or :class:`DiskHistory` when ``None``."""
    return MemoryHistory(tables) if tables is not None else DiskHistory()


def previous_quarter(quarter: str, quarters: Sequence[str]) -> Optional[str]:
    """The quarter right before ``quarter`` among ``quarters``, or ``None``."""
    before = [q for q in sorted(quarters) if q < quarter]
    return before[-1] if before else None


def aligned(src, quarter: Optional[str], seq: Sequence[str], name: str = "core",
            columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Part ``name``'s state of ``quarter`` for the customers ``seq`` (starting values where
    unseen; all starting values when ``quarter`` is ``None``: nothing came before)."""
    p = part(name)
    state = src.state(quarter, name, columns) if quarter is not None else None
    return aligned_state(p, state, seq, columns)


def matrix(frame: pd.DataFrame, name: str, key: str) -> np.ndarray:
    """The matrix-valued array ``key`` of part ``name`` from an aligned frame."""
    return frame[list(matrix_names(part(name), key))].to_numpy()


def columns_of(name: str, key: str) -> list[str]:
    """Saved column names of part ``name``'s array ``key`` (to read only those)."""
    p = part(name)
    arr = p.empty(0)[key]
    return list(matrix_names(p, key)) if arr.ndim == 2 else [key]


# below this many rows per quarter, starting a second interpreter costs more than it saves
# (sample: 12 s in one process, 20 s in two)
PARALLEL_FROM_ROWS = 100_000


def _ensure_printing(name: str) -> list[tuple[str, str]]:
    return ensure(names=[name], progress=lambda m: print(m, flush=True))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m fipro history``: build every missing or stale state, with progress."""

    parser = argparse.ArgumentParser(prog="fipro history", description=main.__doc__)
    parser.add_argument("--jobs", type=int, default=None,
                        help="parts built side by side (each part's quarters stay in order); default: "
                             f"2 when a quarter has {PARALLEL_FROM_ROWS:,} rows or more, else 1")
    args = parser.parse_args(argv)
    if args.jobs is None:
        rows = (datasets.read_manifest().get("quarters") or {}).values()
        args.jobs = min(2, os.cpu_count() or 1) if max(rows, default=0) >= PARALLEL_FROM_ROWS else 1
    start = time.perf_counter()
    names = [p.name for p in parts()]
    if args.jobs > 1 and len(names) > 1:
        # the parts are independent chains: at full scale one at a time took 208 s, the
        # longest part (style) about 80 s; spawned, so no forked Arrow thread pool is inherited
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            built = [pair for done in pool.map(_ensure_printing, names) for pair in done]
    else:
        built = ensure(progress=lambda m: print(m, flush=True))
    print(f"이력 상태 {len(built)}개를 만들었습니다 ({time.perf_counter() - start:.1f}초)."
          if built else "이력 상태가 모두 최신입니다.", flush=True)
    return 0
