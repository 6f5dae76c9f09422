"""Tests of fipro.ingest on generated good and messy raw files (all under tmp_path)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import raw_row
from messy import write_messy

from fipro import benchmark, config, contract, datasets, ingest, synth

SEED = 7
# write_messy's defect names -> the rejection reason ingest must give (None: normalised, accepted)
EXPECTED_REASON = {
    "upper_q": None,
    "padded_codes": None,
    "blank_amount": "blank amount",
    "non_numeric_amount": "non-numeric amount",
    "negative_amount": "negative amount",
    "duplicate_key": "duplicate key",
    "unknown_code": "unknown code",
    "short_line": "short line",
}


@pytest.fixture(scope="module")
def good_raw(tmp_path_factory) -> Path:
    """A small clean synthetic file (LF, UTF-8) as the generator writes it."""
    path = tmp_path_factory.mktemp("good") / "edu_data_F.csv"
    return synth.write_synthetic(path, scale="sample", seed=SEED, n_customers=150, progress=False)


def _ingest(raw: Path, out: Path, **kw) -> ingest.IngestResult:
    return ingest.ingest_raw(raw, processed_dir=out, progress=False, **kw)


def _lines(raw: Path) -> list[str]:
    return raw.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str], line_end: str = "\n") -> Path:
    path.write_bytes((line_end.join(lines) + line_end).encode("utf-8"))
    return path


# --- messy files: every variant the contract allows ------------------------------

@pytest.mark.parametrize("name, encoding, bom, line_end", [
    ("EDU_DATA_F.dat", "cp949", False, "\n"),
    ("edu_data_F.csv", "utf-8", True, "\r\n"),
    ("edu_data_F.CSV", "utf-8", False, "\n"),
    ("EDU_DATA_F.dat", "cp949", False, "\r\n"),
])
def test_each_defect_is_rejected_with_its_line_and_reason(tmp_path, name, encoding, bom, line_end):
    manifest = write_messy(tmp_path / "raw" / name, n_customers=120, seed=SEED,
                           encoding=encoding, bom=bom, line_end=line_end)
    result = _ingest(tmp_path / "raw" / name, tmp_path / "proc")
    rejects = ingest.load_rejects(tmp_path / "proc")
    got = dict(zip(rejects["line"].astype(int), rejects["reason"]))
    expected = {int(line): EXPECTED_REASON[note["defect"]] for line, note in manifest["lines"].items()
                if EXPECTED_REASON[note["defect"]] is not None}
    assert got == expected
    assert result.rows_read == manifest["n_data_lines"]
    assert result.rows_accepted + result.rows_rejected == result.rows_read
    assert sum(result.rejects_by_reason.values()) == result.rows_rejected


def test_normalisable_variants_are_accepted_in_normal_form(tmp_path):
    manifest = write_messy(tmp_path / "raw.csv", n_customers=120, seed=SEED, encoding="utf-8",
                           defects={"upper_q": 3, "padded_codes": 3})
    result = _ingest(tmp_path / "raw.csv", tmp_path / "proc")
    assert result.rows_rejected == 0
    assert all(q == q.lower() for q in result.quarters)
    for q in result.quarters:
        frame = ingest.load_quarter(q, processed_dir=tmp_path / "proc")
        assert (frame["BAS_YH"] == q).all()
        for column in contract.CODE_COLUMNS:
            assert frame[column].notna().all(), column  # padded codes became table codes
    assert result.rows_accepted == manifest["n_data_lines"]


def test_hand_made_row_problems_get_documented_reasons(tmp_path, good_raw):
    lines = _lines(good_raw)
    header = lines[0].split(",")
    idx = {c: i for i, c in enumerate(header)}

    def edit(n: int, **cells) -> None:
        fields = lines[n - 1].split(",")
        for column, value in cells.items():
            fields[idx[column]] = value
        lines[n - 1] = ",".join(fields)

    edit(3, FUNITR_AM="1.5")
    edit(4, CRDSL_USE_AM=str(10**6))
    edit(5, BAS_YH="2023-1")
    edit(6, AGE="")
    edit(7, SEQ=" ")
    edit(8, ATT_YM="202213")
    edit(9, ATT_YM="")  # accepted as missing
    edit(10, LIFE_STAGE=" uni ", DIGT_CHNL_USE_YN="y")  # normalised, accepted
    lines[10] = lines[10] + ",7"  # line 11: one field too many
    lines.insert(12, "")  # line 13: blank line inside the data
    raw = _write(tmp_path / "edu_data_F.csv", lines, "\r\n")
    result = _ingest(raw, tmp_path / "proc")
    rejects = ingest.load_rejects(tmp_path / "proc").set_index("line")
    assert rejects["reason"].to_dict() == {
        3: "fractional amount", 4: "part above total", 5: "invalid quarter", 6: "blank code",
        7: "blank key", 8: "invalid ATT_YM", 11: "long line", 13: "blank line"}
    assert rejects.loc[3, "column"] == "FUNITR_AM" and rejects.loc[3, "value"] == "1.5"
    assert result.rows_read == len(lines) - 1
    assert result.rows_accepted + result.rows_rejected == result.rows_read


def test_duplicate_key_keeps_the_first_line(tmp_path, good_raw):
    lines = _lines(good_raw)
    first = lines[5].split(",")
    copy = list(first)
    copy[contract.COLUMN_NAMES.index("TOT_USE_AM")] = str(int(first[10]) + 5)  # same key, other content
    copy[contract.COLUMN_NAMES.index("CNF_USE_AM")] = str(int(first[12]) + 5)
    lines.insert(20, ",".join(copy))  # physical line 21
    raw = _write(tmp_path / "edu_data_F.csv", lines)
    _ingest(raw, tmp_path / "proc")
    rejects = ingest.load_rejects(tmp_path / "proc")
    assert rejects[["line", "reason", "value"]].values.tolist() == [[21, "duplicate key", "first at line 6"]]
    frame = ingest.load_quarter(first[0], processed_dir=tmp_path / "proc")
    kept = frame[frame["SEQ"] == first[1]]
    assert len(kept) == 1 and int(kept["TOT_USE_AM"].iloc[0]) == int(first[10])


def test_rejects_csv_lists_line_reason_column_and_raw_value(tmp_path):
    write_messy(tmp_path / "raw.csv", n_customers=120, seed=SEED, encoding="utf-8",
                defects={"non_numeric_amount": 1})
    _ingest(tmp_path / "raw.csv", tmp_path / "proc")
    table = pd.read_csv(tmp_path / "proc" / "rejects.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["line", "reason", "column", "raw_value", "reason_ko"]
    assert table["reason"].tolist() == ["non-numeric amount"]
    assert table["reason_ko"].tolist() == [ingest.REASON_KO["non-numeric amount"]]
    assert table["raw_value"].iloc[0] in ("N/A", "12a", "abc")


# --- the processed tables ------------------------------------------------------------

def test_load_quarter_gives_contract_columns_and_types(tmp_path, good_raw):
    result = _ingest(good_raw, tmp_path / "proc")
    frame = ingest.load_quarter(result.quarters[0], processed_dir=tmp_path / "proc")
    assert tuple(frame.columns) == contract.COLUMN_NAMES
    for column in contract.CODE_COLUMNS:
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
        assert list(frame[column].cat.categories) == list(contract.CODE_TABLES[column])
    for column in contract.AMOUNT_COLUMNS:
        assert frame[column].dtype == "int64"
    for column in ("BAS_YH", "SEQ", "ATT_YM"):
        assert pd.api.types.is_string_dtype(frame[column])
    subset = ingest.load_quarter(result.quarters[0], columns=["TOT_USE_AM", "SEQ"], processed_dir=tmp_path / "proc")
    assert list(subset.columns) == ["SEQ", "TOT_USE_AM"]  # contract order


def test_load_quarter_errors_name_what_is_missing(tmp_path, good_raw):
    _ingest(good_raw, tmp_path / "proc")
    with pytest.raises(FileNotFoundError, match="2031q1"):
        ingest.load_quarter("2031q1", processed_dir=tmp_path / "proc")
    with pytest.raises(KeyError, match="NOPE"):
        ingest.load_quarter("2023q1", columns=["NOPE"], processed_dir=tmp_path / "proc")


def test_layout_and_manifest(tmp_path, good_raw):
    result = _ingest(good_raw, tmp_path / "proc")
    proc = tmp_path / "proc"
    assert sorted(p.name for p in (proc / "customer_quarter").iterdir()) == [f"{q}.parquet" for q in result.quarters]
    assert ingest.available_quarters(proc) == result.quarters
    manifest = ingest.read_manifest(proc)
    assert manifest["size"] == good_raw.stat().st_size
    assert manifest["hash"]["algorithm"] == "sha256" and len(manifest["hash"]["hexdigest"]) == 64
    assert manifest["rows_accepted"] + manifest["rows_rejected"] == manifest["rows_read"]
    assert sum(manifest["quarters"].values()) == manifest["rows_accepted"]
    assert not [p for p in proc.iterdir() if p.name.startswith(".ingest-")]  # temp folder gone


# --- idempotence -------------------------------------------------------------------------

def test_second_run_is_skipped_and_leaves_manifest_untouched(tmp_path, good_raw):
    _ingest(good_raw, tmp_path / "proc")
    manifest = tmp_path / "proc" / "manifest.json"
    before = (manifest.stat().st_mtime_ns, manifest.read_bytes())
    again = _ingest(good_raw, tmp_path / "proc")
    assert again.skipped
    assert (manifest.stat().st_mtime_ns, manifest.read_bytes()) == before


def test_touched_but_unchanged_file_is_skipped_by_its_hash(tmp_path, good_raw):
    raw = tmp_path / "edu_data_F.csv"
    raw.write_bytes(good_raw.read_bytes())
    _ingest(raw, tmp_path / "proc")
    manifest_bytes = (tmp_path / "proc" / "manifest.json").read_bytes()
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    assert _ingest(raw, tmp_path / "proc").skipped
    assert (tmp_path / "proc" / "manifest.json").read_bytes() == manifest_bytes


def test_changed_file_is_reingested(tmp_path, good_raw):
    raw = tmp_path / "edu_data_F.csv"
    lines = _lines(good_raw)
    _write(raw, lines)
    first = _ingest(raw, tmp_path / "proc")
    _write(raw, lines[:-10])
    second = _ingest(raw, tmp_path / "proc")
    assert not second.skipped
    assert second.rows_read == first.rows_read - 10
    assert ingest.read_manifest(tmp_path / "proc")["rows_read"] == second.rows_read


def test_force_reingests_an_unchanged_file(tmp_path, good_raw):
    _ingest(good_raw, tmp_path / "proc")
    assert not _ingest(good_raw, tmp_path / "proc", force=True).skipped


# --- whole-file errors ---------------------------------------------------------------------

def _assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())


def test_missing_columns_stop_with_file_and_column_names(tmp_path, good_raw):
    lines = [",".join(c.split(",")[:-2]) for c in _lines(good_raw)]
    raw = _write(tmp_path / "edu_data_F.csv", lines)
    with pytest.raises(ingest.RawFileError, match=r"edu_data_F\.csv.*missing columns.*ACDM_AM.*MBRSHOP_AM") as info:
        _ingest(raw, tmp_path / "proc")
    assert info.value.columns == ["ACDM_AM", "MBRSHOP_AM"]
    _assert_nothing_written(tmp_path / "proc")


def test_unknown_column_stops_with_its_name(tmp_path, good_raw):
    lines = _lines(good_raw)
    lines[0] = lines[0].replace("AUTO_AM", "AUTOX_AM")
    raw = _write(tmp_path / "edu_data_F.csv", lines)
    with pytest.raises(ingest.RawFileError, match=r"unknown columns \['AUTOX_AM'\]"):
        _ingest(raw, tmp_path / "proc")
    _assert_nothing_written(tmp_path / "proc")


def test_empty_file_stops(tmp_path):
    raw = tmp_path / "edu_data_F.csv"
    raw.write_bytes(b"")
    with pytest.raises(ingest.RawFileError, match=r"edu_data_F\.csv: the file is empty"):
        _ingest(raw, tmp_path / "proc")
    _assert_nothing_written(tmp_path / "proc")


def test_header_only_file_stops(tmp_path):
    raw = _write(tmp_path / "edu_data_F.csv", [",".join(contract.COLUMN_NAMES)])
    with pytest.raises(ingest.RawFileError, match="no data lines"):
        _ingest(raw, tmp_path / "proc")
    assert not (tmp_path / "proc" / "manifest.json").exists()
    assert not (tmp_path / "proc" / "customer_quarter").exists()


def test_unreadable_encoding_stops(tmp_path):
    raw = tmp_path / "edu_data_F.csv"
    raw.write_bytes(",".join(contract.COLUMN_NAMES).encode() + b"\n2023q1,1,\xff\xfe\xff,1\n")
    with pytest.raises(ingest.RawFileError, match="unreadable text encoding"):
        _ingest(raw, tmp_path / "proc")
    _assert_nothing_written(tmp_path / "proc")


def test_failed_run_keeps_the_previous_good_state(tmp_path, good_raw):
    _ingest(good_raw, tmp_path / "proc")
    before = {p.name: p.read_bytes() for p in (tmp_path / "proc").rglob("*") if p.is_file()}
    bad = _write(tmp_path / "bad.csv", [",".join(contract.COLUMN_NAMES[:-1])] + ["x"])
    with pytest.raises(ingest.RawFileError):
        _ingest(bad, tmp_path / "proc")
    after = {p.name: p.read_bytes() for p in (tmp_path / "proc").rglob("*") if p.is_file()}
    assert after == before


# --- finding the raw file, the command line -------------------------------------------------

def test_find_raw_file_prefers_a_real_file_over_the_synthetic_one(tmp_path, good_raw):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    synthetic = synth.write_synthetic(raw_dir / "edu_data_F.csv", scale="sample", seed=SEED, n_customers=20,
                                      progress=False)
    assert ingest.find_raw_file(raw_dir) == synthetic
    real = raw_dir / "EDU_DATA_F.DAT"
    real.write_bytes(good_raw.read_bytes())
    assert ingest.find_raw_file(raw_dir) == real


def test_find_raw_file_names_the_folder_when_there_is_none(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ingest.RawFileError, match=str(tmp_path)):
        ingest.find_raw_file(tmp_path)


def test_cli_ingests_and_bare_scan_copies(tmp_path, good_raw, capsys):
    assert ingest.main(["--raw", str(good_raw), "--out-dir", str(tmp_path / "proc"), "--no-progress"]) == 0
    assert "accepted" in capsys.readouterr().out
    assert benchmark.bare_scan(good_raw, tmp_path / "bare") == tmp_path / "bare" / "bare_scan.parquet"
    assert (tmp_path / "bare" / "bare_scan.parquet").stat().st_size > 0


def test_cli_reports_whole_file_errors_with_exit_code(tmp_path, capsys):
    raw = tmp_path / "edu_data_F.csv"
    raw.write_bytes(b"")
    assert ingest.main(["--raw", str(raw), "--out-dir", str(tmp_path / "proc"), "--no-progress"]) == 2
    assert "edu_data_F.csv" in capsys.readouterr().err


def test_sample_is_ingested_into_eight_quarters(sample_quarters):
    assert sample_quarters == list(config.QUARTERS)
    manifest = ingest.read_manifest()
    raw = Path(manifest["source"])
    data = raw.read_bytes()
    assert raw == ingest.find_raw_file() and manifest["source_name"] == raw.name and manifest["synthetic"] is True
    assert manifest["size"] == len(data) and manifest["mtime_ns"] == raw.stat().st_mtime_ns
    assert manifest["hash"] == {"algorithm": "sha256", "hexdigest": hashlib.sha256(data).hexdigest()}
    assert (manifest["encoding"], manifest["bom"], manifest["line_end"]) == ("utf-8", False, "CRLF")
    assert manifest["rows_read"] == data.count(b"\n") - 1  # the generator ends the file with a line end
    assert manifest["rows_accepted"] + manifest["rows_rejected"] == manifest["rows_read"]
    assert sum(manifest["rejects_by_reason"].values()) == manifest["rows_rejected"]
    assert list(manifest["quarters"]) == sample_quarters
    for quarter, rows in manifest["quarters"].items():
        assert rows == len(ingest.load_quarter(quarter, columns=["SEQ"]))


def test_load_quarter_returns_rows_in_seq_order_whatever_the_file_order(tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fipro import contract, ingest, synth

    raw, _ = synth.generate_frame(40, seed=5)
    quarter = raw["BAS_YH"].iloc[0]
    rows = raw[raw["BAS_YH"] == quarter].sample(frac=1.0, random_state=1)  # scrambled, as parallel writers leave it
    (tmp_path / ingest.TABLE_DIR).mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(rows.astype({c: str for c in contract.CODE_COLUMNS}), preserve_index=False),
                   tmp_path / ingest.TABLE_DIR / f"{quarter}.parquet")
    loaded = ingest.load_quarter(quarter, processed_dir=tmp_path)
    assert list(loaded["SEQ"]) == sorted(rows["SEQ"])
    only_amounts = ingest.load_quarter(quarter, columns=["TOT_USE_AM"], processed_dir=tmp_path)
    assert list(only_amounts.columns) == ["TOT_USE_AM"]
    expected = rows.sort_values("SEQ")["TOT_USE_AM"].to_numpy()
    assert (only_amounts["TOT_USE_AM"].to_numpy() == expected).all()
    assert isinstance(loaded["AGE"].dtype, pd.CategoricalDtype)


# --- the rule table: one declaration, two forms ------------------------------------------------

_BAD_CODE = {"AGE": "15", "SEX_CD": "3", "MBR_RK": "26", "HOUS_SIDO_NM": "평양", "DIGT_CHNL_REG_YN": "X",
             "DIGT_CHNL_USE_YN": "X", "LIFE_STAGE": "STUDENT"}


def _line(row: dict) -> str:
    return ",".join(str(row[c]) for c in contract.COLUMN_NAMES)


def _violation(rule: ingest.Rule, seq: int) -> bytes:
    """A hand-made line that breaks ``rule`` and nothing before it."""
    row = raw_row(str(seq))
    if rule.kind == "fields":
        line = _line(row)
        return (line.rsplit(",", 1)[0] if rule.arg < 0 else line + ",7").encode()
    if rule.kind == "encoding":
        return _line({**row, "HOUS_SIDO_NM": "@"}).encode().replace(b"@", b"\xff\xfe")
    cell = {"number": "12a", "pattern": "2023-1", "blank": " ", "optional_pattern": "202213", "missing": "",
            "negative": "-1", "fraction": "1.5", "above": "5"}.get(rule.kind)
    if rule.kind == "code":
        cell = _BAD_CODE[rule.column]
    return _line({**row, rule.column: cell}).encode()


def _expected(rule: ingest.Rule) -> tuple[str, str]:
    return rule.reason, (rule.column if not rule.by_reader or rule.kind == "number" else "")


def test_every_rule_gives_the_same_reason_through_sql_and_the_line_check():
    lines = [_violation(rule, i) for i, rule in enumerate(ingest.RULES)]
    through_sql = ingest.sql_check_lines(lines)
    for rule, line, sql in zip(ingest.RULES, lines, through_sql):
        by_line = ingest.check_line(line)
        assert (sql["reason"], sql["column"]) == _expected(rule), (rule, line)
        assert by_line == sql, (rule, line)


def test_a_clean_line_passes_both_forms_and_normalised_cells_are_accepted():
    lines = [_line(raw_row("1")), _line(raw_row("2", BAS_YH="2023Q1", AGE=" 30 ", LIFE_STAGE="new_wed",
                                                 ATT_YM="", TOT_USE_AM="12.0"))]
    empty = {"reason": None, "column": "", "value": "", "reasons": ""}
    assert [ingest.check_line(line) for line in lines] == [empty, empty]
    assert ingest.sql_check_lines(lines) == [empty, empty]


def test_line_check_lists_every_broken_rule_in_table_order():
    verdict = ingest.check_line(_line(raw_row("1", AGE="15", SEQ="", TOT_USE_AM=-3)))
    assert verdict["reason"] == "blank key" and verdict["value"] == ""
    assert verdict["reasons"] == ("blank key (SEQ); unknown code (AGE); negative amount (TOT_USE_AM); "
                                  "part above total (CRDSL_USE_AM); part above total (CNF_USE_AM)")
    assert ingest.sql_check_lines([_line(raw_row("1", AGE="15", SEQ="", TOT_USE_AM=-3))])[0] == verdict


def test_ingest_rejects_each_rule_violation_with_its_reason(tmp_path):
    # the encoding rule is left out: a file with invalid UTF-8 is read as CP949 or refused whole
    rules = [r for r in ingest.RULES if r.kind != "encoding"]
    header = ",".join(contract.COLUMN_NAMES).encode()
    good = _line(raw_row("good")).encode()
    body = [good] + [_violation(rule, i) for i, rule in enumerate(rules)]
    raw = tmp_path / "edu_data_F.csv"
    raw.write_bytes(b"\n".join([header, *body]) + b"\n")
    result = _ingest(raw, tmp_path / "proc")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (len(body), 1, len(rules))
    rejects = ingest.load_rejects(tmp_path / "proc").set_index("line")
    for i, rule in enumerate(rules):
        assert (rejects.loc[i + 3, "reason"], rejects.loc[i + 3, "column"]) == _expected(rule), rule
    assert set(result.rejects_by_reason) == {r.reason for r in rules}
    assert list(result.rejects_by_reason) == [r for r in ingest.REASONS if r in result.rejects_by_reason]


# the documented reasons (module docstring of fipro.ingest), in the order that names a rejected line,
# with the Korean text people read in rejects.csv and notebook 00; written out by hand, not from RULES
DOCUMENTED_REASONS_KO = {
    "short line": "필드 수 부족",
    "long line": "필드 수 초과",
    "invalid text encoding": "문자 인코딩 오류",
    "non-numeric amount": "숫자가 아닌 금액",
    "invalid quarter": "기준분기 형식 오류",
    "blank key": "고객번호(SEQ) 빈 값",
    "blank code": "코드 빈 값",
    "unknown code": "코드표에 없는 코드",
    "invalid ATT_YM": "입회년월 형식 오류",
    "blank amount": "금액 빈 값",
    "negative amount": "음수 금액",
    "fractional amount": "소수 금액",
    "part above total": "부분 금액이 총이용금액보다 큼",
    "duplicate key": "중복 키 (기준분기×고객번호)",
    "blank line": "빈 줄",
}


def test_every_reason_has_korean_text():
    assert ingest.REASONS == tuple(DOCUMENTED_REASONS_KO)
    assert ingest.REASON_KO == DOCUMENTED_REASONS_KO


# --- temporary folders of dead runs -------------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return child.pid


def test_next_ingest_removes_a_killed_runs_folder_and_keeps_a_live_ones(tmp_path, good_raw):
    proc = tmp_path / "proc"
    proc.mkdir()
    dead = proc / f".ingest-{_dead_pid()}-abc123"
    (dead / "parts").mkdir(parents=True)
    (dead / "parts" / "half.parquet").write_bytes(b"x" * 100)
    live_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.05)  # the folder is made after its process started, as ingest does
        live = proc / f".ingest-{live_process.pid}-def456"
        live.mkdir()
        unknown = proc / ".ingest-old_name"  # no pid: its owner cannot be told, so it stays
        unknown.mkdir()
        result = _ingest(good_raw, proc)
        assert not dead.exists()
        assert live.is_dir() and unknown.is_dir()
        assert not result.skipped and result.rows_accepted > 0
    finally:
        live_process.kill()
        live_process.wait()
    assert ingest.remove_dead_work_dirs(proc) == [live]


def test_work_folder_is_named_with_the_pid(tmp_path, good_raw, monkeypatch):
    seen = []
    real_ingest_into = ingest.run._ingest_into

    def spy(work, *args, **kwargs):
        seen.append(work.name)
        return real_ingest_into(work, *args, **kwargs)

    monkeypatch.setattr(ingest.run, "_ingest_into", spy)
    _ingest(good_raw, tmp_path / "proc")
    assert len(seen) == 1 and seen[0].startswith(f".ingest-{os.getpid()}-")
    assert not [p for p in (tmp_path / "proc").iterdir() if p.name.startswith(".ingest-")]


# --- a digest per quarter table, and reuse of the unchanged ones ---------------------------------

def _quarter_lines(quarter: str, n: int, **values) -> list[str]:
    """``n`` hand-made accepted lines of one quarter (customers q0 … q<n-1>, distinct amounts)."""
    return [_line(raw_row(f"c{i}", quarter, TOT_USE_AM=100 + i, CRDSL_USE_AM=i, **values)) for i in range(n)]


def _raw_file(path: Path, *blocks: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write(path, [",".join(contract.COLUMN_NAMES)] + [line for block in blocks for line in block])


def _tables(proc: Path) -> dict:
    """Quarter -> (bytes, mtime_ns) of its table file."""
    return {p.stem: (p.read_bytes(), p.stat().st_mtime_ns) for p in (proc / ingest.TABLE_DIR).glob("*.parquet")}


def test_quarter_digest_does_not_depend_on_row_order_or_other_quarters(tmp_path):
    q1, q2 = _quarter_lines("2022q1", 30), _quarter_lines("2022q2", 25)
    first = _raw_file(tmp_path / "a" / "edu_data_F.csv", q1, q2)
    # the same rows scrambled, 2022q2 spelled 2022Q2 (normalised on the way in), a third quarter beside them
    second = _raw_file(tmp_path / "b" / "edu_data_F.csv", q2[::-1], _quarter_lines("2022q3", 5),
                       [ln.replace("2022q1", "2022Q1") for ln in q1[10:] + q1[:10]])
    _ingest(first, tmp_path / "proc-a")
    _ingest(second, tmp_path / "proc-b")
    a = {q: datasets.quarter_digest(q, tmp_path / "proc-a") for q in ("2022q1", "2022q2", "2022q3")}
    b = {q: datasets.quarter_digest(q, tmp_path / "proc-b") for q in ("2022q1", "2022q2", "2022q3")}
    assert a["2022q1"] == b["2022q1"] and a["2022q2"] == b["2022q2"]
    assert a["2022q3"] is None and len(b["2022q3"]) == 64 and int(b["2022q3"], 16) >= 0
    assert len({b["2022q1"], b["2022q2"], b["2022q3"]}) == 3


def test_appending_a_quarter_writes_only_that_quarter(tmp_path):
    old = [_quarter_lines(q, 20) for q in ("2022q1", "2022q2", "2022q3")]
    old[0].insert(5, old[0][2])  # line 7 repeats line 4's key: 2022q1 is rewritten without it
    old[1].append(_line(raw_row("neg", "2022q2", TOT_USE_AM=-1)))  # line 43: negative amount
    raw = _raw_file(tmp_path / "edu_data_F.csv", *old)
    first = _ingest(raw, tmp_path / "proc")
    before = _tables(tmp_path / "proc")
    digests = ingest.read_manifest(tmp_path / "proc")["quarter_digests"]
    assert first.reused == [] and sorted(before) == ["2022q1", "2022q2", "2022q3"]

    new = _quarter_lines("2022q4", 15) + [_line(raw_row("blank", "2022q4", AGE=""))]  # line 79: blank code
    raw = _raw_file(tmp_path / "edu_data_F.csv", *old, new)
    second = _ingest(raw, tmp_path / "proc")
    after = _tables(tmp_path / "proc")
    manifest = ingest.read_manifest(tmp_path / "proc")
    assert {q: after[q] for q in before} == before  # same bytes, same mtime
    assert second.reused == manifest["quarters_reused"] == ["2022q1", "2022q2", "2022q3"]
    assert sorted(after) == ["2022q1", "2022q2", "2022q3", "2022q4"]
    assert {q: manifest["quarter_digests"][q] for q in digests} == digests
    assert manifest["quarter_digests"]["2022q4"] == datasets.quarter_digest("2022q4", tmp_path / "proc")
    assert manifest["quarter_digests"]["2022q4"] not in digests.values()
    assert manifest["quarters"] == {"2022q1": 20, "2022q2": 20, "2022q3": 20, "2022q4": 15}
    # rejects and counts are the whole longer file's
    assert (manifest["rows_read"], manifest["rows_accepted"], manifest["rows_rejected"]) == (78, 75, 3)
    assert manifest["rejects_by_reason"] == {"blank code": 1, "negative amount": 1, "duplicate key": 1}
    rejects = ingest.load_rejects(tmp_path / "proc")
    assert rejects[["line", "reason"]].values.tolist() == [[7, "duplicate key"], [43, "negative amount"],
                                                           [79, "blank code"]]
    assert len(ingest.load_quarter("2022q4", processed_dir=tmp_path / "proc")) == 15
    # without reuse the same tables get new files: the comparison above can fail
    _ingest(raw, tmp_path / "proc", force=True)
    forced = _tables(tmp_path / "proc")
    assert all(forced[q][1] != after[q][1] for q in after)
    assert ingest.read_manifest(tmp_path / "proc")["quarters_reused"] == []


def test_changing_one_row_changes_only_that_quarters_digest(tmp_path):
    blocks = [_quarter_lines(q, 20) for q in ("2022q1", "2022q2", "2022q3")]
    _ingest(_raw_file(tmp_path / "edu_data_F.csv", *blocks), tmp_path / "proc")
    digests = ingest.read_manifest(tmp_path / "proc")["quarter_digests"]
    before = _tables(tmp_path / "proc")
    blocks[1][7] = _line(raw_row("c7", "2022q2", TOT_USE_AM=108, CRDSL_USE_AM=8))  # was 107 / 7
    result = _ingest(_raw_file(tmp_path / "edu_data_F.csv", *blocks), tmp_path / "proc")
    changed = ingest.read_manifest(tmp_path / "proc")["quarter_digests"]
    assert [q for q in digests if changed[q] != digests[q]] == ["2022q2"]
    assert result.reused == ["2022q1", "2022q3"]
    after = _tables(tmp_path / "proc")
    assert after["2022q1"] == before["2022q1"] and after["2022q3"] == before["2022q3"]
    assert after["2022q2"][1] != before["2022q2"][1]
    frame = ingest.load_quarter("2022q2", processed_dir=tmp_path / "proc").set_index("SEQ")
    assert (frame.loc["c7", "TOT_USE_AM"], frame.loc["c7", "CRDSL_USE_AM"]) == (108, 8)


def test_a_quarter_no_longer_in_the_file_loses_its_table(tmp_path):
    blocks = [_quarter_lines(q, 10) for q in ("2022q1", "2022q2", "2022q3")]
    _ingest(_raw_file(tmp_path / "edu_data_F.csv", *blocks), tmp_path / "proc")
    before = _tables(tmp_path / "proc")
    result = _ingest(_raw_file(tmp_path / "edu_data_F.csv", blocks[0], blocks[2]), tmp_path / "proc")
    assert ingest.available_quarters(tmp_path / "proc") == ["2022q1", "2022q3"]
    assert not datasets.quarter_table_path("2022q2", tmp_path / "proc").exists()
    assert datasets.quarter_digest("2022q2", tmp_path / "proc") is None
    assert result.reused == ["2022q1", "2022q3"]
    assert _tables(tmp_path / "proc") == {q: before[q] for q in ("2022q1", "2022q3")}


def test_a_table_edited_since_the_last_ingest_is_written_anew(tmp_path):
    blocks = [_quarter_lines(q, 10) for q in ("2022q1", "2022q2")]
    _ingest(_raw_file(tmp_path / "edu_data_F.csv", *blocks), tmp_path / "proc")
    edited = datasets.quarter_table_path("2022q1", tmp_path / "proc")
    edited.write_bytes(b"not the table the manifest describes")
    result = _ingest(_raw_file(tmp_path / "edu_data_F.csv", *blocks, _quarter_lines("2022q3", 5)), tmp_path / "proc")
    assert result.reused == ["2022q2"]
    assert len(ingest.load_quarter("2022q1", processed_dir=tmp_path / "proc")) == 10


def test_a_manifest_without_digests_is_ingested_again_once(tmp_path, good_raw):
    _ingest(good_raw, tmp_path / "proc")
    path = tmp_path / "proc" / "manifest.json"
    manifest = json.loads(path.read_text())
    digests = manifest.pop("quarter_digests")
    path.write_text(json.dumps(manifest))  # as an ingest before the digests wrote it
    assert datasets.quarter_digest(next(iter(manifest["quarters"])), tmp_path / "proc") is None
    again = _ingest(good_raw, tmp_path / "proc")
    assert not again.skipped and again.reused == []
    assert ingest.read_manifest(tmp_path / "proc")["quarter_digests"] == digests
    assert _ingest(good_raw, tmp_path / "proc").skipped
