"""Raw EDU_DATA_F file -> validated, typed per-quarter Parquet tables.

``python -m fipro ingest [--raw FILE] [--out-dir DIR] [--force] [--no-progress]``

Layout written under ``config.PROCESSED_DIR`` (or ``--out-dir``)::

    customer_quarter/<quarter>.parquet   accepted rows, contract columns and order
    rejects.parquet                      one row per rejected physical line
    rejects.csv                          the same, for people (never read by code)
    manifest.json                        source, size, hash, counts, a digest per quarter
                                         table, time (written last)

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

Each quarter table also gets a content digest (``quarter_digests`` in the manifest,
read with :func:`fipro.datasets.quarter_digest`; how it is computed and why in
:mod:`fipro.ingest.tables`): it changes when and only when the quarter's accepted rows
change, whatever their order and whatever else the file holds. When a changed file is
ingested (the same file with a quarter appended, say), the whole file is scanned and
validated as always (rejects and counts are the whole file's), but a quarter whose digest
equals the last run's keeps its previous table file untouched (same bytes, same mtime,
so ``make`` sees no change; listed in ``quarters_reused``); new and changed quarters get
new files, and the tables of quarters the file no longer holds are removed. (The one scan
still writes every quarter into the work folder, and the copy of an unchanged quarter is
dropped there: which quarters changed is known only after the scan, and a second pass
to write only them would cost more than the writing it saves: on a 767 k-row file a scan
that only digests took 2.9 s, the scan that writes every quarter 5.1 s.) The previous
file is kept only if it is still the one the manifest describes (``quarter_files``:
size and mtime). ``force=True`` writes every table anew. A manifest written before the
digests existed is not skipped: the next run ingests once and records them.

Manifest fields of the tables::

    "quarters":         {"2022q1": 9625, ...}              rows per quarter table
    "quarter_digests":  {"2022q1": "06b569f9...", ...}     64 hex digits per table
    "digest_algorithm": "sha256 of the column types, ... (duckdb 2.0.1)"
    "quarter_files":    {"2022q1": {"size": 472247, "mtime_ns": 1796538240860383985}, ...}
    "quarters_reused":  ["2022q1", ...]                    tables kept as they were this run

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

Where things live
-----------------
=====================================  ==================================================
:mod:`fipro.ingest.sniff`              finding the raw file, encoding/line ends/header,
                                       the file hash, CP949 transcoding, byte-level flags
:mod:`fipro.ingest.rules`              the rule table (:data:`RULES`), :func:`check_line`
:mod:`fipro.ingest.sql`                DuckDB's reader and the main pass's SQL from the rules
:mod:`fipro.ingest.rejects`            finding rejected lines, naming their reason, the
                                       rejects files, :func:`sql_check_lines`
:mod:`fipro.ingest.tables`             the quarter tables' final form, their digests,
                                       the swap-in that keeps unchanged tables
:mod:`fipro.ingest.workdirs`           temporary work folders, removing a dead run's
:mod:`fipro.ingest.run`                :func:`ingest_raw` (the run, the manifest) and
                                       the command line :func:`main`
=====================================  ==================================================
"""

from __future__ import annotations

from fipro import config  # noqa: F401  (fipro.quality reads ingest.config)
# The layout and its loaders live in fipro.datasets; these names stay importable from here.
from fipro.datasets import (MANIFEST_FILE, REJECT_COLUMNS, REJECTS_CSV, REJECTS_FILE, TABLE_DIR,  # noqa: F401
                            available_quarters, load_quarter, load_rejects, read_manifest)
from fipro.ingest.rejects import sql_check_lines
from fipro.ingest.rules import REASON_KO, REASONS, RULES, SQL_RULES, Rule, check_line  # noqa: F401
from fipro.ingest.run import IngestResult, ingest_raw, main
from fipro.ingest.sniff import RawFileError, find_raw_file
from fipro.ingest.workdirs import WORK_PREFIX, remove_dead_work_dirs  # noqa: F401

__all__ = ["REASONS", "REASON_KO", "RULES", "IngestResult", "RawFileError", "Rule", "available_quarters",
           "check_line", "find_raw_file", "ingest_raw", "load_quarter", "load_rejects", "main", "read_manifest",
           "remove_dead_work_dirs", "sql_check_lines"]
