"""Rejected lines: find them in the file, name their reason, write the rejects table.

The main pass (:mod:`fipro.ingest.sql`) only says *that* rows failed; the few failing
lines are found again by a byte loop (:func:`scan_lines`, exact physical line numbers)
and judged line by line through both forms of the rule table (:func:`recheck`, the SQL
path, and :func:`fipro.ingest.rules.check_line`; :func:`cross_check` stops the run if
they disagree).
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fipro import contract
from fipro.datasets import REJECT_COLUMNS
from fipro.ingest.rules import READER_REASON, REASON_KO, SQL_RULES, check_line, quote
from fipro.ingest.sql import connect, normalised_select, read_csv_sql, typed_select


def scan_lines(path: Path, wanted_keys: set, key_idx: tuple[int, int], want_blank: bool,
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


def reader_verdicts(con, table: str, header: list, numbered: bool = False) -> list[dict]:
    """One verdict per line DuckDB's CSV reader refused (its first error names the reason).

    ``numbered``: the file is :func:`recheck`'s, whose lines start with the original
    line number (a ``_LINE`` column), which then replaces the physical one.
    """
    rows = con.execute(
        "SELECT line, arg_min(error_type, coalesce(column_idx, 0)), arg_min(column_name, coalesce(column_idx, 0)),"
        f" any_value(csv_line) FROM {table} GROUP BY line ORDER BY line").fetchall()
    verdicts = []
    for line, error_type, column, csv_line in rows:
        reason = READER_REASON.get(error_type, f"unreadable line ({error_type.lower()})")
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


def recheck(con, work: Path, header: list, candidates: list) -> list[dict]:
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
    reason_sql = "CASE " + " ".join(f"WHEN {r.sql} THEN {quote(r.reason)}" for r in SQL_RULES) + " END"
    column_sql = "CASE " + " ".join(f"WHEN {r.sql} THEN {quote(r.column)}" for r in SQL_RULES) + " END"
    all_sql = "concat_ws('; ', " + ", ".join(
        f"CASE WHEN {r.sql} THEN {quote(f'{r.reason} ({r.column})')} END" for r in SQL_RULES) + ")"
    reader = read_csv_sql(small, header, "rj_recheck", extra_first="_LINE")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _recheck AS SELECT _LINE AS line, {reason_sql} AS reason, "
        f"{column_sql} AS \"column\", {all_sql} AS reasons, "
        f"{typed_select()} FROM (SELECT {normalised_select(('_LINE',))} FROM {reader}) ORDER BY line")
    cols = ["line", "reason", "column", "reasons", "BAS_YH", "SEQ"]
    rows = [dict(zip(cols, r)) for r in con.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM _recheck ORDER BY line").fetchall()]
    for row in rows:
        row["raw_line"] = raw_by_line[row["line"]]
        row["column"] = row["column"] or ""
        row["reasons"] = row["reasons"] or ""
        row["value"] = _cell(row["raw_line"], row["column"], header)
    for verdict in reader_verdicts(con, "rj_recheck", header, numbered=True):
        verdict["raw_line"] = raw_by_line.get(verdict["line"], verdict["raw_line"])
        if verdict["column"]:
            verdict["value"] = _cell(verdict["raw_line"], verdict["column"], header)
        rows.append({**verdict, "BAS_YH": None, "SEQ": None})
    return sorted(rows, key=lambda r: r["line"])


def cross_check(path: Path, rechecked: list[dict], bodies: dict, header: list) -> None:
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
        con = connect(Path(tmp) / "duckdb-tmp", progress=False)
        try:
            rows = {r["line"]: r for r in recheck(con, Path(tmp), header, candidates)}
        finally:
            con.close()
    keys = ("reason", "column", "value", "reasons")
    return [{k: rows[n][k] for k in keys} for n, _ in candidates]


def write_rejects(rejects: list[dict], parquet_path: Path, csv_path: Path) -> None:
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
