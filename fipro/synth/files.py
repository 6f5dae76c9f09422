"""The stand-in's files: the raw CSV, its truth Parquet and the ``.synth.json`` sidecar,
and the command line ``python -m fipro synth``.

When the licensed raw file is absent, :func:`ensure_synthetic` writes
``data/raw/edu_data_F.csv`` in the real file's exact format (header, column order,
CRLF, UTF-8, no quoting, whole 천원 amounts, the real code spellings) plus
``edu_data_F.truth.parquet`` (never a model input) and a sidecar
``edu_data_F.csv.synth.json``; where they live is decided in :mod:`fipro.datasets`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from fipro import config, datasets
from fipro.export import atomic_path, write_json_atomic
from fipro.synth import generate
from fipro.synth.difficulty import describe_difficulty, difficulty_report
from fipro.synth.params import SCALES

GENERATOR_VERSION = "3.1"  # 3.0: overall levels by sex, region and quarter (issue 27); 3.1: with truth column stress_observable

# Where the files live is decided in fipro.datasets; these names stay for callers.
truth_path = datasets.truth_path
is_synthetic = datasets.is_synthetic
load_truth = datasets.load_truth

_CSV_OPTIONS = dict(delimiter=",", quoting_style="none", quoting_header="none", eol="\r\n")


def write_synthetic(path=None, scale: str = "sample", seed: int | None = None, n_customers: int | None = None,
                    chunk_customers: int = generate.DEFAULT_CHUNK_CUSTOMERS, progress: bool | None = None) -> Path:
    """Write the synthetic raw CSV, its truth Parquet and the ``.synth.json`` sidecar.

    Customers are generated and written chunk by chunk (memory stays bounded at full
    scale); files are written under temporary names and renamed when complete, the
    sidecar last.

    Parameters
    ----------
    path : path-like, optional
        Raw file to write; default ``config.RAW_DIR / config.RAW_FILENAME``.
    scale : {"sample", "full"}
        Number of customers from ``SCALES`` unless ``n_customers`` is given.
    seed : int, optional
        Seed of every random draw; ``None``: ``config.RANDOM_SEED``, read when called.
    n_customers : int, optional
        Overrides the scale's customer count.
    chunk_customers : int
        Customers held in memory at once (rounded to blocks of
        ``generate.BLOCK_CUSTOMERS``);
        the output does not depend on it.
    progress : bool, optional
        Show a tqdm bar; default for more than 100,000 customers.

    Returns
    -------
    Path
        The raw file.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    seed = config.RANDOM_SEED if seed is None else seed
    path = Path(path) if path is not None else config.RAW_DIR / config.RAW_FILENAME
    n = int(n_customers if n_customers is not None else SCALES[scale])
    if n < 1:
        raise ValueError("n_customers must be positive")
    path.parent.mkdir(parents=True, exist_ok=True)
    tpath = truth_path(path)
    datasets.sidecar_path(path).unlink(missing_ok=True)
    show = n > 100_000 if progress is None else progress
    bar = tqdm(total=n, unit="customer", desc=f"synth {scale}", unit_scale=True) if show else None
    digest, rows, writer, difficulty = hashlib.sha256(), 0, None, None
    per_chunk = max(1, chunk_customers // generate.BLOCK_CUSTOMERS) * generate.BLOCK_CUSTOMERS
    try:
        # leaving the block renames the truth first, then the raw file; the sidecar
        # that marks the pair as complete is written last
        with atomic_path(path) as tmp_raw, atomic_path(tpath) as tmp_truth:
            try:
                with open(tmp_raw, "wb") as out:
                    for i, (raw, truth) in enumerate(generate.generate_tables(n, seed, chunk_customers)):
                        buf = pa.BufferOutputStream()
                        pacsv.write_csv(raw, buf, pacsv.WriteOptions(include_header=i == 0, **_CSV_OPTIONS))
                        data = buf.getvalue()
                        digest.update(data)
                        out.write(data)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp_truth, truth.schema, compression="zstd")
                        writer.write_table(truth)
                        rows += raw.num_rows
                        if i == 0:
                            # reported on the first chunk's customers: reading back 5 M rows costs more than it tells
                            difficulty = difficulty_report(raw.to_pandas(), truth.to_pandas())
                            difficulty["measured_on"] = "first chunk of customers"
                        if bar is not None:
                            bar.update(min(n, (i + 1) * per_chunk) - bar.n)
            finally:
                if writer is not None:
                    writer.close()
    finally:
        if bar is not None:
            bar.close()
    meta = {"generator": "fipro.synth", "generator_version": GENERATOR_VERSION, "scale": scale, "seed": int(seed),
            "n_customers": n, "rows": rows, "file_size": path.stat().st_size, "sha256": digest.hexdigest(),
            "truth": tpath.name, "difficulty": difficulty}
    write_json_atomic(datasets.sidecar_path(path), meta)
    return path


def ensure_synthetic(scale: str = "sample", seed: int | None = None, raw_dir=None) -> Path | None:
    """Make sure a raw file is available, generating the synthetic one only if needed.

    A real raw file (found by :func:`fipro.datasets.raw_file`, the one discovery rule
    that ingest uses too) always wins: nothing is generated and None is returned. An
    existing synthetic file with the same scale, seed and generator version is reused.

    Parameters
    ----------
    scale : {"sample", "full"}
    seed : int, optional
        Default ``config.RANDOM_SEED`` (read at call time).
    raw_dir : path-like, optional
        Default ``config.RAW_DIR`` (read at call time).

    Returns
    -------
    Path or None
        The synthetic raw file, or None when a real file is present.
    """
    seed = config.RANDOM_SEED if seed is None else seed
    raw_dir = Path(raw_dir) if raw_dir is not None else config.RAW_DIR
    found = datasets.raw_file(raw_dir)
    if found is not None and not is_synthetic(found):
        print(f"real raw file present, using it: {found} (no synthetic data generated)")
        return None
    path = raw_dir / config.RAW_FILENAME
    meta = datasets.read_sidecar(path)
    if (meta and is_synthetic(path) and truth_path(path).is_file() and meta.get("scale") == scale
            and meta.get("seed") == int(seed) and meta.get("generator_version") == GENERATOR_VERSION
            and meta.get("n_customers") == SCALES.get(scale)):
        print(f"synthetic raw file up to date: {path} ({meta['rows']:,} rows, scale={scale}, seed={seed})")
        return path
    print(f"generating synthetic raw file: {path} (scale={scale}, seed={seed})")
    written = write_synthetic(path, scale=scale, seed=seed)
    print(describe_difficulty(datasets.read_sidecar(written)["difficulty"]))
    return written


# --- command line -----------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m fipro synth --scale sample|full --seed N [--out-dir DIR] [--force]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro synth",
                                     description="Synthetic stand-in for EDU_DATA_F, with a planted truth "
                                                 "to measure models against.")
    parser.add_argument("--scale", choices=sorted(SCALES), default="sample")
    parser.add_argument("--seed", type=int, default=config.RANDOM_SEED)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: config.RAW_DIR")
    parser.add_argument("--force", action="store_true", help="regenerate even if an up-to-date file exists")
    parser.add_argument("--chunk-customers", type=int, default=generate.DEFAULT_CHUNK_CUSTOMERS)
    args = parser.parse_args(argv)
    raw_dir = args.out_dir if args.out_dir is not None else config.RAW_DIR
    if args.force:
        path = Path(raw_dir) / config.RAW_FILENAME
        if path.exists() and not is_synthetic(path):
            print(f"refusing to overwrite a real raw file: {path}", file=sys.stderr)
            return 1
        path = write_synthetic(path, scale=args.scale, seed=args.seed, chunk_customers=args.chunk_customers)
    else:
        path = ensure_synthetic(scale=args.scale, seed=args.seed, raw_dir=raw_dir)
    if path is not None:
        meta = datasets.read_sidecar(path)
        print(f"{path}: {meta['rows']:,} rows, {meta['n_customers']:,} customers, "
              f"{meta['file_size'] / 1e6:,.1f} MB, truth {truth_path(path).name}")
    return 0
