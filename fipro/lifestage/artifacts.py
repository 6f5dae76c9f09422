"""Artifacts step: model, registry entry, model card and the per-customer predictions table.

``outputs/<quarter>/models/lifestage/predictions.parquet`` is keyed by ``BAS_YH`` and
``SEQ``: the site, the quarter summary and the DB hand-off join it by these keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
import pandas as pd

from fipro.evaluation import baselines, cards, registry
from fipro.evaluation.registry import artifact_table  # noqa: F401  (part of this step's interface)
from fipro.export import write_parquet_atomic
from fipro.handoff import Column, Source
from fipro.model_report import Metric, ModelReport
from fipro.modelrun import model_dir_of
from fipro.lifestage.data import MODEL_NAME, TARGET
from fipro.lifestage.estimator import LifeStageClassifier
from fipro.lifestage.evaluation import comparison_table_ko, uses_previous_quarter
from fipro.evaluation.intervals import format_metric
from fipro.summary import Metrics, Section, metric_change_line

if TYPE_CHECKING:  # the pipeline imports this module: the run's type for annotations only
    from fipro.lifestage.pipeline import LifeStageRun

PREDICTIONS_FILE = "predictions.parquet"


model_dir = model_dir_of(MODEL_NAME)


def prediction_table(model: LifeStageClassifier, frame: pd.DataFrame, roles: Optional[Sequence[str]] = None,
                     proba: Optional[np.ndarray] = None) -> pd.DataFrame:
    """Every row's prediction and calibrated probabilities, keyed by ``BAS_YH`` and ``SEQ``.

    ``proba``: the rows' calibrated probabilities when already predicted.
    """
    if proba is None:
        proba = model.predict_proba(frame[list(model.feature_names_in_)])
    keys = pd.DataFrame({"BAS_YH": frame["BAS_YH"].astype(str).to_numpy(), "SEQ": frame["SEQ"].astype(str).to_numpy()})
    if roles is not None:
        keys["role"] = np.asarray(roles).astype(str)
    keys[TARGET] = frame[TARGET].astype(str).to_numpy()
    return baselines.probability_frame(proba, model.classes_, keys)


def save_artifacts(quarter: str, run: "LifeStageRun", *, directory: Optional[Path] = None) -> dict:
    """Write model, registry entry, model card and ``predictions.parquet`` for a quarter.

    Reads ``run.model``, ``run.labelled`` (the labelled rows after feedback, possibly
    pooled with other quarters), ``run.roles`` (each row's split role), ``run.headline``
    and, where present, ``run.selection``, ``run.evaluation``, ``run.ceiling`` and
    ``run.quarter_proba``. The data hash covers the training rows' features and labels.
    Predictions cover ``quarter``'s own rows only (``quarter_proba``: their calibrated
    probabilities, when already predicted).
    """
    model, frame, headline = run.model, run.labelled, run.headline
    selection, evaluation, ceiling, quarter_proba = run.selection, run.evaluation, run.ceiling, run.quarter_proba
    directory = Path(directory) if directory is not None else model_dir(quarter)
    roles = np.asarray(run.roles).astype(str)
    names = list(model.feature_names_in_)
    train = frame[roles != "test"]
    data_hash = registry.data_hash(train[["BAS_YH", "SEQ", *names, TARGET]])
    trained_on, n_train = sorted(train["BAS_YH"].astype(str).unique()), len(train)
    in_quarter = (frame["BAS_YH"].astype(str) == quarter).to_numpy()
    frame, roles = frame[in_quarter], roles[in_quarter]
    data_range = {"quarters": trained_on, "n_rows": int(len(frame)), "n_train_rows": int(n_train),
                  "n_fit_rows": int(headline.get("n_fit_rows", n_train)),
                  "n_test_rows": int((roles == "test").sum()), "n_calibration_rows": int(model.n_calibration_),
                  "split": "고객 단위 해시 분할 (fipro.split)"}
    extra = {"n_features": len(names), "n_iter": model.n_iter_, "calibration": model.calibration,
             "uses_previous_quarter": uses_previous_quarter(names)}
    if selection is not None:
        extra["selection"] = {"reference_quarter": selection.reference_quarter, "train_rows": selection.train_rows,
                              "params": selection.params, "key": selection.key}
    entry = registry.register_model(model, directory, name=MODEL_NAME, data_hash=data_hash, metrics=dict(headline),
                                    data_range=data_range, extra=extra)
    metric_block: Any = comparison_table_ko(evaluation, ceiling).round(4) if evaluation is not None else dict(headline)
    calibration_block = {"방법": model.calibration}
    if evaluation is not None:
        calibration_block.update({k: round(v, 4) for k, v in evaluation.calibration.items() if isinstance(v, float)})
    sections = {}
    if selection is not None:
        sections["튜닝과 학습 크기 (Selection)"] = selection.describe()
        if selection.learning_curve:
            sections["학습 곡선 (Learning curve)"] = selection.curve_table().round(4)
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
        calibration=calibration_block,
        limitations=["합성 데이터에서 검증됨: 실제 파일에서는 라벨 정의와 분포가 다를 수 있습니다",
                     "희귀 클래스(예: 청소년)는 평가 행이 적어 지표가 불안정합니다",
                     "SHAP 이유는 부스팅 모델의 원점수(로그 오즈) 기준이며 인과 관계가 아닙니다",
                     "사용자 정정은 다음 학습 실행에서만 반영됩니다"],
        entry=entry,
        extra_sections=sections or None,
    )
    card_path = cards.write_model_card(directory, card)
    pred_path = write_parquet_atomic(prediction_table(model, frame, roles, proba=quarter_proba),
                                     directory / PREDICTIONS_FILE)
    return registry.artifact_paths(directory, entry, card=card_path, predictions=pred_path)


def summary_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """The quarter summary's life-stage section (``lifestage.json``): the model against the rule and the ceiling."""
    lines = [f"라이프스테이지 모델의 평가 고객 매크로 F1: {format_metric(m, 'model_macro_f1')} (연령대 × 성별 규칙 "
             f"{format_metric(m, 'age_rule_macro_f1')} 대비 {m['model_macro_f1'] - m['age_rule_macro_f1']:+.3f})."]
    ceiling = m.get("ceiling_macro_f1")
    if ceiling is not None:
        lines.append(f"합성 자료의 이론적 상한(정확한 사후확률) {ceiling:.3f} 대비: "
                     f"{m['model_macro_f1'] - ceiling:+.3f}.")
    change = metric_change_line("매크로 F1", m, prev, "model_macro_f1")  # named only when the intervals are apart
    return lines + ([change] if change else [])


def _version(quarter: str) -> dict:
    return {"LIFE_STAGE_MODEL_VERSION": registry.load_entry(model_dir(quarter))["version"]}


# declarations: DB hand-off (fipro.handoff.MODEL_SOURCES), model report
# (fipro.model_report.MODEL_REPORTS) and quarter summary (fipro.summary.MODEL_SECTIONS)
HANDOFF = Source.from_table(MODEL_NAME, (
    Column("LIFE_STAGE_PRED", "TEXT", "예측 라이프스테이지 (코드)", "predicted"),
    Column("LIFE_STAGE_PROB", "REAL", "예측 라이프스테이지의 보정된 확률 (0~1)", "probability"),
    Column("LIFE_STAGE_MODEL_VERSION", "TEXT", "예측한 라이프스테이지 모델의 버전 (registry)")),
    lambda quarter: model_dir(quarter) / PREDICTIONS_FILE, constants=_version)

REPORT = ModelReport(MODEL_NAME, "라이프스테이지 분류기", (
    Metric("model_macro_f1", "평가 고객 매크로 F1", ceiling="ceiling_macro_f1"),
    Metric("model_accuracy", "평가 고객 정확도", ceiling="ceiling_accuracy"),
    Metric("ece_after", "보정 후 ECE", higher_is_better=False),
    # measured by notebook 08 (fipro.decay): the previous quarter's model on this quarter's held-out customers
    Metric("temporal_macro_f1", "시간 검증 매크로 F1 (전분기 모델)", source="fipro.drift:decay_metrics_of"),
))
SUMMARY = Section(MODEL_NAME, "라이프스테이지 모델", MODEL_NAME, summary_lines)
