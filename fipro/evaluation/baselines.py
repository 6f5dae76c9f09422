"""Baselines every model is compared with: the group-majority rule and the majority class.

One age × sex rule for the whole project: the synthetic generator's difficulty report
(raw codes ``AGE`` × ``SEX_CD``) and the model notebooks (features ``age_band`` ×
``sex_female``) both use :class:`GroupMajorityClassifier`, so groups and tie-breaking
agree: a missing value is a group of its own, and a tie goes to the class first in
sorted order.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

# The age-band × sex rule's groups, as the shared features encode them.
AGE_SEX_FEATURES: tuple[str, str] = ("age_band", "sex_female")
# The same groups as raw contract codes.
AGE_SEX_CODES: tuple[str, str] = ("AGE", "SEX_CD")
_MISSING = "<NA>"


class GroupMajorityClassifier(ClassifierMixin, BaseEstimator):
    """Most common class per group, a group being one combination of ``X``'s columns.

    Select the grouping columns before calling (``rule.fit(train[AGE_SEX_FEATURES], y)``):
    every column of ``X`` takes part in the key. Missing values form their own group.

    Attributes
    ----------
    classes_ : ndarray
        Classes seen in ``fit``, sorted, in the dtype of ``y``.
    table_ : dict
        Group key -> most common class (ties: first in sorted order).
    fallback_ : object
        Overall most common class (ties: first in sorted order), for unseen groups.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [20, 20, 20, 40], "sex": [1, 1, 1, 1]})
    >>> GroupMajorityClassifier().fit(X, ["a", "a", "b", "c"]).predict(X).tolist()
    ['a', 'a', 'a', 'c']
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value is a group of its own
        tags.input_tags.string = True
        return tags

    @staticmethod
    def _keys(A: np.ndarray) -> list:
        cols = [pd.Series(A[:, j], dtype=object) for j in range(A.shape[1])]
        return list(zip(*(c.where(c.notna(), _MISSING).to_numpy() for c in cols)))

    def fit(self, X, y):
        """Learn each group's most common class."""
        A, y = validate_data(self, X, y, dtype=None, ensure_all_finite=False, reset=True)
        check_classification_targets(y)
        codes, classes = pd.factorize(pd.Series(y), sort=True)
        self.classes_ = np.asarray(classes, dtype=np.asarray(y).dtype)
        frame = pd.DataFrame({"key": self._keys(A), "y": codes})
        counts = frame.groupby(["key", "y"], sort=True).size().reset_index(name="n")
        counts = counts.sort_values(["key", "n", "y"], ascending=[True, False, True], kind="stable")
        best = counts.drop_duplicates("key")
        self.table_ = dict(zip(best["key"], self.classes_[best["y"].to_numpy()]))
        # argmax takes the first of tied classes, which is the first in sorted order
        self.fallback_ = self.classes_[int(np.argmax(np.bincount(codes, minlength=len(self.classes_))))]
        return self

    def predict(self, X) -> np.ndarray:
        """Each row's group majority (the overall majority for an unseen group)."""
        check_is_fitted(self, "table_")
        A = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=False)
        return np.asarray([self.table_.get(k, self.fallback_) for k in self._keys(A)], dtype=self.classes_.dtype)


def age_sex_rule_predictions(frame: pd.DataFrame, y, *, columns: Sequence[str] = AGE_SEX_FEATURES) -> np.ndarray:
    """The age × sex rule fitted and applied on the same rows (the synthetic difficulty report)."""
    X = frame[list(columns)]
    return GroupMajorityClassifier().fit(X, y).predict(X)


def fit_baselines(X: pd.DataFrame, y, *, group_columns: Sequence[str] = AGE_SEX_FEATURES) -> dict:
    """The majority class and the group rule, fitted on the same training rows.

    Returns ``{"majority": DummyClassifier, "age_rule": GroupMajorityClassifier}``; both
    predict from ``X[list(group_columns)]``.
    """
    X = X[list(group_columns)]
    return {"majority": DummyClassifier(strategy="most_frequent").fit(X, y),
            "age_rule": GroupMajorityClassifier().fit(X, y)}


def probability_frame(proba: np.ndarray, classes: Sequence, keys: Optional[pd.DataFrame] = None, *,
                      prefix: str = "proba_") -> pd.DataFrame:
    """A per-row table of a classifier's output: keys, ``predicted``, ``probability``, one column per class.

    Every model's saved predictions use this layout, so the site, the summaries and the
    hand-off read them the same way.

    Examples
    --------
    >>> probability_frame(np.array([[0.2, 0.8]]), ["a", "b"]).to_dict("records")
    [{'predicted': 'b', 'probability': 0.8, 'proba_a': 0.2, 'proba_b': 0.8}]
    """
    P = np.asarray(proba, dtype=float)
    classes = np.asarray(classes)
    if P.ndim != 2 or P.shape[1] != len(classes):
        raise ValueError(f"proba has shape {P.shape} but there are {len(classes)} classes")
    out = pd.DataFrame(index=keys.index if keys is not None else None)
    if keys is not None:
        for c in keys.columns:
            out[c] = keys[c].to_numpy()
    out["predicted"] = classes[P.argmax(axis=1)] if len(P) else np.array([], dtype=classes.dtype)
    out["probability"] = P.max(axis=1) if len(P) else np.array([], dtype=float)
    for j, c in enumerate(classes):
        out[f"{prefix}{c}"] = P[:, j]
    return out
