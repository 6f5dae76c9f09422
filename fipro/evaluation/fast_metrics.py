"""Headline metrics fast enough to be recomputed a thousand times (the bootstrap's replicates).

Each function is the same number as its scikit-learn twin (tested against it) on NumPy arrays
only: integer codes instead of labels, one sort instead of a curve, a contingency table from
``np.bincount``. :mod:`fipro.evaluation.intervals` resamples customers and calls them on
every replicate; each model's evaluation builds its headline intervals with them.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def label_codes(y_true, y_pred, labels: Optional[Sequence] = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes of true and predicted labels for :func:`macro_f1`.

    ``labels`` (default: the classes present in ``y_true``, scikit-learn's default) get codes
    ``0 … L-1``; any other label gets ``L``, so it counts against recall and never as a class.
    Returns ``(true_codes, pred_codes, L)``.
    """
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    labels = np.unique(y_true) if labels is None else np.asarray(list(labels)).astype(str)
    index = {label: i for i, label in enumerate(labels)}
    n_labels = len(labels)
    codes = [np.fromiter((index.get(v, n_labels) for v in a), dtype=np.int64, count=len(a)) for a in (y_true, y_pred)]
    return codes[0], codes[1], n_labels


def macro_f1(true_codes: np.ndarray, pred_codes: np.ndarray, n_labels: int) -> float:
    """Macro-averaged F1 over the codes ``0 … n_labels-1`` (a class without support or
    prediction scores 0, as scikit-learn's ``zero_division=0``)."""
    k = n_labels + 1
    cm = np.bincount(true_codes * k + pred_codes, minlength=k * k).reshape(k, k)[:n_labels, :n_labels + 1]
    tp = np.diag(cm[:, :n_labels]).astype(float)
    fp = cm[:, :n_labels].sum(0) - tp + 0.0
    fn = cm.sum(1) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())


def accuracy(true_codes: np.ndarray, pred_codes: np.ndarray) -> float:
    return float(np.mean(true_codes == pred_codes))


def _ascending(score: np.ndarray) -> bool:
    return bool(np.all(score[1:] >= score[:-1]))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count one half); NaN with one class only.

    Rows already in ascending ``score`` order skip the sort: a bootstrap that keeps the order
    (``bootstrap_interval(..., keep_order=True)`` on arrays sorted once) pays O(rows) per replicate.
    """
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    if not _ascending(score):
        order = np.argsort(score, kind="mergesort")
        y, score = y[order], score[order]
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    starts = np.r_[0, np.flatnonzero(np.diff(score)) + 1]  # one group per distinct score
    pos = np.add.reduceat(y.astype(np.int64), starts)
    neg = np.diff(np.r_[starts, len(score)]) - pos
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision, scikit-learn's step sum over the distinct thresholds; NaN without positives.

    Rows already sorted by ``score`` (either way) skip the sort, as in :func:`roc_auc`.
    """
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return float("nan")
    score = np.asarray(score, dtype=float)
    if _ascending(score):
        s, hit = score[::-1], y[::-1]
    elif _ascending(score[::-1]):
        s, hit = score, y
    else:
        order = np.argsort(-score, kind="mergesort")
        s, hit = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last row of each distinct threshold
    tps = np.cumsum(hit)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denom) if denom > 0 else float("nan")


def ratio_of_sums(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """``sum(numerator) / sum(denominator)`` ignoring NaN; NaN when the denominator sums to 0 or less."""
    base = float(np.nansum(denominator))
    return float(np.nansum(numerator) / base) if base > 0 else float("nan")


def adjusted_rand(a_codes: np.ndarray, b_codes: np.ndarray) -> float:
    """Adjusted Rand index of two labelings given as non-negative integer codes."""
    a_codes, b_codes = np.asarray(a_codes, dtype=np.int64), np.asarray(b_codes, dtype=np.int64)
    n = len(a_codes)
    kb = int(b_codes.max()) + 1 if n else 1
    table = np.bincount(a_codes * kb + b_codes).astype(float)

    def pairs(x):
        return float((x * (x - 1) / 2).sum())

    both = pairs(table)
    rows = pairs(np.bincount(a_codes).astype(float))
    cols = pairs(np.bincount(b_codes).astype(float))
    total = n * (n - 1) / 2
    if total == 0:
        return 1.0
    expected = rows * cols / total
    top = (rows + cols) / 2
    if top == expected:  # both labelings a single cluster (or every point its own): scikit-learn's 1.0
        return 1.0
    return float((both - expected) / (top - expected))


def codes_of(values) -> np.ndarray:
    """Integer codes ``0 … k-1`` of any labels (for :func:`adjusted_rand`)."""
    return np.unique(np.asarray(values), return_inverse=True)[1].ravel()


def calibration_error(bins: np.ndarray, confidence: np.ndarray, hit: np.ndarray, n_bins: int) -> float:
    """Expected calibration error from each row's bin, confidence and hit
    (:func:`fipro.evaluation.calibration.confidence_bins`): ``Σ_bin |Σ confidence − Σ hit| / rows``,
    the share-weighted gap of :func:`fipro.evaluation.calibration.expected_calibration_error`
    with two ``np.bincount`` instead of a table; NaN without rows."""
    if not len(bins):
        return float("nan")
    gap = np.bincount(bins, confidence, n_bins) - np.bincount(bins, hit, n_bins)
    return float(np.abs(gap).sum() / len(bins))


def precision_ratio(y: np.ndarray, flagged_a: np.ndarray, flagged_b: np.ndarray) -> float:
    """Precision of the flags ``flagged_a`` over that of ``flagged_b`` on the same rows
    (``y``: the outcome); NaN when either flags nothing or ``b`` has no hit."""
    y = np.asarray(y, dtype=bool)
    a, b = np.asarray(flagged_a, dtype=bool), np.asarray(flagged_b, dtype=bool)
    na, nb = int(a.sum()), int(b.sum())
    hits_b = int((y & b).sum())
    if not na or not nb or not hits_b:
        return float("nan")
    return float(((y & a).sum() / na) / (hits_b / nb))


def weighted_silhouettes(distances: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean silhouette for each column of ``weights`` (rows × replicates: how often each row was drawn).

    The same number as scikit-learn's ``silhouette_score`` on the rows repeated by their weight
    (a row's copies are points at distance 0 from it): a row's mean distance to the rest of its
    cluster and to each other cluster come from one product of ``distances`` (rows × rows) with the
    weighted cluster indicators, for every replicate at once. A row alone in its cluster scores 0;
    a cluster not drawn is no neighbour.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n, k, b = len(codes), int(codes.max()) + 1, weights.shape[1]
    w = np.asarray(weights, dtype=distances.dtype)
    onehot = np.eye(k, dtype=distances.dtype)[codes]
    sums = (distances @ (onehot[:, :, None] * w[:, None, :]).reshape(n, k * b)).reshape(n, k, b)
    sizes = onehot.T @ w                                   # clusters × replicates
    own = sizes[codes]
    rows = np.arange(n)
    inside = sums[rows, codes] / np.maximum(own - 1, 1)   # to the others of its cluster (its copies at 0)
    mean_to = sums / np.maximum(sizes, 1)[None]
    mean_to[rows, codes] = np.inf
    mean_to[:, sizes == 0] = np.inf
    nearest = mean_to.min(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(own > 1, (nearest - inside) / np.maximum(inside, nearest), 0.0)
    s = np.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0)
    return (w * s).sum(0) / w.sum(0)
