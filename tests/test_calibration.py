"""fipro.evaluation.calibration: ECE, reliability tables and calibrators."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from fipro.evaluation import calibration as calib

# ProbabilityInput's y are column indices of its input P (class j is column j), which the
# generic checks' data do not respect: they label 2-column X with 0..2, 1..k or strings
_NOT_COLUMN_INDICES = "the check's labels are not column indices of its X (y must index P's columns)"
PROBABILITY_INPUT_SKIPS: dict = {
    "check_classifiers_train": _NOT_COLUMN_INDICES,
    "check_classifiers_train(readonly_memmap=True)": _NOT_COLUMN_INDICES,
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _NOT_COLUMN_INDICES,
    "check_classifiers_classes": _NOT_COLUMN_INDICES,
    "check_classifier_data_not_an_array": _NOT_COLUMN_INDICES,
    "check_estimators_fit_returns_self": _NOT_COLUMN_INDICES,
    "check_estimators_overwrite_params": _NOT_COLUMN_INDICES,
    "check_readonly_memmap_input": _NOT_COLUMN_INDICES,
    "check_estimators_nan_inf": "the check's y is float (np.ones): y must be integer column indices",
}


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


def _calibrated(P_cal, y_cal, P_test, method):
    cal = calib.calibrate(calib.ProbabilityInput().fit(P_cal, y_cal), P_cal, y_cal, method)
    return cal, cal.predict_proba(P_test)


@pytest.mark.parametrize("method", ["temperature", "isotonic", "sigmoid"])
def test_calibration_lowers_ece_on_held_out_rows(method):
    P_cal, y_cal, P_test, y_test = _overconfident_toy()
    before = calib.expected_calibration_error(y_test, P_test)
    after = calib.expected_calibration_error(y_test, _calibrated(P_cal, y_cal, P_test, method)[1])
    assert before > 0.05
    assert after < before / 2


def test_temperature_is_scikit_learns_and_keeps_argmax():
    from sklearn.calibration import CalibratedClassifierCV

    P_cal, y_cal, P_test, _ = _overconfident_toy()
    cal, Q = _calibrated(P_cal, y_cal, P_test, "temperature")
    assert isinstance(cal, CalibratedClassifierCV) and cal.method == "temperature"
    np.testing.assert_allclose(Q.sum(axis=1), 1.0)
    np.testing.assert_array_equal(Q.argmax(axis=1), P_test.argmax(axis=1))
    # overconfident input: calibration spreads the probabilities out
    assert Q.max(axis=1).mean() < P_test.max(axis=1).mean()


def test_calibrating_a_frozen_model_does_not_refit_it():
    P_cal, y_cal, _, _ = _overconfident_toy()
    X, y = make_classification(600, 5, n_informative=3, n_classes=3, n_clusters_per_class=1, random_state=2)
    model = LogisticRegression(max_iter=500).fit(X[:300], y[:300])
    coef = model.coef_.copy()
    cal = calib.calibrate(model, X[300:], y[300:], "sigmoid")
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_allclose(cal.predict_proba(X[:5]).sum(axis=1), 1.0)


def test_probability_input_passes_probabilities_through():
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    est = calib.ProbabilityInput().fit(P, [0, 2])
    np.testing.assert_array_equal(est.predict_proba(P), P)
    assert est.classes_.tolist() == [0, 1, 2]
    assert not hasattr(clone(est), "classes_")


def test_errors():
    P_cal, y_cal, _, _ = _overconfident_toy()
    model = calib.ProbabilityInput().fit(P_cal, y_cal)
    with pytest.raises(ValueError, match="unknown calibration method"):
        calib.calibrate(model, P_cal, y_cal, "platt")
    with pytest.raises(ValueError, match="two held-out rows of each class"):
        calib.calibrate(model, P_cal[:3], np.array([0, 1, 2]), "temperature")
    with pytest.raises(ValueError):
        calib.expected_calibration_error([0, 3], [[0.5, 0.5], [0.5, 0.5]])


def test_describe_calibration_sentence():
    # worse after: gaps 0.01 and 0.40 → ECE 0.205; gaps 0.2 and 0.3 → 0.25;
    # log-loss −(ln 0.99 + ln 0.6)/2 = 0.2604 → −(ln 0.8 + ln 0.7)/2 = 0.2899
    s = calib.calibration_summary([0, 1], [[0.99, 0.01], [0.4, 0.6]], [[0.8, 0.2], [0.3, 0.7]])
    assert s == {"ece_before": pytest.approx(0.205), "ece_after": pytest.approx(0.25),
                 "log_loss_before": pytest.approx(0.26044, abs=1e-5),
                 "log_loss_after": pytest.approx(0.28991, abs=1e-5), "n_bins": 10}
    assert calib.describe_calibration(s, "temperature") == (
        "온도 보정 후 기대 보정 오차(ECE)는 0.205에서 0.250로 늘었습니다 (로그 손실 0.260 → 0.290), "
        "목표(ECE 0.02 이하)에 미치지 못했습니다. "
        "ECE가 0에 가까울수록 '확률 80%'라고 한 예측이 실제로 약 80% 맞습니다."
    )
    # better after: ECE 0.15 → 0.015 (both 0.985, both right), log-loss 0.164 → 0.015
    s = calib.calibration_summary([0, 1], [[0.9, 0.1], [0.2, 0.8]], [[0.985, 0.015], [0.015, 0.985]])
    assert (s["ece_before"], s["ece_after"]) == (pytest.approx(0.15), pytest.approx(0.015))
    met = "등위(isotonic) 보정 후 기대 보정 오차(ECE)는 0.150에서 0.015로 줄었습니다 (로그 손실 0.164 → 0.015), "
    assert calib.describe_calibration(s, "isotonic").startswith(met + "목표(ECE 0.02 이하)를 달성했습니다. ")
    # the same numbers on the other side of a stricter target
    assert calib.describe_calibration(s, "isotonic", target=0.01).startswith(
        met + "목표(ECE 0.01 이하)에 미치지 못했습니다. ")


@parametrize_with_checks([calib.ProbabilityInput()], expected_failed_checks=lambda est: PROBABILITY_INPUT_SKIPS)
def test_probability_input_follows_the_sklearn_contract(estimator, check):
    check(estimator)


def test_probability_input_rejects_what_is_not_a_probability_matrix_with_indices():
    P = np.array([[0.7, 0.3], [0.4, 0.6]])
    with pytest.raises(ValueError, match="column per class"):
        calib.ProbabilityInput().fit(P[:, :1], [0, 0])
    with pytest.raises(ValueError, match="outside 0 .. 1"):
        calib.ProbabilityInput().fit(P, [0, 2])
    with pytest.raises(ValueError, match="integer column indices"):
        calib.ProbabilityInput().fit(P, ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        calib.ProbabilityInput().fit(np.array([[np.nan, 1.0], [0.4, 0.6]]), [0, 1])
    fitted = calib.ProbabilityInput().fit(P, [0, 1])
    with pytest.raises(ValueError, match="features"):
        fitted.predict_proba(np.ones((2, 3)) / 3)
    np.testing.assert_array_equal(fitted.predict(P), [0, 1])


def test_log_loss_index_is_sklearns_with_every_column_a_label():
    # hand-made: −mean(log 0.9, log 0.8) and a class (2) no row holds
    assert calib.log_loss_index([0, 1], [[0.9, 0.1], [0.2, 0.8]]) == pytest.approx(-np.mean(np.log([0.9, 0.8])),
                                                                                  rel=1e-15)
    assert calib.log_loss_index([1, 1], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]) == pytest.approx(
        -np.mean(np.log([0.2, 0.1])), rel=1e-15)
    # 1-D binary: the positive class's probability
    assert calib.log_loss_index([1, 0], [0.3, 0.4]) == pytest.approx(-np.mean(np.log([0.3, 0.6])), rel=1e-15)
    with pytest.raises(ValueError):
        calib.log_loss_index([0, 2], [[0.5, 0.5], [0.5, 0.5]])
