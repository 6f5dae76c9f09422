"""Artifacts step: the scores table, the models, registry entry, model card; the model's declarations.

``outputs/<quarter>/models/health/scores.parquet`` is keyed by ``BAS_YH`` and ``SEQ``:
``health_score`` (0–100), ``tier`` (취약/보통/건강), the score's parts (``component_score``, the
components' weighted mean of the quarter; ``outlook``, the risk model's view on that scale, NaN
on real data; ``quarters_smoothed``, the quarters the score averages), one column per component,
``risk_grade`` (1 lowest risk … 5), ``risk_probability`` (calibrated, NaN on real data),
``reason`` (Korean).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

import pandas as pd

from fipro.evaluation import cards, registry
from fipro.export import write_parquet_atomic
from fipro.handoff import Column, Source, as_int, rounded
from fipro.health.components import COMPONENT_NAMES, COMPONENTS, PILLAR_KO, TIERS
from fipro.health.data import EWM_ALPHA, MODEL_NAME
from fipro.health.estimator import N_GRADES, OUTLOOK_SHARE, SMOOTH_ALPHA, WINDOW
from fipro.health.evaluation import tier_cut_note_ko
from fipro.model_report import Metric, ModelReport
from fipro.modelrun import model_dir_of
from fipro.evaluation.intervals import format_metric
from fipro.summary import Section, share_moves_line, metric_change_line
from fipro.text_ko import korean_numeral

if TYPE_CHECKING:  # the pipeline imports this module: the run's type for annotations only
    from fipro.health.pipeline import HealthRun

SCORES_FILE = "scores.parquet"
SCORE_COLUMNS = ("BAS_YH", "SEQ", "health_score", "tier", "component_score", "outlook", "quarters_smoothed",
                 *COMPONENT_NAMES, "risk_grade", "risk_probability", "reason")


model_dir = model_dir_of(MODEL_NAME)


def component_table() -> pd.DataFrame:
    """The components with pillar, weight, formula and reason (Korean)."""
    return pd.DataFrame([{"구성 요소": c.title_ko, "기둥": PILLAR_KO[c.pillar], "규칙 가중치": c.weight, "식": c.formula,
                          "근거": c.why} for c in COMPONENTS])


def save_artifacts(quarter: str, run: "HealthRun", *, directory: Optional[Path] = None) -> dict:
    """Write ``scores.parquet``, the models (weights and risk; ``None`` on real data), their registry
    entry and model card for a quarter, from ``run.table`` and ``run.headline``."""
    models = {"weights": run.weight_model, "risk": run.risk_model}
    table, headline = run.table, run.headline
    directory = Path(directory) if directory is not None else model_dir(quarter)
    data_hash = registry.data_hash(table[["BAS_YH", "SEQ", *COMPONENT_NAMES]].reset_index(drop=True))
    data_range = {"quarters": [quarter], "n_rows": int(len(table)),
                  "history": "이전 분기 전부(고객 본인의 지출 분기), 이후 분기는 보지 않음"}
    params = {k: m.get_params() for k, m in models.items() if m is not None}
    entry = registry.register_model(dict(models), directory, name=MODEL_NAME, data_hash=data_hash, parameters=params,
                                    metrics=dict(headline), data_range=data_range,
                                    extra={"weights": headline.get("weights")})
    card = cards.model_card_markdown(
        MODEL_NAME, title="모델 카드: 소비 건강 점수와 소비 기반 위험 등급",
        purpose=(f"고객의 소비 패턴이 얼마나 건강한지 0–100점과 {korean_numeral(len(TIERS))} 등급으로, 다음 분기 악화 가능성을 "
                 f"{korean_numeral(N_GRADES)} 등급과 확률로 알려 줍니다."),
        intended_use=["고객 화면의 소비 건강 점수와 개선할 점", "카드사의 분기별 건강 등급 구성과 추이",
                      "대출·한도 결정에 단독으로 쓰지 않습니다(소득·부채·신용 정보가 없음)"],
        data_range=data_range,
        features=["네 기둥(지출·저축·차입·계획) × 두 구성 요소, 각 0–100 (아래 표)",
                  f"비중은 고객 본인의 지출 분기에 대한 지수 가중 평균(최근 분기 가중치 {EWM_ALPHA:g})이고, 지출 안정성은 "
                  "이번 분기 이전 분기들의 log 지출 표준편차입니다: 한 분기의 튐에 점수가 덜 흔들립니다",
                  "또래는 같은 연령대 × 라이프스테이지; 성별은 어느 구성 요소나 모델에도 쓰지 않습니다",
                  f"합성 자료(다음 분기 결과가 있을 때)의 점수: 구성 요소 가중 평균 {1 - OUTLOOK_SHARE:.0%}와 위험 모델의 전망 "
                  f"{OUTLOOK_SHARE:.0%}(위험 로짓을 구성 요소 점수의 평균·표준편차에 옮긴 값)을 섞고, 고객의 최근 "
                  f"{korean_numeral(WINDOW)} 분기(이번 분기 가중치 {SMOOTH_ALPHA:g}, 연속한 분기만)를 이번 분기의 같은 규칙으로 "
                  "매겨 지수 가중 평균합니다: 예측력(AUC)과 분기 간 안정성을 함께 맞추는 자리"],
        metrics=dict(headline),
        calibration={"방법": "위험 확률: 학습에 쓰지 않은 고객으로 Platt 보정"},
        limitations=["소득·저축·부채·신용점수가 없어 가계 재정이 아니라 소비 패턴의 건강을 잽니다",
                     "가중치 보정과 위험 모델은 합성 자료의 다음 분기 결과로 학습했습니다: 실제 자료에서는 규칙 점수만 씁니다",
                     f"등급 경계({', '.join(f'{n} {b:.0f}점부터' for n, b in TIERS)}): {tier_cut_note_ko()}",
                     "가중치를 분기마다 다시 맞추므로, 등급 구성의 변화에는 고객의 변화와 가중치의 변화가 함께 들어 있습니다"],
        entry=entry, extra_sections={"구성 요소": component_table()},
    )
    card_path = cards.write_model_card(directory, card)
    scores_path = directory / SCORES_FILE
    write_parquet_atomic(table[list(SCORE_COLUMNS)], scores_path)
    return registry.artifact_paths(directory, entry, card=card_path, scores=scores_path)


def summary_lines(m: Mapping[str, Any], prev: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The quarter summary's health section: tier mix and its change."""
    mix = dict(m.get("tier_shares") or {})
    lines = [f"소비 건강 점수 평균 {format_metric(m, 'mean_score', 1)}점: " +
             ", ".join(f"{name} {100 * mix.get(name, 0):.1f}%" for name, _ in TIERS) + "."]
    if prev and prev.get("tier_shares"):  # the tiers' shares, judged by their Wilson intervals
        lines.append(share_moves_line("건강 등급", mix, m.get("n_customers"), dict(prev["tier_shares"]),
                                      prev.get("n_customers")))
    if m.get("health_auc") is not None:
        observable = (f", 관측 상한 {m['observable_ceiling_auc']:.3f}" if m.get("observable_ceiling_auc") is not None
                      else "")
        lines.append(f"합성 자료의 다음 분기 악화 대비 ROC-AUC: 건강 점수 {format_metric(m, 'health_auc')}, 위험 확률 "
                     f"{format_metric(m, 'risk_auc')} (잠재 상한 {m['ceiling_auc']:.3f}{observable}).")
    for label, key in (("건강 점수 AUC", "health_auc"), ("위험 확률 AUC", "risk_auc"), ("분기 간 점수 상관", "stability_corr")):
        change = metric_change_line(label, m, prev, key)
        if change:
            lines.append(change)
    return lines


HANDOFF = Source.from_table(MODEL_NAME, (
    Column("HEALTH_SCORE", "REAL", "소비 건강 점수 (0–100, 높을수록 건강)", "health_score", rounded(1)),
    Column("HEALTH_TIER", "TEXT", "건강 등급 (취약/보통/건강)", "tier"),
    Column("RISK_GRADE", "INTEGER", "소비 기반 위험 등급 (1 = 가장 낮음 … 5)", "risk_grade", as_int)),
    lambda quarter: model_dir(quarter) / SCORES_FILE)
REPORT = ModelReport(MODEL_NAME, "소비 건강 점수·위험 등급", (
    Metric("health_auc", "건강 점수 ROC-AUC (다음 분기 악화)", ceiling="ceiling_auc", observable="observable_ceiling_auc"),
    Metric("components_auc", "참고: 구성 요소 점수만의 ROC-AUC"),
    Metric("risk_auc", "위험 확률 ROC-AUC", ceiling="ceiling_auc", observable="observable_ceiling_auc"),
    Metric("risk_ece", "위험 확률 ECE", higher_is_better=False),
    # measured by notebook 08 (fipro.decay): the previous quarter's risk model on this quarter
    Metric("temporal_risk_auc", "시간 검증 위험 AUC (전분기 모델)", source="fipro.drift:decay_metrics_of"),
    Metric("stability_corr", "분기 간 점수 상관"),
    Metric("mean_score", "평균 점수"),
))
SUMMARY = Section(MODEL_NAME, "소비 건강", MODEL_NAME, summary_lines)
