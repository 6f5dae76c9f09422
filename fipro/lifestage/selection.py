"""Tuning step, once per run: a small grid and a learning curve that sets the training size.

Tuning every quarter cost more than the fit itself and chose the same settings; the
learning curve shows where macro-F1 stops improving, so at full scale the model fits
on a stratified sample of that size instead of every training row. Both are measured
once per run on one reference quarter (the latest, so every quarter's data is in),
among that quarter's *training* customers only (an inner split by customer: the
test customers never influence a choice), and recorded in
``outputs/models/lifestage/selection.json`` with the quarter it was chosen on. Every
quarter's notebook reads that file; the first run to need it computes it under a file
lock, so quarters running in parallel compute it once and get the same answer whichever
starts first.

A selection is kept across deliveries (a new quarter must not re-tune and so re-run every
quarter's model) until one of the documented triggers (:func:`reselect_reason`): the
code that decides it changed (``selection.py``, ``estimator.py``, ``data.py``), the
settings changed (seed, pooling, grid), the reference quarter's table changed or left the
data, or :data:`RESELECT_AFTER_QUARTERS` quarters have arrived since it was chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from fipro import config, datasets, export, split
from fipro.evaluation import metrics
from fipro.history import table_digest
from fipro.lifestage.data import (CODES, DEFAULT_HISTORY, MODEL_NAME, TARGET, available_features,
                                  load_inputs, sample_training_rows, train_test_rows)
from fipro.lifestage.estimator import DEFAULT_PARAMS, fit_lifestage

SELECTION_FILE = "selection.json"
# Bump when the selection procedure changes, so an old selection.json is not reused.
SELECTION_VERSION = 4
# quarters that may arrive before the selection is made again on the latest one: a year of
# deliveries (the grid's winner and the learning curve's plateau move slowly with the data)
RESELECT_AFTER_QUARTERS = 4
DEFAULT_GRID: dict[str, list] = {"class_weight": [None, "balanced"]}
GRID_ROWS = 25_000            # rows per grid fit: enough to rank two settings, a fraction of the cost
# Tree size is tuned only where the grid is fitted at about the rows the model will use
# (a pool of at most SMALL_POOL_ROWS): a winner at 25k rows says little about 250k. On
# the sample, 7 leaves against 31 moved the first quarter's held-out macro-F1 from 0.670
# to 0.692 (its gap to the ceiling from 0.045 to 0.023); at full scale 31 leaves stay.
SMALL_DATA_GRID: dict[str, list] = {"num_leaves": [7, 31]}
SMALL_POOL_ROWS = 2 * GRID_ROWS
FIRST_CURVE_ROWS = 25_000     # the learning curve doubles from here up to every training row ...
MAX_CURVE_ROWS = 300_000      # ... or this many: a 400k fit alone cost 2.5 min of the run's budget
# "Stops improving": the smallest size within this macro-F1 of the best measured one.
# Half the 0.01 the life-stage model may give up for speed (issue #8), so the chosen
# size keeps the rest for the quarters' own noise.
PLATEAU_TOLERANCE = 0.005
VALIDATION_SHARE = 0.2        # inner split of the training customers


@dataclass
class ModelSelection:
    """What :func:`select_model` chose and the evidence for it."""

    params: dict
    train_rows: Optional[int]
    grid: list = field(default_factory=list)
    learning_curve: list = field(default_factory=list)
    reference_quarter: str = ""
    n_validation: int = 0
    n_pool: int = 0
    tolerance: float = PLATEAU_TOLERANCE
    seconds: float = 0.0
    key: str = ""
    reference_digest: str = ""
    version: int = SELECTION_VERSION

    def grid_table(self) -> pd.DataFrame:
        """The grid's settings with validation macro-F1 (best first), Korean headers."""
        t = pd.DataFrame(self.grid)
        if t.empty:
            return t
        return t.rename(columns={"setting": "설정", "macro_f1": "검증 매크로 F1", "n_train": "학습 행 수",
                                 "fit_seconds": "학습 시간(초)"})

    def curve_table(self) -> pd.DataFrame:
        """Learning curve: training rows, validation macro-F1, accuracy, fit seconds."""
        return pd.DataFrame(self.learning_curve)

    def describe(self) -> str:
        """Korean sentences: what the grid chose and where the learning curve flattens."""
        setting = ", ".join(f"{k}={v}" for k, v in self.params.items()
                            if k in DEFAULT_GRID or k in SMALL_DATA_GRID) or "기본값"
        curve = self.curve_table()
        text = (f"기준 분기 {self.reference_quarter}의 학습 고객만 고객 단위로 다시 나눠(검증 {self.n_validation:,}행) "
                f"설정과 학습 크기를 한 번 골랐고, 모든 분기가 이 선택을 씁니다. 격자 탐색은 {setting}을 골랐습니다.")
        if not curve.empty:
            best = curve["macro_f1"].max()
            last = curve.iloc[-1]
            chosen = self.train_rows if self.train_rows is not None else int(last["n_train"])
            text += (f" 학습 곡선은 {int(curve['n_train'].iloc[0]):,}행 {curve['macro_f1'].iloc[0]:.3f}에서 "
                     f"{int(last['n_train']):,}행 {last['macro_f1']:.3f}까지 올랐고, 최고값({best:.3f})과의 차이가 "
                     f"{self.tolerance:.3f} 이내가 되는 가장 작은 크기인 {chosen:,}행"
                     + ("(모든 학습 행)" if self.train_rows is None else "") + "으로 학습합니다.")
        return text


def _source_digest() -> str:
    """Code that decides the selection: a change to it invalidates selection.json.

    The digest of every ``fipro`` module the selection imports, the same one its code stamp
    holds (``outputs/.stamps/code-lifestage-selection.txt``, :mod:`fipro.stamps`): when the
    stamp changes the selection is made again and its file rewritten. A narrower digest let
    the stamp change while the file was kept, so make ran the check at every call and
    ``make -n`` counted every life-stage notebook as stale.
    """
    from fipro import stamps  # ast and hashlib only; here so that importing the package stays light

    return stamps.code_digest(stamps.closure(stamps.step_roots("lifestage-selection")))


def selection_key(*, seed: int, history: int, grid: Mapping[str, list]) -> str:
    """Fingerprint of the code and settings a selection depends on (the data is checked apart,
    see :func:`reselect_reason`, so that a new quarter does not by itself re-tune)."""
    payload = json.dumps({"code": _source_digest(), "seed": seed, "history": history,
                          "grid": {k: list(v) for k, v in grid.items()}, "version": SELECTION_VERSION},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def reselect_reason(saved: Mapping[str, Any], key: str, quarters: Sequence[str]) -> Optional[str]:
    """Why a saved selection must be made again on these ``quarters``, or ``None`` to keep it."""
    ref = saved.get("reference_quarter", "")
    if saved.get("key") != key:
        return "code or settings changed"
    if ref not in quarters:
        return f"reference quarter {ref!r} is no longer in the data"
    if saved.get("reference_digest") != table_digest(ref):
        return f"reference quarter {ref} changed"
    since = len([q for q in quarters if q > ref])
    if since >= RESELECT_AFTER_QUARTERS:
        return f"{since} quarters since {ref} (reselect after {RESELECT_AFTER_QUARTERS})"
    return None


def curve_sizes(n_pool: int, first: int = FIRST_CURVE_ROWS, most: int = MAX_CURVE_ROWS) -> list[int]:
    """Training sizes of the learning curve: doubling from ``first``, ending with every row.

    Examples
    --------
    >>> curve_sizes(60_000)
    [25000, 50000, 60000]
    >>> curve_sizes(9_000)
    [9000]
    """
    top = min(n_pool, most)
    sizes, n = [], first
    while n < top:
        sizes.append(n)
        n *= 2
    return [*sizes, top]


def choose_train_rows(curve: pd.DataFrame, n_pool: int, tolerance: float = PLATEAU_TOLERANCE) -> Optional[int]:
    """The smallest measured size within ``tolerance`` of the best macro-F1.

    ``None`` (train on every row) when that is the largest size measured and it holds
    every training row.

    Examples
    --------
    >>> c = pd.DataFrame({"n_train": [100, 200, 400], "macro_f1": [0.60, 0.699, 0.70]})
    >>> choose_train_rows(c, 400), choose_train_rows(c, 400, tolerance=0.0)
    (200, None)
    """
    best = curve["macro_f1"].max()
    ok = curve[curve["macro_f1"] >= best - tolerance]
    rows = int(ok["n_train"].min())
    return None if rows >= n_pool else rows


def _score(model, frame: pd.DataFrame) -> dict:
    y = frame[TARGET].to_numpy(dtype=str)
    s = metrics.classification_summary(y, model.predict(frame[list(model.feature_names_in_)]),
                                       labels=[c for c in CODES if c in set(y)])
    return {"macro_f1": s["macro_f1"], "accuracy": s["accuracy"]}


def select_model(reference_quarter: str, *, grid: Optional[Mapping[str, list]] = None,
                 history: int = DEFAULT_HISTORY, test_size: float = 0.2, seed: Optional[int] = None,
                 tolerance: float = PLATEAU_TOLERANCE, n_threads: Optional[int] = None,
                 progress: bool = True) -> ModelSelection:
    """Grid over ``grid`` at ``GRID_ROWS`` rows, then a learning curve with the winner.

    Without ``grid``: ``DEFAULT_GRID``, plus ``SMALL_DATA_GRID`` (tree size) when the
    pool has at most ``SMALL_POOL_ROWS`` rows, so the grid is fitted at about the size
    the model will be.

    Everything is fitted and scored among the reference quarter's training customers
    (the test customers of :func:`fipro.split.customer_roles` are left out), split
    again by customer into fit and validation customers; scores are on the validation
    customers' rows of the reference quarter. Fits here skip calibration (it does not
    move the arg-max much and costs a prediction pass).
    """
    seed = split.resolve_seed(seed)
    start = time.perf_counter()
    data = load_inputs(reference_quarter, history=history)
    roles = split.customer_roles(data["SEQ"], test_size=test_size, seed=seed)
    train, _ = train_test_rows(data, roles, reference_quarter)
    inner = split.customer_unit(train["SEQ"], seed=seed + 101) < VALIDATION_SHARE
    in_ref = (train["BAS_YH"] == reference_quarter).to_numpy()
    pool, validation = train[~inner], train[inner & in_ref]
    columns = available_features(data, reference_quarter)
    if grid is None:
        grid = {**DEFAULT_GRID, **(SMALL_DATA_GRID if len(pool) <= SMALL_POOL_ROWS else {})}
    grid = dict(grid)

    done: dict = {}

    def fit_score(params: Mapping[str, Any], rows: Optional[int]) -> dict:
        # a limit at or above the pool is every row (sample_training_rows returns the pool itself)
        key = (json.dumps(dict(params), sort_keys=True, default=str), rows if rows is not None and rows < len(pool)
               else None)
        if key in done:  # the grid's winner at GRID_ROWS is also a point of the curve (on the sample, its end)
            return done[key]
        part = sample_training_rows(pool, rows, seed=seed)
        t = time.perf_counter()
        model = fit_lifestage(part, params, calibration=None, seed=seed, n_threads=n_threads, columns=columns)
        done[key] = {"n_train": int(len(part)), **_score(model, validation),
                     "fit_seconds": time.perf_counter() - t, "n_iter": model.n_iter_}
        return done[key]

    settings = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    grid_rows = []
    for s in settings:
        r = fit_score({**DEFAULT_PARAMS, **s}, GRID_ROWS)
        grid_rows.append({"setting": ", ".join(f"{k}={v}" for k, v in s.items()) or "기본값", **r, "params": s})
        if progress:
            print(f"[lifestage selection] grid {grid_rows[-1]['setting']}: macro-F1 {r['macro_f1']:.4f} "
                  f"({r['n_train']:,} rows, {r['fit_seconds']:.0f} s)", flush=True)
    best = max(grid_rows, key=lambda r: (r["macro_f1"], -settings.index(r["params"])))
    params = {**DEFAULT_PARAMS, **best["params"]}
    curve = []
    for n in curve_sizes(len(pool)):
        r = fit_score(params, n)
        curve.append(r)
        if progress:
            print(f"[lifestage selection] learning curve {r['n_train']:,} rows: macro-F1 {r['macro_f1']:.4f} "
                  f"({r['fit_seconds']:.0f} s)", flush=True)
    curve_frame = pd.DataFrame(curve)
    # The final model samples exactly the measured size from all non-test training
    # customers: both fits set the same 10% of it aside, so its booster sees the rows the
    # curve measured. (Scaling the size up to the larger pool, as version 2 did, added a
    # quarter of the fit and prediction time at full scale for 0.001-0.003 macro-F1.)
    chosen = choose_train_rows(curve_frame, len(pool), tolerance)
    grid_rows = sorted(grid_rows, key=lambda r: -r["macro_f1"])
    return ModelSelection(params=params, train_rows=chosen, grid=[{k: v for k, v in r.items() if k != "params"}
                                                                 for r in grid_rows],
                          learning_curve=curve, reference_quarter=reference_quarter, n_validation=int(len(validation)),
                          n_pool=int(len(pool)), tolerance=tolerance, seconds=time.perf_counter() - start)


def reference_quarter(quarters: Optional[Sequence[str]] = None) -> str:
    """The quarter selection is measured on: the latest one in the data."""
    quarters = sorted(quarters if quarters is not None else datasets.available_quarters())
    if not quarters:
        raise FileNotFoundError("no ingested quarter: run `make ingest` first")
    return quarters[-1]


def selection_path() -> Path:
    return datasets.run_model_dir(MODEL_NAME) / SELECTION_FILE


def load_or_select(*, seed: Optional[int] = None, history: int = DEFAULT_HISTORY,
                   grid: Optional[Mapping[str, list]] = None, n_threads: Optional[int] = None,
                   progress: bool = True) -> ModelSelection:
    """This run's selection: read ``selection.json`` unless :func:`reselect_reason` gives a reason,
    else select on the latest quarter and save it. ``seed``: ``None`` reads ``config.RANDOM_SEED``.
    """
    seed = split.resolve_seed(seed)
    key_grid = (dict(grid) if grid is not None else
                {**DEFAULT_GRID, **{f"{k} (small pool)": v for k, v in SMALL_DATA_GRID.items()}})
    key = selection_key(seed=seed, history=history, grid=key_grid)
    path = selection_path()
    with export.file_lock(path):  # parallel quarters: one selects, the others wait and read
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if reselect_reason(saved, key, datasets.available_quarters()) is None:
                return ModelSelection(**saved)
        ref = reference_quarter()
        found = select_model(ref, grid=grid, history=history, seed=seed, n_threads=n_threads, progress=progress)
        found.key, found.reference_digest = key, table_digest(ref)
        export.write_json_atomic(path, asdict(found))
    return found


def main(argv=None) -> int:
    """``python -m fipro select``: compute (or confirm) this run's selection."""
    parser = argparse.ArgumentParser(prog="python -m fipro select", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=config.RANDOM_SEED)
    args = parser.parse_args(argv)
    sel = load_or_select(seed=args.seed)
    print(f"life-stage selection: {json.dumps(sel.params, default=str)}, train rows "
          f"{sel.train_rows if sel.train_rows is not None else 'all'} -> {selection_path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
