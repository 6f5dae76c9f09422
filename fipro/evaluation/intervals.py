"""95% intervals for published numbers: a seeded bootstrap over customers.

:func:`bootstrap_interval` resamples customers (rows, or groups of rows sharing a customer id)
with replacement, recomputes the statistic on each replicate and takes the percentiles of the
replicates; :class:`Interval` carries the point estimate, the bounds and how they were made, and
formats itself as ``0.725 (0.711–0.739)``. The number of replicates is stated
(:data:`N_BOOT`), the draws are seeded (``config.RANDOM_SEED`` by default) and the cost is
``n_boot`` evaluations of the statistic, so a caller bounds the time by its rows and ``n_boot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from fipro.split import resolve_seed

N_BOOT = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval (``low``, ``high``) at ``level``, from ``n_boot`` replicates."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n_boot: int = N_BOOT

    def format(self, digits: int = 3) -> str:
        """``0.725 (0.711–0.739)``.

        >>> Interval(0.7251, 0.7109, 0.7392).format()
        '0.725 (0.711–0.739)'
        """
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def bootstrap_interval(statistic: Callable[..., float], *arrays, groups=None, n_boot: int = N_BOOT,
                       level: float = LEVEL, seed: Optional[int] = None) -> Interval:
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

    Returns
    -------
    Interval

    Raises
    ------
    ValueError
        Without arrays, with arrays of different lengths, ``n_boot`` < 2 or ``level`` outside (0, 1).

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
    rng = np.random.default_rng(resolve_seed(seed))
    estimate = float(statistic(*arrays))
    if groups is None:
        draws = (rng.integers(0, n, n) for _ in range(n_boot))
    else:
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        order = np.argsort(codes, kind="stable")  # each customer's rows side by side
        starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
        sizes = np.diff(np.r_[starts, n])

        def customers() -> np.ndarray:
            picked = rng.integers(0, len(starts), len(starts))
            s, z = starts[picked], sizes[picked]
            # the rows of each picked customer, concatenated without a Python loop
            return order[np.repeat(s - np.cumsum(np.r_[0, z[:-1]]), z) + np.arange(z.sum())]

        draws = (customers() for _ in range(n_boot))
    values = np.array([statistic(*(a[at] for a in arrays)) for at in draws], dtype=np.float64)
    alpha = (1 - level) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), level, n_boot)
