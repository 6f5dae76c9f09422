"""The observable yardstick (fipro.evaluation.yardstick): features from the quarter and earlier
quarters only, the habit statistic, customer-grouped out-of-fold scores and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame, raw_row
from fipro import history
from fipro.evaluation import yardstick


def _tables(spec):
    """{quarter: table} from {quarter: [(seq, {column: amount})]}; TOT_USE_AM is the details' sum
    unless given."""
    out = {}
    for q, rows in spec.items():
        made = []
        for seq, amounts in rows:
            amounts = dict(amounts)
            amounts.setdefault("TOT_USE_AM", sum(v for k, v in amounts.items()))
            made.append(raw_row(seq, q, **amounts))
        out[q] = raw_frame(made)
    return out


SPEC = {
    "2023q1": [("a", {"GROCERY_AM": 100, "RESTRNT_AM": 50}), ("b", {"GROCERY_AM": 80})],
    "2023q2": [("a", {"GROCERY_AM": 120, "RESTRNT_AM": 40}), ("b", {"GROCERY_AM": 90})],
    "2023q3": [("a", {"GROCERY_AM": 100, "RESTRNT_AM": 50, "HOTEL_AM": 300, "TRVL_AM": 200}),
               ("b", {"GROCERY_AM": 85})],
    "2023q4": [("a", {"GROCERY_AM": 5000}), ("b", {"FUNITR_AM": 900})],
}


def _features(spec, quarter):
    return yardstick.quarter_features(history.MemoryHistory(_tables(spec)), quarter).set_index("SEQ")


def test_features_compare_the_quarter_with_the_customers_own_earlier_quarters():
    f = _features(SPEC, "2023q3")
    a = f.loc["a"]
    # two earlier active quarters: groceries' mean 110, restaurants' 45; hotel and travel never used
    assert a["log_ratio_GROCERY_AM"] == pytest.approx(np.log1p(100) - np.log1p(110))
    assert a["log_ratio_HOTEL_AM"] == pytest.approx(np.log1p(300))
    assert a["n_new_categories"] == 2 and a["n_used"] == 4 and a["beyond_habit"] == pytest.approx(2.0)
    assert a["new_category_share"] == pytest.approx(500 / 650)
    assert a["max_rise_of_total"] == pytest.approx(300 / 155)  # the hotel's rise over the usual total
    assert a["total_log_ratio"] == pytest.approx(np.log1p(650) - (np.log1p(150) + np.log1p(160)) / 2)
    assert a["n_prev_active"] == 2 and a["quiet_run"] == 0
    # the habit: each category's share of the two earlier quarters with use, shrunk (0.5 / 3 if never)
    freq = pd.Series(0.5 / 3, index=list(history.CATEGORIES))
    freq[["GROCERY_AM", "RESTRNT_AM"]] = 2.5 / 3
    used_now = ["GROCERY_AM", "RESTRNT_AM", "HOTEL_AM", "TRVL_AM"]
    assert a["habit_surprisal"] == pytest.approx(-np.log(freq[used_now]).sum() + (freq * np.log(freq)).sum())
    # b used the same single category: nothing new, far less surprise
    b = f.loc["b"]
    assert b["n_new_categories"] == 0 and b["habit_surprisal"] < a["habit_surprisal"] - 3


def test_a_first_quarter_has_no_own_history_features():
    f = _features(SPEC, "2023q1")
    assert f["log_ratio_GROCERY_AM"].isna().all() and f["habit_surprisal"].isna().all()
    assert (f["n_prev_active"] == 0).all() and f["log_total"].notna().all()


def test_a_quarters_features_never_read_a_later_quarter():
    q3 = _features(SPEC, "2023q3")
    without_later = {q: rows for q, rows in SPEC.items() if q <= "2023q3"}
    pd.testing.assert_frame_equal(_features(without_later, "2023q3"), q3)
    changed = {**SPEC, "2023q4": [("a", {"HOTEL_AM": 1}), ("b", {"HOTEL_AM": 7}), ("c", {"TRVL_AM": 3})]}
    pd.testing.assert_frame_equal(_features(changed, "2023q3"), q3)
    # while the quarter itself and the ones before do change it
    earlier = {**SPEC, "2023q2": [("a", {"HOTEL_AM": 300}), ("b", {"GROCERY_AM": 90})]}
    assert _features(earlier, "2023q3").loc["a", "n_new_categories"] == 1


def test_habit_surprisal_rises_with_categories_beyond_the_habit():
    n_active = np.array([4, 4, 4, 0])
    habit = np.array([[4, 4, 0, 0], [4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 0, 0]])
    used = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    s = yardstick.habit_surprisal(used, habit, n_active)
    assert s[1] > s[0] + 3 and s[2] <= s[0] + 0.1 and np.isnan(s[3])
    # a category used in half the quarters surprises less than one never used
    half = yardstick.habit_surprisal(np.array([[1, 1, 1, 0]], bool), np.array([[4, 4, 2, 0]]), np.array([4]))
    never = yardstick.habit_surprisal(np.array([[1, 1, 1, 0]], bool), np.array([[4, 4, 0, 0]]), np.array([4]))
    assert never[0] > half[0]


def test_out_of_fold_scores_keep_a_customers_rows_together_and_are_seeded():
    rng = np.random.default_rng(0)
    n_customers, per = 600, 3
    groups = np.repeat([f"c{i}" for i in range(n_customers)], per)
    # a customer-level quirk the label follows: a model that saw the customer would memorise it
    quirk = np.repeat(rng.normal(size=n_customers), per)
    signal = rng.normal(size=len(groups))
    y = (signal + 0.1 * rng.normal(size=len(groups)) > 1.5).astype(int)
    X = pd.DataFrame({"signal": signal, "quirk": quirk})
    a = yardstick.fit_out_of_fold(X, y, groups, seed=1, n_jobs=1, params={"n_estimators": 30})
    b = yardstick.fit_out_of_fold(X, y, groups, seed=1, n_jobs=1, params={"n_estimators": 30})
    np.testing.assert_array_equal(a.probability, b.probability)
    assert np.isfinite(a.probability).all() and a.n_rows == len(y)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(y, a.probability) > 0.95
    capped = yardstick.fit_out_of_fold(X, y, groups, seed=1, n_jobs=1, max_rows=900, params={"n_estimators": 30})
    assert capped.n_rows == 900 and len(set(capped.rows)) == 900


def test_detector_summary_counts_top_k_per_quarter_and_upper_half_recall():
    quarters = np.array(["q1"] * 4 + ["q2"] * 4)
    kind = np.array(["none", "mix_shift", "none", "total_spike", "mix_shift", "none", "none", "total_spike"])
    magnitude = np.array([0, 0.9, 0, 5.0, 0.4, 0, 0, 2.0])
    score = np.array([0.9, 0.1, 0.2, 0.8, 0.7, 0.1, 0.2, 0.9])
    s = yardstick.detector_summary(quarters, kind, magnitude, score, medians={"mix_shift": 0.5, "total_spike": 3.0},
                                   with_history=quarters == "q2")
    # q1: k = 2, top two are rows 0 (none) and 3 (spike) → 0.5; q2: k = 2, rows 7 and 4 → 1.0
    assert s["precision_at_k_by_quarter"] == {"q1": 0.5, "q2": 1.0}
    assert s["precision_at_k"] == 1.0 and s["quarters_counted"] == ["q2"]
    # upper halves: the mix shift of 0.9 (missed), the spike of 5.0 (found)
    assert s["recall_upper_half"] == {"mix_shift": 0.0, "total_spike": 1.0}


def test_a_large_quarter_builds_features_only_for_the_rows_the_fit_draws(sample_quarters):
    """Features built for the drawn rows only give the same out-of-fold scores on the same rows
    as features built for every row and drawn inside the fit."""
    from fipro import datasets
    from fipro.anomaly import evaluation as anomaly_ev

    q = sample_quarters[-1]
    seq = datasets.load_quarter(q, columns=["SEQ"])["SEQ"].astype(str).to_numpy()
    drawn = anomaly_ev.yardstick_frames(q, seq, pool_below=1_000, max_rows=2_000, seed=5)
    every = anomaly_ev.yardstick_frames(q, seq, pool_below=1_000, max_rows=10 ** 9, seed=5)
    assert [len(f) for f in drawn] == [2_000] and [len(f) for f in every] == [len(seq)]
    a = anomaly_ev.fit_yardstick(drawn, q, seed=5, max_rows=2_000)
    b = anomaly_ev.fit_yardstick(every, q, seed=5, max_rows=2_000)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_allclose(a.probability, b.probability)
