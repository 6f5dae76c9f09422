"""Classification metrics shared by every model: summaries, per-class tables, confusion.

Functions take label arrays and return plain dicts or frames with Korean display
names where a person reads them; nothing here plots or touches the disk.

Macro-F1 is averaged over the classes that occur in ``y_true`` (a class that never
occurs in the evaluated rows has no defined recall and would only add noise), unless
``labels`` is given explicitly.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from fipro.evaluation.explainability import josa


def _as_labels(values) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError("labels must be one-dimensional")
    return arr


def _present_labels(y_true: np.ndarray, order: Optional[Sequence] = None) -> list:
    present = pd.unique(pd.Series(y_true))
    if order is None:
        return sorted(present, key=str)
    present_set = set(present)
    return [c for c in order if c in present_set]


def classification_summary(y_true, y_pred, labels: Optional[Sequence] = None) -> dict:
    """Headline numbers of a classifier: accuracy, macro-F1, weighted-F1 and row count.

    Parameters
    ----------
    y_true, y_pred : array-like of labels
    labels : sequence, optional
        Classes the macro average runs over; default: the classes present in ``y_true``.

    Returns
    -------
    dict
        ``{"accuracy", "macro_f1", "weighted_f1", "n"}``.

    Examples
    --------
    >>> s = classification_summary(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    >>> round(s["accuracy"], 2), round(s["macro_f1"], 4)
    (0.75, 0.7333)
    """
    y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("cannot score zero rows")
    labels = list(labels) if labels is not None else _present_labels(y_true)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "n": int(len(y_true)),
    }


def per_class_table(
    y_true,
    y_pred,
    labels: Optional[Sequence] = None,
    label_names: Optional[Mapping] = None,
) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, one row per class.

    Parameters
    ----------
    labels : sequence, optional
        Row order; default: the classes present in ``y_true`` (sorted).
    label_names : mapping, optional
        Code -> display name (e.g. ``contract.LIFE_STAGE_CODES``) for a ``name`` column.

    Returns
    -------
    DataFrame
        Indexed by class code, columns ``name, precision, recall, f1, support``.
    """
    y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
    labels = list(labels) if labels is not None else _present_labels(y_true)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    names = [str((label_names or {}).get(c, c)) for c in labels]
    out = pd.DataFrame(
        {"name": names, "precision": p, "recall": r, "f1": f, "support": s.astype(int)},
        index=pd.Index(labels, name="class"),
    )
    return out


def confusion_frame(
    y_true,
    y_pred,
    labels: Optional[Sequence] = None,
    label_names: Optional[Mapping] = None,
    normalize: Optional[str] = None,
) -> pd.DataFrame:
    """Confusion matrix as a frame: rows are true classes, columns predicted classes.

    Parameters
    ----------
    labels : sequence, optional
        Class order; default: classes present in either array (sorted).
    label_names : mapping, optional
        Code -> display name used for the row and column labels.
    normalize : {None, "true", "pred", "all"}
        As in :func:`sklearn.metrics.confusion_matrix`; ``"true"`` gives row shares.
    """
    y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
    if labels is None:
        labels = sorted(set(pd.unique(pd.Series(y_true))) | set(pd.unique(pd.Series(y_pred))), key=str)
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    names = [str((label_names or {}).get(c, c)) for c in labels]
    frame = pd.DataFrame(cm, index=pd.Index(names, name="실제"), columns=pd.Index(names, name="예측"))
    if normalize is not None:
        frame = frame.fillna(0.0)
    return frame


def compare_models(predictions: Mapping[str, tuple], labels: Optional[Sequence] = None) -> pd.DataFrame:
    """One summary row per model from ``{name: (y_true, y_pred)}``, best macro-F1 first."""
    if not predictions:
        raise ValueError("no models to compare")
    rows = {name: classification_summary(t, p, labels) for name, (t, p) in predictions.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[["accuracy", "macro_f1", "weighted_f1", "n"]]
    table.index.name = "model"
    return table.sort_values("macro_f1", ascending=False, kind="stable")


def most_confused_pairs(confusion: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """The largest off-diagonal cells of a confusion frame (true, predicted, value)."""
    values = confusion.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    long = (
        pd.DataFrame(values, index=confusion.index.astype(str), columns=confusion.columns.astype(str))
        .stack()
        .rename("value")
        .reset_index()
    )
    long.columns = ["true", "predicted", "value"]
    long = long[long["value"] > 0]
    return long.sort_values("value", ascending=False, kind="stable").head(top).reset_index(drop=True)


def describe_comparison(table: pd.DataFrame, model: str, baselines: Sequence[str], display: Optional[Mapping] = None) -> str:
    """A Korean sentence comparing a model's macro-F1 and accuracy with baselines.

    ``table`` is what :func:`compare_models` returns; ``display`` maps model keys to
    Korean names.
    """
    display = dict(display or {})
    name = lambda k: display.get(k, k)  # noqa: E731
    m = table.loc[model]
    parts = []
    for b in baselines:
        if b not in table.index:
            continue
        row = table.loc[b]
        parts.append(
            f"{name(b)}(매크로 F1 {row['macro_f1']:.3f}, 정확도 {row['accuracy']:.1%})보다 "
            f"매크로 F1이 {m['macro_f1'] - row['macro_f1']:+.3f}"
        )
    head = f"{name(model)}의 매크로 F1은 {m['macro_f1']:.3f}, 정확도는 {m['accuracy']:.1%}입니다"
    if not parts:
        return head + "."
    return head + ". " + ", ".join(parts) + " 차이가 납니다."


def describe_per_class(table: pd.DataFrame, top: int = 2) -> str:
    """A Korean sentence naming the easiest and hardest classes by F1."""
    ranked = table.sort_values("f1", ascending=False, kind="stable")
    best = ranked.head(top)
    worst = ranked.tail(top).iloc[::-1]
    fmt = lambda t: ", ".join(f"'{r['name']}'({r['f1']:.2f})" for _, r in t.iterrows())  # noqa: E731
    return f"가장 잘 맞히는 클래스는 {fmt(best)}, 가장 어려운 클래스는 {fmt(worst)}입니다 (F1 기준)."


def repr_ko(name: str) -> str:
    """A class name in Korean quotes for sentences: ``'신혼'``."""
    return f"'{name}'"


def describe_confusion(confusion: pd.DataFrame, top: int = 2) -> str:
    """A Korean sentence naming the most frequent confusions of a row-normalised matrix."""
    pairs = most_confused_pairs(confusion, top=top)
    if pairs.empty:
        return "혼동된 클래스가 없습니다."
    is_share = float(confusion.to_numpy().max()) <= 1.0
    fmt = (lambda v: f"{v:.0%}") if is_share else (lambda v: f"{int(v):,}건")

    items = [f"실제 {josa(repr_ko(r.true), '을/를')} {josa(repr_ko(r.predicted), '으로/로')} 본 경우({fmt(r.value)})"
             for r in pairs.itertuples()]
    return "가장 흔한 혼동은 " + ", ".join(items) + "입니다."
