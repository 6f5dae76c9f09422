"""Writing results at the edge: headline metrics JSON and atomic file writes."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fipro import config


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


def write_json_atomic(path: Path, payload: Any) -> Path:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_jsonable(payload), fh, ensure_ascii=False, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)
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
