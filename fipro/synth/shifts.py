"""The stand-in's documented quarter-to-quarter changes, as a table the drift alerts are checked against.

Three tables of :mod:`fipro.synth.params` move a category's use (logit) and amount (log odds)
from one quarter to the next by the same shift: ``SEASON`` (the quarter of the year: clothing,
travel and hotels, academies and books, groceries before 설 and 추석 …), ``QUARTER_SHIFT``
(the 2022 fuel-price peak, the recovery after distancing ended in April 2022). The overall
level of each quarter (``PERSONAL_CARD_APPROVALS``, stand-in 3.0) moves every category alike,
so it is no category's own shift and is left out (it replaced 2.0's ``YEAR_TREND``). :func:`planted_category_shifts` gives, for each
pair of consecutive quarters and each detail column, the change of their sum and the generator
rows it comes from.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from fipro import config
from fipro.synth.params import DETAILS, QUARTER_SHIFT, SEASON


def _level(column: str, i: int) -> float:
    season = SEASON.get(column, (0.0, 0.0, 0.0, 0.0))[i % 4]
    shift = QUARTER_SHIFT.get(column, (0.0,) * len(config.QUARTERS))[i]
    return season + shift


def planted_category_shifts(quarters: Sequence[str] = config.QUARTERS) -> pd.DataFrame:
    """One row per consecutive pair of ``quarters`` (of ``config.QUARTERS``) and detail column:
    ``previous``, ``quarter``, ``column``, ``shift`` (the planted change of use logit and log
    amount, current − previous) and ``rows`` (the generator rows that make it, e.g.
    ``QUARTER_SHIFT['FUEL_AM'] 2022q1 0 → 2022q2 0.12``)."""
    index = {q: i for i, q in enumerate(config.QUARTERS)}
    ordered = sorted(q for q in quarters if q in index)
    out = []
    for p, q in zip(ordered, ordered[1:]):
        i, j = index[p], index[q]
        for c in DETAILS:
            parts = []
            if c in SEASON and SEASON[c][i % 4] != SEASON[c][j % 4]:
                parts.append(f"SEASON['{c}'] q{i % 4 + 1} {SEASON[c][i % 4]:g} → q{j % 4 + 1} {SEASON[c][j % 4]:g}")
            if c in QUARTER_SHIFT and QUARTER_SHIFT[c][i] != QUARTER_SHIFT[c][j]:
                parts.append(f"QUARTER_SHIFT['{c}'] {p} {QUARTER_SHIFT[c][i]:g} → {q} {QUARTER_SHIFT[c][j]:g}")
            out.append({"previous": p, "quarter": q, "column": c, "shift": round(_level(c, j) - _level(c, i), 6),
                        "rows": "; ".join(parts)})
    return pd.DataFrame(out, columns=["previous", "quarter", "column", "shift", "rows"])
