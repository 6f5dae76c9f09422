"""Features: each family's definition on tiny frames, the previous-quarter rule,
batch = serving, the contract (code vs feature_schema.json), the per-quarter files."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import committed_quarter, raw_frame, raw_row

from fipro import config, contract, datasets, export, features, runner


SPENDER = dict(TOT_USE_AM=200, CRDSL_USE_AM=150, CNF_USE_AM=50,
               FSBZ_AM=100, RESTRNT_AM=60, GROCERY_AM=40, TRVLEC_AM=100, TRVL_AM=100)


@pytest.fixture
def one():
    return features.build_features(raw_frame([raw_row(**SPENDER)])).iloc[0]


def test_log_amounts_are_log1p_of_the_raw_amount(one):
    assert one["log_TOT_USE_AM"] == pytest.approx(math.log1p(200))
    assert one["log_RESTRNT_AM"] == pytest.approx(math.log1p(60))
    assert one["log_AUTO_AM"] == 0.0


def test_shares_are_amount_over_total(one):
    assert one["share_FSBZ_AM"] == pytest.approx(0.5)
    assert one["share_TRVL_AM"] == pytest.approx(0.5)
    assert one["share_RESTRNT_AM"] == pytest.approx(0.3)
    assert one["credit_share"] == pytest.approx(0.75)
    assert one["check_share"] == pytest.approx(0.25)


def test_essential_split_of_the_detail_spending(one):
    # groceries (40) essential; restaurants (60) and travel (100) discretionary
    assert one["essential_share"] == pytest.approx(40 / 200)
    assert one["discretionary_share"] == pytest.approx(160 / 200)


def test_every_detail_category_is_classified_once_with_a_reason():
    assert set(contract.SPENDING_NATURE) == set(contract.DETAIL_COLUMNS)
    assert set(contract.ESSENTIAL_DETAILS).isdisjoint(contract.DISCRETIONARY_DETAILS)
    assert all(kind in (contract.ESSENTIAL, contract.DISCRETIONARY) and reason
               for kind, reason in contract.SPENDING_NATURE.values())


def test_diversity_counts_and_entropy(one):
    assert one["n_active_upper"] == 2
    assert one["n_active_detail"] == 3
    assert one["entropy_upper"] == pytest.approx(math.log(2))
    p = np.array([60, 40, 100]) / 200
    assert one["entropy_detail"] == pytest.approx(float(-(p * np.log(p)).sum()))


def test_tenure_digital_and_demographic_encodings(one):
    assert one["tenure_months"] == 38.0  # 2020-01 → 2023-03
    assert (one["digital_registered"], one["digital_active"]) == (1.0, 0.0)
    assert (one["age_band"], one["age_unknown"], one["sex_female"], one["grade_ordinal"]) == (30.0, 0, 1.0, 1.0)
    assert one["region_seoul"] == 1
    assert sum(one[f"region_{r}"] for r in features.REGION_ROMAN.values()) == 1
    assert one["LIFE_STAGE"] == "NEW_WED"


def test_unknown_codes_are_missing_not_zero():
    f = features.build_features(raw_frame([raw_row(AGE="기타", SEX_CD=None, MBR_RK="99", ATT_YM="2020",
                                                        HOUS_SIDO_NM=None, DIGT_CHNL_USE_YN=None)])).iloc[0]
    assert np.isnan(f["age_band"]) and f["age_unknown"] == 1
    assert np.isnan(f["sex_female"]) and np.isnan(f["grade_ordinal"])
    assert np.isnan(f["tenure_months"]) and np.isnan(f["digital_active"])
    assert sum(f[f"region_{r}"] for r in features.REGION_ROMAN.values()) == 0


def test_zero_total_gives_zero_shares_and_a_flag_never_inf_or_nan():
    f = features.build_features(raw_frame([raw_row(TOT_USE_AM=0)])).iloc[0]
    shares = [n for n in features.feature_names() if n.startswith("share_")] + ["credit_share", "check_share",
                                                                                 "essential_share", "entropy_detail"]
    assert all(f[n] == 0.0 for n in shares)
    assert f["zero_total"] == 1


def test_negative_amounts_count_as_zero():
    f = features.build_features(raw_frame([raw_row(TOT_USE_AM=100, FSBZ_AM=-20)])).iloc[0]
    assert f["share_FSBZ_AM"] == 0.0 and f["log_FSBZ_AM"] == 0.0


def test_change_uses_the_customers_previous_quarter():
    cur = raw_frame([raw_row("1", TOT_USE_AM=300, FSBZ_AM=100), raw_row("2", TOT_USE_AM=50)])
    prev = raw_frame([raw_row("1", "2022q4", TOT_USE_AM=100, FSBZ_AM=0)])
    f = features.build_features(cur, prev)
    assert f.loc[0, "qoq_log_TOT_USE_AM"] == pytest.approx(math.log1p(300) - math.log1p(100))
    assert f.loc[0, "qoq_log_FSBZ_AM"] == pytest.approx(math.log1p(100))  # from 0: defined, not inf
    assert f.loc[0, "qoq_log_AUTO_AM"] == 0.0
    assert f.loc[0, "no_prev_quarter"] == 0


def test_feature_missing_for_new_customer():
    cur = raw_frame([raw_row("1", TOT_USE_AM=300), raw_row("2", TOT_USE_AM=50)])
    prev = raw_frame([raw_row("1", "2022q4", TOT_USE_AM=100)])
    f = features.build_features(cur, prev)
    change = features.feature_names(family="change")
    assert f.loc[1, "no_prev_quarter"] == 1
    assert f.loc[1, [c for c in change if c.startswith("qoq_")]].isna().all()


def test_first_quarter_has_every_change_missing_and_flagged():
    f = features.build_features(raw_frame([raw_row("1", TOT_USE_AM=10), raw_row("2")]))
    assert f["no_prev_quarter"].eq(1).all()
    assert f.filter(like="qoq_").isna().all().all()


def test_previous_must_be_the_quarter_just_before():
    with pytest.raises(ValueError, match="expected 2022q4"):
        features.build_features(raw_frame([raw_row()]), raw_frame([raw_row(quarter="2022q3")]))


def test_repeated_customer_or_mixed_quarters_are_refused():
    with pytest.raises(ValueError, match="repeats a SEQ"):
        features.build_features(raw_frame([raw_row("1"), raw_row("1")]))
    with pytest.raises(ValueError, match="several quarters"):
        features.build_features(raw_frame([raw_row("1"), raw_row("2", quarter="2023q2")]))


def test_output_keys_order_and_columns_follow_the_contract():
    cur = raw_frame([raw_row("b"), raw_row("a"), raw_row("c")])
    f = features.build_features(cur)
    assert list(f.columns) == ["BAS_YH", "SEQ", *features.feature_names()]
    assert f["SEQ"].tolist() == ["b", "a", "c"]
    for spec in features.FEATURE_SPECS:
        assert str(f[spec.name].dtype) == spec.dtype, spec.name


def test_input_frames_are_not_modified():
    cur = raw_frame([raw_row("1", **SPENDER), raw_row("2")], categorical=True)
    prev = raw_frame([raw_row("1", "2022q4", TOT_USE_AM=5)], categorical=True)
    before_cur, before_prev = cur.copy(deep=True), prev.copy(deep=True)
    features.build_features(cur, prev)
    features.customer_features("1", cur, prev)
    pd.testing.assert_frame_equal(cur, before_cur)
    pd.testing.assert_frame_equal(prev, before_prev)


def test_categorical_and_string_codes_give_the_same_features():
    rows = [raw_row("1", **SPENDER), raw_row("2", AGE="기타", HOUS_SIDO_NM="부산")]
    pd.testing.assert_frame_equal(features.build_features(raw_frame(rows)),
                                  features.build_features(raw_frame(rows, categorical=True)))


def test_serving_path_equals_the_batch_row():
    rng = np.random.default_rng(7)
    rows = []
    for i in range(40):
        amounts = {c: int(rng.integers(0, 50)) for c in contract.UPPER_COLUMNS + contract.DETAIL_COLUMNS}
        amounts["TOT_USE_AM"] = int(rng.integers(0, 400)) if i % 9 else 0
        rows.append(raw_row(str(1000 + i), AGE=str(20 + 5 * (i % 14)), HOUS_SIDO_NM=list(contract.SIDO_CODES)[i % 17],
                            **amounts))
    cur = raw_frame(rows, categorical=True)
    prev = raw_frame([dict(r, BAS_YH="2022q4") for r in rows[::2]], categorical=True)
    batch = features.build_features(cur, prev)
    for i in range(len(rows)):  # every row: zero totals, new and returning customers
        seq = str(1000 + i)
        served = features.customer_features(seq, cur, prev)
        pd.testing.assert_frame_equal(served, batch.iloc[[i]].reset_index(drop=True), check_exact=True)


def test_serving_an_unknown_customer_raises():
    with pytest.raises(KeyError):
        features.customer_features("nobody", raw_frame([raw_row("1")]))


def test_model_features_are_numeric_and_exclude_the_label():
    names = features.model_feature_names()
    assert "LIFE_STAGE" not in names
    assert not any("life" in n.lower() for n in names)
    f = features.build_features(raw_frame([raw_row(**SPENDER)]))
    assert all(pd.api.types.is_numeric_dtype(f[n]) for n in names)
    assert set(features.feature_names("label")) == {"LIFE_STAGE"}
    with pytest.raises(ValueError):
        features.feature_names("nonsense")


def test_committed_schema_matches_the_code():
    path = config.REFERENCE_DIR / "feature_schema.json"
    committed = json.loads(path.read_text(encoding="utf-8"))
    regenerated = json.loads(json.dumps(features.feature_schema(), ensure_ascii=False))
    assert committed == regenerated, "run: python -m fipro.features --schema"
    assert [f["name"] for f in committed["features"]] == features.feature_names()


def test_schema_describes_every_feature_fully():
    for entry in features.feature_schema()["features"]:
        assert entry["description_ko"] and entry["sources"] and entry["missing_ko"]
        assert entry["value_range"] is not None or entry["categories"] is not None or entry["family"] == "change"


def test_write_feature_schema_to_a_path(tmp_path):
    out = features.write_feature_schema(tmp_path / "schema.json")
    assert json.loads(out.read_text(encoding="utf-8"))["n_features"] == len(features.FEATURE_SPECS)


def test_previous_quarter_and_quarter_spelling():
    assert datasets.previous_quarter("2023q1") == "2022q4"
    assert datasets.previous_quarter("2023Q3") == "2023q2"
    with pytest.raises(ValueError):
        datasets.normalise_quarter("2023-1")


def test_features_on_the_sample_stay_in_their_ranges(sample_quarters):
    quarter = sample_quarters[1] if len(sample_quarters) > 1 else sample_quarters[0]
    f = features.build_features(datasets.load_quarter(quarter),
                                datasets.load_quarter(datasets.previous_quarter(quarter))
                                if datasets.previous_quarter(quarter) in sample_quarters else None)
    for spec in features.FEATURE_SPECS:
        values = f[spec.name]
        if spec.value_range is None:
            continue
        lo, hi = spec.value_range
        finite = values.dropna().astype("float64")
        assert np.isfinite(finite).all(), spec.name
        if lo is not None:
            assert (finite >= lo - 1e-9).all(), spec.name
        if hi is not None:
            # shares may exceed 1 only if the file's categories exceed its total; measure it
            assert (finite <= hi + 1e-9).mean() > 0.99, spec.name


def test_load_features_builds_once_then_reads(sample_quarters, tmp_path):
    quarter = sample_quarters[0]
    built = features.load_features(quarter, rebuild=True)
    path = features.features_path(quarter)
    assert path.exists()
    mtime = path.stat().st_mtime_ns
    again = features.load_features(quarter)
    assert path.stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(built, again)
    assert len(built) == len(datasets.load_quarter(quarter, columns=["SEQ"]))
    assert path == datasets.features_path(quarter)
    assert not list(path.parent.glob(".*.tmp"))


def test_concurrent_builds_of_one_quarter_leave_one_whole_file(sample_quarters):
    from concurrent.futures import ThreadPoolExecutor

    quarter = sample_quarters[0]
    with ThreadPoolExecutor(2) as pool:
        frames = list(pool.map(lambda _: features.load_features(quarter, rebuild=True), range(2)))
    path = features.features_path(quarter)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frames[0])
    assert not list(path.parent.glob(".*.tmp"))


def test_command_line_builds_and_prints_timing(sample_quarters, capsys):
    quarter = sample_quarters[-1]
    assert features.main(["--quarter", quarter]) == 0
    out = capsys.readouterr().out
    assert quarter in out and "build" in out and " s" in out
    assert features.features_path(quarter).exists()
    assert features.main([]) == 2



def test_notebook_02_builds_and_records_the_features(sample_quarters):

    quarter = committed_quarter("02_feature_engineering")  # nbval's run of the notebook: this one stands in for it
    assert quarter in sample_quarters
    started_ns = time.time_ns() - 2 * 10**9  # file systems store mtimes coarser than the clock
    from test_notebooks import figure_problems

    executed = runner.run_notebook("02_feature_engineering", quarter)
    assert figure_problems(executed) == []  # every figure drawn, none shown as text
    m = export.load_metrics(quarter, "features")
    assert m["rows"] == len(datasets.load_quarter(quarter, columns=["SEQ"]))
    assert m["n_features"] == len(features.FEATURE_SPECS)
    assert m["n_model_features"] == len(features.model_feature_names())
    assert 0.0 <= m["no_prev_quarter_share"] < 0.5  # the sample's customers mostly stay
    assert m["change_missing_share"] == pytest.approx(m["no_prev_quarter_share"], abs=1e-9)
    assert m["non_finite_model_values"] == 0
    # the notebook rebuilt the cache (rather than reading an old one) and recorded what it built
    cache = features.features_path(quarter)
    assert cache.stat().st_mtime_ns >= started_ns
    assert features.is_fresh(quarter)
    assert pd.read_parquet(cache, columns=["SEQ"]).shape[0] == m["rows"]
    # what it recorded are the numbers of the features it wrote (its build time aside)
    recorded = features.feature_metrics(pd.read_parquet(cache), m["build_seconds"])
    assert m == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in recorded.items()}
    assert m["build_seconds"] > 0


# --- the cache: freshness and the report ----------------------------------------------------------

@pytest.fixture
def processed(tmp_path):
    """A private processed folder with two hand-made quarters (codes stored as text, as ingest does)."""
    rows = {"2022q4": [raw_row("1", "2022q4", TOT_USE_AM=100)],
            "2023q1": [raw_row("1", "2023q1", **SPENDER), raw_row("2", "2023q1", TOT_USE_AM=0)]}
    for quarter, quarter_rows in rows.items():
        path = datasets.quarter_table_path(quarter, tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        raw_frame(quarter_rows).to_parquet(path, index=False)
    return tmp_path


def _age(path, seconds: float = 10.0) -> None:
    """Make ``path`` look older than everything around it."""
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def test_cache_is_stale_when_the_data_contract_changes(processed, tmp_path_factory, monkeypatch):
    assert Path(contract.__file__).resolve() in features.cache.CODE_INPUTS
    features.load_features("2023q1", processed)
    assert features.is_fresh("2023q1", processed)
    contract_copy = tmp_path_factory.mktemp("code") / "contract.py"
    contract_copy.write_text("# edited")
    monkeypatch.setattr(features.cache, "CODE_INPUTS", (*features.cache.CODE_INPUTS, contract_copy))
    cache = datasets.features_path("2023q1", processed)
    future = cache.stat().st_mtime + 5
    os.utime(contract_copy, (future, future))  # the contract edited after the cache was written
    assert not features.is_fresh("2023q1", processed)
    report = features.build_report("2023q1", processed, rebuild=False)
    assert report.rebuilt


def test_cache_is_stale_when_its_data_is_newer(processed):
    features.load_features("2023q1", processed)
    _age(datasets.features_path("2023q1", processed))
    assert not features.is_fresh("2023q1", processed)
    assert features.build_report("2023q1", processed, rebuild=False).rebuilt


def test_a_corrupt_or_missing_cache_is_rebuilt_not_an_error(processed):
    cache = datasets.features_path("2023q1", processed)
    assert not features.is_fresh("2023q1", processed)  # missing
    expected = features.load_features("2023q1", processed)
    cache.write_bytes(b"PAR1 half a file")  # newer than its inputs, but not Parquet
    assert not features.is_fresh("2023q1", processed)
    pd.testing.assert_frame_equal(features.load_features("2023q1", processed), expected)
    assert list(pd.read_parquet(cache).columns) == ["BAS_YH", "SEQ", *features.feature_names("all")]


def test_build_report_builds_measures_and_reads_a_fresh_cache(processed):
    built = features.build_report("2023Q1", processed)
    assert built.quarter == "2023q1" and built.rebuilt
    assert built.features["SEQ"].tolist() == ["1", "2"]
    assert built.features.loc[0, "no_prev_quarter"] == 0 and built.features.loc[1, "no_prev_quarter"] == 1
    assert set(built.seconds) == {"read", "build", "write", "total"}  # times: fipro.benchmark's "features" step
    # customer 1 has a 2022q4 row and spends; customer 2 is new and spends nothing: each share is
    # one of two, the 11 change features are missing for customer 2 only (11 of 2 × 132 model values)
    n_features, n_model = len(features.FEATURE_SPECS), len(features.model_feature_names())
    assert built.metrics == {"rows": 2, "n_features": n_features, "n_model_features": n_model,
                             "change_missing_share": 0.5, "no_prev_quarter_share": 0.5, "zero_total_share": 0.5,
                             "model_missing_share": pytest.approx(11 / (2 * n_model)), "non_finite_model_values": 0,
                             "build_seconds": built.seconds["total"]}
    assert built.summary_ko == (
        f"고객 2명에 대해 피처 {n_features}개(모델 입력 {n_model}개)를 만들었습니다 ({built.seconds['total']:.1f}초). "
        "전분기 행이 없는 고객(신규 등)은 50.0%이며, 이들의 변화 피처는 0이 아니라 결측으로 두었습니다 "
        "(변화 피처 전체 결측 비율 50.0%). 총이용금액이 0인 고객은 50.0%이고, 이들의 비중 피처는 0(zero_total = 1)입니다."
    )
    first = features.build_report("2022q4", processed)  # no quarter before it: the other sentence
    assert first.summary_ko == (
        f"고객 1명에 대해 피처 {n_features}개(모델 입력 {n_model}개)를 만들었습니다 ({first.seconds['total']:.1f}초). "
        "전분기 자료가 없는 분기라 전분기 대비 변화 피처는 모두 결측(no_prev_quarter = 1)입니다. "
        "총이용금액이 0인 고객은 0.0%이고, 이들의 비중 피처는 0(zero_total = 1)입니다."
    )
    read = features.build_report("2023q1", processed, rebuild=False)
    assert not read.rebuilt and read.seconds["build"] == 0.0
    pd.testing.assert_frame_equal(read.features, built.features)
    assert built.metrics["rows"] == 2 and built.metrics["zero_total_share"] == 0.5


def test_feature_metrics_shares_are_means_of_the_missing_masks():
    prev = raw_frame([raw_row("a", "2022q4", TOT_USE_AM=100)])
    cur = raw_frame([raw_row("a", TOT_USE_AM=150), raw_row("b", TOT_USE_AM=0), raw_row("c", AGE="99")])
    f = features.build_features(cur, prev)
    m = features.feature_metrics(f)
    change = [n for n in features.feature_names(family="change") if n.startswith("qoq_")]
    model = f[features.model_feature_names()]
    assert m["change_missing_share"] == float(f[change].isna().to_numpy().mean())
    assert m["model_missing_share"] == float(model.isna().to_numpy().mean())
    assert m["non_finite_model_values"] == int(np.isinf(model.to_numpy(dtype=np.float64)).sum())


def test_spearman_matrix_equals_pandas_with_ties_and_missing_values():
    from fipro.figures import eda as eda_fig

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 5, (300, 4)).astype(float), columns=list("abcd"))
    df.loc[rng.integers(0, 300, 40), "b"] = np.nan
    df.loc[rng.integers(0, 300, 40), "c"] = np.nan
    df["d"] = rng.normal(size=300)
    df["e"] = 1.0  # constant: undefined correlation
    got = eda_fig.spearman_matrix(df, list(df))
    want = df.corr(method="spearman")
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-12)
