"""The features on disk: each quarter's feature cache, the schema file, and
``python -m fipro.features``.

:func:`load_features` reads a quarter's cache (:func:`fipro.datasets.features_path`)
while it is fresh (:func:`is_fresh`) and otherwise builds it with
:func:`fipro.features.build.build_features` from the processed quarter and the one
before it (:func:`load_quarter_pair`); :func:`build_report` does the same and measures
it (what notebook 02 records).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fipro import contract, datasets
from fipro.datasets import normalise_quarter, previous_quarter
from fipro.export import write_json_atomic, write_parquet_atomic
from fipro.features import build, spec
from fipro.features.build import build_features, feature_metrics, metrics_summary_ko
from fipro.features.spec import CHANGE_COLUMNS, FEATURE_SPECS, feature_names, feature_schema


# --- the schema file ------------------------------------------------------------------


def schema_path() -> Path:
    return datasets.feature_schema_path()


def write_feature_schema(path: Optional[Path] = None) -> Path:
    """Write :func:`feature_schema` (default: ``data/reference/feature_schema.json``)."""
    return write_json_atomic(Path(path) if path else schema_path(), feature_schema())


# --- per-quarter files ------------------------------------------------------------------


def features_path(quarter: str, processed_dir: Optional[Path] = None) -> Path:
    """A quarter's feature cache (:func:`fipro.datasets.features_path`)."""
    return datasets.features_path(quarter, processed_dir)


# The cache is stale when the code that decides its content is newer than the file:
# the feature contract and its computation (spec, build) and the data contract
# (columns, codes, hierarchy).
CODE_INPUTS: tuple[Path, ...] = (Path(spec.__file__).resolve(), Path(build.__file__).resolve(),
                                 Path(contract.__file__).resolve())


def _is_fresh(path: Path, inputs: Sequence[Path]) -> bool:
    """True when the cache at ``path`` is newer than its data and code and has the contract's columns."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    if any(p.exists() and p.stat().st_mtime > mtime for p in [*inputs, *CODE_INPUTS]):
        return False
    try:  # the features code changed since the file was written
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid):  # gone meanwhile, or not a (whole) Parquet file: rebuild
        return False
    return names == ["BAS_YH", "SEQ", *feature_names("all")]


# What the previous quarter is read for (change features, quarter-on-quarter tables).
PREVIOUS_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", *CHANGE_COLUMNS)


def load_quarter_pair(quarter: str, processed_dir: Optional[Path] = None
                      ) -> tuple[pd.DataFrame, Optional[pd.DataFrame]]:
    """A processed quarter (all columns) and the quarter before it (``None`` if not
    available; only :data:`PREVIOUS_COLUMNS`, which is all the change features need)."""
    quarter = normalise_quarter(quarter)
    available = datasets.available_quarters(processed_dir)
    if quarter not in available:
        raise FileNotFoundError(f"quarter {quarter} is not in the processed data ({available})")
    prev_q = previous_quarter(quarter)
    current = datasets.load_quarter(quarter, processed_dir=processed_dir)
    previous = (datasets.load_quarter(prev_q, columns=list(PREVIOUS_COLUMNS), processed_dir=processed_dir)
                if prev_q in available else None)
    return current, previous


def is_fresh(quarter: str, processed_dir: Optional[Path] = None) -> bool:
    """Whether the quarter's feature cache can be read as it is.

    It cannot when it is missing, unreadable, older than the quarter's table or the
    previous quarter's, older than the code in :data:`CODE_INPUTS` (``spec``, ``build``,
    ``fipro/contract.py``), or when its
    columns differ from :data:`FEATURE_SPECS`.
    """
    quarter = normalise_quarter(quarter)
    available = datasets.available_quarters(processed_dir)
    inputs = [datasets.quarter_table_path(q, processed_dir) for q in (quarter, previous_quarter(quarter))
              if q in available]
    return _is_fresh(datasets.features_path(quarter, processed_dir), inputs)


def load_features(quarter: str, processed_dir: Optional[Path] = None, rebuild: bool = False) -> pd.DataFrame:
    """A quarter's features: read the cache (:func:`fipro.datasets.features_path`) if it
    is fresh (:func:`is_fresh`), else build from the processed quarter (and the previous
    quarter, if available) and write it atomically."""
    return build_report(quarter, processed_dir, rebuild=rebuild).features


def write_features(feature_df: pd.DataFrame, path: Path) -> Path:
    """Write a features frame as Parquet through :func:`fipro.export.atomic_path`: two
    processes may build the same quarter (``make -j2``); each writes its own temporary
    file and the rename is atomic, so a reader never sees half a file."""
    return write_parquet_atomic(feature_df, path)


@dataclass(frozen=True)
class FeatureReport:
    """What :func:`build_report` did for one quarter (what notebook 02 shows and records).

    Attributes
    ----------
    quarter : str
    features : DataFrame
        The quarter's features, as :func:`load_features` returns them.
    rebuilt : bool
        Whether the features were built now (``False``: read from a fresh cache).
    seconds : dict
        Wall-clock seconds of ``read`` (the processed tables, or the cache), ``build``,
        ``write`` and ``total``.
    metrics : dict
        :func:`feature_metrics`, with ``build_seconds`` = ``seconds["total"]``.
    summary_ko : str
        :func:`summary_ko` of the same numbers.
    """

    quarter: str
    features: pd.DataFrame
    rebuilt: bool
    seconds: dict
    metrics: dict
    summary_ko: str


def build_report(quarter: str, processed_dir: Optional[Path] = None, rebuild: bool = True) -> FeatureReport:
    """Build (or read) a quarter's features and measure it: what notebook 02 records.

    Parameters
    ----------
    quarter : str
    processed_dir : Path, optional
        Default ``config.PROCESSED_DIR``.
    rebuild : bool
        Build even when the cache is fresh (the notebook's default, so its timing is the
        build's); ``False`` reads a fresh cache and builds only a stale or missing one.

    Returns
    -------
    FeatureReport
    """
    quarter = normalise_quarter(quarter)
    path = datasets.features_path(quarter, processed_dir)
    t0 = time.perf_counter()
    rebuilt = rebuild or not is_fresh(quarter, processed_dir)
    if rebuilt:
        current, previous = load_quarter_pair(quarter, processed_dir)
        t1 = time.perf_counter()
        feature_df = build_features(current, previous)
        t2 = time.perf_counter()
        write_features(feature_df, path)
    else:
        feature_df = pd.read_parquet(path)
        t1 = t2 = time.perf_counter()
    t3 = time.perf_counter()
    seconds = {"read": t1 - t0, "build": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    metrics = feature_metrics(feature_df, seconds["total"])
    return FeatureReport(quarter=quarter, features=feature_df, rebuilt=rebuilt, seconds=seconds,
                         metrics=metrics, summary_ko=metrics_summary_ko(metrics))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m fipro.features [--quarter Q ...|--all] [--processed-dir DIR] [--schema]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro.features", description=main.__doc__)
    parser.add_argument("--quarter", action="append", default=[], help="quarter to build (repeatable)")
    parser.add_argument("--all", action="store_true", help="build every processed quarter")
    parser.add_argument("--processed-dir", type=Path, default=None, help="processed data folder")
    parser.add_argument("--schema", action="store_true", help="regenerate data/reference/feature_schema.json")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.schema:
        print(f"schema: {write_feature_schema()} ({len(FEATURE_SPECS)} features)")
    quarters = list(args.quarter)
    if args.all:
        quarters = datasets.available_quarters(args.processed_dir)
    if not quarters and not args.schema:
        parser.print_usage()
        return 2
    for q in quarters:
        report = build_report(q, args.processed_dir)
        t, frame = report.seconds, report.features
        print(f"{report.quarter}: {len(frame):,} rows × {frame.shape[1] - 2} features in {t['total']:.1f} s "
              f"(read {t['read']:.1f} s, build {t['build']:.1f} s, write {t['write']:.1f} s) -> "
              f"{datasets.features_path(q, args.processed_dir)}", flush=True)
    return 0
