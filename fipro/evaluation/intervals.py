"""95% intervals for published numbers: a seeded bootstrap over customers, or Wilson's for a share.

:func:`bootstrap_interval` resamples customers (rows, or groups of rows sharing a customer id)
with replacement, recomputes the statistic on each replicate and takes the percentiles of the
replicates; :func:`wilson_interval` is the closed-form interval of a proportion (k of n
customers). :class:`Interval` carries the point estimate, the bounds and how they were made, and
formats itself as ``0.725 (0.711–0.739)``. The number of replicates is stated (:data:`N_BOOT`),
the draws are seeded (``config.RANDOM_SEED`` by default) and the cost is ``n_boot`` evaluations
of the statistic on at most ``max_customers`` customers, so a caller bounds the time.

Bounded time at full scale (``max_customers``): a quarter holds ~673k customers, and a thousand
evaluations of a metric on all of them cost minutes. Above ``max_customers`` each replicate
draws ``m = max_customers`` customers with replacement out of the ``n`` (the m-out-of-n
bootstrap) and the replicates' spread around the estimate is shrunk by ``sqrt(m / n)``: for a
metric that is asymptotically normal (a mean, a share, an AUC, a macro-F1, a correlation) the
spread of a metric on m customers is ``sqrt(n / m)`` times that on n, so the interval is the
one of all n customers at the cost of m.

The headline scheme (:func:`headline_fields`): a metric ``key`` of a model's headline
(``outputs/<quarter>/<model>.json`` and its registry entry) gets ``<key>_lo`` and ``<key>_hi``
beside it, and ``intervals[key]`` says how they were made (method, replicates, customers,
customers per replicate, level). :func:`headline_interval` reads them back,
:func:`format_metric` shows them, and :func:`interval_change` / :func:`change_ko` decide
and say whether a metric moved between two quarters: only when the two intervals do not
overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Callable, Mapping, Optional

import numpy as np

from fipro.evaluation import fast_metrics
from fipro.split import resolve_seed

N_BOOT = 1000
LEVEL = 0.95
# customers per replicate above which the m-out-of-n bootstrap takes over: 1,000 replicates of a
# vectorised metric on 10k customers take about a second on a loaded 2-core machine, whatever the quarter's size
MAX_CUSTOMERS = 10_000
INTERVALS_KEY = "intervals"  # the headline's dict: metric key -> how its interval was made


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval (``low``, ``high``) at ``level``.

    ``method`` is ``"bootstrap"`` (``n_boot`` replicates of ``resampled`` customers out of
    ``n``) or ``"wilson"`` (a share of ``n`` customers; ``n_boot`` is 0).
    """

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n_boot: int = N_BOOT
    method: str = "bootstrap"
    n: int = 0
    resampled: int = 0

    def format(self, digits: int = 3, percent: bool = False) -> str:
        """``0.725 (0.711–0.739)``, or with ``percent`` (a share) ``72.5% (71.1–73.9%)``.

        >>> Interval(0.7251, 0.7109, 0.7392).format()
        '0.725 (0.711–0.739)'
        >>> Interval(0.7251, 0.7109, 0.7392).format(1, percent=True)
        '72.5% (71.1–73.9%)'
        """
        if percent:
            return f"{100 * self.estimate:.{digits}f}% ({100 * self.low:.{digits}f}–{100 * self.high:.{digits}f}%)"
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low

    def describe(self) -> dict:
        """How the interval was made (the headline's ``intervals[key]``)."""
        out: dict[str, Any] = {"method": self.method, "level": self.level, "customers": int(self.n)}
        if self.method == "bootstrap":
            out.update({"n_boot": int(self.n_boot), "customers_per_replicate": int(self.resampled)})
        return out


def bootstrap_interval(statistic: Callable[..., float], *arrays, groups=None, n_boot: int = N_BOOT,
                       level: float = LEVEL, seed: Optional[int] = None,
                       max_customers: Optional[int] = None, keep_order: bool = False,
                       centred: bool = False) -> Interval:
    """Percentile bootstrap interval of ``statistic(*arrays)`` over customers.

    Parameters
    ----------
    statistic : callable
        Takes the arrays (resampled alike, row for row) and returns a number.
    *arrays : array-like
        Same length; rows are customers unless ``groups`` is given.
    groups : array-like, optional
        A customer id per row: whole customers are resampled (a customer's rows stay together).
    n_boot : int
        Replicates (the statistic is evaluated ``n_boot + 1`` times).
    level : float
        Coverage of the interval, in (0, 1).
    seed : int, optional
        Default ``config.RANDOM_SEED``.
    max_customers : int, optional
        With more customers than this, each replicate draws this many (m-out-of-n) and the
        spread is shrunk by ``sqrt(m / n)`` (module docstring); ``None`` resamples all of them.
    keep_order : bool
        Keep each replicate's rows in the arrays' order (its draws sorted): a rank statistic
        given arrays sorted once by score then needs no sort per replicate
        (:func:`fipro.evaluation.fast_metrics.roc_auc`). The statistic must not depend on row order.
    centred : bool
        Shift the replicates so that their mean is the estimate before taking the percentiles:
        for a statistic that noise biases upwards (an ECE: a sum of absolute gaps, so every
        resample adds its own noise on top of the sample's), whose plain percentile interval
        can lie wholly above the measured value. The interval is then that of the statistic as
        measured on this many customers, not of its noise-free value.

    Returns
    -------
    Interval

    Raises
    ------
    ValueError
        Without arrays, with arrays of different lengths, ``n_boot`` < 2, ``level`` outside
        (0, 1) or ``max_customers`` < 2.

    Examples
    --------
    >>> iv = bootstrap_interval(np.mean, np.arange(100.0), n_boot=200, seed=0)
    >>> iv.estimate, iv.low < 49.5 < iv.high
    (49.5, True)
    """
    if not arrays:
        raise ValueError("bootstrap_interval needs at least one array")
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays) or (groups is not None and len(groups) != n):
        raise ValueError("arrays (and groups) must have the same length")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if max_customers is not None and max_customers < 2:
        raise ValueError(f"max_customers must be at least 2, got {max_customers}")
    rng = np.random.default_rng(resolve_seed(seed))
    estimate = float(statistic(*arrays))
    if groups is None:
        n_units = n
        m = n if max_customers is None else min(n, max_customers)
        draws = ((np.sort(d) if keep_order else d) for d in (rng.integers(0, n, m) for _ in range(n_boot)))
    else:
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        order = np.argsort(codes, kind="stable")  # each customer's rows side by side
        starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
        sizes = np.diff(np.r_[starts, n])
        n_units = len(starts)
        m = n_units if max_customers is None else min(n_units, max_customers)

        def customers() -> np.ndarray:
            picked = rng.integers(0, n_units, m)
            s, z = starts[picked], sizes[picked]
            # the rows of each picked customer, concatenated without a Python loop
            rows = order[np.repeat(s - np.cumsum(np.r_[0, z[:-1]]), z) + np.arange(z.sum())]
            return np.sort(rows) if keep_order else rows

        draws = (customers() for _ in range(n_boot))
    values = np.array([statistic(*(a[at] for a in arrays)) for at in draws], dtype=np.float64)
    return replicates_interval(values, estimate, level=level, n=n_units, resampled=m, centred=centred)


def replicates_interval(values, estimate: float, *, level: float = LEVEL, n: int, resampled: int,
                        centred: bool = False) -> Interval:
    """The percentile interval of bootstrap ``values`` around ``estimate`` (NaN replicates ignored).

    ``resampled`` customers per replicate out of ``n``: below ``n`` the spread is shrunk by
    ``sqrt(resampled / n)`` (m-out-of-n); ``centred`` as in :func:`bootstrap_interval`. Shared by
    :func:`bootstrap_interval` and the helpers that draw their replicates their own way
    (:func:`silhouette_interval`: weights instead of rows).
    """
    values = np.asarray(values, dtype=np.float64)
    if centred and np.isfinite(values).any():
        values = values - np.nanmean(values) + estimate
    if resampled < n:  # m-out-of-n: the spread of m customers, shrunk to that of n
        values = estimate + math.sqrt(resampled / n) * (values - estimate)
    alpha = (1 - level) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha]) if np.isfinite(values).any() else (np.nan, np.nan)
    return Interval(float(estimate), float(low), float(high), level, len(values), "bootstrap", int(n), int(resampled))


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> Interval:
    """Wilson's score interval of the share ``successes / n`` (closed form, no resampling).

    Raises
    ------
    ValueError
        When ``n`` < 1, ``successes`` is outside [0, n] or ``level`` outside (0, 1).

    Examples
    --------
    >>> iv = wilson_interval(30, 100)
    >>> round(iv.estimate, 2), round(iv.low, 3), round(iv.high, 3)
    (0.3, 0.219, 0.396)
    """
    if n < 1:
        raise ValueError(f"a share needs at least one customer, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0 of n or n of n the bound is exactly 0 or 1 (rounding would leave the share outside)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(float(p), low, high, level, 0, "wilson", int(n), 0)


def share_interval(flags, level: float = LEVEL) -> Interval:
    """:func:`wilson_interval` of the share of true values in ``flags`` (one per customer)."""
    flags = np.asarray(flags, dtype=bool)
    return wilson_interval(int(flags.sum()), int(flags.size), level)


# --- the headline metrics' intervals (bounded: at most MAX_CUSTOMERS customers per replicate) -----


def _bounded(statistic, *arrays, seed=None, n_boot: int = N_BOOT, max_customers: Optional[int] = MAX_CUSTOMERS,
             keep_order: bool = False, centred: bool = False) -> Optional[Interval]:
    if not len(arrays[0]):
        return None
    iv = bootstrap_interval(statistic, *arrays, n_boot=n_boot, seed=seed, max_customers=max_customers,
                            keep_order=keep_order, centred=centred)
    return iv if np.isfinite(iv.estimate) else None


def macro_f1_interval(y_true, y_pred, labels=None, **kw) -> Optional[Interval]:
    """Bootstrap interval of the macro-F1 (over ``labels``, default the classes in ``y_true``), one row per customer."""
    t, p, n_labels = fast_metrics.label_codes(y_true, y_pred, labels)
    return _bounded(lambda a, b: fast_metrics.macro_f1(a, b, n_labels), t, p, **kw)


def _by_score(statistic, y, score, **kw) -> Optional[Interval]:
    y, score = np.asarray(y, dtype=bool), np.asarray(score, dtype=float)
    order = np.argsort(score, kind="mergesort")  # sorted once: the replicates keep the order (keep_order)
    return _bounded(statistic, y[order], score[order], keep_order=True, **kw)


def auc_interval(y, score, **kw) -> Optional[Interval]:
    """Bootstrap interval of the ROC-AUC of ``score`` for the outcome ``y`` (``None`` with one class only)."""
    return _by_score(fast_metrics.roc_auc, y, score, **kw)


def average_precision_interval(y, score, **kw) -> Optional[Interval]:
    """Bootstrap interval of the average precision of ``score`` for ``y`` (``None`` without positives)."""
    return _by_score(fast_metrics.average_precision, y, score, **kw)


def correlation_interval(a, b, **kw) -> Optional[Interval]:
    """Bootstrap interval of the Pearson correlation of ``a`` and ``b`` (one pair per customer)."""
    return _bounded(fast_metrics.pearson, np.asarray(a, dtype=float), np.asarray(b, dtype=float), **kw)


def ratio_interval(numerator, denominator, **kw) -> Optional[Interval]:
    """Bootstrap interval of ``sum(numerator) / sum(denominator)`` over customers (NaN ignored)."""
    return _bounded(fast_metrics.ratio_of_sums, np.asarray(numerator, dtype=float),
                    np.asarray(denominator, dtype=float), **kw)


def mean_interval(values, **kw) -> Optional[Interval]:
    """Bootstrap interval of the mean of ``values`` over customers (NaN ignored)."""
    return _bounded(lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"),
                    np.asarray(values, dtype=float), **kw)


def ari_interval(a, b, **kw) -> Optional[Interval]:
    """Bootstrap interval of the adjusted Rand index of two labelings of the same customers."""
    return _bounded(fast_metrics.adjusted_rand, fast_metrics.codes_of(a), fast_metrics.codes_of(b), **kw)


def median_interval(values, **kw) -> Optional[Interval]:
    """Bootstrap interval of the median of ``values`` over customers (NaN ignored)."""
    return _bounded(lambda v: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan"),
                    np.asarray(values, dtype=float), **kw)


def ece_interval(y_true, proba, n_bins: int = 10, **kw) -> Optional[Interval]:
    """Bootstrap interval of the expected calibration error (one row per customer), centred.

    The rows are binned once (:func:`fipro.evaluation.calibration.confidence_bins`: top-label for a
    matrix, the positive class for a 1-D binary probability) and each replicate is two
    ``np.bincount`` (:func:`fipro.evaluation.fast_metrics.calibration_error`). An ECE is a sum of
    absolute gaps, so a resample's ECE adds its own noise to the sample's and the replicates lie
    mostly above the measured value: they are centred on it (``centred``), and the interval is that
    of the ECE as measured on this many customers, not of the noise-free calibration error
    (which a small sample's ECE overstates). The lower bound is at least 0.

    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(2000)
    >>> iv = ece_interval(rng.random(2000) < p, p, n_boot=200, seed=0)
    >>> iv.low <= iv.estimate <= iv.high, iv.low >= 0
    (True, True)
    """
    from fipro.evaluation.calibration import confidence_bins  # scikit-learn's calibration: only when asked

    bins, conf, hit = confidence_bins(y_true, proba, n_bins)
    out = _bounded(lambda b, c, h: fast_metrics.calibration_error(b, c, h, n_bins), bins, conf, hit,
                   centred=True, **kw)
    return replace(out, low=max(0.0, out.low)) if out is not None else None


def precision_ratio_interval(y, flagged_a, flagged_b, **kw) -> Optional[Interval]:
    """Paired bootstrap interval of precision(``flagged_a``) / precision(``flagged_b``) on the same
    customers (``y`` the outcome): each replicate draws the customers once for both, so what the
    two flag sets share moves them together and the ratio's interval is narrower than the two
    precisions' apart. The flags are fixed (as Wilson's interval of one precision at k takes the k
    flagged as given). Only the customers flagged by either set move the ratio, so only they are
    resampled (``customers`` is their number): a few hundred rows at any scale.

    >>> y = np.arange(400) % 4 == 0
    >>> a, b = np.arange(400) < 100, np.arange(400) >= 300
    >>> iv = precision_ratio_interval(y | (np.arange(400) < 20), a, b, n_boot=200, seed=0)
    >>> round(iv.estimate, 2), iv.n, iv.low < iv.estimate < iv.high
    (1.6, 200, True)
    """
    a, b = np.asarray(flagged_a, dtype=bool), np.asarray(flagged_b, dtype=bool)
    either = a | b
    return _bounded(fast_metrics.precision_ratio, np.asarray(y, dtype=bool)[either], a[either], b[either], **kw)


def silhouette_interval(points, labels, *, n_boot: int = N_BOOT, level: float = LEVEL, seed: Optional[int] = None,
                        batch: int = 100) -> Optional[Interval]:
    """Bootstrap interval of the silhouette of ``labels`` in ``points`` (Euclidean), centred.

    A silhouette is quadratic in the rows, so this is for a sample (the segments' 2,000 rows). A
    replicate is the multiplicity of each row in a draw with replacement, and ``batch`` replicates
    are one matrix product (:func:`fipro.evaluation.fast_metrics.weighted_silhouettes`, the same
    number as scikit-learn's ``silhouette_score`` on the drawn rows). On 2,000 rows a thousand
    replicates cost about 0.4 s of CPU. Copies at distance 0 shrink each point's distance to its own cluster, so the
    replicates lie above the estimate: they are centred on it (``centred`` of
    :func:`bootstrap_interval`). ``None`` with fewer than two clusters.

    >>> rng = np.random.default_rng(0)
    >>> lab = np.repeat([0, 1], 100)
    >>> iv = silhouette_interval(rng.normal(size=(200, 2)) + 3 * lab[:, None], lab, n_boot=200, seed=0)
    >>> iv.low < iv.estimate < iv.high, round(iv.estimate, 2)
    (True, 0.57)
    """
    from sklearn.metrics import pairwise_distances, silhouette_score  # scikit-learn only for a silhouette

    points, labels = np.asarray(points, dtype=np.float64), fast_metrics.codes_of(labels)
    n = len(labels)
    if n < 2 or labels.max() < 1:
        return None
    estimate = float(silhouette_score(points, labels))
    rng = np.random.default_rng(resolve_seed(seed))
    D = pairwise_distances(points).astype(np.float32)
    values = []
    for start in range(0, n_boot, batch):
        draws = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(min(batch, n_boot - start))]
        values.append(fast_metrics.weighted_silhouettes(D, labels, np.stack(draws, 1)))
    return replicates_interval(np.concatenate(values), estimate, level=level, n=n, resampled=n, centred=True)


def _change_pct(now: np.ndarray, before: np.ndarray) -> float:
    seen_now, seen_before = np.isfinite(now), np.isfinite(before)
    if not seen_now.any() or not seen_before.any():
        return float("nan")
    base = before[seen_before].mean()
    return float((now[seen_now].mean() / base - 1) * 100) if base > 0 else float("nan")


def change_pct_interval(now, before, **kw) -> Optional[Interval]:
    """Bootstrap interval of the change of a mean between two quarters, in percent:
    ``100 (mean(now) / mean(before) − 1)``.

    ``now`` and ``before`` are aligned customer for customer over both quarters' customers, NaN
    where a customer is absent from a quarter: a replicate draws customers of the union, so a
    customer present in both moves both means together (paired) and one present in one quarter
    only moves that quarter's. Over customers present in both, the change of the mean is the
    change of the sum (the stayers' change).

    >>> iv = change_pct_interval(np.array([110.0, 220.0, np.nan]), np.array([100.0, 200.0, 300.0]), n_boot=50, seed=0)
    >>> round(iv.estimate, 1)
    -17.5
    """
    return _bounded(_change_pct, np.asarray(now, dtype=float), np.asarray(before, dtype=float), **kw)


# --- the headline scheme -------------------------------------------------------------------------


def headline_fields(intervals: Mapping[str, Optional[Interval]]) -> dict:
    """``{key}_lo``, ``{key}_hi`` per interval and ``intervals`` (how each was made), for a headline.

    Missing intervals (``None``: nothing to resample, e.g. no measured customer) are left out.

    >>> headline_fields({"auc": Interval(0.8, 0.78, 0.82, n=500, resampled=500)})["auc_lo"]
    0.78
    """
    out: dict[str, Any] = {}
    how: dict[str, dict] = {}
    for key, iv in intervals.items():
        if iv is None or not np.isfinite(iv.low) or not np.isfinite(iv.high):
            continue
        out[f"{key}_lo"], out[f"{key}_hi"] = float(iv.low), float(iv.high)
        how[key] = iv.describe()
    if how:
        out[INTERVALS_KEY] = how
    return out


def merge_fields(headline: dict, fields: Mapping[str, Any]) -> dict:
    """``headline.update(fields)`` except that the two ``intervals`` dicts are merged; returns ``headline``."""
    how = fields.get(INTERVALS_KEY) or {}
    headline.update({k: v for k, v in fields.items() if k != INTERVALS_KEY})
    if how:
        headline[INTERVALS_KEY] = {**(headline.get(INTERVALS_KEY) or {}), **how}
    return headline


def add_intervals(headline: dict, intervals: Mapping[str, Optional[Interval]]) -> dict:
    """:func:`headline_fields` merged into ``headline`` in place (:func:`merge_fields`); returns it."""
    return merge_fields(headline, headline_fields(intervals))


def headline_interval(metrics: Optional[Mapping[str, Any]], key: str) -> Optional[Interval]:
    """The interval of ``key`` saved in a headline (``None`` without the value or its bounds).

    A dotted key ``a.b`` reads its value from the nested ``metrics["a"]["b"]`` (a per-type number
    such as ``recall_upper_half.total_spike``); its bounds stay beside it, ``a.b_lo`` and ``a.b_hi``.

    >>> head = {"recall": {"x": 0.5}, **headline_fields({"recall.x": Interval(0.5, 0.3, 0.7)})}
    >>> headline_interval(head, "recall.x").format()
    '0.500 (0.300–0.700)'
    """
    if not metrics:
        return None
    value, low, high = (metrics.get(k) for k in (key, f"{key}_lo", f"{key}_hi"))
    if value is None and "." in key:
        value = nested_value(metrics, key)
    if any(v is None or isinstance(v, bool) for v in (value, low, high)):
        return None
    try:
        value, low, high = float(value), float(low), float(high)
    except (TypeError, ValueError):
        return None
    if not all(np.isfinite([value, low, high])):
        return None
    how = (metrics.get(INTERVALS_KEY) or {}).get(key) or {}
    return Interval(value, low, high, float(how.get("level", LEVEL)), int(how.get("n_boot", 0)),
                    str(how.get("method", "")), int(how.get("customers", 0)), int(how.get("customers_per_replicate", 0)))


def nested_value(metrics: Mapping[str, Any], key: str) -> Any:
    """``metrics[key]``, or for a dotted key ``a.b`` absent as such ``metrics["a"]["b"]``; ``None`` when absent."""
    if key in metrics or "." not in key:
        return metrics.get(key)
    value: Any = metrics
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def format_metric(metrics: Mapping[str, Any], key: str, digits: int = 3, percent: bool = False) -> str:
    """``0.725 (0.711–0.739)`` where the headline holds the interval, else ``0.725``; ``—`` without a value
    (``percent``: a share as ``72.5% (71.1–73.9%)``)."""
    iv = headline_interval(metrics, key)
    if iv is not None:
        return iv.format(digits, percent)
    value = nested_value(metrics, key)
    if value is None or isinstance(value, bool):
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(value):
        return "—"
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.{digits}f}"


# --- comparing two quarters ----------------------------------------------------------------------


def interval_change(now: Interval, before: Interval) -> int:
    """Whether a metric moved between two quarters: ``+1`` when ``now``'s interval lies wholly
    above ``before``'s, ``-1`` wholly below, ``0`` when the two intervals overlap (touching counts).

    >>> interval_change(Interval(0.80, 0.78, 0.82), Interval(0.75, 0.73, 0.77))
    1
    >>> interval_change(Interval(0.80, 0.78, 0.82), Interval(0.79, 0.77, 0.81))
    0
    """
    if now.low > before.high:
        return 1
    if now.high < before.low:
        return -1
    return 0


def change_ko(now: Optional[Interval], before: Optional[Interval], digits: int = 3, percent: bool = False) -> str:
    """A Korean clause comparing a metric with the previous quarter, decided by :func:`interval_change`.

    Overlapping intervals say the change is within the interval (``구간 안``) and name no
    direction; only intervals apart name the change (in %p with ``percent``: a share). Without
    both intervals, nothing is judged.

    >>> change_ko(Interval(0.80, 0.78, 0.82), Interval(0.79, 0.77, 0.81))
    '전분기 0.790 (0.770–0.810) 대비 구간 안 (두 분기의 95% 구간이 겹침)'
    """
    if now is None or before is None:
        return "전분기 구간이 없어 변화를 판단하지 않습니다"
    move = interval_change(now, before)
    shown = before.format(digits, percent)
    if move == 0:
        return f"전분기 {shown} 대비 구간 안 (두 분기의 95% 구간이 겹침)"
    word = "높아졌습니다" if move > 0 else "낮아졌습니다"
    diff = now.estimate - before.estimate
    size = f"{100 * diff:+.{digits}f}%p" if percent else f"{diff:+.{digits}f}"
    return f"전분기 {shown}보다 {size} {word} (두 분기의 95% 구간이 겹치지 않음)"


def metric_change_ko(metrics: Mapping[str, Any], previous: Optional[Mapping[str, Any]], key: str,
                     digits: int = 3, percent: bool = False) -> Optional[str]:
    """:func:`change_ko` of ``key`` between two headlines; ``None`` when the previous has no value."""
    if not previous or previous.get(key) is None:
        return None
    return change_ko(headline_interval(metrics, key), headline_interval(previous, key), digits, percent)
