"""fipro.evaluation.intervals: the bootstrap interval covers the truth as often as it says, narrows
with more customers, keeps a customer's rows together, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_intervals_bracket

from fipro.evaluation import fast_metrics
from fipro.evaluation.intervals import (Interval, bootstrap_interval, change_ko, format_metric, headline_fields,
                                        headline_interval, interval_change, metric_change_ko, share_interval,
                                        wilson_interval)


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


# --- bounded time: the m-out-of-n bootstrap above max_customers ----------------------------------

def test_m_out_of_n_interval_covers_the_true_mean_in_93_to_97_percent_of_400_replicates():
    # 5,000 customers, replicates of 500: the spread of 500 shrunk by sqrt(500 / 5000)
    rng = np.random.default_rng(2025)
    hits = [bootstrap_interval(np.mean, rng.exponential(1.0, 5000), n_boot=400, seed=i, max_customers=500).contains(1.0)
            for i in range(400)]
    assert 0.93 <= np.mean(hits) <= 0.97


def test_m_out_of_n_interval_matches_the_full_bootstrap_and_states_its_sizes():
    rng = np.random.default_rng(11)
    y = rng.random(20_000) < 0.2
    score = rng.normal(y * 1.0, 1.0)
    full = bootstrap_interval(fast_metrics.roc_auc, y, score, n_boot=300, seed=3)
    order = np.argsort(score)
    bounded = bootstrap_interval(fast_metrics.roc_auc, y[order], score[order], n_boot=300, seed=3,
                                 max_customers=2000, keep_order=True)
    assert bounded.estimate == pytest.approx(full.estimate)
    assert bounded.width == pytest.approx(full.width, rel=0.25)
    assert (bounded.n, bounded.resampled, full.resampled) == (20_000, 2000, 20_000)
    assert bounded.describe() == {"method": "bootstrap", "level": 0.95, "customers": 20_000, "n_boot": 300,
                                  "customers_per_replicate": 2000}


def test_bounded_interval_narrows_with_more_customers():
    rng = np.random.default_rng(12)
    widths = []
    for n in (2_000, 50_000):
        y = rng.random(n) < 0.1
        score = rng.normal(y * 1.0, 1.0)
        order = np.argsort(score)
        widths.append(bootstrap_interval(fast_metrics.roc_auc, y[order], score[order], n_boot=300, seed=1,
                                         max_customers=1000, keep_order=True).width)
    assert widths[1] < widths[0] / 3  # sqrt(25) = 5 times narrower in expectation


def test_max_customers_below_two_raises():
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean, np.arange(10.0), max_customers=1)


# --- Wilson's interval of a share -----------------------------------------------------------------

def test_wilson_interval_covers_the_true_share_in_93_to_97_percent_of_400_replicates():
    rng = np.random.default_rng(13)
    hits = [wilson_interval(int(k), 200).contains(0.15) for k in rng.binomial(200, 0.15, 400)]
    assert 0.93 <= np.mean(hits) <= 0.97


def test_wilson_interval_stays_inside_zero_one_narrows_and_raises():
    none, every = wilson_interval(0, 50), wilson_interval(50, 50)
    assert none.low == 0.0 < none.high < 0.1 and 0.9 < every.low < every.high == 1.0
    assert wilson_interval(300, 10_000).width < wilson_interval(3, 100).width / 5
    assert share_interval(np.array([True, False, False, True])).estimate == 0.5
    for bad in ((1, 0), (-1, 10), (11, 10)):
        with pytest.raises(ValueError):
            wilson_interval(*bad)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, level=0.0)


# --- the headline scheme and the comparison rule ---------------------------------------------------

def test_headline_fields_round_trip_and_format():
    iv = Interval(0.7251, 0.7109, 0.7392, n=800, resampled=800)
    head = {"auc": 0.7251, **headline_fields({"auc": iv, "missing": None})}
    assert head["auc_lo"] == 0.7109 and head["auc_hi"] == 0.7392 and "missing_lo" not in head
    assert head["intervals"]["auc"]["method"] == "bootstrap"
    back = headline_interval(head, "auc")
    assert (back.estimate, back.low, back.high, back.n) == (0.7251, 0.7109, 0.7392, 800)
    assert format_metric(head, "auc") == "0.725 (0.711–0.739)"
    assert format_metric({"auc": 0.7251}, "auc") == "0.725" and format_metric({}, "auc") == "—"
    assert headline_interval({"auc": 0.7}, "auc") is None


@pytest.mark.parametrize("now, before, expected", [
    ((0.80, 0.78, 0.82), (0.75, 0.73, 0.77), 1),     # apart, higher
    ((0.70, 0.68, 0.72), (0.75, 0.73, 0.77), -1),    # apart, lower
    ((0.80, 0.78, 0.82), (0.79, 0.77, 0.81), 0),     # overlap
    ((0.80, 0.77, 0.82), (0.75, 0.73, 0.77), 0),     # touching counts as overlap
    ((0.76, 0.70, 0.82), (0.75, 0.74, 0.76), 0),     # one inside the other
])
def test_interval_change_names_a_move_only_when_the_intervals_do_not_overlap(now, before, expected):
    assert interval_change(Interval(*now), Interval(*before)) == expected
    assert interval_change(Interval(*before), Interval(*now)) == -expected


def test_change_ko_says_within_the_interval_or_names_the_change():
    inside = change_ko(Interval(0.80, 0.78, 0.82), Interval(0.79, 0.77, 0.81))
    assert "구간 안" in inside and "높아" not in inside and "낮아" not in inside
    up = change_ko(Interval(0.80, 0.78, 0.82), Interval(0.75, 0.73, 0.77))
    assert "+0.050 높아졌습니다" in up and "구간 안" not in up
    down = change_ko(Interval(0.70, 0.68, 0.72), Interval(0.75, 0.73, 0.77))
    assert "-0.050 낮아졌습니다" in down
    assert "판단하지 않습니다" in change_ko(Interval(0.8, 0.7, 0.9), None)
    now = {"f1": 0.80, **headline_fields({"f1": Interval(0.80, 0.78, 0.82)})}
    assert metric_change_ko(now, None, "f1") is None
    assert "판단하지 않습니다" in metric_change_ko(now, {"f1": 0.75}, "f1")


# --- the replicates' metrics equal scikit-learn's --------------------------------------------------

def test_fast_metrics_equal_scikit_learn_with_ties_and_absent_labels():
    from sklearn import metrics as sk

    rng = np.random.default_rng(14)
    y = rng.integers(0, 5, 3000).astype(str)
    pred = np.where(rng.random(3000) < 0.6, y, rng.integers(0, 7, 3000).astype(str))  # 5, 6: never true
    t, p, n_labels = fast_metrics.label_codes(y, pred)
    assert fast_metrics.macro_f1(t, p, n_labels) == pytest.approx(
        sk.f1_score(y, pred, labels=np.unique(y), average="macro", zero_division=0))
    assert fast_metrics.accuracy(t, p) == pytest.approx(sk.accuracy_score(y, pred))
    flag = rng.random(3000) < 0.1
    score = np.round(rng.normal(flag * 1.0, 1.0), 1)  # many ties
    order = np.argsort(score)
    for fast, slow in ((fast_metrics.roc_auc, sk.roc_auc_score), (fast_metrics.average_precision,
                                                                   sk.average_precision_score)):
        assert fast(flag, score) == pytest.approx(slow(flag, score))
        assert fast(flag[order], score[order]) == pytest.approx(slow(flag, score))  # the presorted path
    a, b = rng.integers(0, 4, 2000), rng.integers(0, 6, 2000)
    b[:1000] = a[:1000]
    assert fast_metrics.adjusted_rand(a, b) == pytest.approx(sk.adjusted_rand_score(a, b))
    x = rng.normal(size=500)
    z = x + rng.normal(size=500)
    assert fast_metrics.pearson(x, z) == pytest.approx(np.corrcoef(x, z)[0, 1])
    assert np.isnan(fast_metrics.pearson(x, np.ones(500)))
    assert fast_metrics.ratio_of_sums(np.array([1.0, np.nan, 3.0]), np.array([2.0, 2.0, 4.0])) == pytest.approx(0.5)


# --- the models' saved headlines on the sample ----------------------------------------------------

def _assert_saved_intervals(run, expected: set) -> None:
    """The run's saved registry entry (the headline the notebook also saves as JSON) brackets every metric."""
    from fipro import datasets
    from fipro.evaluation import registry

    saved = registry.load_entry(datasets.model_dir(run.quarter, run.model_name))["metrics"]
    assert_intervals_bracket(saved, expected)
    assert all(saved[f"{k}_{b}"] == run.headline[f"{k}_{b}"] for k in expected for b in ("lo", "hi"))


def test_health_headline_saved_on_the_sample_carries_lo_le_metric_le_hi(health_last_run):
    expected = {"mean_score"}
    if health_last_run.headline.get("has_truth"):
        expected |= {"health_auc", "risk_auc"}
    if health_last_run.headline.get("stability_corr") is not None:
        expected.add("stability_corr")
    _assert_saved_intervals(health_last_run, expected)


def test_segments_headline_saved_on_the_sample_carries_lo_le_metric_le_hi(segments_last_run):
    expected = {"noise_share"}
    if segments_last_run.headline.get("has_truth"):
        expected |= {"ari", "ari_soft"}
    if segments_last_run.headline.get("stability_ari") is not None:
        expected.add("stability_ari")
    _assert_saved_intervals(segments_last_run, expected)


# --- the helpers added for every headline metric (issue 25 §1) -------------------------------------

def test_calibration_error_equals_the_ece_and_its_interval_is_centred_on_it():
    from fipro.evaluation.calibration import confidence_bins, expected_calibration_error
    from fipro.evaluation.intervals import ece_interval

    rng = np.random.default_rng(21)
    P = rng.dirichlet(np.ones(4), 1500)
    y = np.array([rng.choice(4, p=p) for p in P])  # calibrated by construction: the ECE is noise
    p1 = rng.random(1500)
    y1 = rng.random(1500) < p1
    for truth, proba in ((y, P), (y1.astype(int), p1)):
        bins, conf, hit = confidence_bins(truth, proba)
        assert fast_metrics.calibration_error(bins, conf, hit, 10) == pytest.approx(
            expected_calibration_error(truth, proba))
        iv = ece_interval(truth, proba, n_boot=300, seed=0)
        assert iv.estimate == pytest.approx(expected_calibration_error(truth, proba))
        assert 0 <= iv.low <= iv.estimate <= iv.high and iv.method == "bootstrap"
        # uncentred, a resample adds its own noise: the replicates lie mostly above the measured ECE
        plain = bootstrap_interval(lambda b, c, h: fast_metrics.calibration_error(b, c, h, 10), bins, conf, hit,
                                   n_boot=300, seed=0)
        assert (plain.low + plain.high) / 2 > (iv.low + iv.high) / 2
    assert np.isnan(fast_metrics.calibration_error(np.array([], int), np.array([]), np.array([]), 10))


def test_precision_ratio_interval_pairs_the_two_flag_sets_and_resamples_only_the_flagged():
    from fipro.evaluation.intervals import precision_ratio_interval

    rng = np.random.default_rng(22)
    y = rng.random(5000) < 0.05
    score = rng.normal(y * 2.0, 1.0)
    a = score > np.quantile(score, 0.95)
    b = (score + rng.normal(0, 0.3, 5000)) > np.quantile(score, 0.95)  # mostly the same customers
    iv = precision_ratio_interval(y, a, b, seed=0)
    assert iv.estimate == pytest.approx(y[a].mean() / y[b].mean()) and iv.low < iv.estimate < iv.high
    assert iv.n == int((a | b).sum())
    # paired: narrower than the ratio of the two precisions' own intervals would allow
    pa, pb = share_interval(y[a]), share_interval(y[b])
    assert iv.width < pa.high / pb.low - pa.low / pb.high
    assert np.isnan(fast_metrics.precision_ratio(y, np.zeros(5000, bool), b))


def test_median_interval_covers_the_true_median():
    from fipro.evaluation.intervals import median_interval

    rng = np.random.default_rng(23)
    hits = [median_interval(rng.exponential(1.0, 400), n_boot=200, seed=i).contains(np.log(2)) for i in range(200)]
    assert 0.9 <= np.mean(hits) <= 0.99
    assert median_interval(np.array([1.0, np.nan, 3.0, 2.0]), n_boot=50, seed=0).estimate == 2.0


def test_change_pct_interval_covers_the_change_and_pairing_narrows_it():
    from fipro.evaluation.intervals import change_pct_interval

    rng = np.random.default_rng(24)
    before = rng.lognormal(5, 1, 3000)
    now = before * 1.05 * rng.lognormal(0, 0.1, 3000)  # every customer 5% more, give or take
    paired = change_pct_interval(now, before, seed=0)
    assert paired.estimate == pytest.approx(100 * (now.mean() / before.mean() - 1))
    assert paired.contains(100 * (1.05 * np.exp(0.005) - 1))
    gap = np.full(3000, np.nan)
    unpaired = change_pct_interval(np.r_[now, gap], np.r_[gap, before], seed=0)  # the same numbers, unpaired
    assert unpaired.estimate == pytest.approx(paired.estimate) and unpaired.width > 5 * paired.width


def test_weighted_silhouettes_equal_scikit_learn_on_the_drawn_rows_and_the_interval_brackets():
    from sklearn.metrics import pairwise_distances, silhouette_score

    from fipro.evaluation.intervals import silhouette_interval

    rng = np.random.default_rng(25)
    labels = rng.integers(0, 4, 300)
    X = rng.normal(size=(300, 3)) + 2.0 * labels[:, None]
    draws = np.stack([np.bincount(rng.integers(0, 300, 300), minlength=300) for _ in range(3)], 1)
    got = fast_metrics.weighted_silhouettes(pairwise_distances(X), labels, draws)
    for j in range(3):
        rows = np.repeat(np.arange(300), draws[:, j])
        assert got[j] == pytest.approx(silhouette_score(X[rows], labels[rows]))
    iv = silhouette_interval(X, labels, n_boot=300, seed=0)
    assert iv.estimate == pytest.approx(silhouette_score(X, labels)) and iv.low < iv.estimate < iv.high
    assert silhouette_interval(X, np.zeros(300, int)) is None


def test_a_nested_per_type_metric_carries_its_interval_beside_it():
    from fipro.modelrun import Target, targets_frame

    head = {"recall_upper_half": {"total_spike": 0.75}, "has_truth": True,
            **headline_fields({"recall_upper_half.total_spike": wilson_interval(15, 20)})}
    assert_intervals_bracket(head, {"recall_upper_half.total_spike"})
    assert format_metric(head, "recall_upper_half.total_spike") == wilson_interval(15, 20).format()
    table = targets_frame(head, [Target("recall_upper_half.total_spike", "총액 급증", at_least=0.8)])
    assert table.iloc[0]["값 (95% 구간)"] == wilson_interval(15, 20).format()


def test_wilson_bounds_are_exactly_zero_and_one_at_none_and_every_customer():
    # rounding once left n of n at 0.9999999999999999, below the share itself
    assert all(wilson_interval(n, n).high == 1.0 and wilson_interval(0, n).low == 0.0 for n in range(1, 2000))
