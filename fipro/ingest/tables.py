"""The quarter tables: put into their final form in the work folder, then swapped in.

The main pass writes each quarter's accepted rows as one or more part files; a quarter
that lost duplicate keys is rewritten with the first line of each key kept
(:func:`finalise_tables`). :func:`swap_in` replaces the previous tables and rejects with
the new ones (the manifest follows last, written by :mod:`fipro.ingest.run`).
"""

from __future__ import annotations

from pathlib import Path

from fipro import contract, datasets
from fipro.datasets import REJECTS_CSV, TABLE_DIR
from fipro.export import atomic_path
from fipro.ingest.rejects import write_rejects
from fipro.ingest.rules import quote


def finalise_tables(con, work: Path, quarter_dirs: dict, dup_keys: set, kept_first: list) -> dict[str, int]:
    """Each quarter's table as ``work/customer_quarter/<quarter>.parquet``; rows per quarter.

    A quarter written as one part file with no repeated key is moved as it is; otherwise
    its parts are copied into one file, without the lines of a repeated key except the
    first one (``kept_first``, read from the temporary table ``_recheck`` that
    :func:`fipro.ingest.rejects.recheck` left).
    """
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
                        f"UNION ALL BY NAME SELECT {', '.join(contract.COLUMN_NAMES)} FROM _kept WHERE BAS_YH = {quote(q)}")
                con.execute("CREATE OR REPLACE TEMP TABLE _dup_keys AS SELECT * FROM (VALUES "
                            + ", ".join(f"({quote(a.decode())}, {quote(b.decode())})" for a, b in dup_keys)
                            + ") t(BAS_YH, SEQ)")
                con.execute(f"CREATE OR REPLACE TEMP TABLE _kept AS SELECT * FROM _recheck WHERE line IN "
                            f"({', '.join(str(n) for n in kept_first) or 'NULL'})")
            con.execute(f"COPY (SELECT {', '.join(contract.COLUMN_NAMES)} FROM read_parquet("
                        f"{[str(f) for f in files]}){keep}) TO {quote(str(target))} (FORMAT parquet)")
        quarters[q] = con.execute(f"SELECT count(*) FROM read_parquet({quote(str(target))})").fetchone()[0]
    return quarters


def swap_in(work: Path, processed_dir: Path, rejects: list[dict]) -> None:
    """Replace the previous tables and rejects with the new ones (the manifest follows last).

    The rejects are written to temporary files first and renamed only after the tables
    are in place, so a failure anywhere leaves the previous rejects beside them.
    """
    new_tables = work / TABLE_DIR
    current = processed_dir / TABLE_DIR
    retired = work / "previous-tables"
    with atomic_path(datasets.rejects_path(processed_dir)) as rejects_tmp, \
            atomic_path(processed_dir / REJECTS_CSV) as csv_tmp:
        write_rejects(rejects, rejects_tmp, csv_tmp)
        if current.exists():
            current.rename(retired)
        new_tables.rename(current)


