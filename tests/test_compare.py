"""Peer comparison: percentiles on a known frame, the fallback to a wider group,
pseudonyms only (the EDA summaries are tested in test_eda.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame, raw_row
from fipro import compare, contract
from fipro.privacy import pseudonym


def test_mid_rank_percentile_on_a_known_list():
    assert compare.mid_rank_percentile(30, np.array([10, 20, 30, 40])) == pytest.approx(62.5)
    assert compare.mid_rank_percentile(5, np.array([10, 20])) == 0.0
    assert compare.mid_rank_percentile(50, np.array([10, 20])) == 100.0
    assert np.isnan(compare.mid_rank_percentile(1, np.array([])))


def test_percentiles_against_the_peer_group(peers_of_ten):
    result = compare.peer_comparison(peers_of_ten, "C")
    assert not result.fell_back and result.fallback_reason is None
    assert result.n_peers == 10
    assert result.group_ko == "30~34세 · 여 · 신혼"
    p = result.percentiles.set_index("category")
    assert p.loc["TOT_USE_AM", "percentile"] == pytest.approx(50.0)  # 5 of 10 peers below 55
    assert p.loc["TOT_USE_AM", "peer_median"] == pytest.approx(55.0)
    assert p.loc["FSBZ_AM", "percentile"] == pytest.approx(100.0)
    assert p.loc["DIST_AM", "percentile"] == pytest.approx(0.0)
    assert p.loc["AUTO_AM", "percentile"] == pytest.approx(50.0)  # all tied at 0


def test_top_differences_in_korean(peers_of_ten):
    result = compare.peer_comparison(peers_of_ten, "C", top_k=3)
    top = result.top_differences
    assert list(top["category"]) == ["FSBZ_AM", "DIST_AM"]  # only categories that differ
    assert top.loc[0, "diff_pp"] == pytest.approx(100.0)
    assert top.loc[1, "diff_pp"] == pytest.approx(-100.0)
    assert "요식업" in top.loc[0, "sentence_ko"] and "높음" in top.loc[0, "sentence_ko"]
    assert "유통" in top.loc[1, "sentence_ko"] and "낮음" in top.loc[1, "sentence_ko"]


def test_tiny_group_falls_back_to_a_wider_group_and_says_so(peers_of_ten):
    df = peers_of_ten.copy()
    df.loc[df["SEQ"] == "C", "LIFE_STAGE"] = "UNI"  # alone in its life stage
    result = compare.peer_comparison(df, "C")
    assert result.fell_back
    assert result.by_used == ("AGE", "SEX_CD")
    assert result.group_ko == "30~34세 · 여"
    assert result.n_peers == 10
    assert "라이프스테이지" in result.fallback_reason and "0명" in result.fallback_reason
    assert result.fallback_reason in result.summary_ko()


def test_fallback_drops_sex_next_then_everyone():
    rows = [raw_row("C", LIFE_STAGE="UNI")] + [raw_row(f"m{i}", SEX_CD="1", LIFE_STAGE="UNI") for i in range(4)]
    rows += [raw_row(f"o{i}", AGE="60", SEX_CD="1", LIFE_STAGE="RETIR") for i in range(8)]
    df = raw_frame(rows, categorical=True)
    assert compare.peer_comparison(df, "C", min_peers=4).by_used == ("AGE",)
    widest = compare.peer_comparison(df, "C", min_peers=10)
    assert widest.by_used == () and widest.group_ko == "전체 고객" and widest.n_peers == 12
    with pytest.raises(ValueError):
        compare.peer_comparison(df, "C", min_peers=50)


def test_missing_code_is_dropped_from_the_grouping(peers_of_ten):
    df = peers_of_ten.copy()
    df["LIFE_STAGE"] = df["LIFE_STAGE"].astype(object)
    df.loc[df["SEQ"] == "C", "LIFE_STAGE"] = None
    result = compare.peer_comparison(df, "C")
    assert result.fell_back and "라이프스테이지 정보가 없어" in result.fallback_reason
    assert result.by_used == ("AGE", "SEX_CD")


def test_other_groupings_are_allowed(peers_of_ten):
    result = compare.peer_comparison(peers_of_ten, "C", by=("MBR_RK",))
    assert result.group_ko == "골드" and result.n_peers == 15
    with pytest.raises(ValueError):
        compare.peer_comparison(peers_of_ten, "C", by=("NOT_A_COLUMN",))


def test_only_the_pseudonym_appears(peers_of_ten):
    df = peers_of_ten.copy()
    df["SEQ"] = df["SEQ"].replace({"C": "SECRET-777"})
    result = compare.peer_comparison(df, "SECRET-777")
    text = result.summary_ko() + repr(result) + result.percentiles.to_string() + result.top_differences.to_string()
    assert "SECRET-777" not in text
    assert result.customer == pseudonym("SECRET-777") and result.customer in result.summary_ko()


def test_summary_shows_amounts_with_their_unit(peers_of_ten):
    text = compare.peer_comparison(peers_of_ten, "C").summary_ko()
    assert contract.format_amount(55) in text  # 5.5만원
    assert "만원" in text


def test_unknown_customer_raises(peers_of_ten):
    with pytest.raises(KeyError):
        compare.peer_comparison(peers_of_ten, "nobody")


def test_input_frame_not_modified(peers_of_ten):
    before = peers_of_ten.copy(deep=True)
    compare.peer_comparison(peers_of_ten, "C")
    pd.testing.assert_frame_equal(peers_of_ten, before)


def test_example_customer_is_deterministic_and_has_a_full_group(peers_of_ten):
    seq = compare.example_customer(peers_of_ten)
    assert seq == compare.example_customer(peers_of_ten.sample(frac=1, random_state=3))
    assert not compare.peer_comparison(peers_of_ten, seq).fell_back


def test_stripped_strings_of_a_categorical_equals_the_string_conversion():
    s = pd.Series(pd.Categorical([" 30", None, "40", "30 "], categories=[" 30", "40", "30 ", "50"]),
                  index=[5, 6, 7, 8], name="AGE")
    pd.testing.assert_series_equal(compare.stripped_strings(s), s.astype("string").str.strip())
