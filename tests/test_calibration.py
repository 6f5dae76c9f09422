"""fipro.evaluation.calibration: ECE, reliability tables and calibrators."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from fipro.evaluation import calibration as calib


def test_ece_exact_small_case():
    # confidences 0.9 and 0.8, both right: gaps 0.1 and 0.2, equal shares
    assert calib.expected_calibration_error([0, 1], [[0.9, 0.1], [0.2, 0.8]]) == pytest.approx(0.15)
    # a perfectly calibrated binary case: p = 0.5, half the outcomes positive
    assert calib.expected_calibration_error([0, 1], [0.5, 0.5]) == pytest.approx(0.0)


def test_reliability_table_shares_sum_to_one():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=500)
    y = rng.integers(0, 4, size=500)
    t = calib.reliability_table(y, P, n_bins=10)
    assert t["share"].sum() == pytest.approx(1.0)
    assert ((t["bin_lower"] <= t["confidence"]) & (t["confidence"] <= t["bin_upper"])).all()


def _overconfident_toy(seed=0):
    X, y = make_classification(4000, 10, n_informative=6, n_classes=3, n_clusters_per_class=1,
                               flip_y=0.15, random_state=seed)
    model = LogisticRegression(max_iter=500).fit(X[:1000], y[:1000])
    # deliberately miscalibrated: sharpen the probabilities (overconfident)
    P = model.predict_proba(X) ** 4
    P /= P.sum(axis=1, keepdims=True)
    return P[1000:2500], y[1000:2500], P[2500:], y[2500:]


@pytest.mark.parametrize("method", ["temperature", "vector", "isotonic"])
def test_calibration_lowers_ece_on_held_out_rows(method):
    P_cal, y_cal, P_test, y_test = _overconfident_toy()
    before = calib.expected_calibration_error(y_test, P_test)
    after = calib.expected_calibration_error(y_test, calib.calibrate_probabilities(P_cal, y_cal, P_test, method))
    assert before > 0.05
    assert after < before / 2


def test_temperature_finds_overconfidence_and_keeps_argmax():
    P_cal, y_cal, P_test, _ = _overconfident_toy()
    cal = calib.TemperatureScaling().fit(P_cal, y_cal)
    assert cal.temperature_ > 2.0  # probabilities were raised to the 4th power
    Q = cal.transform(P_test)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0)
    np.testing.assert_array_equal(Q.argmax(axis=1), P_test.argmax(axis=1))


def test_calibrators_follow_estimator_contract():
    P_cal, y_cal, _, _ = _overconfident_toy()
    for est in (calib.TemperatureScaling(fit_bias=True), calib.IsotonicCalibration()):
        params = est.get_params()
        assert est.fit(P_cal, y_cal) is est
        assert clone(est).get_params() == params
        assert not any(k.endswith("_") for k in clone(est).__dict__)


def test_binary_one_column_probabilities():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < 0.5 + 0.3 * (p - 0.5)).astype(int)  # p is far too extreme
    q = calib.TemperatureScaling().fit(p[:1000], y[:1000]).transform(p[1000:])
    assert q.ndim == 1
    assert calib.expected_calibration_error(y[1000:], q) < calib.expected_calibration_error(y[1000:], p[1000:])


def test_errors():
    with pytest.raises(ValueError):
        calib.make_calibrator("platt")
    with pytest.raises(ValueError):
        calib.expected_calibration_error([0, 3], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError):
        calib.TemperatureScaling().fit([[0.5, 0.5]], ["a"])
    cal = calib.TemperatureScaling().fit([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1]], [0, 1])
    with pytest.raises(ValueError):
        cal.transform([[0.5, 0.5]])


def test_describe_calibration_sentence():
    s = calib.calibration_summary([0, 1], [[0.99, 0.01], [0.4, 0.6]], [[0.8, 0.2], [0.3, 0.7]])
    text = calib.describe_calibration(s, "temperature")
    assert "ECE" in text and "온도 보정" in text
