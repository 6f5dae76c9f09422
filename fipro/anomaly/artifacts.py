"""Artifacts step: scores table, model, registry entry, model card; the model's declarations.

``outputs/<quarter>/models/anomaly/scores.parquet`` is keyed by ``BAS_YH`` and ``SEQ``:
``score`` (higher is more anomalous), ``rank`` (1 = most), ``flagged``, ``rules`` (fired
rule names, comma-separated), ``reason`` (Korean, for the flagged and the review list).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

import pandas as pd

from fipro.anomaly.data import MODEL_NAME
from fipro.anomaly.evaluation import display_scores
from fipro.anomaly.rules import RULE_BY_NAME, RULE_NAMES, RULES
from fipro.evaluation import cards, registry
from fipro.export import write_parquet_atomic
from fipro.handoff import Column, Source, as_int, rounded
from fipro.model_report import Metric, ModelReport
from fipro.modelrun import model_dir_of
from fipro.evaluation.intervals import format_metric
from fipro.summary import Section, share_moves_line, metric_change_line

if TYPE_CHECKING:  # the pipeline imports this module: the run's type for annotations only
    from fipro.anomaly.pipeline import AnomalyRun

SCORES_FILE = "scores.parquet"
SCORE_COLUMNS = ("BAS_YH", "SEQ", "score", "rank", "flagged", "rules", "reason")


model_dir = model_dir_of(MODEL_NAME)


def save_artifacts(quarter: str, run: "AnomalyRun", *, directory: Optional[Path] = None) -> dict:
    """Write ``scores.parquet``, the model, its registry entry and model card for a quarter.

    Reads ``run.model``, ``run.table``, ``run.X`` (the model's inputs), ``run.headline``,
    ``run.thresholds`` and, on synthetic data, ``run.evaluation`` (its score table goes
    into the card).
    """
    model, table, X, headline, thresholds = run.model, run.table, run.X, run.headline, run.thresholds
    metric_block = display_scores(run.evaluation.scores) if run.evaluation is not None else None
    directory = Path(directory) if directory is not None else model_dir(quarter)
    data_hash = registry.data_hash(pd.concat([table[["BAS_YH", "SEQ"]].reset_index(drop=True),
                                              X.reset_index(drop=True)], axis=1))
    data_range = {"quarters": [quarter], "n_rows": int(len(table)),
                  "history": "이전 분기 전부(고객 본인의 과거 활동 분기), 이후 분기는 보지 않음"}
    entry = registry.register_model(model, directory, name=MODEL_NAME, data_hash=data_hash, metrics=dict(headline),
                                    data_range=data_range, extra={"thresholds": dict(thresholds),
                                                                  "inputs": list(X.columns)})
    rules_block = pd.DataFrame([{"규칙": r.name, "이름": r.title_ko, "기준값": thresholds.get(r.name, r.threshold),
                                 "단위": r.unit, "근거": r.why, "첫 분기 고객": r.first_quarter} for r in RULES])
    card = cards.model_card_markdown(
        MODEL_NAME, title="모델 카드: 이상 탐지 (규칙 + Isolation Forest)",
        purpose=("분기마다 모든 고객을 이상 정도로 순위 매기고, 검토할 상위 고객과 그 이유(발동한 규칙, 모델을 움직인 입력)를 "
                 "한국어로 제공합니다."),
        intended_use=["카드사 이상 거래·이용 패턴 검토 대상의 우선순위",
                      "고객 화면의 '평소와 다른 소비' 알림",
                      "자동 차단이나 불이익 결정에는 쓰지 않습니다(사람의 검토가 전제)"],
        data_range=data_range,
        features=[f"{len(X.columns)}개 입력: 규칙(총액·업종·휴면 후 급증, 평소 안 쓰던 업종 이용)의 통계(고객 본인 "
                  "과거·또래 대비 편차), 평소 이용 업종 전반의 상승(업종·금액 수준별 변동으로 가중한 로그 변화), "
                  "본인 업종 이력 대비 한 업종의 변화, 이용 습관이 비슷한 고객 대비 한 업종의 증가(평소 총액 단위), "
                  "직전 무이용 분기 수",
                  "상승만 이상으로 봅니다(음의 편차는 0으로 자름)"],
        metrics=metric_block if metric_block is not None else dict(headline),
        calibration={"방법": "없음 (순위 점수; 확률이 아님)"},
        limitations=["합성 데이터의 심어 둔 이상으로 검증됨: 실제 이상(부정 사용 등)의 모습은 다를 수 있습니다",
                     "작은 이상(각 유형 크기의 하위 절반)은 고객의 평소 변동과 겹쳐 잘 드러나지 않습니다",
                     "한 업종 급증은 목돈 지출(가전·가구·여행 등)과 겹쳐 큰 것도 절반 가까이 놓치고, 총액을 유지한 "
                     "지출 구성 변화는 평소 안 쓰던 업종이 늘어날 때만 드러나 정답을 보고 학습한 관측 가능 기준도 "
                     "상위 절반의 약 5분의 1만 찾습니다",
                     "첫 분기 고객은 본인 이력이 없어 또래와만 비교합니다",
                     "기준값은 자료의 분포로 정했고 정답 라벨로 조정하지 않았습니다"],
        entry=entry, extra_sections={"규칙과 기준값": rules_block},
    )
    card_path = cards.write_model_card(directory, card)
    scores = write_parquet_atomic(table[list(SCORE_COLUMNS)], directory / SCORES_FILE)
    return registry.artifact_paths(directory, entry, card=card_path, scores=scores)


def summary_lines(m: Mapping[str, Any], prev: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The quarter summary's anomaly section: flagged customers, counts by rule, change."""
    lines = [f"이상 점수 상위 {100 * m['flag_share']:.1f}%인 고객 {int(m['n_flagged']):,}명을 검토 대상으로 표시했습니다 "
             f"(전체 {int(m['n_customers']):,}명)."]
    counts = dict(m.get("rule_counts") or {})
    if counts:
        lines.append("규칙별 해당 고객: " + ", ".join(f"{RULE_BY_NAME[r].title_ko} {int(counts.get(r, 0)):,}명"
                                                  for r in RULE_NAMES) + ".")
    if prev and prev.get("rule_counts"):
        # the rules' shares of customers, judged by their Wilson intervals
        n_now, n_before = int(m["n_customers"]), int(prev.get("n_customers") or 0)
        shares = {r: int(counts.get(r, 0)) / n_now for r in RULE_NAMES} if n_now else {}
        before = ({r: int(dict(prev["rule_counts"]).get(r, 0)) / n_before for r in RULE_NAMES} if n_before else {})
        lines.append(share_moves_line("규칙 해당 고객", shares, n_now, before, n_before,
                                      label=lambda r: RULE_BY_NAME[r].title_ko))
    if m.get("combined_average_precision") is not None:
        lines.append(f"합성 자료의 심어 둔 이상 대비 결합 점수의 평균 정밀도 {format_metric(m, 'combined_average_precision')}, "
                     f"정밀도@k {format_metric(m, 'combined_precision_at_k')}입니다.")
        change = metric_change_line("결합 점수 정밀도@k", m, prev, "combined_precision_at_k")
        if change:
            lines.append(change)
    return lines


# declarations: DB hand-off (fipro.handoff.MODEL_SOURCES), model report
# (fipro.model_report.MODEL_REPORTS) and quarter summary (fipro.summary.MODEL_SECTIONS)
HANDOFF = Source.from_table(MODEL_NAME, (
    Column("ANOMALY_SCORE", "REAL", "이상 점수 (클수록 이례적; 분기 안 순위용)", "score", rounded(4)),
    Column("ANOMALY_FLAG", "INTEGER", "검토 대상 표시 (1 = 분기 상위 이상 점수)", "flagged", as_int)),
    lambda quarter: model_dir(quarter) / SCORES_FILE)
REPORT = ModelReport(MODEL_NAME, "이상 탐지", (
    Metric("combined_average_precision", "결합 점수 평균 정밀도", ceiling="yardstick_average_precision"),
    Metric("combined_precision_at_k", "결합 점수 정밀도@k", ceiling="yardstick_precision_at_k"),
    Metric("observable_ceiling_precision_at_k", "관측 가능 상한(자료 전체로 학습) 정밀도@k"),
    Metric("rules_average_precision", "규칙 평균 정밀도"),
    Metric("model_average_precision", "모델 평균 정밀도"),
    Metric("flag_share", "검토 대상 비율", higher_is_better=False),
))
SUMMARY = Section(MODEL_NAME, "이상 탐지", MODEL_NAME, summary_lines)
