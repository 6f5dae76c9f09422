"""Peer groups: who a customer is compared with, declared once, and one integer code per group.

Two groupings are in use, each named by what it holds:

* :data:`PEER_GROUP`, age band × sex × life stage: the customer's peers in the peer
  comparison (:mod:`fipro.compare`), the views' comparison chart, and the segment
  model's style (spending relative to these peers);
* :data:`STAGE_AGE_GROUP`, life stage × age band (no sex split): the anomaly rules'
  peer baselines and the health components' peer percentiles, as those models were
  built and measured.

:func:`peer_group_codes` turns a frame's group columns into one integer per row, the
key every model groups by (a string key per row costs seconds at full scale).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

PEER_GROUP: tuple[str, ...] = ("AGE", "SEX_CD", "LIFE_STAGE")
STAGE_AGE_GROUP: tuple[str, ...] = ("LIFE_STAGE", "AGE")


def peer_group_codes(frame: pd.DataFrame, columns: Sequence[str] = PEER_GROUP) -> np.ndarray:
    """Peer group id per row: 0 … groups − 1, numbered in the sorted order of the ``columns``' values.

    Values are compared as text (a missing code is its own group, ``"nan"``), so the
    same codes give the same id whatever the row order or dtype (categorical or not).
    The input frame is not modified.

    Raises
    ------
    KeyError
        If a column is missing.

    Examples
    --------
    >>> f = pd.DataFrame({"LIFE_STAGE": ["UNI", "RETIR", "UNI"], "AGE": ["20", "60", "25"]})
    >>> peer_group_codes(f, STAGE_AGE_GROUP).tolist()
    [1, 0, 2]
    """
    missing = [c for c in columns if c not in frame]
    if missing:
        raise KeyError(f"frame has no column(s) {missing}")
    key = np.zeros(len(frame), dtype=np.int64)
    for c in columns:
        codes, uniques = pd.factorize(frame[c].astype(str), sort=True)
        key = key * max(len(uniques), 1) + codes
    # dense ids: a model sizes per-group arrays by the largest id
    return np.unique(key, return_inverse=True)[1].astype(np.int64).reshape(-1)
