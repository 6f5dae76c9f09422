"""Tests of fipro.quality on tiny hand-made frames (exact values) and on the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame, raw_row
from fipro import contract, datasets, export, ingest, quality


def _frame(n: int = 4) -> pd.DataFrame:
    """n rows where every identity holds (요식업 = 일반/휴게음식 = total = credit 60% + check
    40%), the join month missing on the last row."""
    return raw_frame([raw_row(f"S{i}", TOT_USE_AM=10 * (i + 1), FSBZ_AM=10 * (i + 1), RESTRNT_AM=10 * (i + 1),
                              CRDSL_USE_AM=6 * (i + 1), CNF_USE_AM=4 * (i + 1),
                              ATT_YM=None if i == n - 1 else "201001") for i in range(n)], categorical=True)


def test_identities_hold_exactly_on_a_consistent_frame():
    ids = quality.identity_checks(_frame())
    assert ids["total"]["share_exact"] == 1.0
    assert ids["hierarchy_all_share"] == 1.0
    assert ids["uppers_plus_unassigned_vs_total"]["share_exact"] == 1.0
    assert ids["upper_above_total_share"] == 0.0


def test_identity_gaps_are_measured_not_assumed():
    frame = _frame()
    frame.loc[0, "TOT_USE_AM"] += 5  # total 5 above its parts on one row of four
    frame.loc[1, "FUNITR_AM"] = 3  # a detail not reflected in its upper
    ids = quality.identity_checks(frame)
    assert ids["total"]["share_exact"] == 0.75
    assert ids["total"]["max_abs_gap"] == 5.0
    assert ids["total"]["share_positive_gap"] == 0.25
    assert ids["hierarchy"]["INTERIOR_AM"]["share_exact"] == 0.75
    assert ids["hierarchy"]["INTERIOR_AM"]["max_abs_gap"] == 3.0
    assert ids["hierarchy_all_share"] == 0.75


def test_missing_and_zero_shares_per_column():
    table = quality.missing_zero_table(_frame()).set_index("column")
    assert table.loc["ATT_YM", "missing_share"] == 0.25
    assert table.loc["TOT_USE_AM", "zero_share"] == 0.0
    assert table.loc["ACDM_AM", "zero_share"] == 1.0
    assert table.loc["ACDM_AM", "label_ko"] == "학원"


def test_code_distribution_follows_code_table_order():
    frame = _frame()
    frame["SEX_CD"] = pd.Categorical(["2", "2", "1", "2"], categories=["1", "2"])
    table = quality.code_distribution(frame, "SEX_CD")
    assert table["code"].tolist() == ["1", "2"]
    assert table["label_ko"].tolist() == ["남", "여"]
    assert table["share"].tolist() == [0.25, 0.75]
    assert quality.code_distribution(frame, "AGE")["rows"].sum() == 4


def test_outlier_rule_flags_a_planted_extreme_and_shows_no_rows():
    rng = np.random.default_rng(0)
    frame = _frame(200)
    frame["TOT_USE_AM"] = rng.integers(100, 400, 200)
    frame.loc[7, "TOT_USE_AM"] = 10**7
    table = quality.outlier_table(frame, columns=("TOT_USE_AM",)).iloc[0]
    assert table["outliers"] == 1
    assert table["share"] == 1 / 200
    assert "SEQ" not in quality.outlier_table(frame).columns


def test_coverage_counts_customers_by_quarters_present():
    cov = quality.coverage(pd.Series([8, 8, 7, 1]), n_quarters=8)
    assert cov["share_in_all_quarters"] == 0.5
    assert cov["by_quarters_present"] == {1: 1, 7: 1, 8: 2}


def test_rejects_are_attributed_to_quarters_by_their_raw_first_field():
    rejects = pd.DataFrame({"line": [2, 3, 4], "reason": ["blank amount", "short line", "blank amount"],
                            "raw_line": [" 2023Q1 ,S1,..", "2023q2,S2", "2023q1,S3"]})
    mine = quality.rejects_for_quarter(rejects, "2023q1")
    assert mine["line"].tolist() == [2, 4]
    summary = quality.rejects_summary(rejects)
    assert summary.values.tolist() == [["blank amount", 2], ["short line", 1]]


def test_input_frame_not_modified():
    frame = _frame()
    before = frame.copy()
    quality.identity_checks(frame)
    quality.missing_zero_table(frame)
    quality.outlier_table(frame)
    quality.amount_summary(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_report_and_verdict_from_given_frames():
    frame = _frame()
    manifest = {"source_name": "x.csv", "rows_read": 5, "rows_accepted": 4, "rows_rejected": 1,
                "rejects_by_reason": {"blank amount": 1}, "quarters": {"2023q1": 4}, "synthetic": True}
    rejects = pd.DataFrame({"line": [3], "reason": ["blank amount"], "raw_line": ["2023q1,S9"]})
    report = quality.quality_report("2023q1", frame=frame, rejects=rejects, manifest=manifest,
                                    presence=pd.Series([8, 8, 8, 2]), n_quarters=8)
    assert report["rows"] == 4 and report["customers"] == 4 and report["duplicate_keys"] == 0
    assert report["source"]["reject_share"] == pytest.approx(0.2)
    assert report["rejects_this_quarter"] == {"blank amount": 1}
    assert report["coverage"]["share_in_all_quarters"] == 0.75
    verdict = quality.verdict_ko(report)
    assert "주의" in verdict and "20.00%" in verdict and "75.0%" in verdict
    assert "S0" not in verdict and "S0" not in str(report["outliers"])  # never a customer id


def test_sample_report_is_within_bounds_and_saved(sample_quarters, tmp_path):
    quarter = sample_quarters[-1]
    report = quality.quality_report(quarter)
    assert report["rows"] > 1000
    assert report["customers"] == report["rows"]
    assert 0.5 < report["coverage"]["share_in_all_quarters"] <= 1.0
    frame = ingest.load_quarter(quarter)
    holds = frame["TOT_USE_AM"] == frame["CRDSL_USE_AM"] + frame["CNF_USE_AM"]
    assert report["identities"]["total"]["share_exact"] == pytest.approx(holds.mean())
    assert set(report["codes"]) == set(contract.CODE_COLUMNS)
    path = export.save_metrics(quarter, "data_quality_test", report)
    assert export.load_metrics(quarter, "data_quality_test")["rows"] == report["rows"]
    path.unlink()


def test_load_presence_counts_the_quarters_of_each_customer_up_to_the_quarter(tmp_path, monkeypatch):
    from fipro import config, history

    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path)
    monkeypatch.setattr(history, "HISTORY_PARTS", ("fipro.history:CORE",))
    quarters = {"2022q4": ["a", "b"], "2023q1": ["a", "c"], "2023q2": ["a", "b", "d"]}
    for q, seqs in quarters.items():
        path = datasets.quarter_table_path(q)
        path.parent.mkdir(parents=True, exist_ok=True)
        raw_frame([raw_row(s, q, TOT_USE_AM=1) for s in seqs]).to_parquet(path, index=False)
    presence, n_quarters = quality.load_presence("2023q1")
    assert n_quarters == 2  # 2023q2 comes later: the check of 2023q1 does not read it
    assert sorted(presence.tolist()) == [1, 2]  # c only here; a in both quarters so far
    assert presence.name == "quarters_present" and presence.dtype == "int64"
    last, n_last = quality.load_presence("2023q2")
    assert n_last == 3 and sorted(last.tolist()) == [1, 2, 3]  # d, b (2022q4 and here), a
