"""fipro.evaluation.intervals: the bootstrap interval covers the truth as often as it says, narrows
with more customers, keeps a customer's rows together, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from fipro.evaluation.intervals import Interval, bootstrap_interval


def test_95_percent_interval_covers_the_true_mean_in_93_to_97_percent_of_400_replicates():
    rng = np.random.default_rng(2024)
    true_mean = 10.0
    hits = [bootstrap_interval(np.mean, rng.normal(true_mean, 2.0, 300), n_boot=400, seed=i).contains(true_mean)
            for i in range(400)]
    assert 0.93 <= np.mean(hits) <= 0.97


def test_interval_of_a_share_covers_the_true_share_and_narrows_with_more_customers():
    rng = np.random.default_rng(7)
    small = bootstrap_interval(np.mean, rng.random(400) < 0.3, n_boot=500, seed=1)
    large = bootstrap_interval(np.mean, rng.random(10_000) < 0.3, n_boot=500, seed=1)
    assert small.contains(0.3) and large.contains(0.3)
    assert large.width < small.width / 3  # about sqrt(25) = 5 times narrower


def test_a_statistic_of_two_arrays_resamples_them_row_for_row():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    pred = np.where(rng.random(500) < 0.8, y, 1 - y)
    iv = bootstrap_interval(lambda a, b: float(np.mean(a == b)), y, pred, n_boot=300, seed=0)
    assert iv.estimate == pytest.approx(np.mean(y == pred)) and iv.contains(0.8)
    assert iv.format() == f"{iv.estimate:.3f} ({iv.low:.3f}–{iv.high:.3f})"


def test_customers_are_resampled_whole():
    # two quarters per customer, perfectly correlated: resampling rows would understate the spread
    rng = np.random.default_rng(5)
    per_customer = rng.normal(0, 1, 300)
    values, ids = np.repeat(per_customer, 2), np.repeat(np.arange(300), 2)
    by_row = bootstrap_interval(np.mean, values, n_boot=400, seed=2)
    by_customer = bootstrap_interval(np.mean, values, groups=ids, n_boot=400, seed=2)
    assert by_customer.width > 1.25 * by_row.width  # sqrt(2) wider in expectation
    sizes = []
    bootstrap_interval(lambda v: sizes.append(len(v)) or 0.0, values, groups=ids, n_boot=5, seed=2)
    assert set(sizes) == {600}  # every replicate keeps 300 whole customers


def test_seeded_and_documented_errors():
    x = np.arange(50.0)
    assert bootstrap_interval(np.mean, x, n_boot=100, seed=4) == bootstrap_interval(np.mean, x, n_boot=100, seed=4)
    assert bootstrap_interval(np.mean, x, n_boot=100, seed=4) != bootstrap_interval(np.mean, x, n_boot=100, seed=5)
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean)
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean, x, x[:10])
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean, x, n_boot=1)
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean, x, level=1.0)
    assert Interval(0.5, 0.4, 0.6).width == pytest.approx(0.2)
