"""Benchmarks that record the issues' performance targets as JSON.

``python -m fipro benchmark --scale full [--steps synth,ingest,features,lifestage]``
runs each step as a child process (so its peak memory is its own), in a private
tree under ``.cache/benchmark/<scale>/`` that never touches the user's data, and
writes ``outputs/benchmarks/<step>.json``:

- ``synth``: full-scale synthetic generation (target ≤ 180 s, bounded memory);
- ``ingest``: ingest vs a bare DuckDB ``read_csv`` → Parquet copy of the same file,
  measured in the same run (target ≤ 2× the bare copy, peak RSS ≤ 1.5 GB);
- ``features``: one quarter's feature build (target ≤ 60 s);
- ``lifestage``: one quarter's life-stage fit and evaluation (measured, no target).

Later steps reuse the earlier steps' files when they are already there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from fipro import config
from fipro.export import write_json_atomic

STEPS = ("synth", "ingest", "features", "lifestage")
BENCH_QUARTER = "2023q1"


def run_measured(cmd: list[str], env: dict | None = None, poll_seconds: float = 0.05) -> dict:
    """Run ``cmd`` and return its wall time and the peak RSS of its process tree.

    Peak RSS is sampled (every ``poll_seconds``) over the child and its descendants,
    so short spikes between samples can be missed; ``ru_maxrss`` of the child is
    taken as well and the larger of the two is reported.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})})
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(poll_seconds)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (exit {proc.returncode}): {' '.join(cmd)}")
    # ru_maxrss (KiB on Linux) is the max over all children so far: only trust it if it grew
    maxrss = after * 1024 if after > before else 0
    return {"wall_seconds": round(wall, 2), "peak_rss_mb": round(max(peak, maxrss) / 2**20, 1)}


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _fipro(*args: str) -> list[str]:
    return [sys.executable, "-m", "fipro", *args]


def _record(step: str, payload: dict) -> Path:
    payload = {"step": step, "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": _machine(), **payload}
    path = write_json_atomic(config.BENCHMARKS_DIR / f"{step}.json", payload)
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    return path


def bench_synth(home: Path, scale: str, seed: int) -> dict:
    raw = home / "data" / "raw"
    m = run_measured(_fipro("synth", "--scale", scale, "--seed", str(seed), "--out-dir", str(raw), "--force"))
    meta = json.loads((raw / f"{config.RAW_FILENAME}.synth.json").read_text())
    rows = int(meta.get("rows", 0))
    size = (raw / config.RAW_FILENAME).stat().st_size
    return {**m, "scale": scale, "seed": seed, "rows": rows, "file_mb": round(size / 2**20, 1),
            "rows_per_second": round(rows / m["wall_seconds"]),
            "target_seconds": 180, "meets_target": m["wall_seconds"] <= 180}


def bench_ingest(home: Path, scale: str, seed: int) -> dict:
    raw_file = home / "data" / "raw" / config.RAW_FILENAME
    if not raw_file.exists():
        bench_synth(home, scale, seed)
    env = {"FIPRO_DATA_DIR": str(home / "data")}
    bare = run_measured(_fipro("ingest", "--bare-scan", "--raw", str(raw_file),
                               "--out-dir", str(home / "bare"), "--no-progress"), env)
    full = run_measured(_fipro("ingest", "--raw", str(raw_file), "--out-dir", str(home / "data" / "processed"),
                               "--force", "--no-progress"), env)
    manifest = json.loads((home / "data" / "processed" / "manifest.json").read_text())
    rows = int(manifest.get("rows_read", 0))
    ratio = full["wall_seconds"] / bare["wall_seconds"]
    return {
        "scale": scale, "rows": rows, "file_mb": round(raw_file.stat().st_size / 2**20, 1),
        "ingest": full, "bare_duckdb_copy": bare,
        "time_ratio_to_bare": round(ratio, 2), "rows_per_second": round(rows / full["wall_seconds"]),
        "target_ratio": 2.0, "target_peak_rss_mb": 1536,
        "meets_target": ratio <= 2.0 and full["peak_rss_mb"] <= 1536,
    }


def bench_features(home: Path, scale: str, seed: int) -> dict:
    processed = home / "data" / "processed"
    if not (processed / "manifest.json").exists():
        bench_ingest(home, scale, seed)
    env = {"FIPRO_DATA_DIR": str(home / "data")}
    m = run_measured([sys.executable, "-m", "fipro.features", "--quarter", BENCH_QUARTER,
                      "--processed-dir", str(processed)], env)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(processed / "features" / f"{BENCH_QUARTER}.parquet").metadata.num_rows
    return {**m, "scale": scale, "quarter": BENCH_QUARTER, "rows": rows,
            "target_seconds": 60, "meets_target": m["wall_seconds"] <= 60}


def bench_lifestage(home: Path, scale: str, seed: int) -> dict:
    processed = home / "data" / "processed"
    if not (processed / "features" / f"{BENCH_QUARTER}.parquet").exists():
        bench_features(home, scale, seed)
    env = {"FIPRO_DATA_DIR": str(home / "data"), "FIPRO_OUTPUTS_DIR": str(home / "outputs")}
    result_file = home / "lifestage_eval.json"
    code = (
        "import json, sys; from fipro import lifestage; from fipro.export import write_json_atomic; "
        f"write_json_atomic(sys.argv[1], lifestage.evaluate_quarter({BENCH_QUARTER!r}))"
    )
    m = run_measured([sys.executable, "-c", code, str(result_file)], env)
    return {**m, "scale": scale, "quarter": BENCH_QUARTER, "evaluation": json.loads(result_file.read_text())}


BENCHES = {"synth": bench_synth, "ingest": bench_ingest, "features": bench_features, "lifestage": bench_lifestage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fipro benchmark", description="timed runs -> outputs/benchmarks/*.json")
    parser.add_argument("--scale", default="full", choices=("sample", "full"))
    parser.add_argument("--seed", type=int, default=config.RANDOM_SEED)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps: {', '.join(unknown)}")
    home = config.PROJ_ROOT / ".cache" / "benchmark" / args.scale
    home.mkdir(parents=True, exist_ok=True)
    for step in steps:
        print(f"== benchmark {step} ({args.scale})", flush=True)
        _record(step, BENCHES[step](home, args.scale, args.seed))
    return 0
