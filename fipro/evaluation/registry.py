"""Model artifacts with a registry entry: the fitted model, its version, data and metrics.

Every model writes the same three things into its folder (for a quarter's life-stage
model: ``outputs/<quarter>/models/lifestage/``):

* ``model.joblib`` — the fitted estimator;
* ``registry.json`` — the entry: name, version, data hash and range, parameters,
  metrics, the model file's SHA-256, created time, library versions;
* ``model_card.md`` — written by :mod:`fipro.evaluation.cards`.

The version is derived from the content (data hash + parameters + fipro version), so
re-running on the same data with the same settings gives the same version; ``created``
is the only field that changes. :func:`load_model` refuses a model file whose hash does
not match its entry.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

import joblib
import numpy as np
import pandas as pd
import sklearn

from fipro import __version__ as FIPRO_VERSION
from fipro import export

MODEL_FILE = "model.joblib"
REGISTRY_FILE = "registry.json"
REQUIRED_FIELDS = ("name", "version", "created", "data_hash", "parameters", "metrics", "model_file", "model_sha256")


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content (values, column names and dtypes; index ignored).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> data_hash(a) == data_hash(a.copy()), data_hash(a) == data_hash(a.iloc[::-1])
    (True, False)
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonable_params(params: Mapping[str, Any]) -> dict:
    """Parameters as JSON: estimators and other objects become their repr."""
    out = {}
    for k, v in params.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool)) or x is None for x in v):
            out[k] = list(v)
        elif isinstance(v, dict):
            out[k] = _jsonable_params(v)
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = repr(v)
    return out


def model_version(name: str, data_hash_: str, parameters: Mapping[str, Any]) -> str:
    """Content-derived version: ``<fipro version>+<12 hex of hash(name, data, params)>``."""
    key = json.dumps({"name": name, "data": data_hash_, "params": _jsonable_params(parameters)}, sort_keys=True)
    return f"{FIPRO_VERSION}+{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def register_model(model, directory: Path, *, name: str, data_hash: str, metrics: Mapping[str, Any],
                   parameters: Optional[Mapping[str, Any]] = None, data_range: Optional[Mapping[str, Any]] = None,
                   extra: Optional[Mapping[str, Any]] = None) -> dict:
    """Save a fitted model and its registry entry into ``directory``.

    Parameters
    ----------
    model : fitted estimator
    directory : Path
        Created if missing; ``model.joblib`` and ``registry.json`` are replaced atomically.
    name : str
        Model name, e.g. ``"lifestage"``.
    data_hash : str
        :func:`data_hash` of the training data.
    metrics : mapping
        Headline metrics (JSON-able).
    parameters : mapping, optional
        Default: ``model.get_params()``.
    data_range : mapping, optional
        E.g. ``{"quarters": ["2023q1"], "n_rows": 8000, "n_customers": 8000}``.
    extra : mapping, optional
        Anything else worth keeping (feature names, calibration method …).

    Returns
    -------
    dict
        The registry entry as written.
    """
    directory = Path(directory)
    if parameters is None:
        parameters = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    params = _jsonable_params(parameters)
    model_path = directory / MODEL_FILE
    with export.atomic_path(model_path) as tmp:
        joblib.dump(model, tmp, compress=3)
    entry = {
        "name": name,
        "version": model_version(name, data_hash, params),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_hash": data_hash,
        "data_range": dict(data_range or {}),
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "parameters": params,
        "metrics": dict(metrics),
        "model_file": MODEL_FILE,
        "model_sha256": file_sha256(model_path),
        "environment": {"fipro": FIPRO_VERSION, "scikit-learn": sklearn.__version__,
                        "pandas": pd.__version__, "numpy": np.__version__, "python": platform.python_version()},
        **({"extra": dict(extra)} if extra else {}),
    }
    export.write_json_atomic(directory / REGISTRY_FILE, entry)
    return json.loads((directory / REGISTRY_FILE).read_text(encoding="utf-8"))


def load_entry(directory: Path) -> dict:
    """The registry entry of a model folder; raises ``FileNotFoundError`` if there is none."""
    path = Path(directory) / REGISTRY_FILE
    entry = json.loads(path.read_text(encoding="utf-8"))
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise ValueError(f"{path} lacks required fields {missing}")
    return entry


def load_model(directory: Path):
    """Load a registered model after checking its file against the entry's SHA-256."""
    directory = Path(directory)
    entry = load_entry(directory)
    path = directory / entry["model_file"]
    actual = file_sha256(path)
    if actual != entry["model_sha256"]:
        raise ValueError(f"{path} does not match its registry entry (sha256 {actual[:12]} ≠ {entry['model_sha256'][:12]})")
    return joblib.load(path)


def artifact_paths(directory: Path, entry: Mapping[str, Any], **files: Path) -> dict:
    """What a model's ``save_artifacts`` returns: its folder, model and registry files,
    the other ``files`` it wrote (name → path) and the registered version."""
    directory = Path(directory)
    return {"directory": directory, "model": directory / MODEL_FILE, "registry": directory / REGISTRY_FILE,
            **files, "version": entry["version"]}


def artifact_table(artifacts: Mapping[str, Any]) -> pd.DataFrame:
    """Files a model's ``save_artifacts`` wrote (its returned mapping): name and size."""
    rows = [{"파일": Path(p).name, "크기(KB)": round(Path(p).stat().st_size / 1024, 1)}
            for k, p in artifacts.items() if k not in ("directory", "version")]
    return pd.DataFrame(rows)
