"""Probability calibration shared by every model: ECE, reliability tables, calibration.

The measures work on a probability matrix, so the same code serves any classifier.
Calibration itself is scikit-learn's: :func:`calibrate` wraps an already-fitted model
in ``CalibratedClassifierCV(FrozenEstimator(model), method=...)`` (scikit-learn 1.9 has
multiclass temperature scaling), so no calibrator is hand-written here.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

_EPS = 1e-12
CALIBRATION_METHODS = ("temperature", "isotonic", "sigmoid")
# The house target for held-out expected calibration error.
ECE_TARGET = 0.02


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


def confidence_bins(y_true, proba, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's bin (0 … ``n_bins``-1, equal width on [0, 1]), confidence and hit (1.0 or 0.0).

    The rows of :func:`reliability_table` and :func:`expected_calibration_error` (top-label for a
    matrix, positive class for a 1-D binary probability); the ECE's bootstrap
    (:func:`fipro.evaluation.intervals.ece_interval`) bins once and resamples these.

    >>> [a.tolist() for a in confidence_bins([0, 1], [[0.9, 0.1], [0.2, 0.8]])]
    [[8, 7], [0.9, 0.8], [1.0, 1.0]]
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
    return np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1), conf, hit


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
    idx, conf, hit = confidence_bins(y_true, proba, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    frame = pd.DataFrame({"bin": idx, "confidence": conf, "accuracy": hit})
    table = frame.groupby("bin").agg(confidence=("confidence", "mean"), accuracy=("accuracy", "mean"),
                                     count=("accuracy", "size"))
    table.insert(0, "bin_upper", edges[table.index + 1])
    table.insert(0, "bin_lower", edges[table.index])
    table["share"] = table["count"] / max(len(idx), 1)
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
    """Mean negative log-likelihood of the true class (``y_true`` as column indices).

    ``sklearn.metrics.log_loss`` with the columns as the labels, so a class absent from
    ``y_true`` still counts as a column. It clips a probability of the true class at
    float64's epsilon (the hand-written version clipped at 1e-12: the two differ only
    where a model gives the true class less than 1e-12).

    Examples
    --------
    >>> round(log_loss_index([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.164252
    """
    P, _ = _as_matrix(proba)
    y = _as_index(y_true, P.shape[1])
    return float(log_loss(y, y_proba=P, labels=np.arange(P.shape[1])))


def _check_probabilities(P: np.ndarray) -> None:
    if P.shape[1] < 2:
        raise ValueError(f"a probability matrix needs a column per class (two or more), got {P.shape[1]} feature(s)")


class ProbabilityInput(ClassifierMixin, BaseEstimator):
    """A fitted model's probability matrix, seen as a classifier whose input it is.

    ``predict_proba(P)`` returns ``P``. Calibrating this (frozen) with
    ``CalibratedClassifierCV`` gives a calibrator that maps a model's probabilities to
    calibrated ones, so one pass of an expensive model yields both (a full quarter's
    booster pass is most of a model notebook's time).

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> ProbabilityInput().fit(P, [0, 1]).predict_proba(P).tolist()
    [[0.9, 0.1], [0.2, 0.8]]
    """

    def fit(self, P, y):
        """Record the classes (column ``j`` of ``P`` is class ``j``).

        Raises
        ------
        ValueError
            If ``P`` is not a finite matrix of at least two columns, or ``y`` holds
            anything but column indices of ``P``.
        """
        P, y = validate_data(self, P, y, dtype=np.float64)
        check_classification_targets(y)
        _check_probabilities(P)
        _as_index(y, P.shape[1])
        self.classes_ = np.arange(P.shape[1])
        return self

    def predict_proba(self, P) -> np.ndarray:
        """``P`` itself (validated: finite, as many columns as at ``fit``)."""
        check_is_fitted(self, "classes_")
        P = validate_data(self, P, dtype=np.float64, reset=False)
        _check_probabilities(P)
        return P

    def predict(self, P) -> np.ndarray:
        """The most probable class (scikit-learn's cross-validation wants a ``predict``)."""
        P = self.predict_proba(P)  # checks the fit before classes_ is read
        return self.classes_[P.argmax(axis=1)]


def calibrate(model, X, y, method: str = "temperature"):
    """Calibrate an already-fitted classifier with scikit-learn on held-out rows.

    ``CalibratedClassifierCV(FrozenEstimator(model), method=method)``: the model is not
    refitted; ``"temperature"`` divides the logits by one temperature (multiclass,
    arg-max unchanged), ``"isotonic"`` and ``"sigmoid"`` fit one curve per class. Pass a
    fitted :class:`ProbabilityInput` as ``model`` and probability matrices as ``X`` to
    calibrate a model's outputs directly.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    X, y : held-out rows (customers the model was not fitted on) and their labels
    method : {"temperature", "isotonic", "sigmoid"}

    Returns
    -------
    CalibratedClassifierCV
        Its ``predict_proba`` gives the calibrated probabilities.
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose from {CALIBRATION_METHODS}")
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    if len(counts) < 2 or counts.min() < 2:
        raise ValueError("calibration needs at least two held-out rows of each class and two classes")
    # the model is frozen, so the folds only batch its predictions: two is enough
    return CalibratedClassifierCV(FrozenEstimator(model), method=method, cv=2).fit(X, y)


def calibration_summary(y_true, proba_before, proba_after, n_bins: int = 10) -> dict:
    """ECE and log-loss before and after calibration on the same rows."""
    return {
        "ece_before": expected_calibration_error(y_true, proba_before, n_bins),
        "ece_after": expected_calibration_error(y_true, proba_after, n_bins),
        "log_loss_before": log_loss_index(y_true, proba_before),
        "log_loss_after": log_loss_index(y_true, proba_after),
        "n_bins": int(n_bins),
    }


def describe_calibration(summary: dict, method: Optional[str] = None, target: float = ECE_TARGET) -> str:
    """Korean sentences: how calibration moved ECE and log-loss, and whether ECE meets ``target``."""
    how = {"temperature": "온도 보정", "isotonic": "등위(isotonic) 보정", "sigmoid": "시그모이드 보정"}.get(
        method or "", "보정"
    )
    before, after = summary["ece_before"], summary["ece_after"]
    moved = "줄었습니다" if after < before else ("같습니다" if after == before else "늘었습니다")
    verdict = (f"목표(ECE {target:.2f} 이하)를 달성했습니다" if after <= target
               else f"목표(ECE {target:.2f} 이하)에 미치지 못했습니다")
    return (
        f"{how} 후 기대 보정 오차(ECE)는 {before:.3f}에서 {after:.3f}로 {moved}"
        f" (로그 손실 {summary['log_loss_before']:.3f} → {summary['log_loss_after']:.3f}), {verdict}. "
        f"ECE가 0에 가까울수록 '확률 80%'라고 한 예측이 실제로 약 80% 맞습니다."
    )
