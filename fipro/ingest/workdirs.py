"""Temporary work folders: named with the pid, and removed when their run died.

Tables are written to a temporary folder under the processed folder and swapped in
(:mod:`fipro.ingest.tables`), so a failed run leaves the previous good state. The
folder is named ``.ingest-<pid>-<random>``; a run killed outright (``kill -9``) cannot
remove its own, so every ingest starts by removing the folders whose process is gone
(:func:`remove_dead_work_dirs`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

from fipro import datasets

WORK_PREFIX = ".ingest-"


def make_work_dir(processed_dir: Path) -> Path:
    """A new work folder in ``processed_dir``, named with this process's pid.

    The pid lets a later run tell a dead run's folder from a live one's.
    """
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=processed_dir))


def _work_dir_owner(folder: Path) -> int | None:
    """The pid in a work folder's name (``.ingest-<pid>-<random>``), or ``None``."""
    match = re.fullmatch(re.escape(WORK_PREFIX) + r"(\d+)-.+", folder.name)
    return int(match.group(1)) if match else None


def _owner_alive(pid: int, folder: Path) -> bool:
    """True when ``pid`` runs and is not a newer process that merely reuses the number."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's live process: leave its folder alone
        return True
    # a process started after the folder was made cannot be the one that made it
    return started <= folder.stat().st_mtime + 1.0


def remove_dead_work_dirs(processed_dir: Path | None = None) -> list[Path]:
    """Remove the temporary folders of ingest runs whose process is gone.

    An ingest killed mid-run (``kill -9``, a power cut) leaves the previous tables intact
    but its hidden work folder behind (hundreds of MB at full scale). Work folders are
    named ``.ingest-<pid>-<random>``; a folder whose process no longer exists is
    removed, one whose process runs (another ingest now) is kept. Folders without a pid
    in their name are left alone: their owner cannot be told.

    Parameters
    ----------
    processed_dir : Path, optional
        Default ``config.PROCESSED_DIR``.

    Returns
    -------
    list of Path
        The folders removed.
    """
    processed_dir = Path(processed_dir) if processed_dir is not None else datasets.processed_dir()
    removed = []
    for folder in sorted(processed_dir.glob(WORK_PREFIX + "*")) if processed_dir.is_dir() else []:
        pid = _work_dir_owner(folder)
        if pid is None or pid == os.getpid():
            continue
        try:
            if folder.is_dir() and not _owner_alive(pid, folder):
                shutil.rmtree(folder)
                removed.append(folder)
        except FileNotFoundError:  # another ingest starting now removed it first
            continue
    return removed
