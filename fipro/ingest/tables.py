"""The quarter tables: put into their final form in the work folder, digested, swapped in.

The main pass writes each quarter's accepted rows as one or more part files; a quarter
that lost duplicate keys is rewritten with the first line of each key kept
(:func:`finalise_tables`). Each final table gets a content digest
(:func:`quarter_digests`). :func:`swap_in` replaces the previous tables and rejects with
the new ones, keeping a previous table file as it is (same bytes, same mtime) where its
quarter's digest is unchanged (:func:`reusable_quarters`); the manifest follows last,
written by :mod:`fipro.ingest.run`.

The digest
----------
Per quarter table: SHA-256 of the column names and types, the row count and the sum
(exact, as a 128-bit integer) of DuckDB's 64-bit ``hash()`` of each row's contract
columns. A sum does not depend on row order (the scan's threads write rows in any
order, so the Parquet bytes differ from run to run while the content does not), and a
table holds one quarter's rows only, so the digest does not depend on the raw file's
other quarters. Chosen over a digest of the sorted content because it is about nine
times cheaper: on the eight tables of a 767 k-row file (1/7 of full scale, 2 shared
cores) the sum took 0.18 s of CPU (0.32 s wall), an md5 of the rows' text aggregated in
``SEQ`` order 1.6 s (3.8 s wall; it must also hold or spill the sorted text), an
order-free sum of per-row md5s 2.0 s (5.3 s wall). In a whole ingest the digest step
took a median 0.36 s of about 6.5 s on that file and 1.1 s of about 23 s on a 2.3 M-row
one (so about 2.6 s at the full 5.38 M rows; whole-ingest times with and without it
were within the shared machine's noise). A changed table keeps its digest
only if the sums of 64-bit row hashes collide (about one chance in 2**64). DuckDB's
``hash()`` is not promised stable across DuckDB versions, so :data:`DIGEST_ALGORITHM`
names the version and a manifest written by another version reuses nothing (every
table is written once more).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb

from fipro import contract, datasets
from fipro.datasets import REJECTS_CSV, TABLE_DIR
from fipro.export import atomic_path
from fipro.ingest.rejects import write_rejects
from fipro.ingest.rules import quote

DIGEST_ALGORITHM = ("sha256 of the column types, the row count and the sum of DuckDB hash() of each row's "
                    f"contract columns (duckdb {duckdb.__version__})")


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


def swap_in(work: Path, processed_dir: Path, rejects: list[dict], keep=()) -> None:
    """Replace the previous tables and rejects with the new ones (the manifest follows last).

    The rejects are written to temporary files first and renamed only after the tables
    are in place, so a failure anywhere leaves the previous rejects beside them. The
    previous file of each quarter in ``keep`` (:func:`reusable_quarters`) is then moved
    back over its new twin of the same content, so it keeps its bytes and mtime; a failure
    before that leaves the new twin, which is as good. Previous tables of quarters the
    new file lacks go with the work folder.
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
        for quarter in keep:
            os.replace(retired / f"{quarter}.parquet", current / f"{quarter}.parquet")


def quarter_digests(con, tables: dict[str, Path]) -> dict[str, str]:
    """The content digest of each quarter table (see the module docstring), in one scan.

    Parameters
    ----------
    con : duckdb connection
    tables : dict
        Quarter -> its Parquet file.

    Returns
    -------
    dict
        Quarter -> 64 hexadecimal digits.
    """
    if not tables:
        return {}
    columns = ", ".join(contract.COLUMN_NAMES)
    files = [str(p) for p in tables.values()]
    sums = {Path(name): (rows, total) for name, rows, total in con.execute(
        f"SELECT filename, count(*), sum(hash({columns})) FROM read_parquet({files}, filename=true) "
        "GROUP BY filename").fetchall()}
    digests = {}
    for quarter, path in tables.items():
        types = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT {columns} FROM "
                            f"read_parquet({quote(str(path))}))").fetchall()
        rows, total = sums.get(Path(path), (0, 0))
        material = json.dumps([[list(t) for t in types], int(rows), str(int(total or 0))])
        digests[quarter] = hashlib.sha256(material.encode("utf-8")).hexdigest()
    return digests


def reusable_quarters(old_manifest: dict, digests: dict[str, str], processed_dir: Path) -> list[str]:
    """Quarters whose table in ``processed_dir`` can stay as it is, sorted.

    A quarter qualifies when the previous manifest (same :data:`DIGEST_ALGORITHM`) gave
    it the same digest as now and its file is still the one that manifest describes
    (same size and modification time: a file replaced or edited since is written anew).
    """
    if old_manifest.get("digest_algorithm") != DIGEST_ALGORITHM:
        return []
    old_digests = old_manifest.get("quarter_digests", {})
    old_files = old_manifest.get("quarter_files", {})
    keep = []
    for quarter, digest in digests.items():
        if old_digests.get(quarter) != digest:
            continue
        try:
            stat = datasets.quarter_table_path(quarter, processed_dir).stat()
        except FileNotFoundError:
            continue
        if old_files.get(quarter) == table_file_facts(stat):
            keep.append(quarter)
    return sorted(keep)


def table_file_facts(stat: os.stat_result) -> dict:
    """What the manifest records of a table file to know it again: size and mtime."""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
