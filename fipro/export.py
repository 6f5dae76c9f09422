"""Writing results at the edge: headline metrics JSON and atomic file writes."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from fipro import config


def _file_mode() -> int:
    """Mode a plain ``open(path, "w")`` would give (mkstemp's 0600 would hide files from others)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; readers treat null as "not measured"
    if isinstance(value, Path):
        return str(value)
    return value


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A unique temporary path beside ``path`` that becomes ``path`` only on success.

    The one way fipro writes a file that someone else may read while it is written:
    write to the yielded path, and when the ``with`` block ends without an exception
    the file is renamed onto ``path`` (``os.replace``: atomic on one file system, so a
    reader sees the old file or the new one, never half of one). On any exception the
    temporary file is removed and ``path`` is left as it was.

    The temporary name is ``.<name>.<pid>.<random>.tmp`` in the same folder (made by
    ``tempfile.mkstemp``), so two overlapping writers of the same file (``make -j2``,
    two notebooks) never share one, and a leftover names the process that made it.

    Parameters
    ----------
    path : Path
        The final file; its folder is created if missing.

    Yields
    ------
    Path
        An empty file with the permissions a plain ``open()`` would give it.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, _FILE_MODE)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        # KeyboardInterrupt too: a half-written file must never stay behind
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[Path]:
    """Hold an exclusive lock for ``path`` while the block runs (parallel runs wait their turn).

    The lock is ``flock`` on a sibling ``<name>.lock`` file (created with its folder if
    missing, never truncated), so ``path`` itself can be replaced atomically inside the
    block; the lock is released when the block ends, also on an exception. Yields the
    lock file's path. POSIX only (``fcntl``), like every machine the project runs on.
    """
    import fcntl  # POSIX only: imported where used so that importing export works everywhere

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield lock_path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_json_atomic(path: Path, payload: Any) -> Path:
    """Write ``payload`` as UTF-8 JSON through :func:`atomic_path`; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(_jsonable(payload), fh, ensure_ascii=False, indent=2, sort_keys=False)
        fh.write("\n")
    return path


def write_parquet_atomic(frame, path: Path, **options) -> Path:
    """Write a DataFrame as Parquet (no index) through :func:`atomic_path`; return ``path``.

    ``options`` go to the Parquet writer (e.g. ``row_group_size``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, **options)
    return path


def save_metrics(quarter: str, name: str, metrics: dict) -> Path:
    """Record a notebook's headline numbers as ``outputs/<quarter>/<name>.json``.

    The last cell of every notebook calls this; tests and the report site read it.
    """
    return write_json_atomic(config.quarter_dir(quarter) / f"{name}.json", metrics)


def load_metrics(quarter: str, name: str) -> dict:
    """Read what :func:`save_metrics` wrote."""
    path = config.quarter_dir(quarter) / f"{name}.json"
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
