"""EDA summaries: pooled shares, the quarter change with stayers, headlines and their
Korean sentences, patterns by sex, region and season, and notebook 01's record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import assert_intervals_bracket, committed_quarter, raw_frame, raw_row
from fipro import compare, config, contract, eda, runner
from fipro.privacy import pseudonym


def test_input_frame_not_modified(peers_of_ten):
    before = peers_of_ten.copy(deep=True)
    eda.eda_summary_ko(peers_of_ten, peers_of_ten)
    pd.testing.assert_frame_equal(peers_of_ten, before)


def test_category_shares_by_group_are_pooled():
    df = raw_frame([raw_row("a", TOT_USE_AM=100, FSBZ_AM=100),
                    raw_row("b", LIFE_STAGE="RETIR", TOT_USE_AM=300, DIST_AM=150)], categorical=True)
    overall = eda.category_share_by(df)
    assert overall.loc["전체", "요식업"] == pytest.approx(0.25)
    assert overall.loc["전체", "유통"] == pytest.approx(150 / 400)
    by_stage = eda.category_share_by(df, "LIFE_STAGE")
    assert list(by_stage.index) == ["신혼", "은퇴"]  # code order, Korean labels
    assert by_stage.loc["은퇴", "유통"] == pytest.approx(0.5)


def test_quarter_change_separates_stayers():
    prev = raw_frame([raw_row("a", "2022q4", TOT_USE_AM=100), raw_row("b", "2022q4", TOT_USE_AM=100)],
                     categorical=True)
    cur = raw_frame([raw_row("a", TOT_USE_AM=150), raw_row("c", TOT_USE_AM=30)], categorical=True)
    change = eda.quarter_change(cur, prev).set_index("category")
    assert change.loc["TOT_USE_AM", "change_pct"] == pytest.approx(-10.0)  # mean 100 → 90
    assert change.loc["TOT_USE_AM", "stayer_change_pct"] == pytest.approx(50.0)  # a: 100 → 150
    assert eda.quarter_change(cur, None)["change_pct"].isna().all()


def test_quarter_change_matches_ids_as_stripped_strings_and_ignores_missing_ids():
    prev = raw_frame([raw_row("a", "2022q4", TOT_USE_AM=100), raw_row("b", "2022q4", TOT_USE_AM=100)])
    cur = raw_frame([raw_row("a", TOT_USE_AM=150), raw_row("c", TOT_USE_AM=30)])
    cur["SEQ"] = pd.Series([" a ", None], dtype="object")
    change = eda.quarter_change(cur, prev)
    assert change.loc[0, "stayer_change_pct"] == pytest.approx(50.0)  # " a " is a
    assert change.loc[0, "stayers"] == 1


def test_headlines_computed_once_give_the_same_summary_and_metrics(two_quarters):
    current, previous = two_quarters
    peer = compare.peer_comparison(current, compare.example_customer(current, min_peers=1), min_peers=1)
    h = eda.eda_headlines(current, previous)
    assert eda.eda_summary_ko(current, previous, headlines=h) == eda.eda_summary_ko(current, previous)
    with_h = eda.eda_metrics(current, previous, peer, headlines=h)
    assert with_h == eda.eda_metrics(current, previous, peer)
    assert with_h["customers"] == 3 and with_h["top_upper_category"] == "유통"  # the values, not only the keys
    # the given headlines are the ones recorded (not computed a second time)
    assert eda.eda_metrics(current, previous, peer, headlines=dict(h, customers=-1))["customers"] == -1


def test_eda_summary_is_generated_from_the_numbers(peers_of_ten):
    text = eda.eda_summary_ko(peers_of_ten)
    h = eda.eda_headlines(peers_of_ten)
    assert f"{h['customers']:,}명" in text and h["top_upper_category"] in text
    assert "전분기 자료가 없어" in text


@pytest.fixture
def two_quarters():
    """a: 30~34 신혼, digital, 100 = 요식업 (일반/휴게음식), credit 60 + check 40;
    b: 60~64 은퇴, 300 with 유통 150 (세부 150), all credit; c: 30~34 신혼 spending nothing.
    The quarter before: a spent 50, d (gone since) 150."""
    current = raw_frame([
        raw_row("a", TOT_USE_AM=100, CRDSL_USE_AM=60, CNF_USE_AM=40, FSBZ_AM=100, RESTRNT_AM=100,
                DIGT_CHNL_USE_YN="Y"),
        raw_row("b", AGE="60", LIFE_STAGE="RETIR", TOT_USE_AM=300, CRDSL_USE_AM=300, DIST_AM=150, DISTBNP_AM=150),
        raw_row("c"),
    ], categorical=True)
    previous = raw_frame([raw_row("a", "2022q4", TOT_USE_AM=50), raw_row("d", "2022q4", TOT_USE_AM=150)],
                         categorical=True)
    return current, previous


def test_eda_metrics_records_headlines_and_the_worked_example(two_quarters):
    current, previous = two_quarters
    peer = compare.peer_comparison(current, "a", min_peers=1)  # the only peer: c, who spent 0
    m = eda.eda_metrics(current, previous, peer)
    # the mean total's 95% interval over customers (a seeded bootstrap) brackets it
    low, high, how = m.pop("mean_total_lo"), m.pop("mean_total_hi"), m.pop("intervals")
    assert low <= m["mean_total"] <= high and low < high and how["mean_total"]["customers"] == 3
    # every other number measured on customers carries its interval too (Wilson for the shares of
    # customers, a bootstrap otherwise); the stayers' change has one stayer (a) and none
    bounds = {k: m.pop(k) for k in [k for k in m if k.endswith(("_lo", "_hi"))]}
    assert_intervals_bracket({**m, **bounds, "mean_total_lo": low, "mean_total_hi": high, "intervals": how}, {
        "median_total", "zero_total_share", "credit_share", "digital_use_share", "total_change_pct"})
    assert how["zero_total_share"]["method"] == "wilson" and how["total_change_pct"]["customers"] == 4  # a b c d
    assert "total_stayer_change_pct" not in how
    assert m == {
        "customers": 3,
        "mean_total": pytest.approx(400 / 3),
        "median_total": 100.0,
        "zero_total_share": pytest.approx(1 / 3),
        "credit_share": pytest.approx(360 / 400),
        "digital_use_share": pytest.approx(1 / 3),
        "top_upper_category": "유통",
        "top_upper_share": pytest.approx(150 / 400),
        "top_detail_category": contract.label("DISTBNP_AM"),
        "top_detail_share": pytest.approx(150 / 400),
        "top_life_stage_by_mean_total": "은퇴",  # 300 against (100 + 0) / 2
        "top_age_by_mean_total": "60~64세",
        "total_change_pct": pytest.approx(100 * ((400 / 3) / 100 - 1)),  # mean 100 → 133.3
        "total_stayer_change_pct": pytest.approx(100.0),  # a: 50 → 100
        "life_stage_shares": {"NEW_WED": pytest.approx(2 / 3), "RETIR": pytest.approx(1 / 3)},
        "example_customer": pseudonym("a"),
        "example_group": "30~34세 · 여 · 신혼",
        "example_n_peers": 1,
        "example_fell_back": False,
        "example_total_percentile": 100.0,
    }
    assert all(type(v) in (int, float, str, bool, dict) for v in m.values())  # JSON-ready, no numpy scalars
    assert all(type(v) is float for v in m["life_stage_shares"].values())


def test_the_change_of_the_mean_total_pairs_each_customer_across_the_quarters():
    rng = np.random.default_rng(6)
    n = 600
    before = rng.lognormal(5, 1, n).round()
    previous = raw_frame([raw_row(str(i), "2022q4", TOT_USE_AM=float(v)) for i, v in enumerate(before)])
    # customers 0-499 stay and spend 10% more, 500-599 leave, 600-649 arrive
    now = np.r_[before[:500] * 1.1, rng.lognormal(5, 1, 50).round()]
    current = raw_frame([raw_row(str(i), TOT_USE_AM=float(v)) for i, v in zip(list(range(500)) + list(range(600, 650)), now)])
    a, b = eda.aligned_totals(current, previous)
    assert len(a) == 650 and np.isfinite(a).sum() == 550 and np.isfinite(b).sum() == 600
    assert (np.isfinite(a) & np.isfinite(b)).sum() == 500
    h = eda.eda_headlines(current, previous)
    assert_intervals_bracket(h, {"total_change_pct", "total_stayer_change_pct"})
    # every stayer +10% (give or take the whole-number amounts): a narrow interval around it
    assert 9.5 < h["total_stayer_change_pct_lo"] < h["total_stayer_change_pct_hi"] < 10.5
    # a repeated SEQ cannot be paired: the quarters are stacked, and the interval only widens
    repeated = current.copy()
    repeated.loc[repeated.index[-1], "SEQ"] = "0"
    a, b = eda.aligned_totals(repeated, previous)
    assert len(a) == 550 + 600 and not (np.isfinite(a) & np.isfinite(b)).any()


def test_eda_summary_names_the_change_of_the_mean_total_only_outside_the_intervals(two_quarters):
    current, previous = two_quarters
    # three customers: the means 133 and 100 lie within each other's intervals
    assert "95% 구간 안" in eda.eda_summary_ko(current, previous) and "늘었" not in eda.eda_summary_ko(current, previous)
    # against a previous quarter of 400 customers who all spent 1,000 (above any resampled mean of 0, 100, 300)
    far = pd.concat([previous.iloc[[0]]] * 400, ignore_index=True).assign(TOT_USE_AM=1000)
    text = eda.eda_summary_ko(current, far)
    assert "줄었고(두 분기의 95% 구간이 겹치지 않음)" in text and "구간 안" not in text


def test_eda_metrics_without_a_previous_quarter_leaves_the_change_undefined(two_quarters):
    current, previous = two_quarters
    before = current.copy(deep=True)
    m = eda.eda_metrics(current, None, compare.peer_comparison(current, "a", min_peers=1))
    assert np.isnan(m["total_change_pct"]) and np.isnan(m["total_stayer_change_pct"])
    pd.testing.assert_frame_equal(current, before)


def _mid_rank(value: float, peers: pd.Series) -> float:
    return 100.0 * ((peers < value).sum() + 0.5 * (peers == value).sum()) / len(peers)


def test_notebook_01_records_the_eda_headlines(sample_quarters):
    from test_notebooks import figure_problems

    from fipro import config, export, ingest

    quarter = committed_quarter("01_eda")  # nbval's run of the notebook: this one stands in for it
    assert quarter in sample_quarters
    path = runner.run_notebook("01_eda", quarter)
    assert figure_problems(path) == []
    m = export.load_metrics(quarter, "eda")
    current = ingest.load_quarter(quarter)
    assert m["customers"] == len(current)
    assert 100 < m["mean_total"] < 2000  # 천원; the real file's mean is ≈ 372
    assert m["mean_total"] == pytest.approx(current["TOT_USE_AM"].mean())
    assert m["credit_share"] == pytest.approx(current["CRDSL_USE_AM"].sum()
                                              / (current["CRDSL_USE_AM"].sum() + current["CNF_USE_AM"].sum()))
    assert m["digital_use_share"] == pytest.approx((current["DIGT_CHNL_USE_YN"].astype(str) == "Y").mean())
    assert m["top_upper_category"] in {contract.label(c) for c in contract.UPPER_COLUMNS}
    assert m["total_change_pct"] is None or -50 < m["total_change_pct"] < 50
    # the worked example: picked with the injected seed, a full peer group, its percentile by hand
    seq = compare.example_customer(current, min_peers=10, salt=str(config.RANDOM_SEED))
    assert m["example_customer"] == pseudonym(seq) and m["example_fell_back"] is False
    row = current.loc[current["SEQ"].astype(str) == seq].iloc[0]
    same = (current["AGE"] == row["AGE"]) & (current["SEX_CD"] == row["SEX_CD"]) & (
        current["LIFE_STAGE"] == row["LIFE_STAGE"]) & (current["SEQ"].astype(str) != seq)
    assert m["example_n_peers"] == same.sum() >= 10
    assert m["example_total_percentile"] == pytest.approx(_mid_rank(row["TOT_USE_AM"], current.loc[same, "TOT_USE_AM"]))
    # the sex, region and season section is written from this data, not typed
    import nbformat

    text = "\n".join(o.get("data", {}).get("text/markdown", "") for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "code" for o in c.get("outputs", []))
    sex = eda.sex_ratio(current)
    assert f"여성이 더 많이 쓰는 업종: {contract.label(sex.index[0])} {sex['ratio'].iloc[0]:.1f}배" in text
    assert "도 지역이 수도권보다 많이 쓰는 업종: " + contract.label(eda.region_index(current).index[0]) in text
    assert "계절성이 큰 업종: " in text


# --- patterns by sex, region and season ----------------------------------------------

def _pattern_rows():
    """Two women in 서울 (clothing 30 and 10), a man in 서울 (fuel 40) and a man in 전남
    (fuel 80, farming 20)."""
    return raw_frame([
        raw_row("w1", TOT_USE_AM=30, CLOTH_AM=30),
        raw_row("w2", TOT_USE_AM=10, CLOTH_AM=10),
        raw_row("m1", SEX_CD="1", TOT_USE_AM=40, FUEL_AM=40),
        raw_row("m2", SEX_CD="1", HOUS_SIDO_NM="전남", TOT_USE_AM=100, FUEL_AM=80, AGRICTR_AM=20),
    ], categorical=True)


def test_sex_ratio_compares_means_per_customer_most_female_first():
    ratio = eda.sex_ratio(_pattern_rows(), columns=["CLOTH_AM", "FUEL_AM"])
    assert ratio.loc["CLOTH_AM", "women"] == pytest.approx(20) and ratio.loc["FUEL_AM", "men"] == pytest.approx(60)
    assert np.isnan(ratio.loc["CLOTH_AM", "ratio"])  # men spend nothing on clothing: no ratio
    assert ratio.loc["FUEL_AM", "ratio"] == 0
    assert list(ratio.index) == ["FUEL_AM", "CLOTH_AM"]  # NaN ratios sort last
    shown = eda.table_ko(ratio)  # Korean only for a reader
    assert list(shown.columns) == ["여성", "남성", "여성/남성"] and shown.index.name == "업종"
    assert list(shown.index) == [contract.label("FUEL_AM"), contract.label("CLOTH_AM")]


def test_region_index_is_100_for_everyone_and_splits_capital_from_provinces():
    index = eda.region_index(_pattern_rows(), columns=["FUEL_AM", "AGRICTR_AM"])
    assert list(index.columns) == ["capital", "province"]  # groups present, in contract order
    assert index.loc["FUEL_AM", "capital"] == pytest.approx(100 * (40 / 3) / 30)  # capital mean / overall mean
    assert index.loc["AGRICTR_AM", "province"] == pytest.approx(400) and index.loc["AGRICTR_AM", "capital"] == 0
    assert list(index.index) == ["AGRICTR_AM", "FUEL_AM"]  # the most provincial category first
    assert list(eda.table_ko(index).columns) == ["수도권", "도 지역"] and eda.table_ko(index).columns.name == "지역"


def test_seasonal_index_averages_the_same_quarter_of_each_year(tmp_path):
    means = pd.DataFrame({"TRVL_AM": [10.0, 20, 50, 20, 10, 20, 50, 20], "BOOK_AM": [10.0] * 8},
                         index=pd.Index(list(config.QUARTERS), name="BAS_YH"))
    index = eda.seasonal_index(means)
    travel = index.loc["TRVL_AM"]
    assert list(index.columns) == ["q1", "q2", "q3", "q4"]
    assert travel["q3"] == pytest.approx(200) and travel["q1"] == pytest.approx(40)
    assert index.index[0] == "TRVL_AM"  # largest swing first
    assert list(eda.table_ko(index).columns) == ["1분기", "2분기", "3분기", "4분기"]
    text = eda.patterns_summary_ko(eda.sex_ratio(_pattern_rows()), eda.region_index(_pattern_rows()), index)
    assert "여행업 (3분기 최고 200, 1분기 최저 40)" in text and "농업" in text


def test_quarter_means_of_frames_given_as_a_mapping_or_one_at_a_time():
    frames = {"2022q4": raw_frame([raw_row("a", "2022q4", FUEL_AM=10), raw_row("b", "2022q4", FUEL_AM=30)]),
              "2023q1": raw_frame([raw_row("a", FUEL_AM=5)])}
    before = {q: f.copy() for q, f in frames.items()}
    means = eda.quarter_means(frames, columns=["FUEL_AM"])
    assert list(means.index) == ["2022q4", "2023q1"] and means.index.name == "BAS_YH"
    assert means["FUEL_AM"].tolist() == [20.0, 5.0]
    pd.testing.assert_frame_equal(eda.quarter_means(((q, f) for q, f in frames.items()), columns=["FUEL_AM"]), means)
    for q, f in frames.items():
        pd.testing.assert_frame_equal(f, before[q])


def test_quarter_means_of_each_quarter_as_loaded(sample_quarters):
    from fipro import datasets

    loaded = ((q, datasets.load_quarter(q, columns=["FUEL_AM"])) for q in sample_quarters[:2])
    means = eda.quarter_means(loaded, columns=["FUEL_AM"])
    first = datasets.load_quarter(sample_quarters[0], columns=["FUEL_AM"])
    assert list(means.index) == sample_quarters[:2]
    assert means.iloc[0, 0] == pytest.approx(first["FUEL_AM"].mean())


# --- overall levels beside their published values (issue 27) --------------------------

def _level(**kw):
    base = dict(name="t", column="SEX_CD", title_ko="제목", published={"1": 200.0, "2": 150.0}, source_ko="출처: 예시",
                tolerance=0.02, tolerance_ko="±2%")
    return eda.PublishedLevel(**{**base, **kw})


def _totals(groups, amounts, column="SEX_CD"):
    return pd.DataFrame({column: groups, "SEQ": [f"C{i}" for i in range(len(groups))], "TOT_USE_AM": amounts})


def test_level_table_indexes_measured_and_published_on_a_reference_group():
    frame = _totals(["1", "1", "2", "2"], [100, 300, 100, 200])  # men 200, women 150
    table = eda.level_table(frame, _level(reference_group="1"))
    assert table.at["1", "published"] == pytest.approx(100) and table.at["2", "published"] == pytest.approx(75)
    assert table.at["2", "measured"] == pytest.approx(75) and table.at["1", "measured"] == pytest.approx(100)
    assert list(table["rows"]) == [2, 2] and not table["assumed"].any()
    # one row per customer: the SE is the plain SE of the mean, as an index
    # one row per customer: the clustered SE is sqrt(sum of squared deviations) / n, as an index
    assert table.at["1", "se"] == pytest.approx(np.sqrt(100 ** 2 + 100 ** 2) / 2 / 200 * 100)


def test_the_quarter_level_from_the_moments_the_history_keeps_equals_the_one_from_the_tables(sample_quarters):
    from fipro import datasets, history
    from fipro.synth.levels import LEVELS_BY_NAME

    level = LEVELS_BY_NAME["quarter"]
    quarters = sample_quarters[:3]
    totals = pd.concat([datasets.load_quarter(q, columns=["BAS_YH", "SEQ", "TOT_USE_AM"]) for q in quarters],
                       ignore_index=True)
    moments = history.amount_moments(quarters)
    assert [m[0] for m in moments.values()] == [int((totals["BAS_YH"] == q).sum()) for q in quarters]
    pd.testing.assert_frame_equal(eda.level_table_from_moments(moments, level), eda.level_table(totals, level),
                                  rtol=1e-9)
    # a group without rows or without a published level is left out, as level_table leaves it
    partial = eda.level_table_from_moments({**moments, quarters[0]: (0, 0.0, 0.0), "1999q1": (5, 1.0, 1.0)}, level)
    assert list(partial.index) == quarters[1:]


def test_level_table_against_a_published_all_users_value_and_the_mean_of_groups():
    frame = _totals(["서울", "서울", "전남", "전남"], [120, 120, 80, 80], column="HOUS_SIDO_NM")
    level = _level(column="HOUS_SIDO_NM", published={"서울": 1930, "전남": 1530}, reference_value=1770,
                   assumed={"부산": 1700})
    table = eda.level_table(frame, level)
    assert list(table.index) == ["서울", "전남"]  # no rows for 부산: not shown
    assert table.at["서울", "published"] == pytest.approx(1930 / 1770 * 100)
    assert table.at["서울", "measured"] == pytest.approx(120)  # against the mean of all rows (100)
    by_groups = eda.level_table(frame, _level(column="HOUS_SIDO_NM", published={"서울": 1930, "전남": 1530}))
    assert by_groups.at["전남", "published"] == pytest.approx(1530 / 1730 * 100)
    assert by_groups.at["전남", "measured"] == pytest.approx(80)


def test_level_check_passes_within_tolerance_fails_outside_and_leaves_assumed_levels_unjudged():
    level = _level(column="HOUS_SIDO_NM", published={"서울": 110, "전남": 90}, reference_value=100, assumed={"부산": 100},
                   tolerance=0.01)
    frame = _totals(["서울"] * 2 + ["전남"] * 2 + ["부산"] * 2, [110, 110, 80, 80, 130, 130], column="HOUS_SIDO_NM")
    table = eda.level_check(eda.level_table(frame, level), level, n_se=0)
    # all-row mean 106.67: 서울 103.1 (published 110: out), 전남 75 (out), 부산 assumed
    assert table.at["부산", "assumed"] and pd.isna(table.at["부산", "within"])
    assert not table.at["서울", "within"] and not table.at["전남", "within"]
    close = _totals(["서울"] * 2 + ["전남"] * 2, [110.5, 110.5, 89.5, 89.5], column="HOUS_SIDO_NM")
    ok = eda.level_check(eda.level_table(close, level), level, n_se=0)
    assert ok.loc[["서울", "전남"], "within"].astype(bool).all()
