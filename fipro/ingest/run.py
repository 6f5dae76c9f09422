"""One ingest run: the skip decision, the main pass, the counts check, the manifest.

:func:`ingest_raw` is the whole run and :func:`main` its command line
(``python -m fipro ingest``); the steps live in the sibling modules (see
:mod:`fipro.ingest`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fipro import datasets
from fipro.datasets import REJECT_COLUMNS, TABLE_DIR, read_manifest
from fipro.export import write_json_atomic
from fipro.ingest.rejects import cross_check, reader_verdicts, recheck, scan_lines
from fipro.ingest.rules import REASONS, quote
from fipro.ingest.sniff import (HASH_ALGORITHM, RawFileError, Shape, file_digest, find_raw_file, read_shape,
                                scan_flags, transcode)
from fipro.ingest.sql import REJECT_PART, connect, create_enums, main_query, read_csv_sql
from fipro.ingest.tables import (DIGEST_ALGORITHM, finalise_tables, quarter_digests, reusable_quarters, swap_in,
                                 table_file_facts)
from fipro.ingest.workdirs import make_work_dir, remove_dead_work_dirs

DESCRIPTION = "Raw EDU_DATA_F file -> validated, typed per-quarter Parquet tables."


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
    reused: list = field(default_factory=list)  # quarters whose previous table file was kept as it was

    def summary(self) -> str:
        """One line a person reads: what was used, what came out."""
        if self.skipped:
            return (f"{self.source}: unchanged since the last ingest "
                    f"({self.rows_accepted:,} rows accepted then); nothing to do")
        reasons = ", ".join(f"{k} {v:,}" for k, v in self.rejects_by_reason.items()) or "none"
        kept = f" (unchanged, kept as they were: {' '.join(self.reused)})" if self.reused else ""
        return (f"{self.source}: read {self.rows_read:,} rows = accepted {self.rows_accepted:,}"
                f" + rejected {self.rows_rejected:,} (reasons: {reasons}); quarters "
                f"{' '.join(self.quarters)}{kept}; {self.seconds:.1f} s")


_T0 = [time.perf_counter()]


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[ingest {time.perf_counter() - _T0[0]:5.1f}s] {message}", file=sys.stderr, flush=True)


def ingest_raw(path=None, processed_dir=None, force: bool = False, progress: bool = True) -> IngestResult:
    """Validate the raw file into per-quarter Parquet tables, rejects and a manifest.

    Parameters
    ----------
    path : path-like, optional
        The raw file; default :func:`find_raw_file` in ``config.RAW_DIR``.
    processed_dir : path-like, optional
        Output folder; default ``config.PROCESSED_DIR`` (read at call time).
    force : bool
        Re-ingest even when the manifest says the file is unchanged, and write every
        quarter table anew (no table is kept for an unchanged digest).
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
                            seconds=round(time.perf_counter() - start, 3), reused=list(old.get("quarters", {})))

    same_file = bool(old) and old.get("source") == str(path) and old.get("size") == stat.st_size
    tables_present = bool(old) and all(
        datasets.quarter_table_path(q, processed_dir).exists() for q in old.get("quarters", {}))
    # a manifest from before the per-quarter digests is not skipped: the run records them
    up_to_date = same_file and tables_present and "quarter_digests" in old
    if not force and up_to_date and old.get("mtime_ns") == stat.st_mtime_ns:
        return skipped()
    shape = read_shape(path)
    pool = ThreadPoolExecutor(max_workers=1)
    # hashlib releases the GIL: the file hash runs beside DuckDB unless the skip decision needs it
    hashing = pool.submit(file_digest, path)
    if not force and up_to_date:
        if old.get("hash", {}).get("hexdigest") == hashing.result()[0]:
            pool.shutdown()
            return skipped()

    def count_rows() -> int:
        _, newlines, ends_with_newline = hashing.result()
        return newlines + (0 if ends_with_newline else 1) - 1

    processed_dir.mkdir(parents=True, exist_ok=True)
    work = make_work_dir(processed_dir)
    try:
        result = _ingest_into(work, path, shape, count_rows, progress)
        file_hash = hashing.result()[0]
        rows_read = count_rows()
        quarters = result.pop("quarters")
        digests = result.pop("digests")
        by_reason = result.pop("rejects_by_reason")
        rejects = result.pop("rejects")
        rows_rejected = sum(by_reason.values())
        rows_accepted = sum(quarters.values())
        if rows_accepted + rows_rejected != rows_read:
            raise RuntimeError(f"{path}: accepted {rows_accepted:,} + rejected {rows_rejected:,} "
                               f"!= read {rows_read:,}; nothing written")
        reused = [] if force else reusable_quarters(old, digests, processed_dir)
        swap_in(work, processed_dir, rejects, keep=reused)
        table_files = {q: table_file_facts(datasets.quarter_table_path(q, processed_dir).stat()) for q in quarters}
        seconds = round(time.perf_counter() - start, 2)
        manifest = {
            "source": str(path),
            "source_name": path.name,
            "synthetic": kind == "synthetic stand-in",
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "hash": {"algorithm": HASH_ALGORITHM, "hexdigest": file_hash},
            "encoding": shape.encoding,
            "bom": shape.bom,
            "line_end": "CRLF" if shape.line_end == "\r\n" else "LF",
            "rows_read": rows_read,
            "rows_accepted": rows_accepted,
            "rows_rejected": rows_rejected,
            "rejects_by_reason": by_reason,
            "quarters": quarters,
            "quarter_digests": digests,
            "digest_algorithm": DIGEST_ALGORITHM,
            "quarter_files": table_files,
            "quarters_reused": reused,
            "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": seconds,
        }
        write_json_atomic(datasets.manifest_path(processed_dir), manifest)
    finally:
        pool.shutdown(wait=True)
        shutil.rmtree(work, ignore_errors=True)
    res = IngestResult(source=path, rows_read=rows_read, rows_accepted=rows_accepted,
                       rows_rejected=rows_rejected, rejects_by_reason=by_reason,
                       quarters=sorted(quarters), skipped=False, seconds=seconds, reused=reused)
    _log(progress, res.summary())
    return res


def _ingest_into(work: Path, path: Path, shape: Shape, rows_read_fn, progress: bool) -> dict:
    """Write the new tables into ``work``; return counts. Raises on any problem."""
    source = path
    if shape.encoding != "utf-8":
        _log(progress, f"transcoding {shape.encoding} -> UTF-8 (streamed)")
        source = transcode(path, shape, work / "source-utf8.csv")
    con = connect(work / "duckdb-tmp", progress)
    try:
        flags = scan_flags(source)
        reader = read_csv_sql(source, shape.header, "rj_main",
                               amount_type="DECIMAL(18,3)" if flags.dot else "BIGINT")
        parts_dir = work / "parts"
        create_enums(con)
        _log(progress, "validating and writing per-quarter Parquet (DuckDB)")
        con.execute(
            f"COPY ({main_query(reader, flags)}) "
            f"TO {quote(str(parts_dir))} (FORMAT parquet, PARTITION_BY (_part), WRITE_PARTITION_COLUMNS false)"
        )
        _log(progress, "main pass done; collecting rejects and checking keys")
        rejects = reader_verdicts(con, "rj_main", shape.header)
        reader_lines = {r["line"] for r in rejects}
        header_index = {c: i for i, c in enumerate(shape.header)}

        part_dirs = {p.name.split("=", 1)[1]: p for p in parts_dir.glob("_part=*")} if parts_dir.exists() else {}
        counts = {k: con.execute(f"SELECT count(*) FROM read_parquet({quote(str(d / '*.parquet'))})").fetchone()[0]
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
                    f"SELECT BAS_YH, SEQ FROM read_parquet({quote(str(part_dirs[REJECT_PART] / '*.parquet'))})"
                ).fetchall()}
            key_idx = (shape.header.index("BAS_YH"), shape.header.index("SEQ"))
            found = scan_lines(source, wanted, key_idx, blank_lines > 0, reader_lines)
            for number, body in found:
                if not body.strip():
                    rejects.append({"line": number, "reason": "blank line", "column": "", "value": "",
                                    "reasons": "blank line", "raw_line": body.decode("utf-8", "replace")})
            candidates = [(n, b) for n, b in found if b.strip()]
            rechecked = recheck(con, work, shape.header, candidates)
            cross_check(path, rechecked, dict(candidates), shape.header)
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
        quarters = finalise_tables(con, work, quarter_dirs, dup_keys, kept_first)
        _log(progress, "digesting the quarter tables")
        digests = quarter_digests(con, {q: work / TABLE_DIR / f"{q}.parquet" for q in quarters})
        for r in rejects:  # the offending cell as it stands in the file
            idx = header_index.get(r["column"])
            if idx is not None and r["reason"] not in ("short line", "long line"):
                fields = r["raw_line"].split(",")
                r["value"] = fields[idx] if idx < len(fields) else ""
        by_reason = {}
        for r in sorted(rejects, key=lambda r: REASONS.index(r["reason"]) if r["reason"] in REASONS else 99):
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        return {"quarters": quarters, "digests": digests, "rejects_by_reason": by_reason,
                "rejects": sorted(rejects, key=lambda r: r["line"])}
    finally:
        con.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fipro ingest", description=DESCRIPTION)
    parser.add_argument("--raw", type=Path, help="raw file (default: found in data/raw, real first)")
    parser.add_argument("--out-dir", type=Path, help="processed folder (default: data/processed)")
    parser.add_argument("--force", action="store_true", help="re-ingest even if the file is unchanged, writing every quarter table anew")
    parser.add_argument("--no-progress", action="store_true", help="no stage messages or progress bar")
    args = parser.parse_args(argv)
    try:
        result = ingest_raw(args.raw, args.out_dir, force=args.force, progress=not args.no_progress)
    except RawFileError as exc:
        print(f"ingest failed: {exc}", file=sys.stderr)
        return 2
    if args.no_progress:  # otherwise the run already said it on stderr
        print(result.summary())
    return 0
