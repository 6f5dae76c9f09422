"""Evaluation step: held-out scores beside baselines, calibration, the Bayes ceiling.

How the model ages by a quarter (the previous quarter's saved model on this quarter's held-out
customers) is measured by notebook 08 (:mod:`fipro.decay`), so this quarter's notebook never
waits for the previous quarter's.

The ceiling is the synthetic generator's exact posterior (truth file): the best any
single-row classifier can do. It is skipped on a real file, where there is no truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from fipro import datasets
from fipro.evaluation import baselines as base
from fipro.evaluation import calibration as calib
from fipro.evaluation import intervals as iv
from fipro.evaluation import metrics
from fipro.lifestage.data import CODE_NAMES, CODES, MODEL_DISPLAY, MODEL_NAME, TARGET
from fipro.lifestage.estimator import LifeStageClassifier
from fipro.modelrun import Target, targets_frame

CEILING_TARGET_GAP = 0.03
# the measurement table's rows (measurement_table): the ceiling's gap is the goal, the rest are shown beside it
TARGETS = (
    Target("model_macro_f1", "평가 고객 매크로 F1 (상한 대비)", below_ceiling=CEILING_TARGET_GAP, ceiling="ceiling_macro_f1"),
    Target("model_accuracy", "평가 고객 정확도", ceiling="ceiling_accuracy"),
    Target("age_rule_macro_f1", "연령대 × 성별 규칙 매크로 F1"),
    Target("ece_after", "보정 후 ECE"),
)


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
    intervals: dict = field(default_factory=dict)  # headline key -> its 95% Interval (interval_fields)

    def describe(self) -> str:
        """Korean sentences: model vs baselines, best/worst classes, main confusions."""
        return " ".join([
            metrics.describe_comparison(self.comparison, "model", ["age_rule", "majority"], MODEL_DISPLAY),
            metrics.describe_per_class(self.per_class),
            metrics.describe_confusion(self.confusion),
        ])


def fit_baselines(train: pd.DataFrame) -> dict:
    """The majority class and the age-band × sex rule, fitted on the training rows."""
    return base.fit_baselines(train, train[TARGET].to_numpy(dtype=str))


def evaluate(model: LifeStageClassifier, baselines: Mapping[str, Any], test: pd.DataFrame,
                   n_bins: int = 10, proba_pair: Optional[tuple] = None, seed: Optional[int] = None) -> Evaluation:
    """Score the model and baselines on held-out customers' rows.

    ``proba_pair`` (uncalibrated, calibrated) of the test rows, when already predicted. The
    test rows are one quarter's, one per customer: the macro-F1s (model and both baselines) get a
    bootstrap interval over customers (:func:`fipro.evaluation.intervals.macro_f1_interval`,
    ``seed``), the accuracies Wilson's, the calibrated ECE a centred bootstrap
    (:func:`fipro.evaluation.intervals.ece_interval`).
    """
    y = test[TARGET].to_numpy(dtype=str)
    raw, proba = proba_pair if proba_pair is not None else model.predict_proba_pair(test[list(model.feature_names_in_)])
    pred = model.classes_[proba.argmax(axis=1)]
    labels = [c for c in CODES if c in set(y)]
    preds = {"model": (y, pred)}
    group = list(base.AGE_SEX_FEATURES)
    for name, est in baselines.items():
        preds[name] = (y, np.asarray(est.predict(test[group])).astype(str))
    comparison = metrics.compare_models(preds, labels=labels)
    order = [c for c in CODES if c in set(y) | set(pred)]
    idx = model.class_index(y)
    known = idx >= 0
    cal = calib.calibration_summary(idx[known], raw[known], proba[known], n_bins=n_bins)
    cal["method"] = model.calibration
    summary = {f"{name}_{k}": comparison.loc[name, k] for name in comparison.index for k in ("accuracy", "macro_f1")}
    intervals = {}
    for name in ("model", *baselines):
        truth, guess = preds[name]
        intervals[f"{name}_macro_f1"] = iv.macro_f1_interval(truth, guess, labels, seed=seed)
        intervals[f"{name}_accuracy"] = iv.share_interval(np.asarray(truth) == np.asarray(guess)) if len(truth) else None
    intervals["ece_after"] = iv.ece_interval(idx[known], proba[known], n_bins, seed=seed) if known.any() else None
    return Evaluation(
        comparison=comparison,
        per_class=metrics.per_class_table(y, pred, labels=labels, label_names=CODE_NAMES),
        confusion=metrics.confusion_frame(y, pred, labels=order, label_names=CODE_NAMES, normalize="true"),
        confusion_counts=metrics.confusion_frame(y, pred, labels=order, label_names=CODE_NAMES),
        calibration=cal,
        reliability_before=calib.reliability_table(idx[known], raw[known], n_bins),
        reliability_after=calib.reliability_table(idx[known], proba[known], n_bins),
        y_true=y, y_pred=pred, proba=proba, summary=summary, intervals=intervals,
    )


def comparison_table_ko(evaluation: Evaluation, ceiling: Optional[dict] = None) -> pd.DataFrame:
    """Model, baselines and (if known) the Bayes ceiling with Korean names."""
    table = evaluation.comparison[["accuracy", "macro_f1", "n"]].copy()
    if ceiling:
        table.loc["ceiling"] = [ceiling["accuracy"], ceiling["macro_f1"], ceiling["n"]]
    table.index = [MODEL_DISPLAY.get(i, i) for i in table.index]
    table.index.name = "모델"
    return table.rename(columns={"accuracy": "정확도", "macro_f1": "매크로 F1", "n": "평가 행 수"})


def measurement_table(run) -> pd.DataFrame:
    """This run's headline beside ``TARGETS`` (Korean; the ceiling rows only on synthetic data)."""
    return targets_frame(run.headline, TARGETS)


# --- the Bayes ceiling (synthetic data only) -------------------------------------------------


def posterior_columns() -> list[str]:
    return [f"posterior_{c}" for c in CODES]


def load_labels(quarter: str, seq: Sequence[str]) -> Optional[pd.DataFrame]:
    """The generator's exact posterior of LIFE_STAGE for ``quarter``'s customers ``seq`` (``BAS_YH``,
    ``SEQ`` and one column per stage), or ``None`` on a real file."""
    truth = datasets.truth_rows(quarter, [str(s) for s in seq], posterior_columns())
    return truth.assign(BAS_YH=quarter) if truth is not None else None


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


def describe_ceiling(model_macro_f1: float, ceiling: Optional[Mapping[str, float]], *, previous_quarter_used: bool,
                     target_gap: float = CEILING_TARGET_GAP) -> str:
    """Korean sentences on the gap between the model and the Bayes ceiling, with the verdict."""
    if ceiling is None:
        return ("이 데이터에는 생성기의 정답 사후확률(truth 파일)이 없어 베이즈 상한을 계산하지 않았습니다 "
                "(실제 파일에서는 정상입니다).")
    gap = ceiling["macro_f1"] - model_macro_f1
    verdict = (f"목표(상한과의 차이 {target_gap:.2f} 이내)를 달성했습니다" if gap <= target_gap
               else f"목표(상한과의 차이 {target_gap:.2f} 이내)에 미치지 못했습니다")
    prev = ("모델은 전분기 대비 변화 특성도 쓰므로 한 행만 보는 상한을 넘을 수도 있습니다"
            if previous_quarter_used else "모델은 이번 분기 한 행만 봅니다")
    return (f"생성기의 정확한 사후확률로 argmax 결정을 하면 정확도 {ceiling['accuracy']:.1%}, "
            f"매크로 F1 {ceiling['macro_f1']:.3f}입니다 (argmax는 정확도 최적이며 매크로 F1 최적 결정은 아닙니다). "
            f"모델의 매크로 F1 {model_macro_f1:.3f}은 상한보다 {gap:+.3f} 낮아 {verdict}. {prev}.")


