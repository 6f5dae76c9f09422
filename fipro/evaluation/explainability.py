"""Explanations shared by every model: SHAP values, global importance, Korean reasons.

* :func:`shap_values` explains a fitted classifier on a few rows. Tree ensembles
  (scikit-learn's ``HistGradientBoosting*``, ``GradientBoosting*``, random forests) go
  through ``shap.TreeExplainer`` (exact, fast; shap 0.51 supports HistGradientBoosting).
  Anything else goes through shap's permutation explainer on a small background
  sample of the rows, which is slower: keep ``X`` small.
* :func:`global_importance` ranks features by mean absolute SHAP value.
* :func:`top_reasons` / :func:`reason_sentence` turn one row's values into a Korean
  sentence such as "학원 지출 비중이 높아 '자녀 의무교육'일 가능성이 높습니다".

For tree classifiers the values are in the model's raw score space (log-odds per class),
not in probability: a later monotone calibration does not change their direction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

_TREE_MODULES = ("sklearn.ensemble", "xgboost", "lightgbm", "catboost")


# --- Korean particles ---------------------------------------------------------------

_DIGIT_HAS_FINAL = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False,
                    "6": True, "7": True, "8": True, "9": False}
_DIGIT_FINAL_IS_RIEUL = {"1", "7", "8"}


def _final_consonant(word: str) -> tuple[bool, bool]:
    """(has a final consonant, that consonant is ㄹ) of the last readable character."""
    text = re.sub(r"(\([^)]*\)|\[[^\]]*\]|['\"’”%\s])+$", "", str(word))
    for ch in reversed(text):
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            final = code % 28
            return final != 0, final == 8
        if ch.isdigit():
            return _DIGIT_HAS_FINAL[ch], ch in _DIGIT_FINAL_IS_RIEUL
        if ch.isalpha():
            return ch.lower() in "lmnr", ch.lower() in "lr"
    return False, False


def josa(word: str, particle: str) -> str:
    """``word`` followed by the right form of a Korean particle.

    ``particle`` is one of ``이/가``, ``은/는``, ``을/를``, ``과/와``, ``으로/로``,
    ``이라/라``, ``이고/고``, ``이어서/여서``.

    Examples
    --------
    >>> josa("학원 지출 비중", "이/가"), josa("연령대", "이/가"), josa("서울", "으로/로")
    ('학원 지출 비중이', '연령대가', '서울로')
    """
    with_final, without_final = particle.split("/")
    has_final, is_rieul = _final_consonant(word)
    if with_final == "으로":
        return word + ("으로" if has_final and not is_rieul else "로")
    return word + (with_final if has_final else without_final)


# --- SHAP values -------------------------------------------------------------------


@dataclass
class ShapExplanation:
    """SHAP values of a classifier on some rows.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_features, n_classes)
    base_values : ndarray of shape (n_classes,)
    feature_names : list of str
    classes : list
        Class labels in the order of the last axis.
    data : DataFrame
        The explained rows (same order as ``values``).
    method : str
        ``"tree"`` or ``"permutation"``.
    """

    values: np.ndarray
    base_values: np.ndarray
    feature_names: list
    classes: list
    data: pd.DataFrame
    method: str

    def for_class(self, cls) -> pd.DataFrame:
        """Values of one class as a frame (rows x features)."""
        j = self.classes.index(cls)
        return pd.DataFrame(self.values[:, :, j], columns=self.feature_names, index=self.data.index)


def _is_tree_model(model) -> bool:
    module = type(model).__module__
    return any(module.startswith(m) for m in _TREE_MODULES) and hasattr(model, "predict")


def shap_values(model, X: pd.DataFrame, *, background: Optional[pd.DataFrame] = None,
                max_background: int = 100, seed: Optional[int] = None) -> ShapExplanation:
    """SHAP values of a fitted classifier on the rows of ``X``.

    Parameters
    ----------
    model : fitted classifier with ``classes_``
        Tree ensembles use ``shap.TreeExplainer``; others need ``predict_proba`` and
        use shap's permutation explainer.
    X : DataFrame
        Rows to explain (keep it to a few hundred rows).
    background : DataFrame, optional
        Reference rows for the permutation explainer; default: a sample of ``X``.
    max_background : int
        Size of that sample.
    seed : int, optional
        Seed of the background sample and of the permutation explainer (``None``:
        ``config.RANDOM_SEED``; a tree model uses none).

    Returns
    -------
    ShapExplanation
    """
    import shap  # heavy import: only when explanations are asked for

    if not isinstance(X, pd.DataFrame):
        raise TypeError("X must be a DataFrame (feature names are needed for explanations)")
    classes = list(getattr(model, "classes_", []))
    if not classes:
        raise ValueError("model has no classes_: fit it first")
    if _is_tree_model(model):
        explainer = shap.TreeExplainer(model)
        values = np.asarray(explainer.shap_values(X))
        base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
        method = "tree"
    else:
        from fipro.split import resolve_seed, sample_positions  # only this branch needs them

        seed = resolve_seed(seed)
        bg = background if background is not None else X
        bg = bg.iloc[sample_positions(len(bg), max_background, seed)]
        explainer = shap.explainers.Permutation(model.predict_proba, bg, seed=seed)
        exp = explainer(X)
        values = np.asarray(exp.values)
        base = np.asarray(exp.base_values, dtype=float)
        base = base.mean(axis=0) if base.ndim == 2 else np.atleast_1d(base)
        method = "permutation"
    if values.ndim == 2:  # binary tree model: one raw score for the positive class
        values = np.stack([-values, values], axis=2)
        base = np.array([-base[0], base[0]])
    if values.shape[:2] != X.shape or values.shape[2] != len(classes):
        raise ValueError(f"unexpected SHAP shape {values.shape} for X {X.shape} and {len(classes)} classes")
    return ShapExplanation(values, base, list(X.columns), classes, X.copy(), method)


def global_importance(explanation: ShapExplanation, feature_labels: Optional[Mapping[str, str]] = None,
                      class_names: Optional[Mapping] = None) -> pd.DataFrame:
    """Features ranked by mean |SHAP| summed over classes, with one column per class.

    Returns
    -------
    DataFrame
        Indexed by feature; ``label`` (Korean name), ``importance``, ``share`` of the
        total, and the mean |SHAP| per class under each class's display name.
    """
    mean_abs = np.abs(explanation.values).mean(axis=0)  # (features, classes)
    labels = [str((feature_labels or {}).get(f, f)) for f in explanation.feature_names]
    per_class = pd.DataFrame(
        mean_abs,
        index=pd.Index(explanation.feature_names, name="feature"),
        columns=[str((class_names or {}).get(c, c)) for c in explanation.classes],
    )
    total = mean_abs.sum(axis=1)
    out = pd.DataFrame({"label": labels, "importance": total, "share": total / max(total.sum(), 1e-300)},
                       index=per_class.index)
    out = pd.concat([out, per_class], axis=1)
    return out.sort_values("importance", ascending=False, kind="stable")


# --- reasons for one row --------------------------------------------------------------


def top_reasons(contributions: pd.Series, values: pd.Series, reference: pd.Series, k: int = 3,
                feature_labels: Optional[Mapping[str, str]] = None) -> pd.DataFrame:
    """The ``k`` features pushing hardest towards a class for one row.

    Parameters
    ----------
    contributions : Series
        SHAP values of the row for the class, indexed by feature.
    values : Series
        The row's feature values.
    reference : Series
        A typical value per feature (e.g. the median over the data) to say "high"/"low".
    k : int
        Number of reasons; only positive contributions count.

    Returns
    -------
    DataFrame
        ``feature, label, value, reference, contribution, direction`` with direction in
        ``{"high", "low", "zero", "typical"}``.
    """
    positive = contributions[contributions > 0].sort_values(ascending=False, kind="stable").head(k)
    rows = []
    for feature, contribution in positive.items():
        value, ref = values.get(feature, np.nan), reference.get(feature, np.nan)
        if pd.notna(value) and value == 0:
            direction = "zero"
        elif pd.isna(value) or pd.isna(ref) or np.isclose(value, ref):
            direction = "typical"
        else:
            direction = "high" if value > ref else "low"
        rows.append({"feature": feature, "label": str((feature_labels or {}).get(feature, feature)),
                     "value": value, "reference": ref, "contribution": float(contribution),
                     "direction": direction})
    return pd.DataFrame(rows, columns=["feature", "label", "value", "reference", "contribution", "direction"])


_CLAUSE = {  # (joining form, final form) per direction
    "high": ("높고", "높아"),
    "low": ("낮고", "낮아"),
    "zero": ("없고", "없어"),
    "typical": ("보통이고", "보통이어서"),
}


def _clause(row, last: bool, phrases: Mapping[str, Callable]) -> str:
    custom = phrases.get(row["feature"]) if phrases else None
    if custom is not None:
        noun = custom(row["value"])
        if noun:
            # "이고" reads naturally after either ending ("여성이고", "60~64세이고")
            return josa(noun, "이어서/여서") if last else f"{noun}이고"
    subject = josa(row["label"], "이/가")
    return f"{subject} {_CLAUSE[row['direction']][1 if last else 0]}"


def reason_sentence(reasons: pd.DataFrame, outcome: str, probability: Optional[float] = None,
                    phrases: Optional[Mapping[str, Callable]] = None) -> str:
    """A Korean sentence from :func:`top_reasons`.

    Parameters
    ----------
    reasons : DataFrame
        Output of :func:`top_reasons`.
    outcome : str
        The predicted class's display name, e.g. ``"자녀 의무교육"``.
    probability : float, optional
        Appended as "(확률 87%)".
    phrases : mapping feature -> callable(value) -> noun phrase, optional
        For coded features whose value reads better as a word (e.g. sex: ``"여성"``).

    Examples
    --------
    >>> r = pd.DataFrame([{"feature": "acdm", "label": "학원 지출 비중", "value": 0.3,
    ...                    "reference": 0.0, "contribution": 1.2, "direction": "high"}])
    >>> reason_sentence(r, "자녀 의무교육")
    "학원 지출 비중이 높아 '자녀 의무교육'일 가능성이 높습니다."
    """
    tail = f" (확률 {probability:.0%})" if probability is not None else ""
    if reasons is None or len(reasons) == 0:
        return f"뚜렷한 단서는 없지만 '{outcome}'일 가능성이 가장 높습니다{tail}."
    rows = list(reasons.to_dict("records"))
    clauses = [_clause(r, i == len(rows) - 1, phrases or {}) for i, r in enumerate(rows)]
    return f"{' '.join(clauses)} '{outcome}'일 가능성이 높습니다{tail}."


def explain_rows(explanation: ShapExplanation, predicted: Sequence, reference: pd.Series, k: int = 3,
                 feature_labels: Optional[Mapping[str, str]] = None, class_names: Optional[Mapping] = None,
                 probabilities: Optional[Sequence[float]] = None,
                 phrases: Optional[Mapping[str, Callable]] = None) -> pd.DataFrame:
    """Reasons and a Korean sentence for each explained row, towards its predicted class.

    Returns
    -------
    DataFrame
        Indexed like ``explanation.data``: ``predicted``, ``reasons`` (top feature names,
        ``"|"``-joined) and ``sentence``.
    """
    predicted = list(predicted)
    if len(predicted) != len(explanation.data):
        raise ValueError("one predicted class per explained row is needed")
    out = []
    for i, (idx, row) in enumerate(explanation.data.iterrows()):
        cls = predicted[i]
        j = explanation.classes.index(cls)
        contrib = pd.Series(explanation.values[i, :, j], index=explanation.feature_names)
        reasons = top_reasons(contrib, row, reference, k=k, feature_labels=feature_labels)
        prob = None if probabilities is None else float(probabilities[i])
        out.append({
            "predicted": cls,
            "reasons": "|".join(reasons["feature"]),
            "sentence": reason_sentence(reasons, str((class_names or {}).get(cls, cls)), prob, phrases),
        })
    return pd.DataFrame(out, index=explanation.data.index)


def describe_importance(importance: pd.DataFrame, top: int = 3) -> str:
    """A Korean sentence naming the most important features and their share."""
    head = importance.head(top)
    names = ", ".join(f"'{lbl}'" for lbl in head["label"])
    return (f"모델이 가장 많이 기대는 특성은 {names}이며, 상위 {len(head)}개가 전체 SHAP 중요도의 "
            f"{head['share'].sum():.0%}를 차지합니다.")
