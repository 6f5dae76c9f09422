"""Where every data file lives, and the loaders that read them.

One module answers "which file?" for the whole project, so a path is decided once:

===============================  ==========================================================
:func:`raw_file`                 the raw file in ``data/raw`` (real before synthetic)
:func:`truth_path`               planted truth beside a synthetic raw file
:func:`processed_dir`            ``data/processed``
:func:`quarter_table_path`       ``data/processed/customer_quarter/<quarter>.parquet``
:func:`manifest_path`            ``data/processed/manifest.json`` (written last by ingest)
:func:`rejects_path`             ``data/processed/rejects.parquet``
:func:`features_path`            ``data/processed/features/<quarter>.parquet``
:func:`model_dir`                ``outputs/<quarter>/models/<name>`` (one model per quarter)
:func:`run_model_dir`            ``outputs/models/<name>`` (fitted once per run)
:func:`feedback_path`            ``data/feedback/<name>_feedback.csv``
:func:`feature_schema_path`      ``data/reference/feature_schema.json`` (committed)
:func:`db_seed_dir`              ``data/db_seed`` (the DB hand-off)
:func:`executed_notebook_path`   ``outputs/<quarter>/<stem>.ipynb`` (papermill's copy)
:func:`summary_path`             ``outputs/<quarter>/summary.md``
:func:`recommendations_path`     ``outputs/<quarter>/recommendations.parquet`` (the log)
:func:`drift_path`               ``outputs/<quarter>/drift.parquet`` (every drift measure, notebook 08)
:func:`alerts_path`              ``outputs/<quarter>/alerts.parquet`` (the drift alerts)
:func:`notifications_path`       ``outputs/<quarter>/notifications.parquet`` (customer notifications)
:func:`views_dir`                ``outputs/<quarter>/views`` (the Voila views' tables)
:func:`view_table_path`          ``outputs/<quarter>/views/<table>.parquet``
:func:`reports_dir`              ``outputs/reports`` (the model report)
:func:`benchmark_path`           ``outputs/benchmarks/<step>.json``
:func:`notebook_seconds_path`    ``outputs/.notebook-seconds.json`` (runner's estimates)
:func:`site_source_dir`          ``reports/site`` (generated page sources of the site)
===============================  ==========================================================

Every function reads :mod:`fipro.config` when it is called, never at import: the tests
move the data and output trees with ``FIPRO_DATA_DIR`` / ``FIPRO_OUTPUTS_DIR`` or
monkeypatch ``config``, and the paths must follow.

The loaders (:func:`load_quarter`, :func:`load_truth`, :func:`load_rejects`,
:func:`read_manifest`) only read; the files are written by :mod:`fipro.ingest`,
:mod:`fipro.synth` and :mod:`fipro.features`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd
import pyarrow.parquet as pq

from fipro import config, contract

TABLE_DIR = "customer_quarter"
FEATURES_DIR = "features"
MANIFEST_FILE = "manifest.json"
REJECTS_FILE = "rejects.parquet"
REJECTS_CSV = "rejects.csv"
REJECT_COLUMNS = ("line", "reason", "column", "value", "reasons", "raw_line")
# How the raw file is delivered (data contract): edu_data_F.csv or EDU_DATA_F.dat.
RAW_STEM = "edu_data_f"
RAW_SUFFIXES = (".csv", ".dat")
SIDECAR_SUFFIX = ".synth.json"
TRUTH_SUFFIX = ".truth.parquet"


# --- quarters -------------------------------------------------------------------------

def normalise_quarter(quarter: str) -> str:
    """``"2023Q1"`` → ``"2023q1"``; raises ``ValueError`` on anything else.

    Examples
    --------
    >>> normalise_quarter(" 2023Q1 ")
    '2023q1'
    """
    q = str(quarter).strip().lower()
    if len(q) != 6 or q[4] != "q" or not q[:4].isdigit() or q[5] not in "1234":
        raise ValueError(f"not a quarter like '2023q1': {quarter!r}")
    return q


# --- the raw file -----------------------------------------------------------------------

def sidecar_path(raw: Path) -> Path:
    """The generator's mark beside a synthetic raw file: ``edu_data_F.csv.synth.json``."""
    raw = Path(raw)
    return raw.with_name(raw.name + SIDECAR_SUFFIX)


def read_sidecar(raw: Path) -> Optional[dict]:
    """The generator's sidecar of ``raw`` as a dict, or ``None`` when absent or unreadable."""
    try:
        return json.loads(sidecar_path(raw).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_synthetic(path: Path) -> bool:
    """True iff ``path`` has a generator sidecar that matches its size (a cheap check).

    A real file copied over the synthetic one keeps the old sidecar but not its size,
    so it counts as real.
    """
    path = Path(path)
    meta = read_sidecar(path)
    try:
        return bool(meta) and path.is_file() and meta.get("file_size") == path.stat().st_size
    except OSError:
        return False


def raw_candidates(raw_dir: Optional[Path] = None) -> list[Path]:
    """Files in ``raw_dir`` named like the raw file, in the order :func:`raw_file` prefers them."""
    raw_dir = Path(raw_dir) if raw_dir is not None else config.RAW_DIR
    if not raw_dir.is_dir():
        return []
    files = [p for p in raw_dir.iterdir()
             if p.is_file() and p.stem.lower() == RAW_STEM and p.suffix.lower() in RAW_SUFFIXES]
    return sorted(files, key=lambda p: (is_synthetic(p), -p.stat().st_size, p.name))


def raw_file(raw_dir: Optional[Path] = None) -> Optional[Path]:
    """The raw file to use, or ``None`` when ``raw_dir`` holds none.

    The one discovery rule (ingest and the generator both use it):

    1. candidates are the files of ``raw_dir`` (default ``config.RAW_DIR``) named
       ``edu_data_F`` with the suffix ``.csv`` or ``.dat``, letters in any case
       (``edu_data_F.csv``, ``EDU_DATA_F.dat``, ``EDU_DATA_F.DAT`` …); other files
       (the definition spreadsheet, notes) are ignored — give any other name to
       ``python -m fipro ingest --raw FILE``;
    2. a real file is preferred over the synthetic stand-in (a file whose
       ``.synth.json`` sidecar matches it, see :func:`is_synthetic`);
    3. among equals the largest file wins, then the name (so the choice is stable).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> raw_file(folder) is None
    True
    >>> _ = (folder / "EDU_DATA_F.dat").write_text("BAS_YH,SEQ\\r\\n")
    >>> raw_file(folder).name
    'EDU_DATA_F.dat'
    """
    candidates = raw_candidates(raw_dir)
    return candidates[0] if candidates else None


def truth_path(raw: Optional[Path] = None) -> Path:
    """Planted truth beside a raw file: ``edu_data_F.csv`` → ``edu_data_F.truth.parquet``.

    Default ``raw``: :func:`raw_file`, or ``config.RAW_DIR / config.RAW_FILENAME`` when
    there is none yet (where the generator writes).
    """
    if raw is None:
        raw = raw_file() or config.RAW_DIR / config.RAW_FILENAME
    raw = Path(raw)
    return raw.with_name(raw.stem + TRUTH_SUFFIX)


def load_truth(quarter: Optional[str] = None, columns: Optional[Sequence[str]] = None, *,
               raw_dir: Optional[Path] = None) -> Optional[pd.DataFrame]:
    """The generator's planted truth (all quarters, or one), or ``None`` on real data.

    Parameters
    ----------
    quarter : str, optional
        Only this quarter's rows.
    columns : sequence of str, optional
        Only these columns.
    raw_dir : Path, optional
        Default ``config.RAW_DIR``.

    Returns
    -------
    DataFrame or None
        ``None`` when the raw file in use (:func:`raw_file`) is real or there is no
        truth file beside it: real data has no planted truth, and that is not an error.
    """
    raw = raw_file(raw_dir)
    if raw is None or not is_synthetic(raw):
        return None
    path = truth_path(raw)
    if not path.is_file():
        return None
    filters = [("BAS_YH", "==", normalise_quarter(quarter))] if quarter is not None else None
    return pq.read_table(path, columns=list(columns) if columns is not None else None, filters=filters).to_pandas()


def truth_rows(quarter: str, seq, columns: Sequence[str]) -> Optional[pd.DataFrame]:
    """The truth file's ``columns`` for ``quarter``, one row per ``seq`` in that order (``SEQ``
    first), or ``None`` on real data; a customer missing from the truth file is an error."""
    truth = load_truth(quarter, columns=["SEQ", *[c for c in columns if c != "SEQ"]])
    if truth is None:
        return None
    truth = truth.assign(SEQ=truth["SEQ"].astype(str)).set_index("SEQ")
    missing = pd.Index(seq).difference(truth.index)
    if len(missing):
        raise KeyError(f"truth file has no row for {len(missing)} customers of {quarter}")
    return truth.loc[seq].reset_index()


def truth_columns(prefix: str = "") -> list[str]:
    """Names of the truth file's columns starting with ``prefix``, in file order (``[]`` on real data).

    Read from the Parquet schema only, so a model finds e.g. how many planted segments
    there are without importing the generator.
    """
    raw = raw_file()
    if raw is None or not is_synthetic(raw) or not truth_path(raw).is_file():
        return []
    return [name for name in pq.read_schema(truth_path(raw)).names if name.startswith(prefix)]


# --- processed tables -------------------------------------------------------------------

def processed_dir() -> Path:
    """``data/processed`` (``config.PROCESSED_DIR`` at call time)."""
    return config.PROCESSED_DIR


def _processed(processed: Optional[Path]) -> Path:
    return Path(processed) if processed is not None else processed_dir()


def manifest_path(processed_dir: Optional[Path] = None) -> Path:
    """The ingest manifest: written last, so its presence means the tables are complete."""
    return _processed(processed_dir) / MANIFEST_FILE


def rejects_path(processed_dir: Optional[Path] = None) -> Path:
    """The rejects table written by ingest (one row per rejected physical line)."""
    return _processed(processed_dir) / REJECTS_FILE


def quarter_table_path(quarter: str, processed_dir: Optional[Path] = None) -> Path:
    """One quarter's accepted rows: ``customer_quarter/<quarter>.parquet``."""
    return _processed(processed_dir) / TABLE_DIR / f"{quarter}.parquet"


def available_quarters(processed_dir: Optional[Path] = None) -> list[str]:
    """Quarters with an ingested table, sorted (``[]`` before the first ingest)."""
    table_dir = _processed(processed_dir) / TABLE_DIR
    return sorted(p.stem for p in table_dir.glob("*.parquet")) if table_dir.is_dir() else []


def earlier_quarters(quarter: str, quarters: Optional[Sequence[str]] = None) -> list[str]:
    """The quarters before ``quarter`` (default: the ingested ones), oldest first."""
    quarters = sorted(quarters if quarters is not None else available_quarters())
    return [q for q in quarters if q < quarter]


def previous_quarter(quarter: str) -> str:
    """The quarter before: ``previous_quarter("2023q1") == "2022q4"``."""
    q = normalise_quarter(quarter)
    year, n = int(q[:4]), int(q[5])
    return f"{year - 1}q4" if n == 1 else f"{year}q{n - 1}"


# Extras that compare alternatives (learner comparisons, trade-off curves, the clairvoyant
# reference, method comparisons) cost more than the models themselves at full scale (issue
# 23: 1,806 s of notebook 07's 4,657 s): they run for every quarter of a small data set and,
# from this many rows a quarter, once per run on the latest quarter only.
EXTRAS_EVERY_QUARTER_BELOW_ROWS = 100_000


def runs_extras(quarter: str, processed_dir: Optional[Path] = None) -> bool:
    """Whether ``quarter``'s notebooks run the extras that compare alternatives: every quarter
    below :data:`EXTRAS_EVERY_QUARTER_BELOW_ROWS` rows, else the latest ingested quarter only."""
    quarters = available_quarters(processed_dir)
    rows = (read_manifest(processed_dir).get("quarters") or {}).get(quarter)
    return quarter == (quarters[-1] if quarters else None) or (rows is not None and rows < EXTRAS_EVERY_QUARTER_BELOW_ROWS)


def extras_note_ko(quarter: str, processed_dir: Optional[Path] = None) -> str:
    """One Korean sentence saying whether and why this quarter runs the comparison extras."""
    rows = (read_manifest(processed_dir).get("quarters") or {}).get(quarter)
    if rows is not None and rows < EXTRAS_EVERY_QUARTER_BELOW_ROWS:
        return (f"이 분기는 {rows:,}행으로 작아(기준 {EXTRAS_EVERY_QUARTER_BELOW_ROWS:,}행 미만) 대안 비교"
                f"(학습기 비교·교환 곡선·사후 기준·방법 비교)를 분기마다 실행합니다.")
    if runs_extras(quarter, processed_dir):
        return "전체 규모에서는 대안 비교(학습기 비교·교환 곡선·사후 기준·방법 비교)를 가장 최근 분기에서만 실행하며, 이 분기가 그 분기입니다."
    latest = (available_quarters(processed_dir) or [None])[-1]
    return (f"전체 규모에서는 대안 비교(학습기 비교·교환 곡선·사후 기준·방법 비교)를 가장 최근 분기({latest})에서만 "
            f"실행합니다. 비교는 그 분기의 노트북에서 볼 수 있습니다.")


def load_quarter(quarter: str, columns: Optional[Sequence[str]] = None,
                 processed_dir: Optional[Path] = None) -> pd.DataFrame:
    """One quarter's accepted rows as a DataFrame in the contract's column order.

    Code columns are pandas Categoricals whose categories are the contract's code-table
    keys (in table order); amounts are int64; ``BAS_YH``, ``SEQ`` and ``ATT_YM`` are
    strings (``ATT_YM`` may be missing). Rows come sorted by ``SEQ``: the scan writes
    them in whatever order its threads finish, and every model downstream must see the
    same order for the same data (one ``SEQ`` per quarter, so the order is total).

    Raises
    ------
    FileNotFoundError
        When the quarter was not ingested (the message lists the ones that were).
    KeyError
        For a column outside the contract.
    """
    path = quarter_table_path(quarter, processed_dir)
    if not path.exists():
        raise FileNotFoundError(f"no ingested table for quarter {quarter!r} in {path.parent}; "
                                f"available: {available_quarters(processed_dir)}")
    wanted = list(contract.COLUMN_NAMES) if columns is None else list(columns)
    unknown = [c for c in wanted if c not in contract.COLUMN_BY_NAME]
    if unknown:
        raise KeyError(f"not contract columns: {unknown}")
    ordered = [c for c in contract.COLUMN_NAMES if c in wanted]
    table = pq.read_table(path, columns=list(dict.fromkeys([*ordered, "SEQ"])))
    table = table.sort_by("SEQ").select(ordered)
    frame = table.to_pandas()
    for c in ordered:
        if c in contract.CODE_TABLES:
            frame[c] = pd.Categorical(frame[c], categories=list(contract.CODE_TABLES[c]))
        elif c in contract.AMOUNT_COLUMNS:
            frame[c] = frame[c].astype("int64")
        else:
            frame[c] = frame[c].astype("str")
    return frame[ordered]


def load_rejects(processed_dir: Optional[Path] = None) -> pd.DataFrame:
    """The rejects table (``line, reason, column, value, reasons, raw_line``), by line."""
    path = rejects_path(processed_dir)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "line" else "str") for c in REJECT_COLUMNS})
    return pd.read_parquet(path)


def read_manifest(processed_dir: Optional[Path] = None) -> dict:
    """The manifest of the last successful ingest (``{}`` when there is none)."""
    path = manifest_path(processed_dir)
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def quarter_digest(quarter: str, processed_dir: Optional[Path] = None) -> Optional[str]:
    """The content digest of one quarter's table, as the last ingest recorded it.

    64 hexadecimal digits (see :mod:`fipro.ingest.tables`) that change when and only when
    the quarter's accepted rows change, whatever their order and whatever the raw file
    holds for other quarters: what a step that reads one quarter can depend on.

    Returns
    -------
    str or None
        ``None`` when that quarter is not ingested, or the manifest predates the digests.

    Examples
    --------
    >>> import tempfile
    >>> quarter_digest("2023q1", Path(tempfile.mkdtemp())) is None
    True
    """
    return read_manifest(processed_dir).get("quarter_digests", {}).get(normalise_quarter(quarter))


def features_path(quarter: str, processed_dir: Optional[Path] = None) -> Path:
    """A quarter's feature cache: ``data/processed/features/<quarter>.parquet``."""
    return _processed(processed_dir) / FEATURES_DIR / f"{normalise_quarter(quarter)}.parquet"


# --- models and feedback --------------------------------------------------------------------

def model_dir(quarter: str, name: str) -> Path:
    """Folder of a model fitted per quarter: ``outputs/<quarter>/models/<name>``."""
    return config.quarter_dir(quarter) / "models" / name


def run_model_dir(name: str) -> Path:
    """Folder of a model fitted once per run (over all quarters): ``outputs/models/<name>``."""
    return config.OUTPUTS_DIR / "models" / name


def feedback_path(name: str) -> Path:
    """People's corrections for a model: ``data/feedback/<name>_feedback.csv``."""
    return config.FEEDBACK_DIR / f"{name}_feedback.csv"


def feature_schema_path() -> Path:
    """The feature contract as JSON, committed with the code: ``data/reference/feature_schema.json``."""
    return config.REFERENCE_DIR / "feature_schema.json"


def db_seed_dir() -> Path:
    """The DB hand-off folder: ``data/db_seed`` (``config.DB_SEED_DIR`` at call time)."""
    return config.DB_SEED_DIR


# --- outputs ----------------------------------------------------------------------------

def executed_notebook_path(stem: str, quarter: str) -> Path:
    """The executed copy of a notebook for one quarter: ``outputs/<quarter>/<stem>.ipynb``."""
    return config.quarter_dir(quarter) / f"{stem}.ipynb"


def summary_path(quarter: str) -> Path:
    """The Korean quarter summary: ``outputs/<quarter>/summary.md``."""
    return config.quarter_dir(quarter) / "summary.md"


def drift_path(quarter: str) -> Path:
    """Every drift measure of one quarter against the previous one (:mod:`fipro.drift`)."""
    return config.quarter_dir(quarter) / "drift.parquet"


def alerts_path(quarter: str) -> Path:
    """The drift alerts of one quarter (:mod:`fipro.alerts`, saved by :func:`fipro.drift.run_quarter`)."""
    return config.quarter_dir(quarter) / "alerts.parquet"


def notifications_path(quarter: str) -> Path:
    """The customer notifications of one quarter, keyed by ``CUSTOMER_KEY`` (:mod:`fipro.notify`)."""
    return config.quarter_dir(quarter) / "notifications.parquet"


def recommendations_path(quarter: str) -> Path:
    """The recommender's log of one quarter: ``outputs/<quarter>/recommendations.parquet``."""
    return config.quarter_dir(quarter) / "recommendations.parquet"


def views_dir(quarter: str) -> Path:
    """The Voila views' lookup tables of one quarter: ``outputs/<quarter>/views``."""
    return config.quarter_dir(quarter) / "views"


def view_table_path(quarter: str, table: str) -> Path:
    """One lookup table of the views (``customers``, ``peers``, ``map``): ``outputs/<quarter>/views/<table>.parquet``."""
    return views_dir(quarter) / f"{table}.parquet"


def reports_dir() -> Path:
    """Reports over all quarters (the model report): ``outputs/reports``."""
    return config.OUTPUTS_DIR / "reports"


def benchmark_path(step: str) -> Path:
    """One benchmark step's result: ``outputs/benchmarks/<step>.json``."""
    return config.BENCHMARKS_DIR / f"{step}.json"


def notebook_seconds_path() -> Path:
    """Each notebook's last mean duration, for the runner's estimate: ``outputs/.notebook-seconds.json``.

    Per output tree: the sample's durations say nothing about the full scale.
    """
    return config.OUTPUTS_DIR / ".notebook-seconds.json"


def site_source_dir() -> Path:
    """Generated page sources of the report site (git-ignored): ``reports/site``."""
    return config.REPORTS_DIR / "site"


__all__ = ["available_quarters", "benchmark_path", "db_seed_dir", "executed_notebook_path", "feature_schema_path",
           "feedback_path", "features_path", "is_synthetic", "load_quarter", "load_rejects", "load_truth",
           "manifest_path", "model_dir", "normalise_quarter", "notebook_seconds_path", "processed_dir",
           "quarter_table_path", "raw_candidates", "raw_file", "read_manifest", "read_sidecar",
           "recommendations_path", "rejects_path", "reports_dir", "run_model_dir", "sidecar_path",
           "site_source_dir", "summary_path", "truth_columns", "truth_path", "view_table_path", "views_dir"]
