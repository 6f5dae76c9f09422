"""Customer-level splits and the temporal check's quarter pairs.

A customer's role (train / calibration / test) is a function of their ``SEQ`` and the
seed only: a seeded hash maps each id to a number in [0, 1), cut at the requested
shares. So the split needs no state, is the same in every quarter (a test customer
of 2023q1 is a test customer of 2023q2 too, which keeps the temporal check free of
customer leakage), and the same on a full file and on a sample.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from fipro import config

ROLES = ("train", "calibration", "test")


def customer_unit(seq, seed: Optional[int] = None) -> np.ndarray:
    """A seeded uniform number in [0, 1) per customer id (same id, same number).

    Examples
    --------
    >>> u = customer_unit(["a", "b", "a"], seed=1)
    >>> bool(u[0] == u[2]) and bool((0 <= u).all() and (u < 1).all())
    True
    """
    seed = config.RANDOM_SEED if seed is None else int(seed)
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


def temporal_pair(quarter: str, quarters: Sequence[str]) -> tuple[str, str]:
    """(fit quarter, test quarter) of the temporal check for ``quarter``.

    Fit on ``quarter`` and test on the next available quarter; for the last quarter
    (nothing after it) fit on the previous one and test on ``quarter``.

    Raises
    ------
    ValueError
        If ``quarter`` is not in ``quarters`` or it is the only quarter.

    Examples
    --------
    >>> temporal_pair("2023q1", ["2022q4", "2023q1", "2023q2"])
    ('2023q1', '2023q2')
    >>> temporal_pair("2023q2", ["2022q4", "2023q1", "2023q2"])
    ('2023q1', '2023q2')
    """
    ordered = sorted(set(quarters))
    if quarter not in ordered:
        raise ValueError(f"{quarter} is not among the available quarters {ordered}")
    if len(ordered) < 2:
        raise ValueError("the temporal check needs at least two quarters")
    i = ordered.index(quarter)
    return (quarter, ordered[i + 1]) if i + 1 < len(ordered) else (ordered[i - 1], quarter)


def role_table(seq, roles) -> pd.DataFrame:
    """Rows and distinct customers per role (a check that the split has the intended sizes)."""
    frame = pd.DataFrame({"SEQ": np.asarray(seq), "role": np.asarray(roles)})
    table = frame.groupby("role").agg(rows=("SEQ", "size"), customers=("SEQ", "nunique"))
    table = table.reindex([r for r in ROLES if r in table.index])
    table["share"] = table["rows"] / max(len(frame), 1)
    return table
