"""Life-stage classifier: baselines, tuned gradient boosting, calibration, reasons, feedback.

Predicts ``LIFE_STAGE`` for each customer × quarter from the shared features
(:mod:`fipro.features`, which include age band, sex and the other demographics).

Pieces, each usable alone (the notebook ``03_lifestage`` tells the story with them):

* :class:`GroupMajorityClassifier` — the age-band rule (most common life stage per
  age band × sex); :func:`fit_baselines` adds the majority class.
* :class:`LifeStageClassifier` — scikit-learn ``HistGradientBoostingClassifier``
  (NaN-aware, fast on ~150 numeric features, exact SHAP through ``TreeExplainer``)
  plus a probability calibrator fitted on a calibration share of the *training
  customers*; ``predict_proba`` returns the calibrated probabilities.
  :func:`tune_lifestage` chooses its hyper-parameters by customer-grouped CV on the
  training customers only.
* :func:`predict` — label, calibrated probabilities and Korean reasons for a frame or
  one customer; :func:`predict_customer` loads what it needs.
* Feedback (:func:`read_feedback`, :func:`apply_feedback`): user corrections in
  ``config.FEEDBACK_DIR / "lifestage_feedback.csv"`` replace labels before training;
  invalid rows are reported with a reason and skipped.
* :func:`bayes_ceiling` — on the synthetic stand-in, the generator's exact posterior
  (truth file) gives the best any single-row classifier can do; skipped on a real file.
* :func:`evaluate_quarter` — fit + evaluate + ceiling for one quarter, no plotting
  (what the benchmark times); :func:`save_artifacts` writes model, card, registry entry
  and ``predictions.parquet``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from fipro import config, contract, split
from fipro.evaluation import calibration as calib
from fipro.evaluation import explainability, metrics

TARGET = "LIFE_STAGE"
MODEL_NAME = "lifestage"
CODES: tuple[str, ...] = contract.LIFE_STAGE_ORDER
CODE_NAMES: dict[str, str] = dict(contract.LIFE_STAGE_CODES)
FEEDBACK_FILE = "lifestage_feedback.csv"
FEEDBACK_COLUMNS = ("SEQ", "quarter", "corrected_code", "time", "note")
RULE_COLUMNS = ("age_band", "sex_female")  # the age-band rule's groups, as features encode them
MODEL_DISPLAY = {"model": "모델(그래디언트 부스팅)", "age_rule": "연령대×성별 규칙", "majority": "최빈 클래스",
                 "ceiling": "베이즈 상한(사후확률 argmax)"}

# Hyper-parameters searched by :func:`tune_lifestage`: small on purpose (the sample run must
# stay well under two minutes); early stopping picks the number of trees inside each fit.
# Preceding quarters pooled into training (training customers' rows only), see load_lifestage_data;
# a quarter with POOL_BELOW_ROWS rows or more has data enough and is not pooled.
DEFAULT_HISTORY = 2
POOL_BELOW_ROWS = 100_000
# class_weight is fixed at "balanced": macro-F1 is the target and balanced won the
# grouped CV in every sample quarter; the tree size is what the CV chooses.
DEFAULT_GRID: dict[str, list] = {
    "max_leaf_nodes": [15, 31],
}
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 300,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "max_features": 0.5,
    "class_weight": "balanced",
}


# --- features and labels ------------------------------------------------------------------


def feature_columns() -> list[str]:
    """Model inputs: the shared numeric features (``features.model_feature_names``)."""
    from fipro import features

    return list(features.model_feature_names())


def load_lifestage_data(quarter: str, history: int = 0) -> pd.DataFrame:
    """Keys, model features and the ``LIFE_STAGE`` label (codes as strings) of a quarter.

    ``history`` adds up to that many preceding ingested quarters' rows (oldest first,
    ``quarter`` last): the training customers' earlier rows triple the training set for
    three quarters, which closes most of the gap to the Bayes ceiling on the sample,
    and none of it comes from a later quarter, so the temporal check stays honest. Use
    :func:`train_test_rows` to keep the evaluation on ``quarter`` alone.

    Rows whose label is missing or not a contract code are dropped (they cannot be
    learned from or scored); ``attrs["n_dropped"]`` says how many.
    """
    if history:
        from fipro import ingest

        own = load_lifestage_data(quarter)
        if len(own) >= POOL_BELOW_ROWS:
            own.attrs["history_note"] = f"{len(own):,} rows: enough data, earlier quarters not pooled"
            return own
        available = ingest.available_quarters()
        earlier = [q for q in available if q < quarter][-history:] if quarter in available else []
        parts = [*(load_lifestage_data(q) for q in earlier), own]
        out = pd.concat(parts, ignore_index=True)
        out.attrs.update(n_dropped=sum(p.attrs["n_dropped"] for p in parts), quarter=quarter,
                         quarters=[*earlier, quarter])
        return out
    from fipro import features

    frame = features.load_features(quarter)
    cols = ["BAS_YH", "SEQ", *feature_columns()]
    if TARGET not in frame:
        from fipro import ingest

        labels = ingest.load_quarter(quarter, columns=["BAS_YH", "SEQ", TARGET])
        if not labels["SEQ"].astype(str).equals(frame["SEQ"].astype(str)):
            raise ValueError(f"features and table of {quarter} are not in the same row order")
        frame = frame.assign(**{TARGET: labels[TARGET].to_numpy()})
    out = frame[cols].copy()
    out["BAS_YH"] = out["BAS_YH"].astype(str)
    out["SEQ"] = out["SEQ"].astype(str)
    out[TARGET] = frame[TARGET].astype("string").to_numpy()
    keep = out[TARGET].isin(CODES).fillna(False).to_numpy(dtype=bool)
    out = out[keep].reset_index(drop=True)
    out[TARGET] = out[TARGET].astype(str)
    out.attrs["n_dropped"] = int((~keep).sum())
    out.attrs["quarter"] = quarter
    out.attrs["quarters"] = [quarter]
    return out


def current_rows(frame: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """The rows of ``quarter`` in a frame that may hold earlier quarters (``history``)."""
    return frame[frame["BAS_YH"].astype(str) == quarter]


def train_test_rows(frame: pd.DataFrame, roles: Sequence[str], quarter: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (every quarter in the frame) and test rows (``quarter`` only).

    ``roles`` come from :func:`fipro.split.customer_roles`, a hash of ``SEQ``: a
    customer is on the same side in every quarter, so pooling quarters leaks nothing.
    """
    roles = np.asarray(roles).astype(str)
    in_quarter = (frame["BAS_YH"].astype(str) == quarter).to_numpy()
    return frame[roles != "test"], frame[(roles == "test") & in_quarter]


def class_distribution(frame: pd.DataFrame, column: str = TARGET) -> pd.DataFrame:
    """Count and share per life stage (contract order, Korean names)."""
    counts = frame[column].value_counts().reindex(CODES, fill_value=0)
    counts = counts[counts > 0]
    return pd.DataFrame({"라이프스테이지": [CODE_NAMES[c] for c in counts.index], "고객 수": counts.to_numpy(),
                         "비중": (counts / counts.sum()).to_numpy()}, index=pd.Index(counts.index, name="code"))


# --- Korean feature names and phrases -------------------------------------------------------


def feature_label_ko(name: str) -> str:
    """A short Korean name of a model feature, for SHAP charts and reason sentences.

    One source with the feature contract (:func:`fipro.features.feature_label_ko`).

    Examples
    --------
    >>> feature_label_ko("share_ACDM_AM"), feature_label_ko("qoq_log_TOT_USE_AM")
    ('학원 지출 비중', '총이용금액 전분기 대비 증감')
    """
    from fipro import features

    return features.feature_label_ko(name)


def feature_labels_ko(names: Sequence[str]) -> dict[str, str]:
    return {n: feature_label_ko(n) for n in names}


def _age_phrase(v):
    if pd.isna(v):
        return "연령 미상"
    return contract.AGE_CODES.get(str(int(v)), f"{int(v)}세대")


def _binary_phrase(yes: str, no: Optional[str]):
    return lambda v: None if pd.isna(v) else (yes if v >= 0.5 else no)


def reason_phrases(names: Sequence[str]) -> dict:
    """Noun phrases for coded features whose value reads better as a word."""
    phrases: dict = {"age_band": _age_phrase, "sex_female": _binary_phrase("여성", "남성"),
                     "digital_active": _binary_phrase("디지털채널 이용 고객", "디지털채널 미이용 고객"),
                     "digital_registered": _binary_phrase("디지털채널 가입 고객", "디지털채널 미가입 고객"),
                     "no_prev_quarter": _binary_phrase("이번 분기 신규 고객", "기존 고객"),
                     "zero_total": _binary_phrase("이용 실적이 없는 고객", None),
                     "age_unknown": _binary_phrase("연령 미상 고객", None)}
    for n in names:
        if n.startswith("region_"):
            sido = feature_label_ko(n).removesuffix(" 거주")
            phrases[n] = _binary_phrase(f"{sido} 거주 고객", f"{sido} 외 지역 거주 고객")
    return {k: v for k, v in phrases.items() if k in set(names)}


# --- baselines --------------------------------------------------------------------------------


class GroupMajorityClassifier(ClassifierMixin, BaseEstimator):
    """Most common class per group of columns (e.g. the age-band × sex rule).

    Parameters
    ----------
    group_columns : tuple of str
        Columns of ``X`` whose combination forms a group; missing values form their own
        group.

    Attributes
    ----------
    classes_ : ndarray
    table_ : dict
        Group key -> most common class.
    fallback_ : object
        Overall most common class, for groups unseen in fit.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [20, 20, 20, 40], "sex": [1, 1, 1, 1]})
    >>> GroupMajorityClassifier(("age", "sex")).fit(X, ["a", "a", "b", "c"]).predict(X).tolist()
    ['a', 'a', 'a', 'c']
    """

    def __init__(self, group_columns: tuple = RULE_COLUMNS):
        self.group_columns = group_columns

    def _keys(self, X: pd.DataFrame) -> list:
        missing = [c for c in self.group_columns if c not in X]
        if missing:
            raise KeyError(f"X lacks the group columns {missing}")
        parts = [X[c].astype(object).where(X[c].notna(), "<NA>").to_numpy() for c in self.group_columns]
        return list(zip(*parts))

    def fit(self, X: pd.DataFrame, y):
        y = np.asarray(y, dtype=object)
        frame = pd.DataFrame({"key": self._keys(X), "y": y})
        counts = frame.groupby(["key", "y"], sort=True).size().reset_index(name="n")
        # ties: the class first in sorted order, so the rule is deterministic
        counts = counts.sort_values(["key", "n", "y"], ascending=[True, False, True], kind="stable")
        self.table_ = dict(counts.drop_duplicates("key")[["key", "y"]].itertuples(index=False, name=None))
        self.classes_ = np.array(sorted(pd.unique(y), key=str), dtype=object)
        vc = pd.Series(y).value_counts()
        self.fallback_ = sorted(vc[vc == vc.max()].index, key=str)[0]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "table_")
        return np.array([self.table_.get(k, self.fallback_) for k in self._keys(X)], dtype=object)


def fit_baselines(train: pd.DataFrame) -> dict:
    """The majority class and the age-band × sex rule, fitted on the training rows."""
    y = train[TARGET].to_numpy(dtype=object)
    return {
        "majority": DummyClassifier(strategy="most_frequent").fit(train[list(RULE_COLUMNS)], y),
        "age_rule": GroupMajorityClassifier(RULE_COLUMNS).fit(train, y),
    }


# --- the model ----------------------------------------------------------------------------------


class LifeStageClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted life-stage classifier with calibrated probabilities.

    ``fit`` keeps a share of the customers aside (``calibration_size``, chosen by a
    seeded hash of ``groups`` so no customer is on both sides), fits
    ``HistGradientBoostingClassifier`` on the rest and a calibrator on the set-aside
    customers' probabilities. ``predict_proba`` returns calibrated probabilities and
    ``predict`` their arg-max.

    Parameters
    ----------
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization, max_features
        Passed to ``HistGradientBoostingClassifier`` (early stopping on a validation
        tenth picks the number of trees up to ``max_iter``).
    class_weight : None or "balanced"
        Class weighting of the boosting fit (raises recall of rare stages).
    calibration : {"temperature", "vector", "isotonic", None}
        Calibrator (see :mod:`fipro.evaluation.calibration`); ``None`` keeps raw
        probabilities.
    calibration_size : float
        Share of the training customers used to fit the calibrator.
    random_state : int
        Seed of the boosting fit and of the calibration split.
    n_threads : int or None, default 1
        OpenMP threads while fitting (``None``: all cores). One thread is faster on the
        shared two-core machines, where other jobs make threads wait for each other.
    refit_full : bool, default True
        After the calibrator is fitted, refit the booster on all training customers
        (calibration share included) with the early-stopped number of iterations. The
        set-aside customers otherwise cost about 0.01 macro-F1 on the sample; the
        calibrator fitted on the smaller model transfers (held-out ECE shows it).

    Attributes
    ----------
    classes_ : ndarray of str
    estimator_ : HistGradientBoostingClassifier
    calibrator_ : fitted calibrator or None
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    constant_features_ : list of str
        Features missing in every training row, held at 0 (never split on).
    feature_reference_ : Series
        Median of each feature over the training rows (what "high"/"low" means in reasons).
    calibration_ece_ : dict
        ECE on the calibration customers before and after calibration (in-sample for the
        calibrator; judge calibration on held-out customers).
    n_iter_ : int
        Boosting iterations kept by early stopping.
    fit_seconds_ : float

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(600, 6, n_informative=4, n_classes=3, random_state=0)
    >>> X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    >>> clf = LifeStageClassifier(max_iter=30, random_state=0).fit(X, y.astype(str))
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(self, learning_rate: float = 0.1, max_iter: int = 300, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 40, l2_regularization: float = 1.0, max_features: float = 0.5,
                 class_weight: Optional[str] = None, calibration: Optional[str] = "temperature",
                 calibration_size: float = 0.2, random_state: int = config.RANDOM_SEED,
                 n_threads: Optional[int] = 1, refit_full: bool = True):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_size = calibration_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.refit_full = refit_full

    def _booster(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            max_features=self.max_features, class_weight=self.class_weight, early_stopping=True,
            validation_fraction=0.1, n_iter_no_change=15, random_state=self.random_state)

    def fit(self, X: pd.DataFrame, y, groups=None):
        """Fit booster and calibrator; ``groups`` (customer ids) keep customers on one side."""
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X, y, groups)

    def _fit(self, X, y, groups):
        start = time.perf_counter()
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
        y = np.asarray(y).astype(str)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if self.calibration is not None:
            ids = np.asarray(groups).astype(str) if groups is not None else np.arange(len(X)).astype(str)
            # a seed of its own: the train/test split used the project seed on the same ids
            roles = split.customer_roles(ids, test_size=self.calibration_size, seed=self.random_state + 7919)
            cal = roles == "test"
            if cal.all() or not cal.any():
                raise ValueError("the calibration split left one side empty: too few customers")
        else:
            cal = np.zeros(len(X), dtype=bool)
        # a feature missing everywhere (change features in the first quarter) breaks the
        # booster's binning: it is held constant instead and so never split on
        self.constant_features_ = [c for c in X.columns if X.loc[~cal, c].isna().all()]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        X = self._fill_constant(X)
        booster = self._booster().fit(X[~cal], y[~cal])
        self.estimator_ = booster
        self.classes_ = booster.classes_
        self.n_features_in_ = X.shape[1]
        self.feature_reference_ = X[~cal].median(numeric_only=True)
        self.n_iter_ = int(booster.n_iter_)
        self.calibrator_ = None
        self.calibration_ece_ = {}
        if self.calibration is not None:
            P = booster.predict_proba(X[cal])
            idx = self._class_index(y[cal])
            keep = idx >= 0  # a class absent from the booster's fit cannot be scored
            self.calibrator_ = calib.make_calibrator(self.calibration).fit(P[keep], idx[keep])
            self.calibration_ece_ = {
                "ece_before": calib.expected_calibration_error(idx[keep], P[keep]),
                "ece_after": calib.expected_calibration_error(idx[keep], self.calibrator_.transform(P[keep])),
                "n": int(keep.sum()),
            }
        if self.refit_full and cal.any():
            # a class seen only among the set-aside customers would not match the calibrator
            if set(np.unique(y)) == set(self.classes_):
                full = self._booster().set_params(early_stopping=False, max_iter=self.n_iter_)
                self.estimator_ = full.fit(X, y)
        self.n_calibration_ = int(cal.sum())
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fill_constant(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.constant_features_:
            return X
        return X.assign(**{c: 0.0 for c in self.constant_features_})

    def _class_index(self, y) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.classes_)}
        return np.array([lookup.get(v, -1) for v in np.asarray(y).astype(str)], dtype=int)

    def _check_X(self, X) -> pd.DataFrame:
        check_is_fitted(self, "estimator_")
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X), columns=self.feature_names_in_)
        missing = [c for c in self.feature_names_in_ if c not in X]
        if missing:
            raise KeyError(f"X lacks {len(missing)} model features, e.g. {missing[:3]}")
        return self._fill_constant(X[list(self.feature_names_in_)])

    def predict_proba_uncalibrated(self, X) -> np.ndarray:
        """The booster's own probabilities (before calibration)."""
        return self.estimator_.predict_proba(self._check_X(X))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order; rows sum to 1."""
        P = self.predict_proba_uncalibrated(X)
        return P if self.calibrator_ is None else self.calibrator_.transform(P)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@dataclass
class TuningResult:
    """What :func:`tune_lifestage` found."""

    best_params: dict
    table: pd.DataFrame
    seconds: float
    n_rows: int
    n_splits: int
    grid: dict = field(default_factory=dict)


def _sample_customers(frame: pd.DataFrame, max_rows: Optional[int], seed: int) -> pd.DataFrame:
    if max_rows is None or len(frame) <= max_rows:
        return frame
    u = split.customer_unit(frame["SEQ"], seed=seed + 31)
    return frame[u < max_rows / len(frame)]


def tune_lifestage(train: pd.DataFrame, *, param_grid: Optional[Mapping[str, list]] = None, cv: int = 3,
                   max_rows: Optional[int] = 20_000, seed: int = config.RANDOM_SEED,
                   n_jobs: int = 1) -> TuningResult:
    """Choose booster hyper-parameters by macro-F1 in customer-grouped CV on training rows.

    Parameters
    ----------
    train : DataFrame
        Training customers' rows (features, ``SEQ`` and ``LIFE_STAGE``).
    param_grid : mapping, optional
        Grid over :class:`LifeStageClassifier`'s booster parameters (default
        :data:`DEFAULT_GRID`); the others come from :data:`DEFAULT_PARAMS`.
    cv : int
        Number of ``GroupKFold`` folds (by customer).
    max_rows : int, optional
        Tune on a seeded sample of at most this many customers (full-scale quarters).
    n_jobs : int
        Parallel fits (≤ 2 on the shared machines).
    """
    from sklearn.model_selection import GridSearchCV

    start = time.perf_counter()
    grid = dict(param_grid or DEFAULT_GRID)
    data = _sample_customers(train, max_rows, seed)
    base = LifeStageClassifier(**DEFAULT_PARAMS, calibration=None, random_state=seed)
    search = GridSearchCV(base, grid, scoring="f1_macro", cv=split.group_folds(cv, seed), n_jobs=n_jobs,
                          refit=False, error_score="raise")
    search.fit(data[feature_columns()], data[TARGET].to_numpy(dtype=str), groups=data["SEQ"].to_numpy())
    res = pd.DataFrame(search.cv_results_)
    table = pd.DataFrame({"params": res["params"].map(lambda p: ", ".join(f"{k}={v}" for k, v in p.items())),
                          "macro_f1_mean": res["mean_test_score"], "macro_f1_std": res["std_test_score"],
                          "fit_seconds": res["mean_fit_time"], "rank": res["rank_test_score"]})
    table = table.sort_values("rank", kind="stable").reset_index(drop=True)
    best = {**DEFAULT_PARAMS, **search.best_params_}
    return TuningResult(best, table, time.perf_counter() - start, len(data), cv, grid)


def fit_lifestage(train: pd.DataFrame, params: Optional[Mapping[str, Any]] = None, *,
                  calibration: Optional[str] = "temperature", calibration_size: float = 0.2,
                  seed: int = config.RANDOM_SEED) -> LifeStageClassifier:
    """One-line twin: a :class:`LifeStageClassifier` fitted on training rows of the frame."""
    kwargs = {**DEFAULT_PARAMS, **dict(params or {}),
              "calibration": calibration, "calibration_size": calibration_size, "random_state": seed}
    model = LifeStageClassifier(**kwargs)
    return model.fit(train[feature_columns()], train[TARGET].to_numpy(dtype=str), groups=train["SEQ"].to_numpy())


def describe_fit(model: LifeStageClassifier, tuning: TuningResult) -> str:
    """A Korean sentence on the chosen hyper-parameters and the time spent."""
    chosen = ", ".join(f"{k}={tuning.best_params[k]}" for k in tuning.grid) or "기본값"
    cw = "클래스 가중치(balanced)를 씁니다" if model.class_weight == "balanced" else "클래스 가중치 없이 학습합니다"
    return (f"고객 단위 {tuning.n_splits}겹 교차검증(학습 고객 {tuning.n_rows:,}행)에서 매크로 F1이 가장 높은 설정은 "
            f"{chosen}이며(교차검증 매크로 F1 {tuning.table['macro_f1_mean'].iloc[0]:.3f}), {cw}. "
            f"조기 종료로 부스팅 {model.n_iter_}회에서 멈췄고, 튜닝 {tuning.seconds:.1f}초, "
            f"최종 학습(보정 포함) {model.fit_seconds_:.1f}초가 걸렸습니다.")


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Held-out results of a model beside its baselines."""

    comparison: pd.DataFrame
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    confusion_counts: pd.DataFrame
    calibration: dict
    reliability_before: pd.DataFrame
    reliability_after: pd.DataFrame
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    summary: dict = field(default_factory=dict)

    def describe(self) -> str:
        """Korean sentences: model vs baselines, best/worst classes, main confusions, calibration."""
        return " ".join([
            metrics.describe_comparison(self.comparison, "model", ["age_rule", "majority"], MODEL_DISPLAY),
            metrics.describe_per_class(self.per_class),
            metrics.describe_confusion(self.confusion),
        ])


def evaluate_model(model: LifeStageClassifier, baselines: Mapping[str, Any], test: pd.DataFrame,
                   n_bins: int = 10) -> Evaluation:
    """Score the model and baselines on held-out customers' rows."""
    y = test[TARGET].to_numpy(dtype=str)
    X = test[feature_columns()]
    raw = model.predict_proba_uncalibrated(X)
    proba = model.predict_proba(X)
    pred = model.classes_[proba.argmax(axis=1)]
    labels = [c for c in CODES if c in set(y)]
    preds = {"model": (y, pred)}
    for name, est in baselines.items():
        preds[name] = (y, np.asarray(est.predict(test[list(RULE_COLUMNS)] if name == "majority" else test)).astype(str))
    comparison = metrics.compare_models(preds, labels=labels)
    order = [c for c in CODES if c in set(y) | set(pred)]
    idx = model._class_index(y)
    known = idx >= 0
    cal = calib.calibration_summary(idx[known], raw[known], proba[known], n_bins=n_bins)
    cal["method"] = model.calibration
    summary = {f"{name}_{k}": comparison.loc[name, k] for name in comparison.index for k in ("accuracy", "macro_f1")}
    return Evaluation(
        comparison=comparison,
        per_class=metrics.per_class_table(y, pred, labels=labels, label_names=CODE_NAMES),
        confusion=metrics.confusion_frame(y, pred, labels=order, label_names=CODE_NAMES, normalize="true"),
        confusion_counts=metrics.confusion_frame(y, pred, labels=order, label_names=CODE_NAMES),
        calibration=cal,
        reliability_before=calib.reliability_table(idx[known], raw[known], n_bins),
        reliability_after=calib.reliability_table(idx[known], proba[known], n_bins),
        y_true=y, y_pred=pred, proba=proba, summary=summary,
    )


def comparison_table_ko(evaluation: Evaluation, ceiling: Optional[dict] = None) -> pd.DataFrame:
    """Model, baselines and (if known) the Bayes ceiling with Korean names."""
    table = evaluation.comparison[["accuracy", "macro_f1", "n"]].copy()
    if ceiling:
        table.loc["ceiling"] = [ceiling["accuracy"], ceiling["macro_f1"], ceiling["n"]]
    table.index = [MODEL_DISPLAY.get(i, i) for i in table.index]
    table.index.name = "모델"
    return table.rename(columns={"accuracy": "정확도", "macro_f1": "매크로 F1", "n": "평가 행 수"})


# --- the Bayes ceiling (synthetic data only) -------------------------------------------------


def posterior_columns() -> list[str]:
    return [f"posterior_{c}" for c in CODES]


def load_posterior(quarter: str) -> Optional[pd.DataFrame]:
    """The generator's exact posterior of LIFE_STAGE per row, or ``None`` on a real file.

    Returns ``None`` when there is no truth file (real data) or it does not cover the
    quarter.
    """
    try:
        from fipro import synth

        truth = synth.load_truth(quarter, columns=["BAS_YH", "SEQ", *posterior_columns()])
    except (ImportError, FileNotFoundError, KeyError, ValueError, AttributeError):
        return None
    if truth is None or len(truth) == 0:
        return None
    truth = truth.copy()
    truth["SEQ"] = truth["SEQ"].astype(str)
    truth["BAS_YH"] = truth["BAS_YH"].astype(str)
    return truth


def bayes_ceiling(test: pd.DataFrame, posterior: Optional[pd.DataFrame]) -> Optional[dict]:
    """Accuracy and macro-F1 of the arg-max of the generator's posterior on the same rows.

    The arg-max maximises expected accuracy; it is *not* the macro-F1-optimal decision,
    so a classifier tilted towards rare classes can beat its macro-F1 a little.
    Returns ``None`` when ``posterior`` is ``None`` or does not cover every test row.
    """
    if posterior is None:
        return None
    merged = test[["BAS_YH", "SEQ", TARGET]].merge(posterior, on=["BAS_YH", "SEQ"], how="left", validate="1:1")
    P = merged[posterior_columns()].to_numpy(dtype=float)
    if np.isnan(P).any():
        return None
    y = merged[TARGET].to_numpy(dtype=str)
    pred = np.asarray(CODES, dtype=object)[P.argmax(axis=1)].astype(str)
    labels = [c for c in CODES if c in set(y)]
    s = metrics.classification_summary(y, pred, labels=labels)
    idx = np.array([CODES.index(v) for v in y])
    return {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"], "n": s["n"],
            "ece": calib.expected_calibration_error(idx, np.clip(P, 0, None) / P.sum(axis=1, keepdims=True)),
            "decision": "argmax posterior"}


def uses_previous_quarter(names: Sequence[str]) -> bool:
    """Whether any model input is computed from the previous quarter's row."""
    return any(n.startswith("qoq_") or n == "no_prev_quarter" for n in names)


def describe_ceiling(model_summary: Mapping[str, float], ceiling: Optional[Mapping[str, float]],
                     names: Sequence[str], target_gap: float = 0.03) -> str:
    """Korean sentences on the gap between the model and the Bayes ceiling."""
    if ceiling is None:
        return ("이 데이터에는 생성기의 정답 사후확률(truth 파일)이 없어 베이즈 상한을 계산하지 않았습니다 "
                "(실제 파일에서는 정상입니다).")
    model_f1 = model_summary["macro_f1"] if "macro_f1" in model_summary else model_summary["model_macro_f1"]
    gap = ceiling["macro_f1"] - model_f1
    verdict = (f"목표(상한과의 차이 {target_gap:.2f} 이내)를 달성했습니다" if gap <= target_gap
               else f"목표(상한과의 차이 {target_gap:.2f} 이내)에 미치지 못했습니다")
    prev = ("모델은 전분기 대비 변화 특성도 쓰므로 한 행만 보는 상한을 넘을 수도 있습니다"
            if uses_previous_quarter(names) else "모델은 이번 분기 한 행만 봅니다")
    return (f"생성기의 정확한 사후확률로 argmax 결정을 하면 정확도 {ceiling['accuracy']:.1%}, "
            f"매크로 F1 {ceiling['macro_f1']:.3f}입니다 (argmax는 정확도 최적이며 매크로 F1 최적 결정은 아닙니다). "
            f"모델의 매크로 F1 {model_f1:.3f}은 상한보다 {gap:+.3f} 낮아 {verdict}. {prev}.")


# --- temporal check --------------------------------------------------------------------------------


def temporal_check(quarter: str, model: LifeStageClassifier, params: Mapping[str, Any], *,
                   quarters: Optional[Sequence[str]] = None, test_size: float = 0.2,
                   seed: int = config.RANDOM_SEED, loader=None, history: int = 0) -> dict:
    """Fit on quarter t, test on quarter t+1's held-out customers (for the last quarter: t-1 → t).

    ``model`` (already fitted on ``quarter``'s training customers) is reused when
    ``quarter`` is the fit quarter; otherwise a model with the same parameters is fitted on
    the previous quarter. Test customers are the same hash-chosen customers in every
    quarter, so no customer is on both sides. ``loader`` (default
    :func:`load_lifestage_data`) returns one quarter's frame.
    """
    loader = loader or load_lifestage_data
    if quarters is None:
        from fipro import ingest

        quarters = ingest.available_quarters()
    try:
        fit_q, test_q = split.temporal_pair(quarter, quarters)
    except ValueError as err:
        return {"fit_quarter": None, "test_quarter": None, "macro_f1": float("nan"), "accuracy": float("nan"),
                "n": 0, "note": str(err)}
    if fit_q == quarter:
        fitted, note = model, f"{fit_q}에 학습한 모델을 {test_q}의 평가 고객에 적용"
    else:
        fit_frame = loader(fit_q, history=history) if history else loader(fit_q)
        train, _ = split.train_test_customers(fit_frame, test_size=test_size, seed=seed)
        fitted = fit_lifestage(train, params, calibration=model.calibration,
                               calibration_size=model.calibration_size, seed=seed)
        note = f"마지막 분기라 다음 분기가 없어 {fit_q}에 학습하고 {test_q}의 평가 고객에 적용"
    _, later = split.train_test_customers(loader(test_q), test_size=test_size, seed=seed)
    y = later[TARGET].to_numpy(dtype=str)
    pred = fitted.predict(later[feature_columns()])
    s = metrics.classification_summary(y, pred, labels=[c for c in CODES if c in set(y)])
    return {"fit_quarter": fit_q, "test_quarter": test_q, "macro_f1": s["macro_f1"], "accuracy": s["accuracy"],
            "n": s["n"], "note": note}


def describe_temporal(temporal: Mapping[str, Any], same_quarter_macro_f1: float) -> str:
    if not temporal.get("fit_quarter"):
        return f"시간 검증을 하지 못했습니다: {temporal.get('note', '')}."
    diff = temporal["macro_f1"] - same_quarter_macro_f1
    return (f"{temporal['note']}: 매크로 F1 {temporal['macro_f1']:.3f} (같은 분기 평가 {same_quarter_macro_f1:.3f} "
            f"대비 {diff:+.3f}). 차이가 작으면 분기가 바뀌어도 모델이 그대로 쓰일 수 있습니다.")


# --- prediction with reasons --------------------------------------------------------------------


def explain(model: LifeStageClassifier, frame: pd.DataFrame, *, max_rows: int = 200,
            seed: int = config.RANDOM_SEED) -> explainability.ShapExplanation:
    """SHAP values of the booster (raw log-odds per class) on a seeded sample of rows."""
    check_is_fitted(model, "estimator_")
    rows = frame if len(frame) <= max_rows else frame.sample(max_rows, random_state=seed)
    return explainability.shap_values(model.estimator_, model._check_X(rows).astype(float))


def shap_importance(explanation: explainability.ShapExplanation) -> pd.DataFrame:
    """Global SHAP importance with Korean feature and class names."""
    return explainability.global_importance(explanation, feature_labels_ko(explanation.feature_names), CODE_NAMES)


def predict(model: LifeStageClassifier, data, *, reasons: bool = True, k: int = 3) -> pd.DataFrame:
    """Label, calibrated probabilities and Korean reasons for a frame or one customer.

    Parameters
    ----------
    model : fitted LifeStageClassifier
    data : DataFrame or Series
        Rows with the model features (a Series is one customer). ``SEQ``/``BAS_YH`` are
        carried over when present.
    reasons : bool
        Add ``reasons`` (top feature names) and ``sentence`` (Korean) from SHAP values.
    k : int
        Number of reasons.

    Returns
    -------
    DataFrame
        One row per input row, same index: keys if present, ``predicted``,
        ``predicted_ko``, ``probability`` (of the predicted class), ``proba_<CODE>`` per
        class (summing to 1), and optionally ``reasons`` and ``sentence``.
    """
    frame = data.to_frame().T if isinstance(data, pd.Series) else data
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("data must be a DataFrame or a Series")
    X = model._check_X(frame).astype(float)
    proba = model.predict_proba(X)
    pred = model.classes_[proba.argmax(axis=1)]
    out = pd.DataFrame(index=frame.index)
    for key in ("BAS_YH", "SEQ"):
        if key in frame:
            out[key] = frame[key].astype(str)
    out["predicted"] = pred.astype(str)
    out["predicted_ko"] = [CODE_NAMES.get(c, c) for c in pred]
    out["probability"] = proba.max(axis=1)
    for j, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, j]
    if reasons and len(frame):
        exp = explainability.shap_values(model.estimator_, X)
        names = list(model.feature_names_in_)
        why = explainability.explain_rows(exp, pred, model.feature_reference_, k=k,
                                          feature_labels=feature_labels_ko(names), class_names=CODE_NAMES,
                                          probabilities=out["probability"].to_numpy(),
                                          phrases=reason_phrases(names))
        out["reasons"] = why["reasons"].to_numpy()
        out["sentence"] = why["sentence"].to_numpy()
    return out


def predict_customer(seq: str, quarter: str, model: Optional[LifeStageClassifier] = None, k: int = 3) -> pd.Series:
    """One customer's prediction with reasons (loads the quarter's features and, if not
    given, the registered model of the quarter)."""
    if model is None:
        from fipro.evaluation import registry

        model = registry.load_model(model_dir(quarter))
    frame = load_lifestage_data(quarter)
    rows = frame[frame["SEQ"] == str(seq)]
    if rows.empty:
        raise KeyError(f"customer not found in {quarter}")
    return predict(model, rows, k=k).iloc[0]


def example_reasons(model: LifeStageClassifier, frame: pd.DataFrame, n: int = 5, seed: int = config.RANDOM_SEED,
                    k: int = 3) -> pd.DataFrame:
    """A few customers' predictions with reasons, pseudonymised for display (no raw SEQ)."""
    from fipro.privacy import pseudonym

    rows = frame.sample(min(n, len(frame)), random_state=seed)
    pred = predict(model, rows, k=k)
    return pd.DataFrame({
        "고객": [pseudonym(s) for s in rows["SEQ"]],
        "실제": [CODE_NAMES.get(c, c) for c in rows[TARGET]],
        "예측": pred["predicted_ko"].to_numpy(),
        "확률": pred["probability"].round(3).to_numpy(),
        "설명": pred["sentence"].to_numpy(),
    })


# --- feedback -------------------------------------------------------------------------------------


def feedback_path() -> Path:
    return config.FEEDBACK_DIR / FEEDBACK_FILE


def read_feedback(path: Optional[Path] = None) -> pd.DataFrame:
    """User corrections as strings (``SEQ, quarter, corrected_code, time, note``); empty if no file."""
    path = Path(path) if path is not None else feedback_path()
    if not path.exists():
        return pd.DataFrame(columns=list(FEEDBACK_COLUMNS), dtype=object)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in FEEDBACK_COLUMNS if c not in frame and c != "note"]
    if missing:
        raise ValueError(f"{path.name} lacks the columns {missing}; expected {list(FEEDBACK_COLUMNS)}")
    if "note" not in frame:
        frame["note"] = ""
    return frame[list(FEEDBACK_COLUMNS)]


def _normalise_code(value: str) -> Optional[str]:
    text = str(value).strip()
    if text.upper() in CODES:
        return text.upper()
    by_name = {v: k for k, v in CODE_NAMES.items()}
    return by_name.get(text)


def validate_feedback(feedback: pd.DataFrame, frame: pd.DataFrame,
                      known_quarters: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Check every correction against the codes and the data; one status per row.

    Parameters
    ----------
    feedback : DataFrame
        :func:`read_feedback` output.
    frame : DataFrame
        Rows the corrections may apply to (``SEQ``, ``BAS_YH``), usually one quarter.
    known_quarters : sequence, optional
        Quarters that exist in the data (default: the quarters in ``frame``). A valid
        correction for a known quarter outside ``frame`` gets status ``other_quarter``.

    Returns
    -------
    DataFrame
        The feedback rows plus ``code`` (normalised), ``parsed_time``, ``status`` in
        ``{"applied", "superseded", "other_quarter", "invalid"}`` and ``reason``
        (Korean, empty unless invalid or superseded).
    """
    fb = feedback.copy().reset_index(drop=True)
    for c in FEEDBACK_COLUMNS:
        if c not in fb:
            fb[c] = ""
    fb = fb.astype({c: str for c in FEEDBACK_COLUMNS})
    fb["SEQ"] = fb["SEQ"].str.strip()
    fb["quarter"] = fb["quarter"].str.strip().str.lower()
    fb["code"] = fb["corrected_code"].map(_normalise_code)
    fb["parsed_time"] = pd.to_datetime(fb["time"].str.strip(), format="ISO8601", errors="coerce")
    in_frame = set(frame["BAS_YH"].astype(str).unique())
    quarters = set(known_quarters) if known_quarters is not None else in_frame
    pairs = set(zip(frame["BAS_YH"].astype(str), frame["SEQ"].astype(str)))
    reasons = []
    for r in fb.itertuples():
        if pd.isna(r.code):
            reasons.append(f"알 수 없는 라이프스테이지 코드 '{r.corrected_code}'")
        elif pd.isna(r.parsed_time):
            reasons.append(f"시간 형식 오류 '{r.time}'")
        elif r.quarter not in quarters and r.quarter not in in_frame:
            reasons.append(f"알 수 없는 분기 '{r.quarter}'")
        elif r.quarter in in_frame and (r.quarter, r.SEQ) not in pairs:
            reasons.append("해당 분기에 없는 고객")
        else:
            reasons.append("")
    fb["reason"] = reasons
    fb["status"] = np.where(fb["reason"] != "", "invalid", np.where(fb["quarter"].isin(in_frame), "applied",
                                                                     "other_quarter"))
    # several corrections of one customer-quarter: the latest time wins
    ok = fb["status"] == "applied"
    latest = fb[ok].sort_values("parsed_time", kind="stable").drop_duplicates(["SEQ", "quarter"], keep="last").index
    superseded = ok & ~fb.index.isin(latest)
    fb.loc[superseded, "status"] = "superseded"
    fb.loc[superseded, "reason"] = "같은 고객·분기의 더 최근 정정으로 대체됨"
    return fb


def apply_feedback(frame: pd.DataFrame, feedback: pd.DataFrame,
                   known_quarters: Optional[Sequence[str]] = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace labels by valid user corrections; the input frame is not modified.

    Returns
    -------
    (DataFrame, DataFrame)
        The frame with corrected ``LIFE_STAGE`` and a boolean ``label_corrected`` column,
        and the :func:`validate_feedback` report.
    """
    report = validate_feedback(feedback, frame, known_quarters)
    out = frame.copy()
    out["label_corrected"] = False
    applied = report[report["status"] == "applied"]
    if len(applied):
        key = pd.MultiIndex.from_arrays([out["BAS_YH"].astype(str), out["SEQ"].astype(str)])
        fix = pd.Series(applied["code"].to_numpy(), index=pd.MultiIndex.from_arrays([applied["quarter"], applied["SEQ"]]))
        new = fix.reindex(key).to_numpy()
        hit = pd.notna(new)
        out.loc[hit, TARGET] = new[hit]
        out.loc[hit, "label_corrected"] = True
    return out, report


def feedback_summary(report: pd.DataFrame, corrected: Optional[pd.DataFrame] = None,
                     original: Optional[pd.DataFrame] = None) -> dict:
    """Counts by status (and how many labels actually changed, if frames are given)."""
    counts = report["status"].value_counts() if len(report) else pd.Series(dtype=int)
    out = {"n_feedback": int(len(report)), "n_applied": int(counts.get("applied", 0)),
           "n_invalid": int(counts.get("invalid", 0)), "n_superseded": int(counts.get("superseded", 0)),
           "n_other_quarter": int(counts.get("other_quarter", 0))}
    if corrected is not None and original is not None:
        out["n_labels_changed"] = int((corrected[TARGET].to_numpy() != original[TARGET].to_numpy()).sum())
    return out


def feedback_report_table(report: pd.DataFrame) -> pd.DataFrame:
    """The report for display: pseudonymised customers, status and reason (no raw SEQ)."""
    from fipro.privacy import pseudonym

    status_ko = {"applied": "반영", "invalid": "무효(건너뜀)", "superseded": "대체됨", "other_quarter": "다른 분기"}
    return pd.DataFrame({"고객": [pseudonym(s) for s in report["SEQ"]], "분기": report["quarter"].to_numpy(),
                         "정정 코드": report["corrected_code"].to_numpy(),
                         "상태": report["status"].map(status_ko).to_numpy(), "사유": report["reason"].to_numpy()})


def describe_feedback(summary: Mapping[str, int], effect: Optional[Mapping[str, float]] = None) -> str:
    if summary["n_feedback"] == 0:
        return "사용자 정정 파일이 없거나 비어 있어 원래 라벨로 학습했습니다."
    text = (f"사용자 정정 {summary['n_feedback']}건 중 {summary['n_applied']}건을 반영했고, "
            f"{summary['n_invalid']}건은 무효라 건너뛰었습니다")
    if summary.get("n_superseded"):
        text += f" (같은 고객·분기의 이전 정정 {summary['n_superseded']}건은 최신 정정으로 대체)"
    if summary.get("n_other_quarter"):
        text += f"; 다른 분기 정정 {summary['n_other_quarter']}건은 그 분기 실행에서 반영됩니다"
    text += "."
    if effect:
        text += (f" 정정 반영 전후 매크로 F1은 {effect['macro_f1_before']:.3f} → {effect['macro_f1_after']:.3f}, "
                 f"정확도는 {effect['accuracy_before']:.1%} → {effect['accuracy_after']:.1%}입니다.")
    return text


def feedback_effect(train_original: pd.DataFrame, train_corrected: pd.DataFrame, test: pd.DataFrame,
                    model_corrected: LifeStageClassifier, params: Mapping[str, Any],
                    seed: int = config.RANDOM_SEED) -> Optional[dict]:
    """How held-out metrics moved when corrections entered training (``None`` if none did).

    Fits a second model on the uncorrected training labels and scores both on the same
    (corrected) held-out labels.
    """
    if not bool(train_corrected.get("label_corrected", pd.Series(False)).any()):
        return None
    before = fit_lifestage(train_original, params, calibration=model_corrected.calibration,
                           calibration_size=model_corrected.calibration_size, seed=seed)
    y = test[TARGET].to_numpy(dtype=str)
    labels = [c for c in CODES if c in set(y)]
    X = test[feature_columns()]
    b = metrics.classification_summary(y, before.predict(X), labels)
    a = metrics.classification_summary(y, model_corrected.predict(X), labels)
    return {"macro_f1_before": b["macro_f1"], "macro_f1_after": a["macro_f1"],
            "accuracy_before": b["accuracy"], "accuracy_after": a["accuracy"],
            "n_train_corrected": int(train_corrected["label_corrected"].sum())}


# --- artifacts --------------------------------------------------------------------------------------


def model_dir(quarter: str) -> Path:
    return config.quarter_dir(quarter) / "models" / MODEL_NAME


def prediction_table(model: LifeStageClassifier, frame: pd.DataFrame, roles: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Every row's prediction and calibrated probabilities with keys for downstream joins."""
    proba = model.predict_proba(frame[list(model.feature_names_in_)])
    pred = model.classes_[proba.argmax(axis=1)]
    out = pd.DataFrame({"BAS_YH": frame["BAS_YH"].astype(str).to_numpy(), "SEQ": frame["SEQ"].astype(str).to_numpy()})
    if roles is not None:
        out["role"] = np.asarray(roles).astype(str)
    out["LIFE_STAGE"] = frame[TARGET].astype(str).to_numpy()
    out["predicted"] = pred.astype(str)
    out["probability"] = proba.max(axis=1)
    for j, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, j]
    return out


def save_artifacts(quarter: str, model: LifeStageClassifier, frame: pd.DataFrame, roles: Sequence[str],
                   headline: Mapping[str, Any], *, tuning: Optional[TuningResult] = None,
                   evaluation: Optional[Evaluation] = None, directory: Optional[Path] = None) -> dict:
    """Write model, registry entry, model card and ``predictions.parquet`` for a quarter.

    ``frame`` is the quarter's labelled rows (after feedback), ``roles`` each row's split
    role; the data hash covers the training rows' features and labels.
    """
    from fipro.evaluation import cards, registry

    directory = Path(directory) if directory is not None else model_dir(quarter)
    roles = np.asarray(roles).astype(str)
    names = list(model.feature_names_in_)
    train = frame[roles != "test"]
    data_hash = registry.data_hash(train[["BAS_YH", "SEQ", *names, TARGET]])
    trained_on, n_train = sorted(train["BAS_YH"].astype(str).unique()), len(train)
    # predictions are the quarter's own rows; earlier quarters only helped training
    in_quarter = (frame["BAS_YH"].astype(str) == quarter).to_numpy()
    frame, roles = frame[in_quarter], roles[in_quarter]
    data_range = {"quarters": trained_on, "n_rows": int(len(frame)), "n_train_rows": int(n_train),
                  "n_test_rows": int((roles == "test").sum()), "n_calibration_rows": int(model.n_calibration_),
                  "split": "고객 단위 해시 분할 (fipro.split)"}
    extra = {"n_features": len(names), "n_iter": model.n_iter_, "calibration": model.calibration,
             "uses_previous_quarter": uses_previous_quarter(names)}
    if tuning is not None:
        extra["tuning"] = {"cv_folds": tuning.n_splits, "n_rows": tuning.n_rows,
                           "best_cv_macro_f1": float(tuning.table["macro_f1_mean"].iloc[0])}
    entry = registry.register_model(model, directory, name=MODEL_NAME, data_hash=data_hash, metrics=dict(headline),
                                    data_range=data_range, extra=extra)
    metric_block: Any = dict(headline)
    if evaluation is not None:
        metric_block = comparison_table_ko(evaluation).round(4)
    card = cards.model_card_markdown(
        MODEL_NAME, title="모델 카드: 라이프스테이지 분류기",
        purpose=("고객 × 분기의 라이프스테이지(대학생 … 은퇴)를 공유 특성(지출 구성, 카드 이용, 인구통계)으로 "
                 "예측하고, 보정된 확률과 한국어 이유를 함께 제공합니다."),
        intended_use=["고객 화면의 '나의 라이프스테이지' 안내와 비교군 선택",
                      "카드사 관점의 분기별 라이프스테이지 구성 추정",
                      "개별 고객에 대한 불이익 결정(심사·한도)에는 쓰지 않습니다"],
        data_range=data_range,
        features=[f"{len(names)}개 수치 특성 (fipro.features.model_feature_names)",
                  "전분기 대비 변화 특성 포함" if uses_previous_quarter(names) else "이번 분기 행만 사용"],
        metrics=metric_block,
        calibration={"방법": model.calibration, **({k: round(v, 4) for k, v in evaluation.calibration.items()
                                                    if isinstance(v, float)} if evaluation else {})},
        limitations=["합성 데이터에서 검증됨: 실제 파일에서는 라벨 정의와 분포가 다를 수 있습니다",
                     "희귀 클래스(예: 청소년)는 평가 행이 적어 지표가 불안정합니다",
                     "SHAP 이유는 부스팅 모델의 원점수(로그 오즈) 기준이며 인과 관계가 아닙니다",
                     "사용자 정정은 다음 학습 실행에서만 반영됩니다"],
        entry=entry,
        extra_sections=({"튜닝 결과 (Tuning)": tuning.table.round(4)} if tuning is not None else None),
    )
    card_path = cards.write_model_card(directory, card)
    preds = prediction_table(model, frame, roles)
    pred_path = directory / "predictions.parquet"
    tmp = directory / ".predictions.parquet.tmp"
    preds.to_parquet(tmp, index=False)
    tmp.replace(pred_path)
    return {"directory": directory, "model": directory / registry.MODEL_FILE,
            "registry": directory / registry.REGISTRY_FILE, "card": card_path, "predictions": pred_path,
            "version": entry["version"]}


def artifact_table(artifacts: Mapping[str, Any]) -> pd.DataFrame:
    """Files written by :func:`save_artifacts`: name and size (folder shown once)."""
    rows = [{"파일": Path(p).name, "크기(KB)": round(Path(p).stat().st_size / 1024, 1)}
            for k, p in artifacts.items() if k not in ("directory", "version")]
    return pd.DataFrame(rows)


# --- one quarter end to end (no plotting) ---------------------------------------------------------


def evaluate_quarter(quarter: str, *, history: int = DEFAULT_HISTORY, test_size: float = 0.2,
                     calibration_size: float = 0.2,
                     cv: int = 3, tune_rows: Optional[int] = 20_000, param_grid: Optional[Mapping[str, list]] = None,
                     calibration: str = "temperature", temporal: bool = True,
                     feedback: Optional[pd.DataFrame] = None, seed: int = config.RANDOM_SEED,
                     n_jobs: int = 1) -> dict:
    """Fit and evaluate the life-stage model for one quarter; returns headline numbers.

    Loads the quarter, applies user feedback (``read_feedback()`` unless given), splits
    customers, tunes, fits, scores model and baselines on held-out customers, measures
    calibration, the temporal check and (synthetic data only) the Bayes ceiling. No
    plotting and no files written: the benchmark times this.
    """
    t0 = time.perf_counter()
    data = load_lifestage_data(quarter, history=history)
    load_seconds = time.perf_counter() - t0
    fb = read_feedback() if feedback is None else feedback
    from fipro import ingest

    labelled, report = apply_feedback(data, fb, known_quarters=ingest.available_quarters())
    train, test = train_test_rows(labelled, split.customer_roles(labelled["SEQ"], test_size=test_size, seed=seed),
                                  quarter)
    split.assert_no_customer_leakage(train, test)
    baselines = fit_baselines(train)
    tuning = tune_lifestage(train, param_grid=param_grid, cv=cv, max_rows=tune_rows, seed=seed, n_jobs=n_jobs)
    model = fit_lifestage(train, tuning.best_params, calibration=calibration, calibration_size=calibration_size,
                          seed=seed)
    ev = evaluate_model(model, baselines, test)
    ceiling = bayes_ceiling(test, load_posterior(quarter))
    temp = (temporal_check(quarter, model, tuning.best_params, test_size=test_size, seed=seed, history=history)
            if temporal else None)
    return headline_metrics(ev, ceiling=ceiling, temporal=temp, feedback=feedback_summary(report),
                            tuning=tuning, model=model, extra={"load_seconds": load_seconds,
                                                               "total_seconds": time.perf_counter() - t0,
                                                               "quarter": quarter, "n_rows": len(data)})


def headline_metrics(evaluation: Evaluation, *, ceiling: Optional[Mapping[str, Any]], temporal: Optional[Mapping],
                     feedback: Mapping[str, int], tuning: TuningResult, model: LifeStageClassifier,
                     effect: Optional[Mapping[str, float]] = None, extra: Optional[Mapping] = None) -> dict:
    """The numbers the notebook records (``save_metrics``) and the benchmark reports."""
    c = evaluation.comparison
    out = {
        "model_accuracy": c.loc["model", "accuracy"], "model_macro_f1": c.loc["model", "macro_f1"],
        "age_rule_accuracy": c.loc["age_rule", "accuracy"], "age_rule_macro_f1": c.loc["age_rule", "macro_f1"],
        "majority_accuracy": c.loc["majority", "accuracy"], "majority_macro_f1": c.loc["majority", "macro_f1"],
        "ceiling_accuracy": ceiling["accuracy"] if ceiling else None,
        "ceiling_macro_f1": ceiling["macro_f1"] if ceiling else None,
        "ceiling_gap_macro_f1": (ceiling["macro_f1"] - c.loc["model", "macro_f1"]) if ceiling else None,
        "ceiling_decision": "argmax posterior" if ceiling else None,
        "ece_before": evaluation.calibration["ece_before"], "ece_after": evaluation.calibration["ece_after"],
        "calibration_method": model.calibration,
        "temporal_macro_f1": temporal["macro_f1"] if temporal else None,
        "temporal_fit_quarter": temporal["fit_quarter"] if temporal else None,
        "temporal_test_quarter": temporal["test_quarter"] if temporal else None,
        "feedback_applied": feedback["n_applied"], "feedback_invalid": feedback["n_invalid"],
        "fit_seconds": model.fit_seconds_, "tune_seconds": tuning.seconds,
        "n_test": int(c.loc["model", "n"]), "params": {k: tuning.best_params[k] for k in sorted(tuning.best_params)},
        "uses_previous_quarter": uses_previous_quarter(list(model.feature_names_in_)),
    }
    if effect:
        out["feedback_macro_f1_before"] = effect["macro_f1_before"]
        out["feedback_macro_f1_after"] = effect["macro_f1_after"]
    out.update(dict(extra or {}))
    return out
