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


def test_temporal_pair_next_quarter_or_previous_for_the_last():
    qs = ["2022q4", "2023q1", "2023q2"]
    assert split.temporal_pair("2022q4", qs) == ("2022q4", "2023q1")
    assert split.temporal_pair("2023q2", qs) == ("2023q1", "2023q2")
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
