"""The observable part of the planted stress: what a model can at best see of it.

The generator's ``stress_level`` (:func:`fipro.synth.generate._cards_and_stress`) adds

``1.5 (credit share − 0.6) + 1.0 fall + 0.8 (sd of log spending − 0.35) + 3.0 (care share − 0.12)``

to a personal term and quarterly noise that no spending record shows. Its spending part
uses the model-outcome rows (before anomalies) of *all eight* quarters, including the
quarters a customer is absent from the file. :func:`observable_stress` applies the same
weights to what the raw file shows up to each quarter: the observed amounts and card
split of the rows present so far, the fall from the previous quarter when that quarter is
in the file (else none), and the spread of log spending over the present quarters up to
this one (the centring value 0.35, i.e. no contribution, below two of them). Its ROC-AUC
for ``adverse_next`` is the observable ceiling (truth ``stress_observable``, difficulty
``stress_observable_auc``); a test checks that the weights here are the generator's.
"""

from __future__ import annotations

import numpy as np

from fipro.synth.params import CATS

LOG_OFFSET = 20.0          # log(total + 20): the generator's
CREDIT_WEIGHT, CREDIT_CENTRE = 1.5, 0.6
FALL_WEIGHT = 1.0
VOLATILITY_WEIGHT, VOLATILITY_CENTRE = 0.8, 0.35
CARE_WEIGHT, CARE_CENTRE = 3.0, 0.12
CARE_CATS = ("INSU_AM", "HOS_AM")


def stress_index(credit: np.ndarray, fall: np.ndarray, volatility: np.ndarray, care: np.ndarray) -> np.ndarray:
    """The spending part of the generator's stress from its four measures (arrays broadcast)."""
    return (CREDIT_WEIGHT * (credit - CREDIT_CENTRE) + FALL_WEIGHT * fall
            + VOLATILITY_WEIGHT * (volatility - VOLATILITY_CENTRE) + CARE_WEIGHT * (care - CARE_CENTRE))


def observable_stress(amounts: np.ndarray, check: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The stress index from the rows present up to each quarter (customers × quarters).

    Parameters
    ----------
    amounts : ndarray (n, T, len(CATS))
        The amounts per category as the file shows them (``TOT_USE_AM`` is their sum).
    check : ndarray (n, T)
        The check-card amount of each row.
    present : ndarray of bool (n, T)
        Whether the row is in the file.

    Returns
    -------
    ndarray (n, T)
        The index for every cell; only present cells are meaningful (an absent quarter
        never enters a later one's fall or spread). Quarter t reads quarters <= t only.

    Examples
    --------
    >>> a = np.zeros((1, 2, len(CATS))); a[0, :, 0] = [100, 100]
    >>> s = observable_stress(a, np.array([[40, 40]]), np.array([[True, True]]))
    >>> bool(np.isclose(s[0, 1], 1.5 * (0.6 - 0.6) + 0.8 * (0 - 0.35) + 3.0 * (0 - 0.12)))
    True
    """
    amounts = np.asarray(amounts, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    total = amounts.sum(2)
    credit = np.where(total > 0, (total - np.asarray(check, dtype=np.float64)) / np.maximum(total, 1), CREDIT_CENTRE)
    care = amounts[..., [CATS.index(c) for c in CARE_CATS]].sum(2) / np.maximum(total, 1)
    lt = np.log(total + LOG_OFFSET)
    before = np.c_[np.zeros((len(lt), 1), bool), present[:, :-1]]
    fall = np.where(before, np.maximum(np.c_[lt[:, :1], lt[:, :-1]] - lt, 0.0), 0.0)
    # expanding population sd of log spending over the present quarters up to each one
    k = np.cumsum(present, 1)
    s1 = np.cumsum(np.where(present, lt, 0.0), 1)
    s2 = np.cumsum(np.where(present, lt ** 2, 0.0), 1)
    mean = s1 / np.maximum(k, 1)
    sd = np.sqrt(np.maximum(s2 / np.maximum(k, 1) - mean ** 2, 0.0))
    volatility = np.where(k >= 2, sd, VOLATILITY_CENTRE)
    return stress_index(credit, fall, volatility, care)
