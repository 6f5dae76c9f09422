"""Amounts relative to the customer's peers in the same quarter (a step over a whole quarter).

The shared features (:mod:`fipro.features.build`) are computed from each customer's own
rows; this module is the one place that compares a customer with the other customers of
the quarter. Card spending has overall levels by sex, region and quarter (published:
women spend 0.848 of what men spend per card user, 세종/서울 about 1.3 times 경북, the
quarters' approvals rise 20% over two years; the stand-in 3.x plants them). An absolute
amount (``log_<COL>``) then mixes those levels with what a model looks for: a tree must
split on sex, on one of 17 region flags and, with quarters pooled, on a quarter it cannot
see before a threshold on an amount means the same for everyone.

:func:`relative_amounts` removes them: ``peer_log_<COL>`` = log1p(amount / L), where
log L is the row's peer level, an additive model of log1p(``TOT_USE_AM``) over the
quarter's spending rows (``TOT_USE_AM`` > 0):

    log L = quarter mean + sex effect + region effect  (+ an age effect, fitted but kept
    in the amounts: age is life-stage information, and the model sees the age band)

fitted by backfitting, each effect a mean residual shrunk towards 0 by ``SHRINK_ROWS``
(a region of 30 customers on the sample moves little; at full scale nothing is shrunk).
No spending stays 0, and a level multiplier common to a peer group cancels exactly
(the feature is a function of amount / L). The fit reads four columns of one quarter
and costs a few bincounts; the features replace ``log_<COL>`` one for one, so a model
using them fits and predicts the same number of columns.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from fipro import contract
from fipro.features.spec import REGION_ROMAN, feature_label_ko

PREFIX = "peer_log_"
LEVEL_SOURCE = "log_TOT_USE_AM"
# a peer effect is the mean residual of its rows shrunk as if SHRINK_ROWS more rows had a residual of 0
SHRINK_ROWS = 20
BACKFIT_ROUNDS = 10
REGION_FEATURES: tuple[str, ...] = tuple(f"region_{REGION_ROMAN[s]}" for s in contract.SIDO_CODES)
# the columns :func:`peer_levels` reads
LEVEL_INPUTS: tuple[str, ...] = ("BAS_YH", LEVEL_SOURCE, "sex_female", "age_band", *REGION_FEATURES)


def relative_name(column: str) -> str:
    """``log_<COL>`` (or ``<COL>``) -> ``peer_log_<COL>``.

    Examples
    --------
    >>> relative_name("log_TOT_USE_AM"), relative_name("FUEL_AM")
    ('peer_log_TOT_USE_AM', 'peer_log_FUEL_AM')
    """
    return PREFIX + column.removeprefix("log_")


def source_names(names: Sequence[str]) -> list[str]:
    """The ``log_<COL>`` feature each ``peer_log_<COL>`` is computed from.

    Examples
    --------
    >>> source_names(["peer_log_FUEL_AM"])
    ['log_FUEL_AM']
    """
    return ["log_" + n.removeprefix(PREFIX) for n in names]


def relative_names() -> list[str]:
    """``peer_log_<COL>`` for every amount column, in contract order."""
    return [relative_name(c) for c in contract.AMOUNT_COLUMNS]


def relative_label_ko(name: str) -> str:
    """Korean label of a ``peer_log_<COL>`` feature (its amount's label, said relative to peers).

    Examples
    --------
    >>> relative_label_ko("peer_log_TOT_USE_AM")
    '총이용금액(같은 성별·지역 대비)'
    """
    return f"{feature_label_ko('log_' + name.removeprefix(PREFIX))}(같은 성별·지역 대비)"


def _codes(values: np.ndarray) -> np.ndarray:
    # NaN (unknown sex or age) is a group of its own
    return pd.factorize(pd.Series(values), use_na_sentinel=False)[0]


def _quarter_levels(y: np.ndarray, factors: dict[str, np.ndarray], removed: Sequence[str]) -> np.ndarray:
    """Backfitted additive log level of one quarter's rows; the sum of the ``removed`` effects
    plus the mean. ``y`` is NaN for rows that do not enter the fit (no spending, missing)."""
    ok = ~np.isnan(y)
    n = int(ok.sum())
    if n == 0:
        return np.zeros(len(y))
    mu = float(y[ok].mean())
    codes = {k: _codes(v) for k, v in factors.items()}
    effects = {k: np.zeros(int(c.max()) + 1) for k, c in codes.items()}
    resid = np.where(ok, y - mu, 0.0)
    for _ in range(BACKFIT_ROUNDS):
        for k, c in codes.items():
            resid += np.where(ok, effects[k][c], 0.0)  # this effect's part back in
            total = np.bincount(c[ok], weights=resid[ok], minlength=len(effects[k]))
            count = np.bincount(c[ok], minlength=len(effects[k]))
            e = total / (count + SHRINK_ROWS)
            e -= (e[c[ok]]).mean()  # centred over the rows: the mean stays in mu
            effects[k] = e
            resid -= np.where(ok, e[c], 0.0)
    return mu + sum(effects[k][codes[k]] for k in removed)


def peer_levels(frame: pd.DataFrame) -> np.ndarray:
    """log L of every row: its quarter's mean plus its sex and region effects (see the module).

    ``frame`` holds :data:`LEVEL_INPUTS` (the shared features of one or more quarters);
    each quarter (``BAS_YH``) is fitted on its own rows.
    """
    missing = [c for c in LEVEL_INPUTS if c not in frame]
    if missing:
        raise KeyError(f"peer levels need the features {missing}")
    y_all = frame[LEVEL_SOURCE].to_numpy(dtype=np.float64, na_value=np.nan)
    y_all = np.where(y_all > 0, y_all, np.nan)
    regions = frame[list(REGION_FEATURES)].to_numpy(dtype=np.float64, na_value=0.0)
    region = np.where(regions.max(axis=1) > 0, regions.argmax(axis=1), -1)  # -1: missing or unknown region
    sex = frame["sex_female"].to_numpy(dtype=np.float64, na_value=np.nan)
    age = frame["age_band"].to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.zeros(len(frame))
    quarter_codes, _ = pd.factorize(frame["BAS_YH"].astype(str))
    for q in range(int(quarter_codes.max()) + 1 if len(frame) else 0):
        rows = np.flatnonzero(quarter_codes == q)
        out[rows] = _quarter_levels(y_all[rows], {"age": age[rows], "sex": sex[rows], "region": region[rows]},
                                    removed=("sex", "region"))
    return out


def relative_amounts(frame: pd.DataFrame, levels: Optional[np.ndarray] = None,
                     columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """``peer_log_<COL>`` = log1p(amount / L) from ``log_<COL>``, for ``columns`` (names
    ``peer_log_<COL>``; default every amount column, :func:`relative_names`).

    ``levels`` (log L per row) defaults to :func:`peer_levels` of ``frame``. Same index as
    ``frame``; zero stays 0 and a missing amount stays missing.
    """
    names = relative_names() if columns is None else list(columns)
    log_l = peer_levels(frame) if levels is None else np.asarray(levels, dtype=np.float64)
    scale = np.exp(-log_l)
    out = {}
    for name, source in zip(names, source_names(names)):
        amount = np.expm1(frame[source].to_numpy(dtype=np.float64, na_value=np.nan))
        out[name] = np.log1p(amount * scale)
    return pd.DataFrame(out, index=frame.index)
