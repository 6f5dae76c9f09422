"""Probability calibration shared by every model: ECE, reliability tables, calibrators.

Calibrators work on a fitted model's probability matrix, not on the model, so the same
code serves any classifier (gradient boosting, a risk score, a one-class detector's
sigmoid). They follow scikit-learn's estimator contract: ``fit(P, y)`` with ``P`` an
``(n, k)`` probability matrix and ``y`` the column index of the true class (or a 0/1
vector when ``P`` has one column for the positive class), then ``transform(P)``.

* :class:`TemperatureScaling` divides log-probabilities by one temperature (ranking
  and arg-max unchanged); with ``fit_bias=True`` it also learns one offset per class
  ("vector scaling"), which undoes a shift in class priors such as the one class
  weighting introduces.
* :class:`IsotonicCalibration` fits one isotonic curve per class (one-vs-rest) and
  renormalises rows; flexible, but needs a larger calibration set.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

_EPS = 1e-12


def _fitted_matrix(proba, n_classes: int) -> tuple[np.ndarray, bool]:
    """:func:`_as_matrix` for a fitted calibrator: the column count must match its fit."""
    P, binary = _as_matrix(proba)
    if P.shape[1] != n_classes:
        raise ValueError(f"expected {n_classes} columns, got {P.shape[1]}")
    return P, binary


def _as_matrix(proba) -> tuple[np.ndarray, bool]:
    """Probability matrix (n, k); a 1-D array is the positive-class column of a binary model."""
    P = np.asarray(proba, dtype=float)
    if P.ndim == 1:
        return np.column_stack([1.0 - P, P]), True
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError("proba must be 1-D (binary) or an (n, k>=2) matrix")
    return P, False


def _as_index(y, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype == bool:
        y = y.astype(int)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError("y must hold integer column indices of the true class (0 .. k-1)")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"y holds a class index outside 0 .. {k - 1}")
    return y.astype(int)


def reliability_table(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """Confidence against observed accuracy in equal-width bins.

    For an ``(n, k)`` matrix the confidence is the top probability and "correct" means
    the top class is the true one (top-label calibration). For a 1-D ``proba`` (binary)
    the confidence is the positive-class probability and the outcome is ``y == 1``.

    Parameters
    ----------
    y_true : array-like of int
        Column index of the true class (or 0/1 for binary).
    proba : array-like
        Probabilities.
    n_bins : int
        Number of equal-width bins on [0, 1].

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``bin_lower, bin_upper, confidence, accuracy, count,
        share``.
    """
    P, binary = _as_matrix(proba)
    y = _as_index(y_true, P.shape[1])
    if len(y) != len(P):
        raise ValueError("y_true and proba have different lengths")
    if binary:
        conf, hit = P[:, 1], (y == 1).astype(float)
    else:
        conf, hit = P.max(axis=1), (P.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": idx, "confidence": conf, "accuracy": hit})
    table = frame.groupby("bin").agg(confidence=("confidence", "mean"), accuracy=("accuracy", "mean"),
                                     count=("accuracy", "size"))
    table.insert(0, "bin_upper", edges[table.index + 1])
    table.insert(0, "bin_lower", edges[table.index])
    table["share"] = table["count"] / max(len(y), 1)
    return table.reset_index(drop=True)


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """Expected calibration error: the share-weighted gap between confidence and accuracy.

    Uses the bins of :func:`reliability_table` (top-label for a matrix, positive class
    for a 1-D binary probability).

    Examples
    --------
    >>> expected_calibration_error([0, 1], [[0.9, 0.1], [0.2, 0.8]], n_bins=10)
    0.15
    """
    table = reliability_table(y_true, proba, n_bins=n_bins)
    if table.empty:
        raise ValueError("cannot compute ECE of zero rows")
    return float(round((table["share"] * (table["confidence"] - table["accuracy"]).abs()).sum(), 12))


def log_loss_index(y_true, proba) -> float:
    """Mean negative log-likelihood of the true class (``y_true`` as column indices)."""
    P, _ = _as_matrix(proba)
    y = _as_index(y_true, P.shape[1])
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], _EPS, 1.0))))


class TemperatureScaling(TransformerMixin, BaseEstimator):
    """Temperature (and optional per-class bias) scaling of a probability matrix.

    ``softmax(log(P) / T + b)`` with ``T > 0`` and ``b`` fitted by minimising the
    negative log-likelihood on a calibration set.

    Parameters
    ----------
    fit_bias : bool, default False
        Also learn one offset per class (vector scaling). Needed when the model's class
        priors are off, e.g. after class weighting; changes the arg-max.
    max_temperature : float, default 100.0
        Upper bound of the search for ``T``.

    Attributes
    ----------
    temperature_ : float
    bias_ : ndarray of shape (k,)
    n_classes_ : int

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.99, 0.01], [0.98, 0.02], [0.03, 0.97], [0.97, 0.03]])
    >>> cal = TemperatureScaling().fit(P, [0, 1, 1, 0])
    >>> bool(cal.temperature_ > 1.0)
    True
    """

    def __init__(self, fit_bias: bool = False, max_temperature: float = 100.0):
        self.fit_bias = fit_bias
        self.max_temperature = max_temperature

    def fit(self, X, y):
        P, _ = _as_matrix(X)
        y = _as_index(y, P.shape[1])
        k = P.shape[1]
        logits = np.log(np.clip(P, _EPS, 1.0))
        rows = np.arange(len(y))

        def nll(theta):
            t = np.exp(theta[0])
            b = np.concatenate([[0.0], theta[1:]]) if self.fit_bias else 0.0
            return -log_softmax(logits / t + b, axis=1)[rows, y].mean()

        theta0 = np.zeros(1 + (k - 1 if self.fit_bias else 0))
        bounds = [(np.log(0.05), np.log(self.max_temperature))] + [(-20.0, 20.0)] * (len(theta0) - 1)
        res = minimize(nll, theta0, method="L-BFGS-B", bounds=bounds)
        self.temperature_ = float(np.exp(res.x[0]))
        self.bias_ = np.concatenate([[0.0], res.x[1:]]) if self.fit_bias else np.zeros(k)
        self.n_classes_ = k
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "temperature_")
        P, binary = _fitted_matrix(X, self.n_classes_)
        out = np.exp(log_softmax(np.log(np.clip(P, _EPS, 1.0)) / self.temperature_ + self.bias_, axis=1))
        return out[:, 1] if binary else out


class IsotonicCalibration(TransformerMixin, BaseEstimator):
    """One-vs-rest isotonic calibration of a probability matrix, rows renormalised.

    Attributes
    ----------
    calibrators_ : list of IsotonicRegression, one per column
    n_classes_ : int
    """

    def fit(self, X, y):
        P, _ = _as_matrix(X)
        y = _as_index(y, P.shape[1])
        self.n_classes_ = P.shape[1]
        self.calibrators_ = [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(P[:, j], (y == j).astype(float))
            for j in range(self.n_classes_)
        ]
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "calibrators_")
        P, binary = _fitted_matrix(X, self.n_classes_)
        Q = np.column_stack([c.predict(P[:, j]) for j, c in enumerate(self.calibrators_)])
        # a small floor keeps every class possible and rows from summing to zero
        Q = np.clip(Q, 1e-6, None)
        Q = Q / Q.sum(axis=1, keepdims=True)
        return Q[:, 1] if binary else Q


CALIBRATION_METHODS = {
    "temperature": lambda: TemperatureScaling(fit_bias=False),
    "vector": lambda: TemperatureScaling(fit_bias=True),
    "isotonic": lambda: IsotonicCalibration(),
}


def make_calibrator(method: str):
    """A fresh calibrator by name: ``"temperature"``, ``"vector"`` or ``"isotonic"``."""
    try:
        return CALIBRATION_METHODS[method]()
    except KeyError:
        raise ValueError(f"unknown calibration method {method!r}; choose from {sorted(CALIBRATION_METHODS)}") from None


def calibrate_probabilities(proba_calibration, y_calibration, proba, method: str = "temperature") -> np.ndarray:
    """One-line twin: fit a calibrator on a calibration set and apply it to ``proba``."""
    return make_calibrator(method).fit(proba_calibration, y_calibration).transform(proba)


def calibration_summary(y_true, proba_before, proba_after, n_bins: int = 10) -> dict:
    """ECE and log-loss before and after calibration on the same rows."""
    return {
        "ece_before": expected_calibration_error(y_true, proba_before, n_bins),
        "ece_after": expected_calibration_error(y_true, proba_after, n_bins),
        "log_loss_before": log_loss_index(y_true, proba_before),
        "log_loss_after": log_loss_index(y_true, proba_after),
        "n_bins": int(n_bins),
    }


def describe_calibration(summary: dict, method: Optional[str] = None) -> str:
    """A Korean sentence on how calibration moved ECE and log-loss."""
    how = {"temperature": "온도 보정", "vector": "온도·클래스 편향 보정", "isotonic": "등위(isotonic) 보정"}.get(
        method or "", "보정"
    )
    before, after = summary["ece_before"], summary["ece_after"]
    verdict = "줄었습니다" if after < before else ("같습니다" if after == before else "늘었습니다")
    return (
        f"{how} 후 기대 보정 오차(ECE)는 {before:.3f}에서 {after:.3f}로 {verdict}"
        f" (로그 손실 {summary['log_loss_before']:.3f} → {summary['log_loss_after']:.3f}). "
        f"ECE가 0에 가까울수록 '확률 80%'라고 한 예측이 실제로 약 80% 맞습니다."
    )
