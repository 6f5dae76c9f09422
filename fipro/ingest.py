"""Raw EDU_DATA_F file -> validated, typed per-quarter Parquet tables.

``python -m fipro ingest [--raw FILE] [--out-dir DIR] [--force] [--no-progress]``

Layout written under ``config.PROCESSED_DIR`` (or ``--out-dir``)::

    customer_quarter/<quarter>.parquet   accepted rows, contract columns and order
    rejects.parquet                      one row per rejected physical line
    rejects.csv                          the same, for people (never read by code)
    manifest.json                        source, size, hash, counts, time (written last)

What is accepted
----------------
Every variant the data contract allows: ``.csv`` or ``.dat``; UTF-8, UTF-8 with a
byte-order mark, or CP949 (EUC-KR; transcoded to a temporary UTF-8 file in 16 MB
chunks first, only when needed); CRLF or LF line ends; header names in any case and
order. These variants are *normalised*, never rejected: ``2023Q1`` -> ``2023q1``,
spaces around any cell are trimmed, ``y``/``n`` and life-stage codes are upper-cased.

Whole-file errors (:class:`RawFileError`; nothing is written)
-------------------------------------------------------------
- the file is missing, empty, or has a header but no data line;
- the header lacks contract columns or has unknown or repeated ones (the message
  names the file and the columns);
- the text is neither UTF-8 nor CP949 (checked on the first MiB; a CP949 file that
  stops decoding later fails during transcoding, naming the byte offset).

Row-level decisions (one rejects row per physical line; first reason in this order)
-------------------------------------------------------------------------------------
Declared once, in :data:`RULES` (reason, Korean text, column, kind); the main SQL pass,
the SQL that names the reason of a rejected line and the pure-Python :func:`check_line`
are all generated from it, and every rejected line is judged by both forms (the run
stops if they disagree).

==========================  =========================================================
reason                      when
==========================  =========================================================
``short line``              fewer than 55 fields
``long line``               more than 55 fields
``invalid text encoding``   the line is not valid UTF-8 (in a UTF-8 file)
``non-numeric amount``      an amount that is not a number (``N/A``, ``12a``)
``invalid quarter``         ``BAS_YH`` not of the form ``YYYYqN`` after normalising
``blank key``               ``SEQ`` empty
``blank code``              a coded column empty (the code tables hold ``기타`` for
                            an unknown age; an empty cell is not a code)
``unknown code``            a coded column outside its code table
``invalid ATT_YM``          ``ATT_YM`` present but not ``YYYYMM`` (month 01-12);
                            an empty ``ATT_YM`` is *accepted* as missing (it is
                            descriptive only) and counted by the data check
``blank amount``            an amount cell empty: amounts are ``DECIMAL(18,0)`` in
                            every public DDL and int64 here, and a team that met
                            blanks dropped those rows, so a blank is rejected (kept
                            in the rejects file, never silently dropped)
``negative amount``         an amount below zero
``fractional amount``       an amount with a non-zero fractional part (``12.0`` is 12)
``part above total``        ``CRDSL_USE_AM`` or ``CNF_USE_AM`` larger than
                            ``TOT_USE_AM``: impossible whatever the exact definition
``duplicate key``           a later line with the same ``BAS_YH`` x ``SEQ`` as an
                            earlier accepted line (the first one is kept)
``blank line``              an empty physical line inside the data
==========================  =========================================================

Only reported, never rejected (measured by :mod:`fipro.quality` in notebook 00):
``TOT_USE_AM`` != ``CRDSL_USE_AM + CNF_USE_AM`` (the contract says the means agree
but exactness is unknown), upper category != sum of its details (the grouping is our
own assumption), upper categories larger than the total, zeros, outliers.

``rows_read`` counts physical data lines (all lines after the header; a final line
end does not start a new line), and ``rows_accepted + rows_rejected == rows_read``
always holds: the run stops with an error otherwise.

Re-runs and the hash
--------------------
The manifest records the source's size, modification time and a SHA-256 digest of
its bytes (streamed in 16 MB chunks, about 1.3 GB/s with the CPU's SHA instructions, in
a thread beside DuckDB's scan). A re-run on a file whose size
and modification time are unchanged is skipped at once; if only the time changed the
file is hashed and skipped when the digest matches. A skipped run does not touch the
manifest, so ``make`` sees the data as up to date. ``force=True`` always re-ingests.

Speed and memory
----------------
DuckDB does the heavy lifting in one scan: ``read_csv`` with explicit types and strict
parsing with ``store_rejects`` (short/long lines, cast and encoding errors come back
with their physical line numbers), normalisation and checks in SQL, and one
``COPY ... PARTITION_BY`` that writes the accepted rows per quarter and the failing rows
to a side partition. A byte scan first (memchr speed) looks for ``' '``, ``'Q'`` and
``'.'`` anywhere in the file: without them trimming/lower-casing is skipped and amounts
are parsed straight to int64; with a ``'.'`` amounts are read as ``DECIMAL(18,3)`` so a
fraction is seen, never rounded. Code columns are cast to ENUMs of the code tables
(the trimmed, upper-cased value is tried only where the raw one fails). Line numbers
are not computed for accepted rows (a ``row_number()`` would serialise the scan); only
when rows failed a SQL check, keys repeat or blank lines exist does a second,
line-by-line pass find those lines and re-check them through the same rule table (its
SQL form and :func:`check_line`) with a reason each. ``memory_limit`` is 1 GB and
``threads`` the machine's cores; the file digest is computed in a thread beside the scan.
Measured on the 5.38 M-row, 860 MB stand-in (2 cores): about 1.6x a bare DuckDB
``read_csv`` -> Parquet copy, peak RSS about 1.3 GB. Tables are written to a temporary folder and swapped in, so a failed run
leaves the previous good state. The folder is named ``.ingest-<pid>-<random>``; a run
killed outright (``kill -9``) cannot remove its own, so every ingest starts by removing
the folders whose process is gone (:func:`remove_dead_work_dirs`).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import duckdb
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from fipro import config, contract, datasets
# The layout and its loaders live in fipro.datasets; these names stay importable from here.
from fipro.datasets import (MANIFEST_FILE, REJECT_COLUMNS, REJECTS_CSV, REJECTS_FILE, TABLE_DIR,  # noqa: F401
                            available_quarters, load_quarter, load_rejects, read_manifest)
from fipro.export import atomic_path, write_json_atomic
HASH_ALGORITHM = "sha256"
CHUNK_BYTES = 16 * 2**20
SNIFF_BYTES = 2**20
DUCKDB_MEMORY_LIMIT = "1GB"
REJECT_PART = "_rejected"
WORK_PREFIX = ".ingest-"

class RawFileError(ValueError):
    """The raw file as a whole cannot be ingested (nothing is written).

    Attributes
    ----------
    path : Path
        The file.
    columns : list of str
        Columns involved (missing, unknown or repeated header names), if any.
    """

    def __init__(self, path, message: str, columns=()):
        self.path = Path(path)
        self.columns = list(columns)
        super().__init__(f"{self.path}: {message}")


@dataclass
class IngestResult:
    """What one :func:`ingest_raw` call did."""

    source: Path
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict = field(default_factory=dict)
    quarters: list = field(default_factory=list)
    skipped: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """One line a person reads: what was used, what came out."""
        if self.skipped:
            return (f"{self.source}: unchanged since the last ingest "
                    f"({self.rows_accepted:,} rows accepted then); nothing to do")
        reasons = ", ".join(f"{k} {v:,}" for k, v in self.rejects_by_reason.items()) or "none"
        return (f"{self.source}: read {self.rows_read:,} rows = accepted {self.rows_accepted:,}"
                f" + rejected {self.rows_rejected:,} (reasons: {reasons}); quarters "
                f"{' '.join(self.quarters)}; {self.seconds:.1f} s")


# --- finding the raw file --------------------------------------------------------

def find_raw_file(raw_dir=None) -> Path:
    """The raw file in ``raw_dir`` (default ``config.RAW_DIR``): :func:`fipro.datasets.raw_file`.

    That is the project's one discovery rule (``edu_data_F.csv`` / ``EDU_DATA_F.dat`` in
    any case; a real file before the synthetic stand-in).

    Raises
    ------
    RawFileError
        When the folder holds no candidate (the message names the folder).
    """
    found = datasets.raw_file(raw_dir)
    if found is None:
        folder = Path(raw_dir) if raw_dir is not None else config.RAW_DIR
        raise RawFileError(folder, "no raw file (edu_data_F.csv or EDU_DATA_F.dat) in this folder; put it "
                                   "there or run `python -m fipro synth`")
    return found


# --- reading the file's shape ------------------------------------------------------

@dataclass
class _Shape:
    encoding: str  # "utf-8" | "cp949"
    bom: bool
    line_end: str  # "\r\n" | "\n"
    header: list


def _sniff(path: Path) -> _Shape:
    size = path.stat().st_size
    if size == 0:
        raise RawFileError(path, "the file is empty")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if bom else head
    if len(head) == SNIFF_BYTES:  # do not judge a character cut at the edge
        body = body[: body.rfind(b"\n") + 1] or body
    encoding = None
    for candidate in ("utf-8", "cp949"):
        try:
            body.decode(candidate)
            encoding = candidate
            break
        except UnicodeDecodeError:
            continue
    if encoding is None or (bom and encoding != "utf-8"):
        raise RawFileError(path, "unreadable text encoding: neither UTF-8 nor CP949 (EUC-KR)")
    first, sep, _ = body.partition(b"\n")
    line_end = "\r\n" if first.endswith(b"\r") else "\n"
    names = [n.strip().upper() for n in first.rstrip(b"\r").decode(encoding).split(",")]
    if names == [""]:
        raise RawFileError(path, "the file is empty (no header line)")
    expected = set(contract.COLUMN_NAMES)
    missing = [c for c in contract.COLUMN_NAMES if c not in names]
    unknown = [n for n in names if n not in expected]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns {unknown}")
        if repeated:
            parts.append(f"repeated columns {repeated}")
        raise RawFileError(path, "header does not match the data contract: " + "; ".join(parts),
                           columns=missing + unknown + repeated)
    return _Shape(encoding, bom, line_end, names)


def _digest(path: Path) -> tuple[str, int, bool]:
    """SHA-256 of the bytes, number of newlines and whether the last byte is one."""
    h = hashlib.sha256()
    newlines, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            h.update(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return h.hexdigest(), newlines, last == b"\n"


def _transcode(path: Path, shape: _Shape, out: Path) -> Path:
    """Stream a CP949 file into UTF-8 (16 MB at a time); bytes are never all in memory."""
    decoder = codecs.getincrementaldecoder("cp949")(errors="strict")
    done = 0
    with open(path, "rb") as src, open(out, "wb") as dst:
        while chunk := src.read(CHUNK_BYTES):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise RawFileError(path, f"unreadable CP949 text near byte {done + exc.start:,}") from exc
            dst.write(text.encode("utf-8"))
            done += len(chunk)
        try:
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RawFileError(path, "the file ends inside a CP949 character") from exc
    return out


# --- SQL ---------------------------------------------------------------------------

def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in_list(values) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


def _read_csv_sql(path: Path, header: list, rejects_table: str, extra_first: str | None = None,
                  amount_type: str = "DECIMAL(18,3)") -> str:
    types = {c: (amount_type if c in contract.AMOUNT_COLUMNS else "VARCHAR") for c in header}
    cols = ([extra_first] if extra_first else []) + list(header)
    types_sql = ", ".join(f"{_q(c)}: {_q(types.get(c, 'BIGINT'))}" for c in cols)
    return (f"read_csv({_q(str(path))}, auto_detect=false, header=true, delim=',', quote='', "
            f"escape='', columns={{{types_sql}}}, strict_mode=true, ignore_errors=true, "
            f"store_rejects=true, rejects_table={_q(rejects_table)}, "
            f"rejects_scan={_q(rejects_table + '_scan')}, encoding='utf-8')")


def _normalised_select(keep: tuple = ()) -> str:
    """Normalised contract columns from a relation of raw (typed) columns."""
    out = list(keep)
    for c in contract.COLUMN_NAMES:
        if c == "BAS_YH":
            out.append("lower(trim(BAS_YH)) AS BAS_YH")
        elif c in contract.AMOUNT_COLUMNS:
            out.append(c)
        elif c in contract.CODE_COLUMNS:
            out.append(f"upper(trim({c})) AS {c}")
        elif c == "ATT_YM":
            out.append("nullif(trim(ATT_YM), '') AS ATT_YM")
        else:
            out.append(f"trim({c}) AS {c}")
    return ", ".join(out)


# --- the rule table ----------------------------------------------------------------------
# Every row-level decision is declared once, here. From the table come (1) the SQL of the
# main DuckDB pass (is the row rejected?), (2) the SQL CASE that names the reason of a
# rejected line when the line-by-line pass re-reads it, and (3) the pure-Python check of
# one line (:func:`check_line`). The ingest compares (2) and (3) on every rejected line
# and stops if they disagree, and a test breaks every rule once through both.

_QUARTER_PATTERN = r"[0-9]{4}q[1-4]"
_YYYYMM_PATTERN = r"[0-9]{4}(0[1-9]|1[0-2])"
# Amounts are read as DECIMAL(18,3) where a fraction may occur: DuckDB rounds the fourth
# decimal half up and refuses more than 15 integer digits; the line check does the same.
_AMOUNT_SCALE = Decimal("0.001")
_AMOUNT_LIMIT = Decimal(10) ** 15


@dataclass(frozen=True)
class Rule:
    """One row-level rejection rule.

    Parameters
    ----------
    reason : str
        Stable English key stored in ``rejects.reason`` (``"blank code"``).
    reason_ko : str
        The same in Korean, for people (``rejects.csv``, notebook 00).
    column : str
        The column the rule looks at (the offending cell).
    kind : str
        What is checked: ``"fields"`` (field count), ``"encoding"``, ``"number"``
        (an amount that is not a number) — these three are decided by DuckDB's CSV
        reader — then ``"pattern"``, ``"blank"``, ``"code"``, ``"optional_pattern"``,
        ``"missing"``, ``"negative"``, ``"fraction"``, ``"above"``.
    arg : object
        The kind's argument: a regular expression, the code table, the column compared
        with (``"above"``), ``-1``/``+1`` (too few / too many fields).
    """

    reason: str
    reason_ko: str
    column: str
    kind: str
    arg: object = None

    @property
    def by_reader(self) -> bool:
        """Decided by DuckDB's CSV reader (``store_rejects``), not by a SQL predicate."""
        return self.kind in ("fields", "encoding", "number")

    @property
    def sql(self) -> str:
        """SQL that is true when a normalised row breaks the rule (never NULL)."""
        c = self.column
        if self.kind == "pattern":
            return f"NOT regexp_full_match(coalesce({c}, ''), {_q(self.arg)})"
        if self.kind == "blank":
            return f"coalesce(CAST({c} AS VARCHAR), '') = ''"
        if self.kind == "code":
            return f"coalesce({c} <> '' AND {c} NOT IN {_in_list(self.arg)}, false)"
        if self.kind == "optional_pattern":
            return f"coalesce({c} IS NOT NULL AND NOT regexp_full_match({c}, {_q(self.arg)}), false)"
        if self.kind == "missing":
            return f"{c} IS NULL"
        if self.kind == "negative":
            return f"coalesce({c} < 0, false)"
        if self.kind == "fraction":
            return f"coalesce({c} <> trunc({c}), false)"
        if self.kind == "above":
            return f"coalesce({c} > {self.arg}, false)"
        raise ValueError(f"rule {self.reason!r} is decided by the CSV reader, not by SQL")

    def fails(self, row: dict) -> bool:
        """The Python twin of :attr:`sql` on one normalised row (see :func:`check_line`)."""
        v = row.get(self.column)
        if self.kind == "pattern":
            return re.fullmatch(self.arg, v or "") is None
        if self.kind == "blank":
            return not v
        if self.kind == "code":
            return bool(v) and v not in self.arg
        if self.kind == "optional_pattern":
            return v is not None and re.fullmatch(self.arg, v) is None
        if self.kind == "missing":
            return v is None
        if self.kind == "negative":
            return v is not None and v < 0
        if self.kind == "fraction":
            return v is not None and v != v.to_integral_value(rounding=ROUND_DOWN)
        if self.kind == "above":
            other = row.get(self.arg)
            return v is not None and other is not None and v > other
        raise ValueError(f"rule {self.reason!r} is decided by the CSV reader, not on a normalised row")


def _declare_rules() -> tuple[Rule, ...]:
    amounts = contract.AMOUNT_COLUMNS
    rules = [
        Rule("short line", "필드 수 부족", "", "fields", -1),
        Rule("long line", "필드 수 초과", "", "fields", +1),
        Rule("invalid text encoding", "문자 인코딩 오류", "", "encoding"),
        *(Rule("non-numeric amount", "숫자가 아닌 금액", c, "number") for c in amounts),
        Rule("invalid quarter", "기준분기 형식 오류", "BAS_YH", "pattern", _QUARTER_PATTERN),
        Rule("blank key", "고객번호(SEQ) 빈 값", "SEQ", "blank"),
        *(Rule("blank code", "코드 빈 값", c, "blank") for c in contract.CODE_COLUMNS),
        *(Rule("unknown code", "코드표에 없는 코드", c, "code", tuple(contract.CODE_TABLES[c]))
          for c in contract.CODE_COLUMNS),
        Rule("invalid ATT_YM", "입회년월 형식 오류", "ATT_YM", "optional_pattern", _YYYYMM_PATTERN),
        *(Rule("blank amount", "금액 빈 값", c, "missing") for c in amounts),
        *(Rule("negative amount", "음수 금액", c, "negative") for c in amounts),
        *(Rule("fractional amount", "소수 금액", c, "fraction") for c in amounts),
        *(Rule("part above total", "부분 금액이 총이용금액보다 큼", c, "above", "TOT_USE_AM")
          for c in ("CRDSL_USE_AM", "CNF_USE_AM")),
    ]
    return tuple(rules)


# Order matters: the first failing rule names the reason of a rejected line.
RULES: tuple[Rule, ...] = _declare_rules()
SQL_RULES: tuple[Rule, ...] = tuple(r for r in RULES if not r.by_reader)
# Decisions across lines (not one line's content); they follow the row rules.
CROSS_LINE_REASONS_KO = {"duplicate key": "중복 키 (기준분기×고객번호)", "blank line": "빈 줄"}
REASONS: tuple[str, ...] = (*dict.fromkeys(r.reason for r in RULES), *CROSS_LINE_REASONS_KO)
REASON_KO: dict[str, str] = {**{r.reason: r.reason_ko for r in RULES}, **CROSS_LINE_REASONS_KO}
# DuckDB reader error types -> the rule kind that names them.
_READER_REASON = {
    "MISSING COLUMNS": "short line",
    "TOO MANY COLUMNS": "long line",
    "INVALID ENCODING": "invalid text encoding",
    "INVALID UNICODE": "invalid text encoding",
    "CAST": "non-numeric amount",
}


def _parse_amount(text: str) -> Decimal | None:
    """An amount cell as DuckDB's DECIMAL(18,3) reads it; ``None`` for a blank cell.

    Raises ``ValueError`` where DuckDB's reader would reject the cell.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite() or abs(value) >= _AMOUNT_LIMIT:
        raise ValueError(text)
    return value.quantize(_AMOUNT_SCALE, rounding=ROUND_HALF_UP)


def _normalised_row(fields: list[str], header: list) -> dict:
    """One line's cells normalised as :func:`_normalised_select` does in SQL."""
    row = {}
    for name, text in zip(header, fields):
        if name in contract.AMOUNT_COLUMNS:
            row[name] = _parse_amount(text)
        elif name == "BAS_YH":
            row[name] = text.strip().lower()
        elif name in contract.CODE_COLUMNS:
            row[name] = text.strip().upper()
        elif name == "ATT_YM":
            row[name] = text.strip() or None
        else:
            row[name] = text.strip()
    return row


def check_line(line: bytes | str, header=None) -> dict:
    """Judge one raw data line with the rule table, in pure Python.

    Parameters
    ----------
    line : bytes or str
        The line as it stands in the (UTF-8) file, without its line end.
    header : list of str, optional
        The file's column names in file order; default the contract's order.

    Returns
    -------
    dict
        ``reason`` (the first failing rule's reason, ``None`` when the line is
        accepted), ``column`` and ``value`` (the offending cell as written, ``""`` for a
        whole-line problem) and ``reasons`` (every failing rule, ``"; "``-joined).

    Examples
    --------
    >>> fields = ["2023q1", "7", "30", "2", "24", "202001", "서울", "Y", "N", "NEW_WED"] + ["0"] * 45
    >>> check_line(",".join(fields))["reason"] is None
    True
    >>> fields[3] = "3"
    >>> check_line(",".join(fields))["reason"], check_line(",".join(fields))["column"]
    ('unknown code', 'SEX_CD')
    """
    header = list(header) if header is not None else list(contract.COLUMN_NAMES)
    raw = line if isinstance(line, bytes) else line.encode("utf-8")
    n_fields = raw.count(b",") + 1

    def verdict(rule: Rule, value: str = "", failing=()) -> dict:
        reasons = "; ".join(f"{r.reason} ({r.column})" for r in failing) or rule.reason
        return {"reason": rule.reason, "column": rule.column, "value": value, "reasons": reasons}

    for rule in RULES:
        if rule.kind == "fields" and (n_fields - len(header)) * rule.arg > 0:
            return verdict(rule, f"{n_fields} of {len(header)} fields")
    try:
        fields = raw.decode("utf-8").split(",")
    except UnicodeDecodeError:
        return verdict(next(r for r in RULES if r.kind == "encoding"))
    cells = dict(zip(header, fields))
    for rule in RULES:
        if rule.kind == "number":
            try:
                _parse_amount(cells[rule.column])
            except ValueError:
                return verdict(rule, cells[rule.column])
    row = _normalised_row(fields, header)
    failing = [r for r in SQL_RULES if r.fails(row)]
    if not failing:
        return {"reason": None, "column": "", "value": "", "reasons": ""}
    return verdict(failing[0], cells.get(failing[0].column, ""), failing)


@dataclass
class _Flags:
    """Byte-level facts of the DuckDB input that let the main pass skip work safely."""

    space: bool  # some cell may need trimming
    upper_q: bool  # some quarter may be written 2023Q1
    dot: bool  # some amount may have a fractional part


def _scan_flags(path: Path) -> _Flags:
    """Look for ' ', 'Q' and '.' anywhere in the file (memchr speed; no decoding)."""
    space = upper_q = dot = False
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            space = space or b" " in chunk
            upper_q = upper_q or b"Q" in chunk
            dot = dot or b"." in chunk
            if space and upper_q and dot:
                break
    return _Flags(space, upper_q, dot)


def _enum_name(column: str) -> str:
    return f"code_{column.lower()}"


def _create_enums(con) -> None:
    # the ENUMs are the "unknown code" rules' own tables: a failed cast is that rule (or blank) failing
    for rule in SQL_RULES:
        if rule.kind == "code":
            con.execute(f"CREATE TYPE {_enum_name(rule.column)} AS ENUM {_in_list(rule.arg)}")


def _main_query(reader: str, flags: _Flags) -> str:
    """The main pass: normalise, type and flag every row (``_part`` = quarter or rejected).

    Code columns become ENUMs (a failed cast is NULL = blank or unknown code; the
    trimmed, upper-cased value is tried only where the raw one fails). The reject
    predicate comes from :data:`RULES` (:func:`_reject_sql`); the line-by-line pass
    names the reason of the few failing lines afterwards.
    """
    sel = []
    for c in contract.COLUMN_NAMES:
        if c == "BAS_YH":
            sel.append("lower(trim(BAS_YH)) AS BAS_YH" if (flags.space or flags.upper_q) else "BAS_YH")
        elif c in ("SEQ", "ATT_YM"):
            sel.append(f"nullif(trim({c}), '') AS {c}" if flags.space else f"nullif({c}, '') AS {c}")
        elif c in contract.CODE_COLUMNS:
            t = _enum_name(c)
            sel.append(f"coalesce(TRY_CAST({c} AS {t}), TRY_CAST(upper(trim({c})) AS {t})) AS {c}")
        else:
            sel.append(c)
    bad_sql = _reject_sql(flags)
    out = ["_part"] + [f"CAST({c} AS BIGINT) AS {c}" if (flags.dot and c in contract.AMOUNT_COLUMNS) else c
                       for c in contract.COLUMN_NAMES]
    return (f"SELECT {', '.join(out)} FROM (SELECT *, CASE WHEN {bad_sql} THEN '{REJECT_PART}' "
            f"ELSE BAS_YH END AS _part FROM (SELECT {', '.join(sel)} FROM {reader}))")


def _reject_sql(flags: _Flags) -> str:
    """SQL true when a row of the main pass breaks any rule of :data:`SQL_RULES`.

    Generated from the rule table, with two shortcuts that keep the 5 M-row scan fast and
    mean the same thing on the main pass's types: code columns are ENUMs of the rules'
    own code tables there (``TRY_CAST`` gives NULL for a blank or an unknown code), so a
    code column's ``blank`` and ``code`` rules are ``col IS NULL``; the amount rules of
    one kind are combined (a NULL makes a sum NULL; ``least`` is negative iff some
    amount is). Without a ``'.'`` in the file amounts are read as integers, so the
    fraction rules cannot fail and are left out.
    """
    parts: list[str] = []
    by_kind: dict[str, list[Rule]] = {}
    for rule in SQL_RULES:
        by_kind.setdefault(rule.kind, []).append(rule)
    for kind, rules in by_kind.items():
        coded = [r for r in rules if kind in ("blank", "code") and r.column in contract.CODE_COLUMNS]
        parts += [f"{r.column} IS NULL" for r in coded if kind == "blank"]  # covers the "code" rule too
        rules = [r for r in rules if r not in coded]
        columns = [r.column for r in rules]
        if kind == "missing" and columns:
            parts.append("(" + " + ".join(columns) + ") IS NULL")
        elif kind == "negative" and columns:
            parts.append(f"least({', '.join(columns)}) < 0")
        elif kind == "fraction":
            parts += [r.sql for r in rules] if flags.dot else []
        else:
            parts += [r.sql for r in rules]
    # a NULL from a combined form (an amount missing) rejects the row too
    return " OR ".join(f"coalesce({b}, true)" for b in parts)


def _typed_select(keep: tuple = ()) -> str:
    """Contract columns with their stored types (amounts int64, the rest text)."""
    out = list(keep)
    for c in contract.COLUMN_NAMES:
        out.append(f"CAST({c} AS BIGINT) AS {c}" if c in contract.AMOUNT_COLUMNS else c)
    return ", ".join(out)


def _connect(temp_dir: Path, progress: bool):
    con = duckdb.connect(config={
        "threads": max(1, os.cpu_count() or 1),
        "memory_limit": DUCKDB_MEMORY_LIMIT,
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": False,
    })
    con.execute(f"SET enable_progress_bar = {'true' if progress else 'false'}")
    return con


# --- the ingest ----------------------------------------------------------------------

_T0 = [time.perf_counter()]


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[ingest {time.perf_counter() - _T0[0]:5.1f}s] {message}", file=sys.stderr, flush=True)


def _scan_lines(path: Path, wanted_keys: set, key_idx: tuple[int, int], want_blank: bool,
                skip_lines: set) -> list[tuple[int, bytes]]:
    """Physical (line number, raw bytes) of lines whose key is wanted, or that are blank.

    A plain byte loop: exact physical line numbers whatever the content.
    """
    found = []
    i_bas, i_seq = key_idx
    top = max(i_bas, i_seq) + 1
    with open(path, "rb") as fh:
        fh.readline()  # header
        for number, line in enumerate(fh, start=2):
            body = line.rstrip(b"\r\n")
            if not body.strip():
                if want_blank:
                    found.append((number, body))
                continue
            if number in skip_lines or not wanted_keys:
                continue
            parts = body.split(b",", top)
            if len(parts) < top:
                continue
            key = (parts[i_bas].strip().lower(), parts[i_seq].strip())
            if key in wanted_keys:
                found.append((number, body))
    return found


def ingest_raw(path=None, processed_dir=None, force: bool = False, progress: bool = True) -> IngestResult:
    """Validate the raw file into per-quarter Parquet tables, rejects and a manifest.

    Parameters
    ----------
    path : path-like, optional
        The raw file; default :func:`find_raw_file` in ``config.RAW_DIR``.
    processed_dir : path-like, optional
        Output folder; default ``config.PROCESSED_DIR`` (read at call time).
    force : bool
        Re-ingest even when the manifest says the file is unchanged.
    progress : bool
        Print stages to stderr and show DuckDB's progress bar.

    Returns
    -------
    IngestResult

    Raises
    ------
    RawFileError
        For whole-file problems (see the module docstring); nothing is written.
    """
    start = _T0[0] = time.perf_counter()
    path = Path(path) if path is not None else find_raw_file()
    processed_dir = Path(processed_dir) if processed_dir is not None else datasets.processed_dir()
    removed = remove_dead_work_dirs(processed_dir)
    if removed:
        _log(progress, f"removed {len(removed)} temporary folder(s) of ingest runs that died: "
                       + ", ".join(p.name for p in removed))
    if not path.is_file():
        raise RawFileError(path, "no such file")
    path = path.resolve()
    stat = path.stat()
    old = read_manifest(processed_dir)
    kind = "synthetic stand-in" if datasets.is_synthetic(path) else "raw file"
    _log(progress, f"using {kind} {path} ({stat.st_size / 2**20:,.1f} MiB)")

    def skipped() -> IngestResult:
        return IngestResult(source=path, rows_read=old.get("rows_read", 0),
                            rows_accepted=old.get("rows_accepted", 0), rows_rejected=old.get("rows_rejected", 0),
                            rejects_by_reason=dict(old.get("rejects_by_reason", {})),
                            quarters=list(old.get("quarters", {})), skipped=True,
                            seconds=round(time.perf_counter() - start, 3))

    same_file = bool(old) and old.get("source") == str(path) and old.get("size") == stat.st_size
    tables_present = bool(old) and all(
        datasets.quarter_table_path(q, processed_dir).exists() for q in old.get("quarters", {}))
    if not force and same_file and tables_present and old.get("mtime_ns") == stat.st_mtime_ns:
        return skipped()
    shape = _sniff(path)
    pool = ThreadPoolExecutor(max_workers=1)
    # hashlib releases the GIL: the digest runs beside DuckDB unless the skip decision needs it
    hashing = pool.submit(_digest, path)
    if not force and same_file and tables_present:
        if old.get("hash", {}).get("hexdigest") == hashing.result()[0]:
            pool.shutdown()
            return skipped()

    def count_rows() -> int:
        _, newlines, ends_with_newline = hashing.result()
        return newlines + (0 if ends_with_newline else 1) - 1

    processed_dir.mkdir(parents=True, exist_ok=True)
    # named with our pid, so a later run can tell a dead run's folder from a live one's
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=processed_dir))
    try:
        result = _ingest_into(work, path, shape, count_rows, progress)
        digest = hashing.result()[0]
        rows_read = count_rows()
        quarters = result.pop("quarters")
        by_reason = result.pop("rejects_by_reason")
        rejects = result.pop("rejects")
        rows_rejected = sum(by_reason.values())
        rows_accepted = sum(quarters.values())
        if rows_accepted + rows_rejected != rows_read:
            raise RuntimeError(f"{path}: accepted {rows_accepted:,} + rejected {rows_rejected:,} "
                               f"!= read {rows_read:,}; nothing written")
        _swap_in(work, processed_dir, rejects)
        seconds = round(time.perf_counter() - start, 2)
        manifest = {
            "source": str(path),
            "source_name": path.name,
            "synthetic": kind == "synthetic stand-in",
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "hash": {"algorithm": HASH_ALGORITHM, "hexdigest": digest},
            "encoding": shape.encoding,
            "bom": shape.bom,
            "line_end": "CRLF" if shape.line_end == "\r\n" else "LF",
            "rows_read": rows_read,
            "rows_accepted": rows_accepted,
            "rows_rejected": rows_rejected,
            "rejects_by_reason": by_reason,
            "quarters": quarters,
            "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": seconds,
        }
        write_json_atomic(datasets.manifest_path(processed_dir), manifest)
    finally:
        pool.shutdown(wait=True)
        shutil.rmtree(work, ignore_errors=True)
    res = IngestResult(source=path, rows_read=rows_read, rows_accepted=rows_accepted,
                       rows_rejected=rows_rejected, rejects_by_reason=by_reason,
                       quarters=sorted(quarters), skipped=False, seconds=seconds)
    _log(progress, res.summary())
    return res


def _ingest_into(work: Path, path: Path, shape: _Shape, rows_read_fn, progress: bool) -> dict:
    """Write the new tables into ``work``; return counts. Raises on any problem."""
    source = path
    if shape.encoding != "utf-8":
        _log(progress, f"transcoding {shape.encoding} -> UTF-8 (streamed)")
        source = _transcode(path, shape, work / "source-utf8.csv")
    con = _connect(work / "duckdb-tmp", progress)
    try:
        flags = _scan_flags(source)
        reader = _read_csv_sql(source, shape.header, "rj_main",
                               amount_type="DECIMAL(18,3)" if flags.dot else "BIGINT")
        parts_dir = work / "parts"
        _create_enums(con)
        _log(progress, "validating and writing per-quarter Parquet (DuckDB)")
        con.execute(
            f"COPY ({_main_query(reader, flags)}) "
            f"TO {_q(str(parts_dir))} (FORMAT parquet, PARTITION_BY (_part), WRITE_PARTITION_COLUMNS false)"
        )
        _log(progress, "main pass done; collecting rejects and checking keys")
        rejects = _reader_verdicts(con, "rj_main", shape.header)
        reader_lines = {r["line"] for r in rejects}
        header_index = {c: i for i, c in enumerate(shape.header)}

        part_dirs = {p.name.split("=", 1)[1]: p for p in parts_dir.glob("_part=*")} if parts_dir.exists() else {}
        counts = {k: con.execute(f"SELECT count(*) FROM read_parquet({_q(str(d / '*.parquet'))})").fetchone()[0]
                  for k, d in part_dirs.items()}
        sql_rejected = counts.pop(REJECT_PART, 0)
        quarter_dirs = {k: d for k, d in part_dirs.items() if k != REJECT_PART}
        accepted_glob = [str(d / "*.parquet") for d in quarter_dirs.values()]
        dup_keys = set()
        if accepted_glob:
            dup_keys = {(q.encode(), s.encode()) for q, s in con.execute(
                f"SELECT BAS_YH, SEQ FROM read_parquet({accepted_glob}) GROUP BY ALL HAVING count(*) > 1"
            ).fetchall()}
        _log(progress, "keys checked for duplicates; waiting for the file digest")
        rows_read = rows_read_fn()
        if rows_read <= 0:
            raise RawFileError(path, "the file has a header but no data lines")
        blank_lines = rows_read - sum(counts.values()) - sql_rejected - len(reader_lines)
        kept_first = []
        if sql_rejected or dup_keys or blank_lines:
            _log(progress, "locating rejected lines (line-by-line pass)")
            wanted = set(dup_keys)
            if sql_rejected:
                wanted |= {(q.encode() if q else b"", s.encode() if s else b"") for q, s in con.execute(
                    f"SELECT BAS_YH, SEQ FROM read_parquet({_q(str(part_dirs[REJECT_PART] / '*.parquet'))})"
                ).fetchall()}
            key_idx = (shape.header.index("BAS_YH"), shape.header.index("SEQ"))
            found = _scan_lines(source, wanted, key_idx, blank_lines > 0, reader_lines)
            for number, body in found:
                if not body.strip():
                    rejects.append({"line": number, "reason": "blank line", "column": "", "value": "",
                                    "reasons": "blank line", "raw_line": body.decode("utf-8", "replace")})
            candidates = [(n, b) for n, b in found if b.strip()]
            rechecked = _recheck(con, work, shape.header, candidates)
            _cross_check(path, rechecked, dict(candidates), shape.header)
            first_seen: dict = {}
            for row in rechecked:
                if row["reason"]:
                    rejects.append({k: row[k] for k in REJECT_COLUMNS})
                    continue
                key = (row["BAS_YH"], row["SEQ"])
                if (key[0].encode(), key[1].encode()) not in dup_keys:
                    continue  # an accepted line that only shares a key with a rejected one
                if key in first_seen:
                    rejects.append({"line": row["line"], "reason": "duplicate key", "column": "BAS_YH,SEQ",
                                    "value": f"first at line {first_seen[key]}", "reasons": "duplicate key",
                                    "raw_line": row["raw_line"]})
                else:
                    first_seen[key] = row["line"]
                    kept_first.append(row["line"])
        _log(progress, "moving tables into place")
        table_dir = work / TABLE_DIR
        table_dir.mkdir()
        quarters = {}
        for q, d in sorted(quarter_dirs.items()):
            target = table_dir / f"{q}.parquet"
            files = sorted(d.glob("*.parquet"))
            affected = any(k[0].decode() == q for k in dup_keys)
            if len(files) == 1 and not affected:
                files[0].rename(target)
            else:
                keep = ""
                if affected:
                    keep = (" t WHERE NOT EXISTS (SELECT 1 FROM _dup_keys d WHERE d.BAS_YH = t.BAS_YH "
                            "AND d.SEQ = t.SEQ) "
                            f"UNION ALL BY NAME SELECT {', '.join(contract.COLUMN_NAMES)} FROM _kept WHERE BAS_YH = {_q(q)}")
                    con.execute("CREATE OR REPLACE TEMP TABLE _dup_keys AS SELECT * FROM (VALUES "
                                + ", ".join(f"({_q(a.decode())}, {_q(b.decode())})" for a, b in dup_keys)
                                + ") t(BAS_YH, SEQ)")
                    con.execute(f"CREATE OR REPLACE TEMP TABLE _kept AS SELECT * FROM _recheck WHERE line IN "
                                f"({', '.join(str(n) for n in kept_first) or 'NULL'})")
                con.execute(f"COPY (SELECT {', '.join(contract.COLUMN_NAMES)} FROM read_parquet("
                            f"{[str(f) for f in files]}){keep}) TO {_q(str(target))} (FORMAT parquet)")
            quarters[q] = con.execute(f"SELECT count(*) FROM read_parquet({_q(str(target))})").fetchone()[0]
        for r in rejects:  # the offending cell as it stands in the file
            idx = header_index.get(r["column"])
            if idx is not None and r["reason"] not in ("short line", "long line"):
                fields = r["raw_line"].split(",")
                r["value"] = fields[idx] if idx < len(fields) else ""
        by_reason = {}
        for r in sorted(rejects, key=lambda r: REASONS.index(r["reason"]) if r["reason"] in REASONS else 99):
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        return {"quarters": quarters, "rejects_by_reason": by_reason,
                "rejects": sorted(rejects, key=lambda r: r["line"])}
    finally:
        con.close()


def _reader_verdicts(con, table: str, header: list, numbered: bool = False) -> list[dict]:
    """One verdict per line DuckDB's CSV reader refused (its first error names the reason).

    ``numbered``: the file is :func:`_recheck`'s, whose lines start with the original
    line number (a ``_LINE`` column), which then replaces the physical one.
    """
    rows = con.execute(
        "SELECT line, arg_min(error_type, coalesce(column_idx, 0)), arg_min(column_name, coalesce(column_idx, 0)),"
        f" any_value(csv_line) FROM {table} GROUP BY line ORDER BY line").fetchall()
    verdicts = []
    for line, error_type, column, csv_line in rows:
        reason = _READER_REASON.get(error_type, f"unreadable line ({error_type.lower()})")
        raw = (csv_line or "").strip("\r\n")
        if numbered:
            number, _, raw = raw.partition(",")
            line = int(number)
        column = (column or "") if reason == "non-numeric amount" else ""
        value = f"{raw.count(',') + 1} of {len(header)} fields" if reason in ("short line", "long line") else ""
        verdicts.append({"line": int(line), "reason": reason, "column": column, "value": value,
                         "reasons": reason, "raw_line": raw})
    return verdicts


def _cell(raw_line: str, column: str, header: list) -> str:
    """The cell of ``column`` as it stands in the line (``""`` if the line is too short)."""
    if column not in header:
        return ""
    fields = raw_line.split(",")
    idx = header.index(column)
    return fields[idx] if idx < len(fields) else ""


def _recheck(con, work: Path, header: list, candidates: list) -> list[dict]:
    """The SQL path on specific lines: DuckDB's reader, then the rules' SQL ``CASE``.

    Leaves the typed rows in the temporary table ``_recheck`` (the kept first line of a
    duplicate key is copied from there) and returns one verdict per candidate line
    (``line, reason, column, value, reasons, raw_line, BAS_YH, SEQ``).
    """
    if not candidates:
        con.execute("CREATE OR REPLACE TEMP TABLE _recheck AS SELECT 1 AS line WHERE false")
        return []
    small = work / "recheck.csv"
    with open(small, "wb") as fh:
        fh.write(("_LINE," + ",".join(header) + "\n").encode("utf-8"))
        for number, body in candidates:
            fh.write(b"%d," % number + body + b"\n")
    raw_by_line = {n: b.decode("utf-8", "replace") for n, b in candidates}
    reason_sql = "CASE " + " ".join(f"WHEN {r.sql} THEN {_q(r.reason)}" for r in SQL_RULES) + " END"
    column_sql = "CASE " + " ".join(f"WHEN {r.sql} THEN {_q(r.column)}" for r in SQL_RULES) + " END"
    all_sql = "concat_ws('; ', " + ", ".join(
        f"CASE WHEN {r.sql} THEN {_q(f'{r.reason} ({r.column})')} END" for r in SQL_RULES) + ")"
    reader = _read_csv_sql(small, header, "rj_recheck", extra_first="_LINE")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _recheck AS SELECT _LINE AS line, {reason_sql} AS reason, "
        f"{column_sql} AS \"column\", {all_sql} AS reasons, "
        f"{_typed_select()} FROM (SELECT {_normalised_select(('_LINE',))} FROM {reader}) ORDER BY line")
    cols = ["line", "reason", "column", "reasons", "BAS_YH", "SEQ"]
    rows = [dict(zip(cols, r)) for r in con.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM _recheck ORDER BY line").fetchall()]
    for row in rows:
        row["raw_line"] = raw_by_line[row["line"]]
        row["column"] = row["column"] or ""
        row["reasons"] = row["reasons"] or ""
        row["value"] = _cell(row["raw_line"], row["column"], header)
    for verdict in _reader_verdicts(con, "rj_recheck", header, numbered=True):
        verdict["raw_line"] = raw_by_line.get(verdict["line"], verdict["raw_line"])
        if verdict["column"]:
            verdict["value"] = _cell(verdict["raw_line"], verdict["column"], header)
        rows.append({**verdict, "BAS_YH": None, "SEQ": None})
    return sorted(rows, key=lambda r: r["line"])


def _cross_check(path: Path, rechecked: list[dict], bodies: dict, header: list) -> None:
    """Stop when the SQL path and :func:`check_line` disagree on a line.

    Both come from :data:`RULES`; a disagreement is a bug in one of the two generators,
    and a silent one would put a line in the rejects file under the wrong reason.
    """
    for row in rechecked:
        verdict = check_line(bodies[row["line"]], header)
        if (verdict["reason"], verdict["column"]) != (row["reason"], row["column"]):
            raise RuntimeError(
                f"{path}: line {row['line']}: the SQL rules say {row['reason']!r} ({row['column']}), the line "
                f"check says {verdict['reason']!r} ({verdict['column']}); the rule table's two forms disagree")


def sql_check_lines(lines, header=None) -> list[dict]:
    """Judge lines through the SQL path ingest uses (DuckDB's reader, then the rules' SQL).

    The twin of :func:`check_line`, for tests and for looking at a line by hand.

    Parameters
    ----------
    lines : sequence of bytes or str
        Raw data lines without line ends.
    header : list of str, optional
        Column names in file order; default the contract's order.

    Returns
    -------
    list of dict
        One ``{reason, column, value, reasons}`` per line, as :func:`check_line` gives.
    """
    header = list(header) if header is not None else list(contract.COLUMN_NAMES)
    candidates = [(i + 2, ln if isinstance(ln, bytes) else ln.encode("utf-8")) for i, ln in enumerate(lines)]
    with tempfile.TemporaryDirectory(prefix=".sql-check-") as tmp:
        con = _connect(Path(tmp) / "duckdb-tmp", progress=False)
        try:
            rows = {r["line"]: r for r in _recheck(con, Path(tmp), header, candidates)}
        finally:
            con.close()
    keys = ("reason", "column", "value", "reasons")
    return [{k: rows[n][k] for k in keys} for n, _ in candidates]


def _write_rejects(rejects: list[dict], parquet_path: Path, csv_path: Path) -> None:
    """The rejects table (for code) and its CSV twin with the Korean reason (for people)."""
    table = pa.table({
        "line": pa.array([r["line"] for r in rejects], type=pa.int64()),
        **{c: pa.array([str(r[c]) for r in rejects], type=pa.string()) for c in REJECT_COLUMNS[1:]},
    })
    pq.write_table(table, parquet_path)
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "reason", "column", "raw_value", "reason_ko"])
        for r in rejects:
            writer.writerow([r["line"], r["reason"], r["column"], r["value"], REASON_KO.get(r["reason"], "")])


def _swap_in(work: Path, processed_dir: Path, rejects: list[dict]) -> None:
    """Replace the previous tables and rejects with the new ones (the manifest follows last).

    The rejects are written to temporary files first and renamed only after the tables
    are in place, so a failure anywhere leaves the previous rejects beside them.
    """
    new_tables = work / TABLE_DIR
    current = processed_dir / TABLE_DIR
    retired = work / "previous-tables"
    with atomic_path(datasets.rejects_path(processed_dir)) as rejects_tmp, \
            atomic_path(processed_dir / REJECTS_CSV) as csv_tmp:
        _write_rejects(rejects, rejects_tmp, csv_tmp)
        if current.exists():
            current.rename(retired)
        new_tables.rename(current)


# --- temporary folders of runs that died -----------------------------------------------------

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


# --- baseline and command line --------------------------------------------------------------

def bare_scan(raw: Path, out_dir: Path) -> Path:
    """A plain DuckDB ``read_csv`` -> Parquet copy (the benchmark's yardstick), nothing else.

    DuckDB's defaults throughout (type sniffing, threads, memory limit, insertion order).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "bare_scan.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT * FROM read_csv({_q(str(raw))})) TO {_q(str(target))} (FORMAT parquet)")
    finally:
        con.close()
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fipro ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, help="raw file (default: found in data/raw, real first)")
    parser.add_argument("--out-dir", type=Path, help="processed folder (default: data/processed)")
    parser.add_argument("--force", action="store_true", help="re-ingest even if the file is unchanged")
    parser.add_argument("--bare-scan", action="store_true",
                        help="benchmark yardstick: plain DuckDB read_csv -> Parquet into --out-dir")
    parser.add_argument("--no-progress", action="store_true", help="no stage messages or progress bar")
    args = parser.parse_args(argv)
    if args.bare_scan:
        if args.raw is None or args.out_dir is None:
            parser.error("--bare-scan needs --raw FILE and --out-dir DIR")
        bare_scan(args.raw, args.out_dir)
        return 0
    try:
        result = ingest_raw(args.raw, args.out_dir, force=args.force, progress=not args.no_progress)
    except RawFileError as exc:
        print(f"ingest failed: {exc}", file=sys.stderr)
        return 2
    if args.no_progress:  # otherwise the run already said it on stderr
        print(result.summary())
    return 0


__all__ = ["REASONS", "REASON_KO", "RULES", "IngestResult", "RawFileError", "Rule", "available_quarters",
           "check_line", "find_raw_file", "ingest_raw", "load_quarter", "load_rejects", "main", "read_manifest",
           "remove_dead_work_dirs", "sql_check_lines"]
