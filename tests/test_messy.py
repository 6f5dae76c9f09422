"""Tests for the messy raw-file writer the loader tests use (tests/messy.py)."""

from __future__ import annotations

import json

import pytest

from fipro import config, contract
from messy import MESSY_DEFECTS, write_messy


def test_messy_file_holds_exactly_the_declared_defects(tmp_path):
    path = tmp_path / "EDU_DATA_F.dat"
    manifest = write_messy(path, n_customers=60, seed=1)
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # Korean text in CP949
    lines = data.decode("cp949").split("\n")[:-1]
    assert len(lines) == manifest["n_lines"] and lines[0] == ",".join(contract.COLUMN_NAMES)
    cols = list(contract.COLUMN_NAMES)
    fields = {n: lines[n - 1].split(",") for n in range(1, len(lines) + 1)}
    d = manifest["defects"]
    assert set(d) == set(MESSY_DEFECTS) and all(len(v) == 2 for v in d.values())
    assert all("Q" in fields[n][0] for n in d["upper_q"])
    for n in d["padded_codes"]:
        col = manifest["lines"][n]["column"]
        value = fields[n][cols.index(col)]
        assert value != value.strip() and value.strip() in contract.CODE_TABLES[col]
    for name, check in (("blank_amount", lambda v: v == ""), ("negative_amount", lambda v: v.startswith("-")),
                        ("non_numeric_amount", lambda v: v != "" and not v.lstrip("-").isdigit())):
        for n in d[name]:
            assert check(fields[n][cols.index(manifest["lines"][n]["column"])]), name
    for n in d["unknown_code"]:
        col = manifest["lines"][n]["column"]
        assert fields[n][cols.index(col)] not in contract.CODE_TABLES[col]
    assert all(len(fields[n]) < 55 for n in d["short_line"])
    for n in d["duplicate_key"]:
        assert lines[n - 1] == lines[manifest["duplicate_of"][n] - 1]
    # every other line is clean: 55 fields, codes in the contract
    flagged = set(manifest["lines"])
    for n in range(2, len(lines) + 1):
        if n not in flagged:
            row = dict(zip(cols, fields[n]))
            assert len(fields[n]) == 55 and row["BAS_YH"] in config.QUARTERS and row["AGE"] in contract.AGE_CODES
    saved = json.loads(path.with_name(path.name + ".manifest.json").read_text(encoding="utf-8"))
    assert saved["defects"] == d


def test_messy_writer_is_parameterisable(tmp_path):
    path = tmp_path / "edu_data_F.csv"
    manifest = write_messy(path, n_customers=30, seed=2, defects={"short_line": 3}, encoding="utf-8",
                           bom=True, line_end="\r\n")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == manifest["n_lines"]
    assert list(manifest["defects"]) == ["short_line"] and len(manifest["defects"]["short_line"]) == 3
    assert set(manifest["lines"]) == set(manifest["defects"]["short_line"])


def test_messy_writer_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        write_messy(tmp_path / "x.dat", defects=["typo"])
    with pytest.raises(ValueError):
        write_messy(tmp_path / "x.dat", bom=True)  # BOM with CP949
