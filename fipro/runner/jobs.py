"""What ``make notebooks`` runs side by side: the quarters, the parallel jobs, their threads.

    python -m fipro quarters                 # quarters in the processed data, space-separated
    python -m fipro jobs [--memory-gb 8]     # parallel notebook jobs for the ingested scale
    python -m fipro jobs --large             # 1 if the model notebooks run alone (large quarters)
    python -m fipro jobs --threads-for N     # FIPRO_THREADS for N parallel jobs

How many notebooks run side by side follows from the rows per quarter in the ingest
manifest and a memory budget (:func:`decide_jobs`); each job then gets an equal share of
the cores (:func:`threads_per_job`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from fipro import datasets

# Peak memory of one notebook job, linear in the rows of its quarter: a kernel with the
# scientific stack loaded, plus what its notebook holds of the quarter (≈ 3.9 GB per job at
# the real file's 673k rows per quarter, ≈ 0.55 GB at the 10k sample). The kernels' peaks
# on the full-scale rebuild (metadata.fipro.kernel_peak_mb, make benchmark): 07 3.9 GB, 04
# and 08 3.75, 03 3.3, 05 2.9, 02 2.3, 06 2.0, 01 1.7, 00 1.3 GB; the largest sets the rate.
JOB_BASE_GB = 0.5
JOB_GB_PER_ROW = 3.4 / 673_000
DEFAULT_MEMORY_GB = 8.0


def job_peak_gb(rows_per_quarter: int) -> float:
    """Estimated peak memory (GB) of one notebook job on a quarter of this many rows."""
    return JOB_BASE_GB + JOB_GB_PER_ROW * max(int(rows_per_quarter), 0)


def decide_jobs(rows_per_quarter, memory_gb: float = DEFAULT_MEMORY_GB, cpu_count: int | None = None) -> int:
    """Number of notebook jobs to run in parallel.

    As many as the memory budget holds at the estimated peak of the largest quarter,
    never more than the CPUs and never fewer than one (a quarter larger than the budget
    still runs, alone).

    Parameters
    ----------
    rows_per_quarter : int or iterable of int
        Rows of each quarter (the manifest's ``quarters``); the largest one counts.
    memory_gb : float
        Memory all parallel jobs may use together.
    cpu_count : int, optional
        Default ``os.cpu_count()``.

    Examples
    --------
    >>> decide_jobs([673_000] * 8, memory_gb=8, cpu_count=2)
    2
    >>> decide_jobs([673_000] * 8, memory_gb=6, cpu_count=2)
    1
    >>> decide_jobs([10_000] * 8, memory_gb=8, cpu_count=2)
    2
    """
    rows = [rows_per_quarter] if isinstance(rows_per_quarter, (int, float)) else list(rows_per_quarter)
    if not rows:
        return 1
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    by_memory = math.floor(memory_gb / job_peak_gb(max(rows)))
    return max(1, min(by_memory, cpus))


# From this many rows per quarter a model notebook's booster dominates its time: it runs
# alone with every core (the Makefile's SERIAL_NOTEBOOKS) instead of beside another job.
LARGE_QUARTER_ROWS = 100_000


def is_large(rows_per_quarter) -> bool:
    """Whether the largest quarter has ``LARGE_QUARTER_ROWS`` rows or more.

    Examples
    --------
    >>> is_large([673_000, 670_000]), is_large([10_000]), is_large([])
    (True, False, False)
    """
    return max(list(rows_per_quarter) or [0]) >= LARGE_QUARTER_ROWS


def threads_per_job(jobs: int, cpu_count: int | None = None) -> int:
    """CPU threads one notebook may use when ``jobs`` run side by side (``FIPRO_THREADS``)."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cpus // max(int(jobs), 1))


def manifest_rows(manifest_path=None) -> dict:
    """``{quarter: rows}`` from ``data/processed/manifest.json``.

    Raises
    ------
    FileNotFoundError
        No manifest: nothing is ingested yet (``make ingest``).
    """
    path = Path(manifest_path) if manifest_path is not None else datasets.manifest_path()
    return {q: int(n) for q, n in json.loads(path.read_text(encoding="utf-8"))["quarters"].items()}


def quarters_main(argv=None) -> int:
    """``python -m fipro quarters``: the ingested quarters, space-separated (the Makefile's ``QUARTERS``)."""
    parser = argparse.ArgumentParser(prog="python -m fipro quarters", description="quarters in the processed data")
    parser.add_argument("--processed-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    print(" ".join(datasets.available_quarters(args.processed_dir)))
    return 0


def main(argv=None) -> int:
    """``python -m fipro jobs``: parallel notebook jobs, ``--large`` or ``--threads-for N``."""
    parser = argparse.ArgumentParser(prog="python -m fipro jobs",
                                     description="parallel notebook jobs for the ingested scale")
    parser.add_argument("--memory-gb", type=float, default=DEFAULT_MEMORY_GB)
    parser.add_argument("--manifest", type=Path, default=None)
    parser.add_argument("--threads-for", type=int, default=None, metavar="JOBS",
                        help="print FIPRO_THREADS for this many jobs instead")
    parser.add_argument("--large", action="store_true",
                        help="print 1 if a quarter is large enough for model notebooks to run alone, else 0")
    args = parser.parse_args(argv)
    if args.threads_for is not None:
        print(threads_per_job(args.threads_for))
        return 0
    try:
        rows = manifest_rows(args.manifest)
    except FileNotFoundError as exc:
        print(f"jobs: no manifest ({exc.filename}); run `make ingest` first", file=sys.stderr)
        return 1
    if args.large:
        print(int(is_large(rows.values())))
        return 0
    print(decide_jobs(rows.values(), memory_gb=args.memory_gb))
    return 0
