"""fipro.split: customer-level splits without leakage, temporal pairs."""

import numpy as np
import pandas as pd
import pytest

from fipro import split


def _frame(n_customers=500, quarters=("2023q1", "2023q2")):
    rows = [{"BAS_YH": q, "SEQ": f"C{i:05d}", "x": i} for q in quarters for i in range(n_customers)]
    return pd.DataFrame(rows)


def test_no_customer_on_both_sides():
    frame = _frame()
    train, test = split.train_test_customers(frame, test_size=0.25, seed=7)
    assert not set(train["SEQ"]) & set(test["SEQ"])
    assert len(train) + len(test) == len(frame)
    split.assert_no_customer_leakage(train, test)
    assert 0.18 < test["SEQ"].nunique() / 500 < 0.32


def test_same_customer_same_role_in_every_quarter():
    frame = _frame()
    roles = pd.Series(split.customer_roles(frame["SEQ"], test_size=0.2, calibration_size=0.2, seed=1))
    per_customer = roles.groupby(frame["SEQ"].to_numpy()).nunique()
    assert (per_customer == 1).all()
    assert set(roles) == {"train", "calibration", "test"}


def test_split_is_seeded_and_deterministic():
    seq = _frame()["SEQ"]
    a = split.customer_roles(seq, test_size=0.3, seed=3)
    assert (a == split.customer_roles(seq, test_size=0.3, seed=3)).all()
    assert (a != split.customer_roles(seq, test_size=0.3, seed=4)).any()


def test_leakage_is_detected():
    frame = _frame(20)
    with pytest.raises(ValueError):
        split.assert_no_customer_leakage(frame.head(10), frame.tail(12).head(5), frame.head(1))
    assert split.shared_customers(frame.head(3), frame.head(2)) == {"C00000", "C00001"}


def test_group_folds_keep_customers_together():
    frame = _frame(60)
    for tr, te in split.group_folds(3, seed=0).split(frame, groups=frame["SEQ"]):
        assert not set(frame["SEQ"].iloc[tr]) & set(frame["SEQ"].iloc[te])


def test_temporal_pair_is_the_previous_quarter_and_this_one():
    qs = ["2023q2", "2022q4", "2023q1"]
    assert split.temporal_pair("2023q1", qs) == ("2022q4", "2023q1")
    assert split.temporal_pair("2023q2", qs) == ("2023q1", "2023q2")
    with pytest.raises(ValueError, match="first quarter"):
        split.temporal_pair("2022q4", qs)
    with pytest.raises(ValueError):
        split.temporal_pair("2024q1", qs)
    with pytest.raises(ValueError):
        split.temporal_pair("2023q1", ["2023q1"])


def test_invalid_shares_raise():
    with pytest.raises(ValueError):
        split.customer_roles(["a"], test_size=0.6, calibration_size=0.4)
    with pytest.raises(ValueError):
        split.customer_roles(["a"], test_size=-0.1)
    with pytest.raises(KeyError):
        split.train_test_customers(pd.DataFrame({"x": [1]}))


def test_input_frame_not_modified():
    frame = _frame(30)
    before = frame.copy()
    split.train_test_customers(frame, test_size=0.5, seed=0)
    pd.testing.assert_frame_equal(frame, before)


# --- samples ----------------------------------------------------------------------------------


def test_resolve_seed_reads_the_config_when_called(monkeypatch):
    monkeypatch.setattr(split.config, "RANDOM_SEED", 123)
    assert split.resolve_seed(None) == 123
    assert split.resolve_seed(5) == 5


def test_sample_positions_is_the_sorted_seeded_choice():
    expected = np.sort(np.random.default_rng(9).choice(20, size=6, replace=False))
    np.testing.assert_array_equal(split.sample_positions(20, 6, seed=9), expected)
    np.testing.assert_array_equal(split.sample_positions(10, 3, seed=1), [3, 4, 7])
    np.testing.assert_array_equal(split.sample_positions(4, 10, seed=1), np.arange(4))
    np.testing.assert_array_equal(split.sample_positions(4, None, seed=1), np.arange(4))
    assert len(split.sample_positions(0, 3, seed=1)) == 0


def test_sample_positions_reads_the_project_seed_by_default(monkeypatch):
    monkeypatch.setattr(split.config, "RANDOM_SEED", 9)
    np.testing.assert_array_equal(split.sample_positions(20, 6), split.sample_positions(20, 6, seed=9))


def test_sample_positions_rejects_negative_sizes():
    with pytest.raises(ValueError):
        split.sample_positions(-1, 3, seed=1)
    with pytest.raises(ValueError):
        split.sample_positions(5, -3, seed=1)


def _strata_frame():
    return pd.DataFrame({"SEQ": [f"S{i:02d}" for i in range(12)],
                         "g": ["a"] * 8 + ["b"] * 3 + ["c"]})


def test_stratified_positions_exact_draw():
    f = _strata_frame()
    # shares of 6/12: a keeps 4 of 8, b round(1.5) = 2 of 3, c its 1 (no stratum vanishes)
    rows = split.stratified_positions(f, ["g"], 6, seed=2)
    np.testing.assert_array_equal(rows, [0, 3, 6, 7, 8, 10, 11])
    counts = f["g"].iloc[rows].value_counts()
    assert counts.to_dict() == {"a": 4, "b": 2, "c": 1}
    # the same algorithm as the segment model's sample has always used
    u = np.random.default_rng(2).random(12)  # rows are already in SEQ order
    a = np.sort(np.argsort(u[:8], kind="stable")[:4])
    b = 8 + np.sort(np.argsort(u[8:11], kind="stable")[:2])
    np.testing.assert_array_equal(rows, np.sort(np.concatenate([a, b, [11]])))
    np.testing.assert_array_equal(split.stratified_positions(f, ["g"], 3, seed=1), [2, 4, 9, 11])


def test_stratified_positions_ignore_row_order_and_keep_the_frame():
    f = _strata_frame()
    before = f.copy()
    rows = split.stratified_positions(f, ["g"], 6, seed=4)
    shuffled = f.sample(frac=1, random_state=0).reset_index(drop=True)
    again = split.stratified_positions(shuffled, ["g"], 6, seed=4)
    assert set(shuffled["SEQ"].iloc[again]) == set(f["SEQ"].iloc[rows])
    pd.testing.assert_frame_equal(f, before)
    np.testing.assert_array_equal(split.stratified_positions(f, ["g"], 50, seed=4), np.arange(12))


def test_stratified_positions_errors():
    f = _strata_frame()
    with pytest.raises(KeyError):
        split.stratified_positions(f, ["missing"], 3, seed=1)
    with pytest.raises(KeyError):
        split.stratified_positions(f.drop(columns="SEQ"), ["g"], 3, seed=1)
    with pytest.raises(ValueError):
        split.stratified_positions(f, ["g"], -1, seed=1)


def test_stratified_customer_positions_keep_whole_customers():
    # two quarters of the same 12 customers: a customer is kept in both or in neither
    f = pd.concat([_strata_frame().assign(BAS_YH=q) for q in ("2023q1", "2023q2")], ignore_index=True)
    before = f.copy()
    rows = split.stratified_customer_positions(f, ["g"], 12, seed=3)
    np.testing.assert_array_equal(rows, [0, 3, 4, 5, 9, 10, 11, 12, 15, 16, 17, 22])
    kept = f.iloc[rows]
    # half of each stratum's rows; a's four customers whole, and in b (3 customers, 6 rows)
    # and c (1 customer, 2 rows) the cut falls on one customer
    assert kept["g"].value_counts().to_dict() == {"a": 8, "b": 3, "c": 1}
    assert kept.groupby("SEQ").size().to_dict() == {"S00": 2, "S03": 2, "S04": 2, "S05": 2, "S09": 1, "S10": 2, "S11": 1}
    pd.testing.assert_frame_equal(f, before)


def test_stratified_customer_positions_exact_rule():
    f = _strata_frame()
    u = split.customer_unit(f["SEQ"], seed=3)
    share = 6 / 12
    expected = []
    for g, rows in f.groupby("g").indices.items():
        rank = pd.Series(u[rows]).rank(method="first").to_numpy() / len(rows)
        expected.extend(rows[rank <= share])
    np.testing.assert_array_equal(split.stratified_customer_positions(f, ["g"], 6, seed=3), np.sort(expected))
    np.testing.assert_array_equal(np.sort(expected), [0, 3, 4, 5, 10])
    np.testing.assert_array_equal(split.stratified_customer_positions(f, ["g"], None, seed=3), np.arange(12))
    with pytest.raises(ValueError):
        split.stratified_customer_positions(f, ["g"], -2, seed=3)
    with pytest.raises(KeyError):
        split.stratified_customer_positions(f, ["nope"], 6, seed=3)


def test_stratified_positions_can_order_by_another_unique_key():
    f = _strata_frame().rename(columns={"SEQ": "label"})
    np.testing.assert_array_equal(split.stratified_positions(f, ["g"], 6, seed=2, key="label"),
                                  split.stratified_positions(_strata_frame(), ["g"], 6, seed=2))
    with pytest.raises(KeyError):
        split.stratified_positions(f, ["g"], 6, seed=2)


def test_stratified_group_folds_keep_customers_together_and_spread_positives():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 2_000, 6_000).astype(str)
    y = (rng.random(6_000) < 0.05).astype(int)
    folds = split.stratified_group_folds(y, groups, n_splits=5, seed=11)
    frame = pd.DataFrame({"g": groups, "fold": folds, "y": y})
    assert frame.groupby("g")["fold"].nunique().max() == 1
    positive_customers = frame.groupby("g")["y"].max()
    per_fold = frame.groupby("g")["fold"].first()[positive_customers == 1].value_counts()
    assert per_fold.max() - per_fold.min() <= 1
    assert np.array_equal(folds, split.stratified_group_folds(y, groups, n_splits=5, seed=11))
    assert not np.array_equal(folds, split.stratified_group_folds(y, groups, n_splits=5, seed=12))


def test_stratified_group_folds_refuse_too_few_customers():
    with pytest.raises(ValueError, match="cannot fill"):
        split.stratified_group_folds([0, 1, 0], ["a", "a", "b"], n_splits=3)
