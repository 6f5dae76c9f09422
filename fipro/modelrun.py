"""What every model shares: the run a ``run_quarter`` returns, its measurement targets, its folder.

Each model package (``lifestage``, ``anomaly``, ``segments``, ``health``, ``recommend``)
follows the same template (DEVELOPERS.md, "Adding a model"); this module holds the parts
that were five copies:

* :class:`ModelRun`: the base of every ``<Model>Run`` (quarter, headline, seconds,
  artifacts) and :meth:`ModelRun.finish`, the save-and-time tail of every ``run_quarter``;
* :class:`Target` and :func:`targets_frame`: each ``evaluation.py`` declares its
  ``TARGETS`` and its ``measurement_table(run)`` is :func:`targets_frame` of them;
* :func:`model_dir_of`: each ``artifacts.py``'s ``model_dir`` from its ``MODEL_NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence, Union

import pandas as pd

from fipro import datasets
from fipro.evaluation.intervals import headline_interval
from fipro.timing import Laps


@dataclass(kw_only=True)
class ModelRun:
    """Everything one quarter's run of a model produced; each model's ``<Model>Run`` adds its parts.

    Parameters
    ----------
    quarter : str
        The quarter the model ran for, e.g. ``"2023q1"``.
    headline : dict
        The numbers the notebook saves (``export.save_metrics``), the registry entry keeps
        and the benchmark reports; :meth:`finish` adds ``seconds``.
    artifacts : dict, optional
        What the model's ``save_artifacts(quarter, run)`` wrote (empty when not saved).
    seconds : dict, optional
        Seconds per step (:class:`fipro.timing.Laps`), ``total`` last.

    Attributes
    ----------
    model_name : str
        The model's registry name (its ``MODEL_NAME``), declared by each subclass.
    """

    model_name: ClassVar[str] = ""

    quarter: str
    headline: dict
    artifacts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def finish(self, laps: Laps, save: Optional[Callable[[str, "ModelRun"], dict]] = None) -> "ModelRun":
        """The tail of every ``run_quarter``: save (when ``save`` is given) and record the seconds.

        Parameters
        ----------
        laps : Laps
            The run's laps; ``save`` and ``total`` are added.
        save : callable, optional
            The model's ``save_artifacts(quarter, run)``; ``None`` when the run is not saved.

        Returns
        -------
        ModelRun
            This run, with ``artifacts``, ``seconds`` and ``headline["seconds"]`` filled.
        """
        self.seconds = laps.seconds
        if save is not None:
            self.artifacts = save(self.quarter, self)
            laps.lap("save")
        self.headline["seconds"] = dict(laps.since_start("total"))
        return self


Text = Union[str, Callable[[Mapping[str, Any]], str]]


@dataclass(frozen=True)
class Target:
    """One row of a model's measurement table: a headline value beside its goal.

    Parameters
    ----------
    key : str
        Headline key of the value; ``"a.b"`` reads ``headline["a"]["b"]``.
    label_ko : str or callable
        Korean row label, or a function of the headline that returns it.
    at_least, at_most : float, optional
        The goal: the value at least / at most this.
    below_ceiling : float, optional
        The goal: the value at least ``ceiling − below_ceiling``.
    ceiling : str, optional
        Headline key of the ceiling shown beside the value.
    holds : str, optional
        The goal in words for a yes/no value (met when the value is true), e.g. ``"단조"``.
    needs : str, optional
        Headline key that must be true for the row to be shown (e.g. ``"has_truth"``);
        without it, a row whose value is missing is left out.
    """

    key: str
    label_ko: Text
    at_least: Optional[float] = None
    at_most: Optional[float] = None
    below_ceiling: Optional[float] = None
    ceiling: Optional[str] = None
    holds: Optional[str] = None
    needs: Optional[str] = None

    def goal_ko(self, ceiling: Optional[float]) -> str:
        """The goal as shown (``""`` for a row shown for reference)."""
        if self.at_least is not None:
            return f"≥ {self.at_least:g}"
        if self.at_most is not None:
            return f"≤ {self.at_most:g}"
        if self.below_ceiling is not None:
            if ceiling is None:
                return f"≥ 상한 − {self.below_ceiling:g}"
            if self.below_ceiling == 0:
                return f"≥ 상한 = {ceiling:.3f}"
            return f"≥ 상한 − {self.below_ceiling:g} = {ceiling - self.below_ceiling:.3f}"
        return self.holds or ""

    def met(self, value: Any, ceiling: Optional[float]) -> Optional[bool]:
        """Whether the value meets the goal (``None`` without a goal or a value to judge)."""
        if value is None or (isinstance(value, float) and value != value):
            return None
        if self.at_least is not None:
            return bool(value >= self.at_least)
        if self.at_most is not None:
            return bool(value <= self.at_most)
        if self.below_ceiling is not None:
            return None if ceiling is None else bool(value >= ceiling - self.below_ceiling)
        if self.holds is not None:
            return bool(value)
        return None


def headline_value(headline: Mapping[str, Any], key: Optional[str]) -> Any:
    """``headline[key]`` where ``"a.b"`` reads ``headline["a"]["b"]``; ``None`` when absent."""
    if key is None:
        return None
    value: Any = headline
    for part in key.split("."):
        if not isinstance(value, Mapping) or value.get(part) is None:
            return None
        value = value[part]
    return value


MEASUREMENT_COLUMNS = ("값", "상한", "목표", "충족")
INTERVAL_COLUMN = "값 (95% 구간)"  # after 값 when a shown value was saved with its interval


def targets_frame(headline: Mapping[str, Any], targets: Sequence[Target]) -> pd.DataFrame:
    """The ``targets`` beside this run's ``headline`` values (Korean), one row per shown target.

    Columns ``값``, ``값 (95% 구간)`` (only when a shown value was saved with its interval,
    ``<key>_lo``/``<key>_hi``: ``0.725 (0.711–0.739)``), ``상한`` (only when a target names a
    ceiling), ``목표``, ``충족`` indexed by ``지표``; empty (with those columns) when no target
    applies, e.g. the truth-only rows on a real file.

    Examples
    --------
    >>> t = targets_frame({"auc": 0.8, "has_truth": True},
    ...                       [Target("auc", "AUC", at_least=0.75, needs="has_truth")])
    >>> t.loc["AUC", "목표"], bool(t.loc["AUC", "충족"]), list(t.columns)
    ('≥ 0.75', True, ['값', '목표', '충족'])
    """
    rows, shown = [], []
    for t in targets:
        if t.needs is not None and not headline.get(t.needs):
            continue
        value = headline_value(headline, t.key)
        if t.needs is None and value is None:
            continue
        ceiling = headline_value(headline, t.ceiling)
        label = t.label_ko(headline) if callable(t.label_ko) else t.label_ko
        rows.append((label, value, ceiling, t.goal_ko(ceiling), t.met(value, ceiling)))
        interval = headline_interval(headline, t.key)
        shown.append(interval.format() if interval is not None else "")
    table = pd.DataFrame(rows, columns=["지표", *MEASUREMENT_COLUMNS]).set_index("지표")
    if any(shown):
        table.insert(1, INTERVAL_COLUMN, shown)
    return table if any(t.ceiling for t in targets) else table.drop(columns="상한")


def saved_reasons(table: pd.DataFrame, seqs: Sequence[str]) -> pd.Series:
    """The ``reason`` column of a per-customer table for the customers of ``seqs`` (index ``SEQ``
    in that order, NaN for one not in it): the models whose run keeps a sentence per customer."""
    return table.set_index("SEQ")["reason"].reindex(pd.Index(list(seqs), name="SEQ")).rename("reason")


def model_dir_of(name: str) -> Callable[[str], Path]:
    """The ``model_dir(quarter)`` of model ``name``: ``outputs/<quarter>/models/<name>``.

    Examples
    --------
    >>> model_dir_of("toy")("2023q1").parts[-3:]
    ('2023q1', 'models', 'toy')
    """
    def model_dir(quarter: str) -> Path:
        return datasets.model_dir(quarter, name)

    model_dir.__doc__ = f"``outputs/<quarter>/models/{name}`` (``config.OUTPUTS_DIR`` when called)."
    model_dir.__qualname__ = model_dir.__name__ = "model_dir"
    return model_dir
