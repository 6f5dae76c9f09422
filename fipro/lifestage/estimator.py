"""Estimator step: the life-stage classifier (LightGBM + scikit-learn calibration).

Why LightGBM: on the full-scale 2023q1 features (132 columns, 9 classes, 2 cores) it
fits 25k / 100k / 400k rows in 4 / 16 / 84 s against 18 / 47 / 187 s for
scikit-learn's ``HistGradientBoostingClassifier``, at the same held-out macro-F1
(issue #8's measurement), and the notebook's per-quarter budget is 3 minutes.
Probabilities are calibrated by scikit-learn itself
(``CalibratedClassifierCV(FrozenEstimator(booster), method=...)``) on customers kept
out of the booster's fit.
"""

from __future__ import annotations

import time
from numbers import Integral, Real
from typing import Any, Mapping, Optional, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fipro import config, split, treepredict
from fipro.evaluation import calibration
from fipro.lifestage.data import TARGET, feature_columns

CALIBRATION_METHODS = calibration.CALIBRATION_METHODS
# float32 input stays float32 (a full quarter's features are loaded so): no 64-bit copy
FLOAT_DTYPES = (np.float32, np.float64)

# One set of defaults: the constructor's. ``select`` may change learning-curve size and
# the few parameters it searches; everything else comes from here.
# Bagging half the rows per tree fits 250k rows in 51 s instead of 92 s (2 cores) for
# 0.002 less held-out macro-F1 (full-scale 2023q1), which the 3-minute budget needs.
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1, "n_estimators": 400, "num_leaves": 31, "min_child_samples": 40,
    "reg_lambda": 1.0, "colsample_bytree": 0.5, "subsample": 0.5, "class_weight": None,
}


class LifeStageClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted life-stage classifier with calibrated probabilities.

    ``fit`` sets a share of the customers aside (``calibration_size``, chosen by a seeded
    hash of ``groups`` so no customer is on both sides), fits LightGBM on the rest with
    early stopping on the set-aside customers, then fits scikit-learn's
    ``CalibratedClassifierCV`` on the same customers around the frozen booster.
    ``predict_proba`` returns calibrated probabilities and ``predict`` their arg-max.
    One held-out share serves both: the stopping round and one temperature are two
    numbers, and a second share costs the booster about 0.01 macro-F1 on the sample.

    Parameters
    ----------
    learning_rate, n_estimators, num_leaves, min_child_samples, reg_lambda, colsample_bytree, subsample
        LightGBM parameters (``subsample`` < 1 bags that share of rows for every tree) (``n_estimators`` is the most trees; early stopping on the
        validation customers picks the number used).
    class_weight : None, "balanced" or dict
        Class weighting of the boosting fit (a dict maps class index to weight).
    early_stopping_rounds : int or None
        Rounds without improvement of the validation log-loss before stopping;
        ``None`` fits ``n_estimators`` trees on every non-calibration customer.
    validation_fraction : float
        Share of customers for early stopping when there is no calibration share
        (``calibration=None``); otherwise the calibration customers stop the boosting.
    calibration : {"temperature", "isotonic", "sigmoid"} or None
        ``CalibratedClassifierCV`` method; ``None`` keeps the booster's probabilities
        (and fits on all customers but the early-stopping share).
    calibration_size : float
        Share of customers used to fit the calibrator.
    random_state : int or None
        Seed of the booster and of the customer splits; ``None`` uses ``config.RANDOM_SEED``.
    n_threads : int or None
        Threads of the booster; ``None`` uses ``config.N_THREADS`` (cores / parallel jobs).

    Attributes
    ----------
    classes_ : ndarray
        Class labels, sorted, in the dtype of ``y`` (ints in, ints out).
    estimator_ : lightgbm.LGBMClassifier
        The fitted booster.
    calibrator_ : sklearn.calibration.CalibratedClassifierCV or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame.
    feature_reference_ : Series
        Median of each feature over the fit rows (what "high"/"low" means in reasons).
    n_iter_ : int
        Boosting rounds kept by early stopping.
    forest_ : fipro.treepredict.FlatForest or None
        The booster's trees as arrays, for predicting equal probabilities faster (``None``:
        a forest that module does not cover, predicted by LightGBM).
    n_calibration_ : int
        Rows used to fit the calibrator.
    fit_seconds_ : float

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(600, 6, n_informative=4, n_classes=3, random_state=0)
    >>> clf = LifeStageClassifier(n_estimators=30, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.predict(X[:2]).dtype.kind
    ((2, 3), 'i')
    """

    def __init__(self, *, learning_rate: float = 0.1, n_estimators: int = 400, num_leaves: int = 31,
                 min_child_samples: int = 40, reg_lambda: float = 1.0, colsample_bytree: float = 0.5,
                 subsample: float = 0.5, class_weight: Optional[str] = None, early_stopping_rounds: Optional[int] = 20,
                 validation_fraction: float = 0.1, calibration: Optional[str] = "temperature",
                 calibration_size: float = 0.1, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None):
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.calibration_size = calibration_size
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM routes missing values itself
        return tags

    def _check_params(self) -> None:
        """Validate every parameter before any work (clear errors name the parameter)."""
        def positive(name, kind=Real, low=0.0, inclusive=False):
            v = getattr(self, name)
            if not isinstance(v, kind) or isinstance(v, bool) or (v < low if inclusive else v <= low):
                raise ValueError(f"{name} must be a {'number' if kind is Real else 'whole number'} "
                                 f"{'>=' if inclusive else '>'} {low}, got {v!r}")

        positive("learning_rate")
        positive("n_estimators", Integral)
        positive("num_leaves", Integral, 1)
        positive("min_child_samples", Integral, 1, inclusive=True)
        positive("reg_lambda", Real, 0.0, inclusive=True)
        if self.early_stopping_rounds is not None:
            positive("early_stopping_rounds", Integral)
        for name in ("colsample_bytree", "subsample"):
            v = getattr(self, name)
            if not isinstance(v, Real) or not 0 < v <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {v!r}")
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
        if self.calibration is not None and self.calibration not in CALIBRATION_METHODS:
            raise ValueError(f"calibration must be one of {CALIBRATION_METHODS} or None, got {self.calibration!r}")
        for name in ("validation_fraction", "calibration_size"):
            v = getattr(self, name)
            if not isinstance(v, Real) or not 0 < v < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5), got {v!r}")
        if self.random_state is not None and not isinstance(self.random_state, Integral):
            raise ValueError(f"random_state must be an int or None, got {self.random_state!r}")
        if self.n_threads is not None and (not isinstance(self.n_threads, Integral) or self.n_threads < 1):
            raise ValueError(f"n_threads must be a positive int or None, got {self.n_threads!r}")

    def _booster(self, seed: int) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(
            learning_rate=self.learning_rate, n_estimators=self.n_estimators,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda,
            colsample_bytree=self.colsample_bytree, subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0, class_weight=self.class_weight, random_state=seed,
            n_jobs=self.n_threads or config.N_THREADS, deterministic=True, force_col_wise=True, verbose=-1)

    def fit(self, X, y, groups=None):
        """Fit booster and calibrator.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
        y : array of shape (n,)
        groups : array of shape (n,), optional
            Customer ids: a customer's rows stay on one side of the calibration and
            early-stopping splits. Default: every row its own customer.
        """
        self._check_params()
        start = time.perf_counter()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=FLOAT_DTYPES, reset=True)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has one class only ({self.classes_[0]!r}): nothing to learn")
        seed = split.resolve_seed(self.random_state)
        ids = np.arange(len(y)).astype(str) if groups is None else np.asarray(groups).astype(str)
        if len(ids) != len(y):
            raise ValueError(f"groups has {len(ids)} entries but X has {len(y)} rows")
        # seeds of their own: the train/test split used the project seed on the same ids
        u = split.customer_unit(ids, seed=seed + 7919)
        none = np.zeros(len(y), dtype=bool)
        cal = (u < self.calibration_size) if self.calibration is not None else none
        if self.early_stopping_rounds is None:
            val = none
        else:
            val = cal if self.calibration is not None else (u >= 1 - self.validation_fraction)
        fit = ~cal & ~val
        if (not fit.any() or (self.early_stopping_rounds is not None and not val.any())
                or (self.calibration is not None and len(np.unique(y_idx[cal])) < len(self.classes_))):
            raise ValueError("too few customers to set aside early-stopping and calibration shares "
                             "(the calibration customers must hold every class)")
        booster = self._booster(seed)
        if self.early_stopping_rounds is not None:
            booster.fit(X[fit], y_idx[fit], eval_X=(X[val],), eval_y=(y_idx[val],),
                        callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        else:
            booster.fit(X[fit], y_idx[fit])
        self.estimator_ = booster
        self.n_iter_ = int(booster.best_iteration_ or booster.n_estimators)
        self.forest_ = treepredict.flatten(booster)  # None: LightGBM's own predict is used
        self.feature_reference_ = pd.Series(np.nanmedian(X[fit], axis=0) if fit.sum() else np.nan,
                                            index=self._names())
        self.calibrator_ = None
        if self.calibration is not None:
            # calibrated on the booster's probabilities, so one booster pass gives both
            P_cal = self._full_proba(X[cal])
            self.calibrator_ = calibration.calibrate(calibration.ProbabilityInput().fit(P_cal, y_idx[cal]),
                                                     P_cal, y_idx[cal], self.calibration)
        self.n_calibration_ = int(cal.sum())
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return list(self.feature_names_in_)
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _full_proba(self, A: np.ndarray) -> np.ndarray:
        """The booster's probabilities over all of ``classes_`` (a class it never saw gets 0):
        through ``forest_`` when there is one (a model saved before it existed has none)."""
        forest = getattr(self, "forest_", None)
        booster = self.estimator_
        P = booster.predict_proba(A) if forest is None else treepredict.predict_proba(forest, A)
        if P.shape[1] == len(self.classes_):
            return P
        full = np.zeros((len(A), len(self.classes_)))
        full[:, np.asarray(booster.classes_, dtype=int)] = P
        return full

    def predict_proba_pair(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(uncalibrated, calibrated)`` probabilities from one booster pass."""
        A = self.transform_input(X)  # checks the fit first
        raw = self._full_proba(A)
        return raw, (raw if self.calibrator_ is None else self.calibrator_.predict_proba(raw))

    def transform_input(self, X) -> np.ndarray:
        """``X`` validated as the fitted model expects it (float array in fit's column order)."""
        check_is_fitted(self, "estimator_")
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            missing = [c for c in self.feature_names_in_ if c not in X.columns]
            if missing:
                raise KeyError(f"X lacks {len(missing)} model features, e.g. {missing[:3]}")
            X = X[list(self.feature_names_in_)]
        return validate_data(self, X, ensure_all_finite="allow-nan", dtype=FLOAT_DTYPES, reset=False)

    def predict_proba_uncalibrated(self, X) -> np.ndarray:
        """The booster's own probabilities (before calibration), columns in ``classes_`` order."""
        return self.predict_proba_pair(X)[0]

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order; rows sum to 1."""
        return self.predict_proba_pair(X)[1]

    def predict(self, X) -> np.ndarray:
        """The most probable class, in the dtype of the training labels."""
        proba = self.predict_proba(X)  # checks the fit first
        return self.classes_[proba.argmax(axis=1)]

    def class_index(self, y) -> np.ndarray:
        """Column index in ``classes_`` of each label (-1 for a label not seen in fit)."""
        check_is_fitted(self, "classes_")
        y = np.asarray(y)
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        return np.where(self.classes_[pos] == y, pos, -1)


def fit_lifestage(train: pd.DataFrame, params: Optional[Mapping[str, Any]] = None, *,
                  calibration: Optional[str] = "temperature", seed: Optional[int] = None,
                  n_threads: Optional[int] = None, columns: Optional[Sequence[str]] = None) -> LifeStageClassifier:
    """One-line twin: a :class:`LifeStageClassifier` fitted on a frame's rows (features, ``SEQ``, label).

    ``columns`` are the model inputs (default: every shared model feature); ``seed`` the
    classifier's ``random_state`` (``None``: ``config.RANDOM_SEED`` when it is fitted).
    """
    model = LifeStageClassifier(**{**DEFAULT_PARAMS, **dict(params or {})}, calibration=calibration,
                                random_state=seed, n_threads=n_threads)
    cols = list(columns) if columns is not None else feature_columns()
    return model.fit(train[cols], train[TARGET].to_numpy(dtype=str), groups=train["SEQ"].to_numpy())
