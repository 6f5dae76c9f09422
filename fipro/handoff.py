"""DB hand-off for a serving team: one row per customer × quarter.

``python -m fipro export-seed`` writes ``data/db_seed/customer_quarter.csv`` and
``customer_quarter.schema.json`` (column, SQL type, Korean description, source), and the
second table ``notification.csv`` + ``notification.schema.json`` (the customer notifications of
:mod:`fipro.notify`, same key); :func:`import_customer_quarter` loads them into DuckDB or
SQLite with those types.

Columns come from declared sources, in order: ``quarter`` (codes and totals of the
ingested table) and one per model (``MODEL_SOURCES``: each model declares a
:class:`Source` next to its artifacts). A later model joins by adding its declaration
to ``MODEL_SOURCES``; a model that has not run for a quarter leaves its columns empty.

Customers appear only as ``CUSTOMER_KEY``: a salted SHA-256 of ``SEQ``, the same for a
customer in every quarter. The salt is the installation's secret,
:func:`fipro.privacy.secret` (``FIPRO_KEY_SALT`` from the environment or the project's
git-ignored ``.env``; on first use a random one is written to ``.env`` with a message, since
losing it changes every key). The published labels use a salt derived from it
(:func:`fipro.privacy.label_salt`), so a label cannot be joined to a key.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from fipro import config, contract, datasets, privacy
from fipro.export import atomic_path, write_json_atomic

SEED_TABLE = "customer_quarter"
KEY_COLUMN = "CUSTOMER_KEY"
KEY_DIGITS = 20  # 80 bits: no collision among every customer of every quarter
SQL_TYPES = ("TEXT", "INTEGER", "REAL")
# each model: "module:attribute" of its Source (imported only when exporting)
MODEL_SOURCES: tuple[str, ...] = ("fipro.lifestage.artifacts:HANDOFF", "fipro.anomaly.artifacts:HANDOFF",
                                  "fipro.segments.artifacts:HANDOFF", "fipro.health.artifacts:HANDOFF",
                                  "fipro.recommend.artifacts:HANDOFF")


@dataclass(frozen=True)
class Column:
    """One hand-off column: name, SQL type (``SQL_TYPES``) and Korean description.

    A model's column also names the column of its saved table it is read from
    (``source``) and, optionally, how it is converted (``convert``: Series → values);
    see :meth:`Source.from_table`.
    """

    name: str
    sql_type: str
    description_ko: str
    source: Optional[str] = None
    convert: Optional[Callable[[pd.Series], object]] = None


def rounded(digits: int) -> Callable[[pd.Series], pd.Series]:
    """A ``Column.convert`` that rounds to ``digits``."""
    return lambda values: values.round(digits)


def as_int(values: pd.Series) -> pd.Series:
    """A ``Column.convert`` to integers (flags and codes saved as bool or int)."""
    return values.astype(int)


@dataclass(frozen=True)
class Source:
    """Columns one part of the project adds, and how to read them for a quarter.

    ``load(quarter)`` returns a frame with ``BAS_YH``, ``SEQ`` and the declared
    columns, or ``None`` when the quarter has none (the columns stay empty).
    """

    name: str
    columns: tuple[Column, ...]
    load: Callable[[str], Optional[pd.DataFrame]]

    @classmethod
    def from_table(cls, name: str, columns: Sequence[Column], table: Callable[[str], Path], *,
                   where: Optional[Callable[[pd.DataFrame], pd.Series]] = None, where_columns: Sequence[str] = (),
                   constants: Optional[Callable[[str], dict]] = None) -> "Source":
        """A model's source read from the Parquet table it saved for a quarter (``table(quarter)``).

        Each column is its ``source`` column (converted by ``convert``); ``where`` keeps
        some rows (reading ``where_columns`` too); ``constants(quarter)`` gives the
        columns without a ``source`` (one value per quarter). ``load`` returns ``None``
        while the table does not exist (the model has not run for that quarter).
        """
        columns = tuple(columns)

        def load(quarter: str) -> Optional[pd.DataFrame]:
            path = table(quarter)
            if not path.exists():
                return None
            read = list(dict.fromkeys(["BAS_YH", "SEQ", *(c.source for c in columns if c.source), *where_columns]))
            saved = pd.read_parquet(path, columns=read)
            if where is not None:
                saved = saved[where(saved)]
            out = pd.DataFrame({"BAS_YH": saved["BAS_YH"], "SEQ": saved["SEQ"]})
            fixed = constants(quarter) if constants is not None else {}
            for c in columns:
                if c.source is None:
                    out[c.name] = fixed[c.name]
                else:
                    out[c.name] = c.convert(saved[c.source]) if c.convert is not None else saved[c.source]
            return out

        load.__doc__ = f"The {name} model's hand-off columns of a quarter (``None`` before it ran)."
        return cls(name, columns, load)


_QUARTER_COLUMNS = ("AGE", "SEX_CD", "MBR_RK", "HOUS_SIDO_NM", "DIGT_CHNL_USE_YN", "LIFE_STAGE",
                    "TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM")


def _load_quarter(quarter: str) -> pd.DataFrame:
    frame = datasets.load_quarter(quarter, columns=["BAS_YH", "SEQ", *_QUARTER_COLUMNS])
    for c in contract.CODE_TABLES:
        if c in frame:
            frame[c] = frame[c].astype("string")
    return frame


def _amount_note() -> str:
    return f"({contract.AMOUNT_UNIT_LABEL}, {contract.AMOUNT_PERIOD_LABEL})"


QUARTER_SOURCE = Source(
    "quarter",
    (Column("BAS_YH", "TEXT", "기준 분기 (예: 2023q1)"),
     *(Column(c, "INTEGER" if c in contract.AMOUNT_COLUMNS else "TEXT",
              contract.label(c) + (f" {_amount_note()}" if c in contract.AMOUNT_COLUMNS else " (코드)"))
       for c in _QUARTER_COLUMNS)),
    _load_quarter,
)


def declared(specs: Sequence[str]) -> list:
    """The objects named ``"module:attribute"`` in ``specs`` (imported only when asked for):
    how models declare themselves to the hand-off and the model report."""
    out = []
    for spec in specs:
        module, attribute = spec.split(":")
        out.append(getattr(importlib.import_module(module), attribute))
    return out


def model_sources() -> list[Source]:
    """The declared model sources, in ``MODEL_SOURCES`` order."""
    return declared(MODEL_SOURCES)


def sources() -> list[Source]:
    return [QUARTER_SOURCE, *model_sources()]


def schema(all_sources: Optional[Sequence[Source]] = None) -> list[dict]:
    """Column list of the hand-off table: the key first, then every source's columns."""
    rows = [{"column": KEY_COLUMN, "type": "TEXT", "description_ko": "가명 고객 키 (SEQ의 솔트 해시, 분기마다 같음)",
             "source": "key"}]
    for source in all_sources if all_sources is not None else sources():
        for c in source.columns:
            if c.sql_type not in SQL_TYPES:
                raise ValueError(f"source {source.name!r} column {c.name!r}: type {c.sql_type!r} not in {SQL_TYPES}")
            rows.append({"column": c.name, "type": c.sql_type, "description_ko": c.description_ko,
                         "source": source.name})
    names = [r["column"] for r in rows]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"hand-off columns declared twice: {duplicated}")
    return rows


# --- the pseudonymous key -----------------------------------------------------------

# the one secret lives in fipro.privacy (the published labels are keyed by it too)
SALT_VARIABLE = privacy.SECRET_VARIABLE
key_salt = privacy.secret  # key_salt(create=True): $FIPRO_KEY_SALT, else .env, else a new one in .env


def customer_keys(seq: Sequence[str], salt: str) -> np.ndarray:
    """``K`` + the first 20 hex digits of SHA-256(salt:SEQ), computed once per distinct SEQ (the
    pseudonyms' digest with the secret itself as salt, where the labels use the derived
    ``privacy.label_salt``: a published label cannot be joined to the hand-off)."""
    return privacy.hex_digests(seq, salt, KEY_DIGITS, prefix="K")


# --- export and import ----------------------------------------------------------------

def seed_dir() -> Path:
    return datasets.db_seed_dir()


def quarter_table(quarter: str, salt: str, all_sources: Optional[Sequence[Source]] = None) -> pd.DataFrame:
    """One quarter's hand-off rows in schema order (``SEQ`` replaced by ``CUSTOMER_KEY``)."""
    all_sources = list(all_sources if all_sources is not None else sources())
    frame = all_sources[0].load(quarter)
    for source in all_sources[1:]:
        names = [c.name for c in source.columns]
        part = source.load(quarter)
        if part is None:
            for n in names:
                frame[n] = pd.NA
            continue
        part = part[["BAS_YH", "SEQ", *names]].astype({"BAS_YH": "string", "SEQ": "string"})
        frame = frame.merge(part, on=["BAS_YH", "SEQ"], how="left", validate="1:1")
    frame.insert(0, KEY_COLUMN, customer_keys(frame["SEQ"].astype("string"), salt))
    return frame[[r["column"] for r in schema(all_sources)]]


PARTS_DIR = "parts"
_ARROW_TYPES = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}


def _arrow_schema(columns: Sequence[dict]) -> pa.Schema:
    return pa.schema([(c["column"], _ARROW_TYPES[c["type"]]) for c in columns])


def part_path(quarter: str, out_dir: Optional[Path] = None) -> Path:
    """One quarter's rows of the hand-off, without header: ``data/db_seed/parts/customer_quarter-<q>.csv``.

    Beside it ``customer_quarter-<q>.json`` holds the row count and the columns."""
    out_dir = Path(out_dir) if out_dir is not None else seed_dir()
    return out_dir / PARTS_DIR / f"{SEED_TABLE}-{quarter}.csv"


def _part_meta_path(part: Path) -> Path:
    return part.with_suffix(".json")


def _same_bytes(a: Path, b: Path) -> bool:

    return b.exists() and filecmp.cmp(a, b, shallow=False)


def write_part(quarter: str, out_dir: Optional[Path] = None, all_sources: Optional[Sequence[Source]] = None,
               salt: Optional[str] = None, touch: bool = False) -> Path:
    """Write one quarter's part (CSV rows without header, as the whole export writes them).

    A part whose bytes did not change keeps its file and time, so the assembly and ``make``
    see it unchanged; ``touch=True`` (``make``'s recipe, run because an input is newer)
    moves its time anyway, else make would find it stale on every run.
    """
    all_sources = list(all_sources if all_sources is not None else sources())
    columns = schema(all_sources)
    salt = salt if salt is not None else key_salt()
    path = part_path(quarter, out_dir)
    table = pa.Table.from_pandas(quarter_table(quarter, salt, all_sources), schema=_arrow_schema(columns),
                                 preserve_index=False)
    meta = {"quarter": quarter, "rows": table.num_rows, "columns": [c["column"] for c in columns]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        pacsv.write_csv(table, str(tmp), write_options=pacsv.WriteOptions(include_header=False))
        if _same_bytes(tmp, path):
            tmp.unlink()
            if touch:
                os.utime(path)
        else:
            tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_text_if_changed(_part_meta_path(path), json.dumps(meta, ensure_ascii=False) + "\n")
    return path


def _write_text_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _header(columns: Sequence[dict]) -> bytes:
    """The header line the whole export writes (pyarrow's quoting), from an empty table."""
    buf = pa.BufferOutputStream()
    pacsv.write_csv(_arrow_schema(columns).empty_table(), buf)
    return buf.getvalue().to_pybytes()


def assemble(quarters: Sequence[str], out_dir: Optional[Path] = None,
             all_sources: Optional[Sequence[Source]] = None, prune: bool = False) -> dict:
    """``customer_quarter.csv`` = header + the quarters' parts in quarter order (a byte copy,
    written atomically), and its schema JSON with the row count per quarter.

    Only ``quarters``' parts go in, so a quarter gone from the data leaves no rows; ``prune``
    also deletes the parts of other quarters. Skipped (nothing rewritten) when the file is
    newer than every part and the schema lists the same quarters and columns.
    """

    out_dir = Path(out_dir) if out_dir is not None else seed_dir()
    quarters = sorted(quarters)
    columns = schema(all_sources)
    names = [c["column"] for c in columns]
    parts = [part_path(q, out_dir) for q in quarters]
    counts = {}
    for q, part in zip(quarters, parts):
        meta = json.loads(_part_meta_path(part).read_text(encoding="utf-8"))
        if meta["columns"] != names:
            raise ValueError(f"{part}: columns differ from the schema; write the part again (export-seed --quarter {q})")
        counts[q] = meta["rows"]
    if prune:
        _prune_parts(out_dir, SEED_TABLE, parts)
    meta = {"table": SEED_TABLE, "key": [KEY_COLUMN, "BAS_YH"], "columns": columns, "rows": counts,
            "encoding": "utf-8", "header": True}
    return _concatenate(out_dir, SEED_TABLE, _header(columns), parts, meta)


def _prune_parts(out_dir: Path, table: str, parts: Sequence[Path]) -> None:
    """Delete ``table``'s parts (and their sidecars) other than ``parts``: quarters gone from the data."""
    keep = set(parts) | {_part_meta_path(p) for p in parts}
    for stray in (out_dir / PARTS_DIR).glob(f"{table}-*"):
        if stray not in keep:
            stray.unlink()


def _concatenate(out_dir: Path, table: str, header: bytes, parts: Sequence[Path], meta: dict) -> dict:
    """``<table>.csv`` = ``header`` + ``parts`` (a byte copy, written atomically) and its schema
    JSON ``meta``; skipped when the file is newer than every part and the schema is the same."""
    csv_path = out_dir / f"{table}.csv"
    schema_path = out_dir / f"{table}.schema.json"
    fresh = (csv_path.exists() and schema_path.exists()
             and all(csv_path.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in parts)
             and json.loads(schema_path.read_text(encoding="utf-8")) == meta)
    if not fresh:
        with atomic_path(csv_path) as tmp:
            with open(tmp, "wb") as out:
                out.write(header)
                for part in parts:
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
        schema_path = write_json_atomic(schema_path, meta)
    return {"csv": csv_path, "schema": schema_path, "rows": meta["rows"], "written": not fresh}


def export_seed(quarters: Optional[Sequence[str]] = None, out_dir: Optional[Path] = None,
                all_sources: Optional[Sequence[Source]] = None) -> dict:
    """Write ``customer_quarter.csv`` (UTF-8, header, quarter by quarter) and its schema JSON.

    Each quarter's rows are written as a part (:func:`write_part`, kept when unchanged),
    then assembled (:func:`assemble`). With ``quarters`` ``None`` (every ingested quarter)
    the parts of quarters no longer in the data are deleted. Returns the paths and the row
    count per quarter.
    """
    prune = quarters is None
    quarters = list(quarters if quarters is not None else datasets.available_quarters())
    if not quarters:
        raise FileNotFoundError("no ingested quarter: run `make ingest` first")
    all_sources = list(all_sources if all_sources is not None else sources())
    salt = key_salt()
    for q in quarters:
        write_part(q, out_dir, all_sources, salt)
    return assemble(quarters, out_dir, all_sources, prune=prune)


def ensure_parts(quarters: Sequence[str], out_dir: Optional[Path] = None,
                 all_sources: Optional[Sequence[Source]] = None) -> list[str]:
    """Write the parts that are missing (``make`` writes the stale ones); the quarters written."""
    missing = [q for q in quarters
               if not (part_path(q, out_dir).exists() and _part_meta_path(part_path(q, out_dir)).exists())]
    if missing:
        all_sources = list(all_sources if all_sources is not None else sources())
        salt = key_salt()
        for q in missing:
            write_part(q, out_dir, all_sources, salt)
    return missing


def _load_table(database: Path, table: str, seed: Path, key: Sequence[str], engine: str) -> int:
    """Recreate ``table`` in ``database`` from ``<table>.csv`` with the types of ``<table>.schema.json``
    and ``key`` as its primary key; the number of rows loaded."""
    meta = json.loads((seed / f"{table}.schema.json").read_text(encoding="utf-8"))
    csv_path = seed / f"{table}.csv"
    cols = ", ".join(f'"{c["column"]}" {c["type"]}' for c in meta["columns"])
    keys = ", ".join(f'"{k}"' for k in key)
    ddl = f'CREATE TABLE {table} ({cols}, PRIMARY KEY ({keys}))'
    if engine == "duckdb":
        # duckdb is needed only by this import path (the SQLite one needs nothing)
        import duckdb

        with duckdb.connect(str(database)) as con:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(ddl)
            con.execute(f"COPY {table} FROM ? (HEADER, DELIMITER ',')", [str(csv_path)])
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    if engine == "sqlite":
        kinds = {"TEXT": str, "INTEGER": int, "REAL": float}
        casts = [kinds[c["type"]] for c in meta["columns"]]
        con = sqlite3.connect(str(database))
        try:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(ddl)
            marks = ", ".join("?" * len(casts))
            for chunk in pd.read_csv(csv_path, dtype=str, keep_default_na=False, chunksize=100_000):
                rows = [tuple(None if v == "" else cast(v) for v, cast in zip(r, casts))
                        for r in chunk.itertuples(index=False, name=None)]
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            con.commit()
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            con.close()
    raise ValueError(f"engine must be 'duckdb' or 'sqlite', got {engine!r}")


def import_customer_quarter(database: Path, seed: Optional[Path] = None, engine: str = "duckdb") -> int:
    """Load the hand-off into ``database`` (DuckDB or SQLite) with the declared types.

    The table is recreated, with ``(CUSTOMER_KEY, BAS_YH)`` as its primary key; returns
    the number of rows loaded. The second table, ``notification`` (customer notifications,
    key ``(CUSTOMER_KEY, BAS_YH, rank)``), is loaded beside it when the hand-off has it.
    """
    if engine not in ("duckdb", "sqlite"):
        raise ValueError(f"engine must be 'duckdb' or 'sqlite', got {engine!r}")
    seed = Path(seed) if seed is not None else seed_dir()
    n = _load_table(database, SEED_TABLE, seed, (KEY_COLUMN, "BAS_YH"), engine)
    if (seed / f"{NOTIFICATION_TABLE}.schema.json").exists():
        _load_table(database, NOTIFICATION_TABLE, seed, NOTIFICATION_KEY, engine)
    return n


# --- the second table: customer notifications (fipro.notify) -----------------------------

NOTIFICATION_TABLE = "notification"
NOTIFICATION_KEY = (KEY_COLUMN, "BAS_YH", "rank")
NOTIFICATION_SCHEMA: tuple[Column, ...] = (
    Column(KEY_COLUMN, "TEXT", "가명 고객 키 (customer_quarter와 같은 키)"),
    Column("BAS_YH", "TEXT", "기준 분기 (예: 2023q1)"),
    Column("rank", "INTEGER", "고객의 이번 분기 알림 중 보일 순서 (1부터, 우선순위 순)"),
    Column("priority", "INTEGER", "종류의 우선순위 (1 이상 소비, 2 위험 등급 상승, 3 건강 등급 하락, 4 라이프스테이지 변화, 5 더 나은 카드)"),
    Column("kind", "TEXT", "알림 종류 (한국어)"),
    Column("message", "TEXT", "고객에게 보일 한국어 문장 (금액과 이유 포함)"),
    Column("source", "TEXT", "알림을 만든 모델 (anomaly, health, lifestage, recommend)"),
)


def notification_part_path(quarter: str, out_dir: Optional[Path] = None) -> Path:
    """One quarter's notification rows, without header: ``data/db_seed/parts/notification-<q>.csv``."""
    out_dir = Path(out_dir) if out_dir is not None else seed_dir()
    return out_dir / PARTS_DIR / f"{NOTIFICATION_TABLE}-{quarter}.csv"


def _notification_part(quarter: str, out_dir: Optional[Path]) -> Optional[int]:
    """Write the quarter's notification part when its source is newer (one file per quarter, so
    its time says it all); the row count, ``None`` when the quarter has no notifications file."""
    source = datasets.notifications_path(quarter)
    path = notification_part_path(quarter, out_dir)
    meta_path = _part_meta_path(path)
    if not source.exists():
        return None
    names = [c.name for c in NOTIFICATION_SCHEMA]
    if (path.exists() and meta_path.exists() and path.stat().st_mtime_ns >= source.stat().st_mtime_ns):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta["columns"] == names:
            return meta["rows"]
    notes = pd.read_parquet(source)
    if "SEQ" in notes:
        raise ValueError(f"{quarter}: notifications must not carry SEQ")
    with atomic_path(path) as tmp:
        notes[names].to_csv(tmp, index=False, header=False, encoding="utf-8")
    _write_text_if_changed(meta_path, json.dumps({"quarter": quarter, "rows": int(len(notes)), "columns": names},
                                                 ensure_ascii=False) + "\n")
    return int(len(notes))


def export_notifications(quarters: Optional[Sequence[str]] = None, out_dir: Optional[Path] = None) -> dict:
    """Write ``notification.csv`` (every quarter's ``outputs/<q>/notifications.parquet``, already keyed
    by ``CUSTOMER_KEY``) and its schema JSON; a quarter without the file adds no rows.

    Like the customer table: one part per quarter (rewritten only when its notifications file
    is newer), then header + parts in quarter order, skipped when no part is newer."""

    out_dir = Path(out_dir) if out_dir is not None else seed_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    prune = quarters is None
    quarters = sorted(quarters if quarters is not None else datasets.available_quarters())
    names = [c.name for c in NOTIFICATION_SCHEMA]
    if prune:  # every quarter of the data: the parts of quarters gone from it go too
        _prune_parts(out_dir, NOTIFICATION_TABLE, [notification_part_path(q, out_dir) for q in quarters])
    counts = {}
    for q in quarters:
        n = _notification_part(q, out_dir)
        if n is not None:
            counts[q] = n
    parts = [notification_part_path(q, out_dir) for q in counts]
    columns = [{"column": c.name, "type": c.sql_type, "description_ko": c.description_ko, "source": "fipro.notify"}
               for c in NOTIFICATION_SCHEMA]
    meta = {"table": NOTIFICATION_TABLE, "key": list(NOTIFICATION_KEY), "columns": columns, "rows": counts,
            "encoding": "utf-8", "header": True}
    header = pd.DataFrame(columns=names).to_csv(index=False).encode("utf-8")
    return _concatenate(out_dir, NOTIFICATION_TABLE, header, parts, meta)


def main(argv=None) -> int:
    """``python -m fipro export-seed [--quarter Q | --assemble] [--out-dir DIR]``.

    No option: every quarter's part (kept when unchanged), the assembly and the notifications.
    ``--quarter Q``: only Q's part (``make``'s per-quarter target, run when it is stale).
    ``--assemble``: the parts that are missing, the assembly and the notifications (``make db-seed``
    after the stale parts).
    """
    parser = argparse.ArgumentParser(prog="python -m fipro export-seed", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quarter", default=None)
    which.add_argument("--assemble", action="store_true")
    args = parser.parse_args(argv)
    if args.quarter:
        path = write_part(args.quarter, out_dir=args.out_dir, touch=True)
        print(f"DB 전달 분기 조각: {path}")
        return 0
    if args.assemble:
        quarters = datasets.available_quarters()
        if not quarters:
            raise FileNotFoundError("no ingested quarter: run `make ingest` first")
        ensure_parts(quarters, args.out_dir)
        result = assemble(quarters, args.out_dir, prune=True)
    else:
        result = export_seed(out_dir=args.out_dir)
    total = sum(result["rows"].values())
    state = "" if result["written"] else " (바뀐 분기 없음, 그대로 둠)"
    print(f"DB 전달 파일: {result['csv']} ({total:,}행, 분기 {len(result['rows'])}개){state}, 스키마 {result['schema']}")
    notes = export_notifications(out_dir=args.out_dir)
    print(f"고객 알림: {notes['csv']} ({sum(notes['rows'].values()):,}행, 분기 {len(notes['rows'])}개), 스키마 {notes['schema']}")
    return 0
