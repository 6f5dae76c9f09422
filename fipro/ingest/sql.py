"""The SQL of the main pass: DuckDB's CSV reader, normalising selects, the reject predicate.

Everything that decides a row comes from the rule table (:mod:`fipro.ingest.rules`);
this module only writes it as SQL, with the shortcuts that keep the 5 M-row scan fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from fipro import contract
from fipro.ingest.rules import SQL_RULES, Rule, in_list, quote
from fipro.ingest.sniff import Flags

DUCKDB_MEMORY_LIMIT = "1GB"
# the main pass's partition of rows that break a SQL rule (beside one per quarter)
REJECT_PART = "_rejected"


def read_csv_sql(path: Path, header: list, rejects_table: str, extra_first: str | None = None,
                  amount_type: str = "DECIMAL(18,3)") -> str:
    types = {c: (amount_type if c in contract.AMOUNT_COLUMNS else "VARCHAR") for c in header}
    cols = ([extra_first] if extra_first else []) + list(header)
    types_sql = ", ".join(f"{quote(c)}: {quote(types.get(c, 'BIGINT'))}" for c in cols)
    return (f"read_csv({quote(str(path))}, auto_detect=false, header=true, delim=',', quote='', "
            f"escape='', columns={{{types_sql}}}, strict_mode=true, ignore_errors=true, "
            f"store_rejects=true, rejects_table={quote(rejects_table)}, "
            f"rejects_scan={quote(rejects_table + '_scan')}, encoding='utf-8')")


def normalised_select(keep: tuple = ()) -> str:
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


def _enum_name(column: str) -> str:
    return f"code_{column.lower()}"


def create_enums(con) -> None:
    # the ENUMs are the "unknown code" rules' own tables: a failed cast is that rule (or blank) failing
    for rule in SQL_RULES:
        if rule.kind == "code":
            con.execute(f"CREATE TYPE {_enum_name(rule.column)} AS ENUM {in_list(rule.arg)}")


def main_query(reader: str, flags: Flags) -> str:
    """The main pass: normalise, type and flag every row (``_part`` = quarter or rejected).

    Code columns become ENUMs (a failed cast is NULL = blank or unknown code; the
    trimmed, upper-cased value is tried only where the raw one fails). The reject
    predicate comes from :data:`RULES` (:func:`reject_sql`); the line-by-line pass
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
    bad_sql = reject_sql(flags)
    out = ["_part"] + [f"CAST({c} AS BIGINT) AS {c}" if (flags.dot and c in contract.AMOUNT_COLUMNS) else c
                       for c in contract.COLUMN_NAMES]
    return (f"SELECT {', '.join(out)} FROM (SELECT *, CASE WHEN {bad_sql} THEN '{REJECT_PART}' "
            f"ELSE BAS_YH END AS _part FROM (SELECT {', '.join(sel)} FROM {reader}))")


def reject_sql(flags: Flags) -> str:
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


def typed_select(keep: tuple = ()) -> str:
    """Contract columns with their stored types (amounts int64, the rest text)."""
    out = list(keep)
    for c in contract.COLUMN_NAMES:
        out.append(f"CAST({c} AS BIGINT) AS {c}" if c in contract.AMOUNT_COLUMNS else c)
    return ", ".join(out)


def connect(temp_dir: Path, progress: bool):
    con = duckdb.connect(config={
        "threads": max(1, os.cpu_count() or 1),
        "memory_limit": DUCKDB_MEMORY_LIMIT,
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": False,
    })
    con.execute(f"SET enable_progress_bar = {'true' if progress else 'false'}")
    return con
