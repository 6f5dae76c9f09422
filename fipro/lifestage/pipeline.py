"""One quarter end to end: the function notebook 03 calls and ``make benchmark`` times.

:func:`run_quarter` chains the template's steps — data → estimator → evaluation
against the ceiling → (reasons are drawn by the notebook) → artifacts — with one set
of defaults, so what the notebook shows is what the benchmark measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import numpy as np
import pandas as pd

from fipro import config, datasets, split
from fipro.evaluation.intervals import headline_fields
from fipro.modelrun import ModelRun
from fipro.timing import Laps
from fipro.lifestage import feedback as fb
from fipro.lifestage.artifacts import save_artifacts
from fipro.lifestage.data import (DEFAULT_HISTORY, MODEL_NAME, available_features, load_inputs,
                                  sample_training_rows, train_test_rows)
from fipro.lifestage.estimator import LifeStageClassifier, fit_lifestage
from fipro.lifestage.evaluation import (Evaluation, bayes_ceiling, evaluate, fit_baselines, load_labels,
                                        uses_previous_quarter)
from fipro.lifestage.selection import ModelSelection, load_or_select


@dataclass(kw_only=True)
class LifeStageRun(ModelRun):
    """Everything one quarter's run produced (what notebook 03 shows)."""

    model_name: ClassVar[str] = MODEL_NAME

    data: pd.DataFrame
    labelled: pd.DataFrame
    feedback_report: pd.DataFrame
    feedback_counts: dict
    roles: np.ndarray
    train: pd.DataFrame
    test: pd.DataFrame
    fit_rows: pd.DataFrame
    baselines: dict
    selection: ModelSelection
    model: LifeStageClassifier
    evaluation: Evaluation
    ceiling: Optional[dict]
    effect: Optional[dict]
    quarter_proba: Optional[np.ndarray] = None  # the quarter's rows' calibrated probabilities (saved predictions)


def run_quarter(quarter: str, *, history: int = DEFAULT_HISTORY, test_size: float = 0.2,
                calibration: str = "temperature",
                feedback: Optional[pd.DataFrame] = None, selection: Optional[ModelSelection] = None,
                save: bool = True, seed: Optional[int] = None, n_threads: Optional[int] = None) -> LifeStageRun:
    """Fit, evaluate and (``save``) record the life-stage model of one quarter.

    Steps: load the quarter (pooled with ``history`` others when small); apply user
    corrections (``read_feedback()`` unless given); split customers; fit the baselines;
    take this run's selection (:func:`fipro.lifestage.selection.load_or_select`: one
    grid and learning curve per run) and fit on a stratified sample of that many
    training rows (corrected rows always kept); score on held-out customers beside the
    baselines and the Bayes ceiling; measure the corrections' effect; write the artifacts.
    How this quarter's model does on the next quarter is measured there, by notebook 08
    (:mod:`fipro.decay`): a quarter's notebook never waits for the previous quarter's.
    """
    seed = config.RANDOM_SEED if seed is None else seed
    laps = Laps()
    data = load_inputs(quarter, history=history)
    laps.lap("load")
    corrections = fb.read_feedback() if feedback is None else feedback
    labelled, report = fb.apply_feedback(data, corrections, known_quarters=datasets.available_quarters())
    counts = fb.feedback_summary(report, labelled, data)
    roles = split.customer_roles(labelled["SEQ"], test_size=test_size, seed=seed)
    train, test = train_test_rows(labelled, roles, quarter)
    split.assert_no_customer_leakage(train, test)
    baselines = fit_baselines(train)
    laps.lap("prepare")
    selection = selection if selection is not None else load_or_select(seed=seed, history=history,
                                                                         n_threads=n_threads)
    laps.lap("selection")
    sampled = sample_training_rows(train, selection.train_rows, seed=seed)
    fit_rows = train[train.index.isin(sampled.index) | train["label_corrected"].to_numpy(dtype=bool)]
    model = fit_lifestage(fit_rows, selection.params, calibration=calibration, seed=seed, n_threads=n_threads,
                          columns=available_features(labelled, quarter))
    laps.lap("fit")
    # one booster pass over the quarter's rows serves the evaluation and the saved table
    in_quarter = (labelled["BAS_YH"] == quarter).to_numpy()
    raw_all, proba_all = model.predict_proba_pair(labelled.loc[in_quarter, list(model.feature_names_in_)])
    is_test = (np.asarray(roles) == "test")[in_quarter]
    evaluation = evaluate(model, baselines, test, proba_pair=(raw_all[is_test], proba_all[is_test]), seed=seed)
    ceiling = bayes_ceiling(test, load_labels(quarter, test["SEQ"]))
    laps.lap("evaluate")
    effect = fb.feedback_effect(data.loc[fit_rows.index], fit_rows, test, model, selection.params, seed=seed)
    laps.lap("feedback_effect")
    headline = headline_metrics(evaluation, ceiling=ceiling, feedback=counts, model=model,
                                selection=selection, effect=effect,
                                extra={"quarter": quarter, "n_rows": int((data["BAS_YH"] == quarter).sum()),
                                       "n_train_rows": int(len(train)), "n_fit_rows": int(len(fit_rows)),
                                       "n_dropped_rows": int(data.attrs.get("n_dropped", 0)),
                                       "pooled": bool(data.attrs.get("pooled", False)),
                                       "pooled_quarters": list(data.attrs.get("quarters", [quarter])),
                                       "history_note": data.attrs.get("history_note", ""),
                                       "n_threads": model.n_threads or config.N_THREADS})
    run = LifeStageRun(quarter=quarter, data=data, labelled=labelled, feedback_report=report, feedback_counts=counts,
                       roles=roles, train=train, test=test, fit_rows=fit_rows, baselines=baselines,
                       selection=selection, model=model, evaluation=evaluation, ceiling=ceiling,
                       effect=effect, quarter_proba=proba_all, headline=headline)
    return run.finish(laps, save_artifacts if save else None)


def headline_metrics(evaluation: Evaluation, *, ceiling: Optional[dict],
                     feedback: dict, model: LifeStageClassifier, selection: ModelSelection,
                     effect: Optional[dict] = None, extra: Optional[dict] = None) -> dict:
    """The numbers the notebook records (``save_metrics``), the site reads and the benchmark reports."""
    c = evaluation.comparison
    out: dict[str, Any] = {
        "model_accuracy": c.loc["model", "accuracy"], "model_macro_f1": c.loc["model", "macro_f1"],
        "age_rule_accuracy": c.loc["age_rule", "accuracy"], "age_rule_macro_f1": c.loc["age_rule", "macro_f1"],
        "majority_accuracy": c.loc["majority", "accuracy"], "majority_macro_f1": c.loc["majority", "macro_f1"],
        "ceiling_accuracy": ceiling["accuracy"] if ceiling else None,
        "ceiling_macro_f1": ceiling["macro_f1"] if ceiling else None,
        "ceiling_gap_macro_f1": (ceiling["macro_f1"] - c.loc["model", "macro_f1"]) if ceiling else None,
        "ceiling_decision": "argmax posterior" if ceiling else None,
        "ece_before": evaluation.calibration["ece_before"], "ece_after": evaluation.calibration["ece_after"],
        "calibration_method": model.calibration,
        "feedback_applied": feedback["n_applied"], "feedback_invalid": feedback["n_invalid"],
        "feedback_labels_changed": feedback.get("n_labels_changed", 0),
        "fit_seconds": model.fit_seconds_, "n_iter": model.n_iter_, "n_test": int(c.loc["model", "n"]),
        "params": {k: selection.params[k] for k in sorted(selection.params)},
        "selection_train_rows": selection.train_rows, "selection_reference_quarter": selection.reference_quarter,
        "selection_seconds": selection.seconds,
        "uses_previous_quarter": uses_previous_quarter(list(model.feature_names_in_)),
    }
    # 95% intervals beside the metrics: <key>_lo, <key>_hi and intervals[key] (fipro.evaluation.intervals)
    out.update(headline_fields(evaluation.intervals))
    if effect:
        out["feedback_macro_f1_before"] = effect["macro_f1_before"]
        out["feedback_macro_f1_after"] = effect["macro_f1_after"]
    out.update(dict(extra or {}))
    return out


def describe_run(run: LifeStageRun) -> str:
    """A Korean sentence on the training set, the stopping point and the time spent."""
    h = run.headline
    pooled = f" {h['history_note']}." if h.get("history_note") else ""
    sample = (f"학습 고객 {h['n_train_rows']:,}행 중 라이프스테이지별 비율을 지킨 {h['n_fit_rows']:,}행으로 학습했고"
              if h["n_fit_rows"] < h["n_train_rows"] else f"학습 고객 {h['n_train_rows']:,}행 전부로 학습했고")
    return (f"{sample}, 조기 종료로 부스팅 {run.model.n_iter_}회에서 멈췄습니다(학습·보정 {run.model.fit_seconds_:.1f}초, "
            f"스레드 {h['n_threads']}개).{pooled}"
            + (f" 라벨이 없거나 코드가 아닌 {h['n_dropped_rows']:,}행은 학습·평가에서 뺐습니다." if h["n_dropped_rows"] else ""))
