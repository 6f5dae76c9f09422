"""Estimator step of the health model: learned component weights and the risk model.

* :class:`HealthWeights` corrects the rule score's weights with the next-quarter adverse
  outcome: a logistic regression of the outcome on each component's shortfall
  ``(100 − c) / 100`` with non-negative coefficients (a lower component may only raise
  the risk: the direction every component was built with), then
  ``weights_ = (1 − blend) × rule weights + blend × learned weights`` — the score stays a
  weighted mean of components a person can read, and half of it stays the stated rule.
* :class:`RiskModel`: a gradient-boosted classifier (LightGBM) on the components and the
  spending level, monotone decreasing in every component, its probability calibrated
  by isotonic regression on customers it was not fitted on, and five grades from the
  calibrated probability. Sex, age and life stage are not inputs (peers only enter
  through the components' peer percentiles).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from fipro import config
from fipro.health.components import COMPONENT_NAMES, TRANSIENT, rule_weights

N_GRADES = 5
GRADE_SHARES = (0.30, 0.30, 0.20, 0.12, 0.08)  # grade 1 (lowest risk) … 5: a credit-grade-like pyramid


def _binary(y) -> np.ndarray:
    kind = type_of_target(y)
    if kind != "binary":
        raise ValueError(f"only binary outcomes are supported, got {kind!r}")
    return y


class HealthWeights(ClassifierMixin, BaseEstimator):
    """Non-negative logistic weights of component shortfalls, blended with the rule weights.

    Parameters
    ----------
    blend : float in [0, 1]
        Share of the learned weights in ``weights_`` (0: the rule weights only).
    l2 : float
        Ridge penalty on the coefficients (keeps weights stable on small samples).

    Attributes
    ----------
    coef_, intercept_ : the fitted logistic coefficients (on shortfall / 100)
    learned_weights_, weights_ : (n_features,), each summing to 1
    classes_, n_features_in_
    """

    def __init__(self, *, blend: float = 0.5, l2: float = 1e-3):
        self.blend = blend
        self.l2 = l2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y):
        if not 0 <= self.blend <= 1 or self.l2 < 0:
            raise ValueError(f"blend must be in [0, 1] and l2 >= 0, got {self.blend!r}, {self.l2!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        _binary(y)
        self.classes_, yi = np.unique(y, return_inverse=True)
        S = (100.0 - X) / 100.0
        n, k = S.shape

        def loss(theta):
            b, w = theta[0], theta[1:]
            z = b + S @ w
            p = 1 / (1 + np.exp(-z))
            value = np.mean(np.logaddexp(0, z) - yi * z) + self.l2 * w @ w
            grad = np.concatenate([[np.mean(p - yi)], S.T @ (p - yi) / n + 2 * self.l2 * w])
            return value, grad

        base = np.clip(yi.mean(), 1e-6, 1 - 1e-6)
        res = minimize(loss, np.r_[np.log(base / (1 - base)), np.zeros(k)], jac=True, method="L-BFGS-B",
                       bounds=[(None, None)] + [(0, None)] * k)
        self.intercept_, self.coef_ = float(res.x[0]), res.x[1:]
        rule = rule_weights() if k == len(COMPONENT_NAMES) else np.full(k, 1 / k)
        # transient components keep their rule weight: the outcome rewards them most, and
        # they would make the score swing from quarter to quarter
        fixed = np.array([n in TRANSIENT for n in COMPONENT_NAMES]) if k == len(COMPONENT_NAMES) else np.zeros(k, bool)
        coef = np.where(fixed, 0.0, self.coef_)
        total = coef.sum()
        learned = coef / total * (1 - rule[fixed].sum()) if total > 0 else rule
        self.learned_weights_ = np.where(fixed, rule, learned)
        self.weights_ = (1 - self.blend) * rule + self.blend * self.learned_weights_
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.intercept_ + ((100.0 - X) / 100.0) @ self.coef_

    def predict_proba(self, X) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class RiskModel(ClassifierMixin, BaseEstimator):
    """LightGBM, monotone decreasing in the first ``n_monotone`` inputs, isotonic-calibrated.

    ``fit(X, y, X_cal=..., y_cal=...)``: the booster learns on ``X``; the isotonic map on
    the held-out ``X_cal`` (without it, on ``X``). ``grade(p)``: 1 (lowest risk) … 5 at the
    ``GRADE_SHARES`` quantiles of the calibrated probability on the fitted rows.

    Attributes
    ----------
    booster_, calibrator_, grade_cuts_, classes_, n_features_in_
    """

    def __init__(self, *, monotone: tuple = (), n_estimators: int = 200, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 50, n_jobs: Optional[int] = None, random_state: int = 0):
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, X_cal=None, y_cal=None):
        import lightgbm as lgb

        X, y = validate_data(self, X, y, dtype=np.float64)
        _binary(y)
        self.classes_, yi = np.unique(y, return_inverse=True)
        constraints = list(self.monotone) + [0] * (X.shape[1] - len(self.monotone))
        if len(constraints) != X.shape[1]:
            raise ValueError(f"monotone has {len(self.monotone)} entries for {X.shape[1]} inputs")
        self.booster_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, monotone_constraints=constraints,
            monotone_constraints_method="advanced", subsample=0.8, subsample_freq=1, colsample_bytree=0.9,
            n_jobs=self.n_jobs if self.n_jobs is not None else config.N_THREADS, random_state=self.random_state,
            deterministic=True, force_row_wise=True, verbose=-1,
        ).fit(X, yi)
        if X_cal is not None:
            Xc = validate_data(self, X_cal, dtype=np.float64, reset=False)
            yc = np.searchsorted(self.classes_, np.asarray(y_cal))
        else:
            Xc, yc = X, yi
        raw = self.booster_.predict_proba(Xc)[:, 1]
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, yc)
        fitted = self.calibrator_.predict(self.booster_.predict_proba(X)[:, 1])
        self.grade_cuts_ = np.quantile(fitted, np.cumsum(GRADE_SHARES)[:-1])
        return self

    def raw_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.booster_.predict_proba(X)[:, 1]

    def predict_proba(self, X) -> np.ndarray:
        p = self.calibrator_.predict(self.raw_proba(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    def grade(self, probability: np.ndarray) -> np.ndarray:
        """Grade 1 (lowest risk) … 5 from calibrated probabilities."""
        check_is_fitted(self)
        return 1 + np.searchsorted(self.grade_cuts_, np.asarray(probability), side="right")


def grades_from_score(score: np.ndarray) -> np.ndarray:
    """Grades without an outcome to learn from (real data): the ``GRADE_SHARES`` quantiles of
    (100 − score) within the quarter, 1 (healthiest) … 5."""
    risk = 100.0 - np.asarray(score, dtype=float)
    cuts = np.quantile(risk, np.cumsum(GRADE_SHARES)[:-1])
    return 1 + np.searchsorted(cuts, risk, side="right")
