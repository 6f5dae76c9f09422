"""Customer-level splits, the temporal check's quarter pairs, and every seeded sample.

A customer's role (train / calibration / test) is a function of their ``SEQ`` and the
seed only: a seeded hash maps each id to a number in [0, 1), cut at the requested
shares. So the split needs no state, is the same in every quarter (a test customer
of 2023q1 is a test customer of 2023q2 too, which keeps the temporal check free of
customer leakage), and the same on a full file and on a sample.

Samples (the one place a model, a figure or a view draws rows):

* :func:`sample_positions`: a uniform draw of at most ``k`` of ``n`` positions (fit
  rows of a forest, points of a map, a yardstick's rows);
* :func:`stratified_positions`: about ``n`` rows, every stratum keeping its share, rows
  drawn one by one (the segment model's fit rows of one quarter, the views' map);
* :func:`stratified_customer_positions`: the same shares, but whole customers drawn by
  the seeded hash of ``SEQ``, so a customer's rows of several pooled quarters are kept
  or dropped together (the life-stage model's training rows).

The two stratified draws stay two algorithms because each model's saved outputs were
made with its own: the life-stage model pools quarters and must not split a
customer's history; the segment model draws rows of one quarter.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from fipro import config

ROLES = ("train", "calibration", "test")


def resolve_seed(seed: Optional[int] = None) -> int:
    """``seed``, or ``config.RANDOM_SEED`` read now when it is ``None``.

    Functions default to ``seed=None`` and call this, so a changed ``config.RANDOM_SEED``
    (``FIPRO_SEED``, a test) reaches them; a default bound at import would not see it.

    Examples
    --------
    >>> resolve_seed(7)
    7
    >>> resolve_seed(None) == config.RANDOM_SEED
    True
    """
    return config.RANDOM_SEED if seed is None else int(seed)


def customer_unit(seq, seed: Optional[int] = None) -> np.ndarray:
    """A seeded uniform number in [0, 1) per customer id (same id, same number).

    Examples
    --------
    >>> u = customer_unit(["a", "b", "a"], seed=1)
    >>> bool(u[0] == u[2]) and bool((0 <= u).all() and (u < 1).all())
    True
    """
    seed = resolve_seed(seed)
    key = f"fipro{abs(seed) % 10**11:011d}"  # pandas wants a 16-character hash key
    values = pd.Series(seq, dtype="string").fillna("").to_numpy(dtype=object)
    hashed = pd.util.hash_array(values, hash_key=key, categorize=True)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def customer_roles(seq, *, test_size: float = 0.2, calibration_size: float = 0.0,
                   seed: Optional[int] = None) -> np.ndarray:
    """Role of each row's customer: ``"train"``, ``"calibration"`` or ``"test"``.

    ``test_size`` and ``calibration_size`` are shares of customers (not rows); every row
    of a customer gets the same role.

    Raises
    ------
    ValueError
        If a share is negative or the shares sum to 1 or more.
    """
    if test_size < 0 or calibration_size < 0 or test_size + calibration_size >= 1:
        raise ValueError("test_size and calibration_size must be >= 0 and sum to less than 1")
    u = customer_unit(seq, seed)
    return np.where(u < test_size, "test", np.where(u < test_size + calibration_size, "calibration", "train"))


def train_test_customers(frame: pd.DataFrame, *, test_size: float = 0.2, seed: Optional[int] = None,
                         customer_col: str = "SEQ") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a frame's rows by customer into (train, test) frames; the input is not modified."""
    if customer_col not in frame:
        raise KeyError(f"frame has no {customer_col!r} column")
    roles = customer_roles(frame[customer_col], test_size=test_size, seed=seed)
    return frame[roles != "test"], frame[roles == "test"]


def shared_customers(*frames: pd.DataFrame, customer_col: str = "SEQ") -> set:
    """Customers that appear in more than one of the frames."""
    seen: dict = {}
    for i, f in enumerate(frames):
        for c in pd.unique(f[customer_col]):
            seen.setdefault(c, set()).add(i)
    return {c for c, where in seen.items() if len(where) > 1}


def assert_no_customer_leakage(*frames: pd.DataFrame, customer_col: str = "SEQ") -> None:
    """Raise ``ValueError`` if any customer appears in more than one frame."""
    shared = shared_customers(*frames, customer_col=customer_col)
    if shared:
        raise ValueError(f"{len(shared)} customers appear on more than one side of the split")


def group_folds(n_splits: int = 3, seed: Optional[int] = None) -> GroupKFold:
    """Cross-validation folds by customer (pass ``groups=SEQ`` to ``split``/a search)."""
    return GroupKFold(n_splits=n_splits, shuffle=True, random_state=config.RANDOM_SEED if seed is None else seed)


def stratified_group_folds(y, groups, n_splits: int = 5, seed: Optional[int] = None) -> np.ndarray:
    """Fold (0 … ``n_splits``-1) of each row: a customer's rows share one fold, and customers
    with a positive row are dealt round-robin apart from the rest, so every fold holds its
    share of each (within one customer) in a seeded random order.

    ``StratifiedGroupKFold`` gives the same guarantees but searches the best fold for each
    group in Python: 70 s for 100k one-row customers (the anomaly yardstick at full scale),
    against well under a second here.

    Examples
    --------
    >>> folds = stratified_group_folds([1, 0, 0, 1, 0, 0], ["a", "a", "b", "c", "d", "e"], n_splits=2, seed=0)
    >>> bool(folds[0] == folds[1]), sorted(np.bincount(folds[[0, 3]]).tolist())
    (True, [1, 1])
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits!r}")
    y = np.asarray(y).astype(int)
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups)))
    if len(uniques) < n_splits:
        raise ValueError(f"{len(uniques)} customers cannot fill {n_splits} folds")
    positive = np.zeros(len(uniques), dtype=bool)
    positive[codes[y > 0]] = True
    order = np.random.default_rng(resolve_seed(seed)).permutation(len(uniques))
    fold_of_group = np.empty(len(uniques), dtype=int)
    for members in (order[positive[order]], order[~positive[order]]):
        fold_of_group[members] = np.arange(len(members)) % n_splits
    return fold_of_group[codes]


def temporal_pair(quarter: str, quarters: Sequence[str]) -> tuple[str, str]:
    """(fit quarter, test quarter) of the temporal check for ``quarter``: the quarter before it, and it.

    The check is owned by the quarter it tests on, so it never needs a later quarter.

    Raises
    ------
    ValueError
        If ``quarter`` is not in ``quarters`` or it is the first of them.

    Examples
    --------
    >>> temporal_pair("2023q1", ["2022q4", "2023q1", "2023q2"])
    ('2022q4', '2023q1')
    >>> temporal_pair("2023q2", ["2022q4", "2023q1", "2023q2"])
    ('2023q1', '2023q2')
    """
    ordered = sorted(set(quarters))
    if quarter not in ordered:
        raise ValueError(f"{quarter} is not among the available quarters {ordered}")
    i = ordered.index(quarter)
    if i == 0:
        raise ValueError(f"{quarter} is the first quarter: the temporal check needs a quarter before it")
    return ordered[i - 1], quarter


def role_table(seq, roles) -> pd.DataFrame:
    """Rows and distinct customers per role (a check that the split has the intended sizes)."""
    frame = pd.DataFrame({"SEQ": np.asarray(seq), "role": np.asarray(roles)})
    table = frame.groupby("role").agg(rows=("SEQ", "size"), customers=("SEQ", "nunique"))
    table = table.reindex([r for r in ROLES if r in table.index])
    table["share"] = table["rows"] / max(len(frame), 1)
    return table


# --- samples ----------------------------------------------------------------------------------


def sample_positions(n: int, k: Optional[int], seed: Optional[int] = None) -> np.ndarray:
    """Sorted positions of a seeded uniform draw of at most ``k`` of ``range(n)`` (no repeats).

    Every position when ``k`` is ``None`` or at least ``n`` (then nothing is drawn).
    The draw is ``numpy.random.default_rng(seed).choice(n, k, replace=False)``, sorted,
    so the rows keep their order.

    Raises
    ------
    ValueError
        If ``n`` or ``k`` is negative.

    Examples
    --------
    >>> sample_positions(10, 3, seed=1)
    array([3, 4, 7])
    >>> sample_positions(4, 10, seed=1)
    array([0, 1, 2, 3])
    """
    if n < 0 or (k is not None and k < 0):
        raise ValueError(f"n and k must be >= 0, got n={n!r}, k={k!r}")
    if k is None or k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(resolve_seed(seed)).choice(n, size=k, replace=False))


def _strata_codes(frame: pd.DataFrame, strata: Sequence[str], key: str = "SEQ") -> np.ndarray:
    missing = [c for c in list(strata) + [key] if c not in frame]
    if missing:
        raise KeyError(f"frame has no column(s) {missing}")
    if not list(strata):
        return np.zeros(len(frame), dtype=np.int64)
    return pd.MultiIndex.from_frame(frame[list(strata)].astype(str)).factorize()[0]


def stratified_positions(frame: pd.DataFrame, strata: Sequence[str], n: int,
                         seed: Optional[int] = None, *, key: str = "SEQ") -> np.ndarray:
    """Sorted row positions of a seeded sample of about ``n`` rows, proportional within each stratum.

    Each stratum (a combination of the ``strata`` columns' values) keeps
    ``max(1, round(n / len(frame) × its rows))`` rows, the ones with the smallest of a
    uniform number drawn per row after ordering the rows by the ``key`` column (``SEQ``,
    or another column unique per customer such as the views' label): the sample does not
    depend on the frame's row order, and no stratum vanishes. Every row when ``n`` is at
    least ``len(frame)``. The input frame is not modified.

    Raises
    ------
    KeyError
        If a ``strata`` column or the ``key`` column is missing.
    ValueError
        If ``n`` is negative.

    Examples
    --------
    >>> f = pd.DataFrame({"SEQ": list("abcdef"), "g": list("xxxxyy")})
    >>> stratified_positions(f, ["g"], 3, seed=1)
    array([0, 2, 4])
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    codes = _strata_codes(frame, strata, key)
    if n >= len(frame):
        return np.arange(len(frame))
    rng = np.random.default_rng(resolve_seed(seed))
    order = np.argsort(frame[key].astype(str).to_numpy(), kind="stable")
    key = codes[order]
    u = rng.random(len(order))
    frac = n / len(frame)
    picked = []
    for g in np.unique(key):
        rows = order[key == g]
        take = max(1, int(round(frac * len(rows))))
        picked.append(rows[np.argsort(u[key == g], kind="stable")[:take]])
    return np.sort(np.concatenate(picked))


def stratified_customer_positions(frame: pd.DataFrame, strata: Sequence[str], n: Optional[int],
                                  seed: Optional[int] = None) -> np.ndarray:
    """Sorted row positions of at most ``n`` rows, whole customers, each stratum keeping the same share.

    Each row gets its customer's seeded hash number (:func:`customer_unit` of ``SEQ``),
    rows are ranked by it within their stratum, and a row is kept where its rank, as a
    share of the stratum's rows, is at most ``n / len(frame)``. A customer's rows in
    several quarters tie on that number, so they are kept or dropped together, except
    the one customer a stratum's cut may fall on (ties are broken by row position); the
    draw does not otherwise depend on row order, and a stratum too small for one row at
    that share keeps none.
    Every row when ``n`` is ``None`` or at least ``len(frame)``. The input frame is not
    modified.

    Raises
    ------
    KeyError
        If a ``strata`` column or ``SEQ`` is missing.
    ValueError
        If ``n`` is negative.

    Examples
    --------
    >>> f = pd.DataFrame({"SEQ": list("aabbcd"), "g": list("xxxxyy")})
    >>> stratified_customer_positions(f, ["g"], 3, seed=1)
    array([2, 3, 4])
    """
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    codes = _strata_codes(frame, strata)
    if n is None or len(frame) <= n:
        return np.arange(len(frame))
    share = n / len(frame)
    u = customer_unit(frame["SEQ"], seed=seed)
    # rank within each stratum so every stratum keeps the same share of its rows
    rank = pd.Series(u).groupby(codes).rank(pct=True, method="first")
    return np.flatnonzero((rank <= share).to_numpy())
