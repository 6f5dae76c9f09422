"""Data dictionary export and the owner's-spreadsheet check."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from fipro import config, contract, dictionary


def test_dictionary_xlsx_has_columns_sheet_and_one_sheet_per_code_table(tmp_path):
    xlsx, csv = dictionary.write_dictionary(tmp_path)
    wb = load_workbook(xlsx)
    assert wb.sheetnames[0] == "컬럼 정의"
    assert {"연령대", "성별", "회원등급", "거주지역", "디지털채널 여부", "라이프스테이지"} <= set(wb.sheetnames)
    ws = wb["컬럼 정의"]
    assert ws.freeze_panes == "A2"
    assert ws["B1"].font.bold
    assert ws.max_row == 56  # header + 55 columns
    ls = pd.read_excel(xlsx, sheet_name="라이프스테이지", dtype=str)
    assert dict(zip(ls["코드"], ls["의미"])) == contract.LIFE_STAGE_CODES


def test_dictionary_csv_twin_matches_the_contract(tmp_path):
    _, csv = dictionary.write_dictionary(tmp_path)
    frame = pd.read_csv(csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame["컬럼명"]) == list(contract.COLUMN_NAMES)
    assert frame.set_index("컬럼명").loc["ACDM_AM", "상위분류"] == "OFFEDU_AM"
    assert frame.set_index("컬럼명").loc["MBRSHOP_AM", "상위분류"] == ""


def test_dictionary_is_byte_stable_across_runs(tmp_path):
    a = dictionary.write_dictionary(tmp_path / "a")
    b = dictionary.write_dictionary(tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_committed_dictionary_is_up_to_date(tmp_path):
    _, csv = dictionary.write_dictionary(tmp_path)
    assert (config.REFERENCE_DIR / "data_dictionary.csv").read_bytes() == csv.read_bytes()


def _spec_workbook(path, names):
    wb = Workbook()
    ws = wb.active
    ws.append(["번호", "컬럼명", "설명"])
    for i, name in enumerate(names, start=1):
        ws.append([i, name, "설명"])
    wb.save(path)
    return path


def test_owner_spec_matching_the_contract_says_so(tmp_path):
    spec = _spec_workbook(tmp_path / "spec.xlsx", contract.COLUMN_NAMES)
    result = dictionary.compare_with_spec(spec)
    assert result.matches
    assert "일치" in result.summary_ko()


def test_owner_spec_differences_are_named_in_plain_words(tmp_path):
    names = [n for n in contract.COLUMN_NAMES if n != "HOS_AM"] + ["EXTRA_AM"]
    names[2], names[3] = names[3], names[2]
    spec = _spec_workbook(tmp_path / "우리 fisa 3기 명세.xlsx", names)
    (comparison,) = dictionary.check_owner_spec(tmp_path)
    assert comparison.missing_in_spec == ["HOS_AM"]
    assert comparison.unknown_in_spec == ["EXTRA_AM"]
    assert comparison.order_differs
    text = comparison.summary_ko()
    assert "HOS_AM" in text and "EXTRA_AM" in text and "순서" in text


def test_no_owner_spec_means_no_comparison(tmp_path):
    assert dictionary.check_owner_spec(tmp_path) == []


def test_dictionary_leaves_only_its_two_files(tmp_path):
    dictionary.write_dictionary(tmp_path)
    dictionary.write_dictionary(tmp_path)  # a rerun replaces them in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data_dictionary.csv", "data_dictionary.xlsx"]
