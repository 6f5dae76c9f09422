"""The data contract: 55 columns, hierarchy, code tables, amount formatting."""

from __future__ import annotations

import pytest

from fipro import contract


def test_contract_has_the_55_columns_in_file_order():
    assert len(contract.COLUMN_NAMES) == 55
    assert contract.COLUMN_NAMES[:3] == ("BAS_YH", "SEQ", "AGE")
    assert contract.COLUMN_NAMES[-1] == "MBRSHOP_AM"
    assert len(set(contract.COLUMN_NAMES)) == 55


def test_column_groups_partition_the_columns():
    groups = [c.group for c in contract.COLUMNS]
    assert groups.count("key") == 2
    assert groups.count("total") == 3
    assert len(contract.UPPER_COLUMNS) == 10
    assert len(contract.DETAIL_COLUMNS) == 32
    assert len(contract.AMOUNT_COLUMNS) == 45
    assert all(name.endswith("_AM") for name in contract.AMOUNT_COLUMNS)


def test_hierarchy_covers_every_detail_once_or_documents_it_unassigned():
    assigned = [d for details in contract.HIERARCHY.values() for d in details]
    assert len(assigned) == len(set(assigned))
    assert sorted(assigned + list(contract.UNASSIGNED_DETAILS)) == sorted(contract.DETAIL_COLUMNS)
    assert set(contract.UNASSIGNED_DETAILS) == {"AGRICTR_AM", "MBRSHOP_AM"}
    assert all(contract.HIERARCHY[u] for u in contract.UPPER_COLUMNS)
    assert contract.HIERARCHY["OFFEDU_AM"] == ("OFFCOM_AM", "BOOK_AM", "ACDM_AM")


def test_code_tables_match_the_published_codes():
    assert list(contract.AGE_CODES) == [str(a) for a in range(20, 90, 5)] + ["기타"]
    assert list(contract.MBR_RK_CODES) == ["21", "22", "23", "24", "25"]
    assert len(contract.SIDO_CODES) == 17 and all(len(s) == 2 for s in contract.SIDO_CODES)
    assert set(contract.LIFE_STAGE_CODES) == {
        "UNI", "NEW_JOB", "NEW_WED", "CHILD_BABY", "CHILD_TEEN", "CHILD_UNI",
        "GOLLIFE", "SECLIFE", "RETIR", "TEEN",
    }
    assert contract.code_label("LIFE_STAGE", "CHILD_TEEN") == "자녀 의무교육"
    assert contract.code_label("SEX_CD", "2") == "여"
    assert set(contract.CODE_TABLES) == set(contract.CODE_COLUMNS)


def test_every_column_has_a_korean_label():
    for col in contract.COLUMNS:
        assert col.label_ko and any("\uac00" <= ch <= "\ud7a3" for ch in col.label_ko), col.name
    assert contract.label("RESTRNT_AM") == "일반/휴게음식"
    assert contract.label("NOT_A_COLUMN") == "NOT_A_COLUMN"


@pytest.mark.parametrize(
    ("thousand_won", "text"),
    [(372, "37.2만원"), (0.5, "500원"), (9.99, "9,990원"), (123_456, "1.23억원"), (-20, "-2.0만원"), (0, "0원")],
)
def test_format_amount_shows_won_units(thousand_won, text):
    assert contract.format_amount(thousand_won) == text


def test_amount_unit_is_one_configured_constant():
    assert contract.AMOUNT_UNIT_WON == 1_000
    assert contract.AMOUNT_UNIT_LABEL == "천원"
    assert contract.AMOUNT_PERIOD in ("monthly_average", "quarter_total")
