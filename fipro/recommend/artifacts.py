"""Artifacts step: the recommendation log, the recommender's registry entry and model card; its declarations.

``outputs/<quarter>/recommendations.parquet`` (the recommendation log): ``BAS_YH``, ``SEQ``,
``product_id``, ``product_kind`` (credit/check, or savings/insurance/pension/loan),
``rank`` (1 = best, cards and non-card products ranked apart), ``score`` (cards: expected
net won per month; products: fit), ``expected_monthly_benefit_won`` (cards), ``reason``
(Korean), ``recommender`` (``rule``, ``segment`` or ``life_stage_rule``), ``model_version``,
``created_at``. The model folder ``outputs/<quarter>/models/recommendation/`` keeps the
catalogue and parameters as used (``model.joblib``), the registry entry and the card.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

import numpy as np
import pandas as pd

from fipro import datasets
from fipro.evaluation import cards, registry
from fipro.export import write_parquet_atomic
from fipro.handoff import Column, Source
from fipro.model_report import Metric, ModelReport
from fipro.modelrun import model_dir_of
from fipro.products import CATALOGUE_DIR, LITRE_PRICE_WON
from fipro.recommend import estimator as est
from fipro.recommend.data import MODEL_NAME
from fipro.recommend.evaluation import JITTER, coverage
from fipro.evaluation.intervals import format_metric
from fipro.summary import Section, metric_change_line
from fipro.text_ko import korean_numeral

if TYPE_CHECKING:  # the pipeline imports this module: the run's type for annotations only
    from fipro.recommend.pipeline import RecommendRun

LOG_COLUMNS = ("BAS_YH", "SEQ", "product_id", "product_kind", "rank", "score", "expected_monthly_benefit_won", "reason",
               "recommender", "model_version", "created_at")


def log_path(quarter: str) -> Path:
    return datasets.recommendations_path(quarter)


model_dir = model_dir_of(MODEL_NAME)


def catalogue_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(CATALOGUE_DIR.glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def parameters() -> dict:
    return {"top_k": est.TOP_K, "n_products": est.N_PRODUCTS, "settled_quarters": est.SETTLED_QUARTERS,
            "prior_quarters": est.PRIOR_QUARTERS, "litre_price_won": LITRE_PRICE_WON, "catalogue": catalogue_hash()}


def _data_hash(run) -> str:
    f = run.inputs.frame
    return registry.data_hash(pd.DataFrame({"BAS_YH": f["BAS_YH"], "SEQ": f["SEQ"], "group": f["group"],
                                            "total": run.inputs.history.sum(1).round(0)}))


def version_of(run) -> str:
    return registry.model_version(MODEL_NAME, _data_hash(run), parameters())


def headline_of(run) -> dict:
    """The quarter's headline numbers (reach, top cards, mean expected benefit, measurement)."""
    top1 = run.ranking.top[:, 0]
    names = np.array([run.catalogue.card_name(c) for c in run.catalogue.card_ids], dtype=object)
    counts = pd.Series(top1[top1 >= 0]).value_counts()
    h = {"quarter": run.quarter, "n_customers": int(len(top1)), "reach": float((top1 >= 0).mean()),
         "mean_expected_benefit_won": float(np.nanmean(run.ranking.score[:, 0])) if (top1 >= 0).any() else 0.0,
         "rule_share": float((run.used == "rule").mean()), "group_source": str(run.inputs.frame["group_source"].iloc[0]),
         "top_products": [{"product_id": run.catalogue.card_ids[int(c)], "name": names[int(c)], "share": float(n / len(top1))}
                          for c, n in counts.head(5).items()],
         "n_cards": len(run.catalogue.card_ids), "n_products": int(len(run.catalogue.products)),
         "has_measurement": run.measurement is not None}
    h.update(est_coverage(run))
    if run.measurement is not None:
        h.update(run.measurement)
    return h


def est_coverage(run) -> dict:
    return coverage(run.ranking.top, len(run.catalogue.card_ids))


def save_artifacts(quarter: str, run: "RecommendRun", *, directory: Optional[Path] = None) -> dict:
    """Write the recommendation log (``outputs/<quarter>/recommendations.parquet``), the catalogue and
    parameters as used, the registry entry and the model card, from ``run``."""
    directory = Path(directory) if directory is not None else model_dir(quarter)
    data_range = {"quarters": [quarter], "n_rows": int(len(run.inputs)),
                  "history": "이번 분기까지의 지출 분기(고객 본인); 측정은 지난 분기 추천을 이번 분기 지출로"}
    model = {"catalogue": run.catalogue, "parameters": parameters()}
    entry = registry.register_model(model, directory, name=MODEL_NAME, data_hash=_data_hash(run),
                                    parameters=parameters(), metrics=dict(run.headline), data_range=data_range)
    catalogue_table = run.catalogue.cards[["card_id", "issuer_ko", "name_ko", "card_type", "annual_fee_won"]].rename(
        columns={"card_id": "id", "issuer_ko": "발급사", "name_ko": "카드", "card_type": "종류", "annual_fee_won": "연회비(원)"})
    card = cards.model_card_markdown(
        MODEL_NAME, title="모델 카드: 상품 추천 (혜택 기준 카드 추천과 라이프스테이지 상품)",
        purpose="고객의 지출을 카드마다 실제 혜택 규칙(전월실적 구간, 할인율, 건별·묶음·통합 한도, 연회비)에 넣어 "
                f"월 순혜택이 큰 카드 {korean_numeral(est.TOP_K)} 장과, 라이프스테이지·연령·건강 등급에 맞는 금융상품 "
                f"{korean_numeral(est.N_PRODUCTS)} 개를 이유와 함께 추천합니다.",
        intended_use=["고객 화면의 카드 추천과 그 이유", "상품 기획: 고객 지출에 비춘 카탈로그의 빈자리",
                      "클릭·가입 자료가 없어 혜택 기준으로만 평가했습니다"],
        data_range=data_range,
        features=["업종별 월평균 지출(고객의 지출 분기 평균), 연령대, 회원 등급",
                  "기대 혜택 = 분기마다 그 분기 지출로 계산한 카드 혜택의 평균(본인)을, 같은 세그먼트의 지출 구성으로 계산한 혜택 쪽으로 "
                  f"당긴 값: {est.prior_formula_ko()}, n = 지출이 있던 분기 수",
                  "금융상품: 라이프스테이지·연령대 규칙과 소비 건강 등급"],
        metrics=dict(run.headline), calibration={"방법": "해당 없음 (혜택은 규칙으로 계산한 원 금액)"},
        limitations=["카탈로그의 카드와 상품은 모두 가상이며, 조건은 국내 카드 비교 자료의 흔한 값을 따랐습니다",
                     "고객이 모든 카드 지출을 추천 카드 한 장으로 옮긴다고 가정합니다",
                     "업종 분류가 카드사 가맹점 분류와 정확히 같지 않습니다(예: 카페는 일반/휴게음식에 포함)",
                     f"주유 할인은 리터당 가격 {LITRE_PRICE_WON:,.0f}원으로 환산합니다"],
        entry=entry, extra_sections={"카탈로그 카드": catalogue_table},
    )
    card_path = cards.write_model_card(directory, card)
    path = write_parquet_atomic(run.table[list(LOG_COLUMNS)], log_path(quarter))
    return registry.artifact_paths(directory, entry, card=card_path, log=path)


def load_log(quarter: str) -> Optional[pd.DataFrame]:
    path = log_path(quarter)
    return pd.read_parquet(path) if path.exists() else None


def summary_lines(m: Mapping[str, Any], prev: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The quarter summary's recommendation section: reach, top cards, mean expected benefit."""
    tops = ", ".join(f"{t['name']} {100 * t['share']:.1f}%" for t in (m.get("top_products") or [])[:3])
    lines = [f"고객의 {100 * m['reach']:.1f}%에게 카드를 추천했고, 1순위 카드의 기대 순혜택은 평균 월 "
             f"{m['mean_expected_benefit_won']:,.0f}원입니다.",
             f"가장 많이 추천된 카드: {tops}." if tops else "추천된 카드가 없습니다."]
    if m.get("share_of_hindsight_card") is not None:
        lines.append(f"지난 분기({m['recommended_quarter']})의 추천을 이번 분기({m['measured_quarter']}) 실제 지출로 재면, "
                     f"이번 분기까지 지나고 보니 가장 좋았던 카드 한 장이 준 "
                     f"혜택의 {format_metric(m, 'share_of_hindsight_card', 1, percent=True)}를 얻습니다(가장 많이 추천된 카드 하나로는 "
                     f"{100 * m['popular_share_of_hindsight_card']:.1f}%). 분기마다 가장 좋았던 카드와 비교하면 "
                     f"{format_metric(m, 'oracle_share', 1, percent=True)}이고, 그 사후 최선 카드 한 장도 "
                     f"{100 * m['hindsight_card_oracle_share']:.1f}%입니다.")
    elif m.get("oracle_share") is not None:
        lines.append(f"지난 분기({m['recommended_quarter']})의 추천을 이번 분기 실제 지출로 재면 사후 최선 카드 혜택의 "
                     f"{format_metric(m, 'oracle_share', 1, percent=True)}를 "
                     f"얻습니다(가장 많이 추천된 카드 하나로는 {100 * m['popular_oracle_share']:.1f}%).")
    change = metric_change_line("사후 최선 카드 한 장 대비 혜택 비율", m, prev, "share_of_hindsight_card", 1, percent=True)
    return lines + ([change] if change else [])


HANDOFF = Source.from_table(MODEL_NAME, (
    Column("TOP_PRODUCT", "TEXT", "1순위 추천 카드 id (data/reference/products/cards.csv)", "product_id"),
    Column("TOP_PRODUCT_BENEFIT_WON", "REAL", "1순위 카드의 기대 월 순혜택 (원)", "expected_monthly_benefit_won")),
    log_path, where=lambda log: (log["rank"] == 1) & (log["recommender"] != "life_stage_rule"),
    where_columns=("rank", "recommender"))
REPORT = ModelReport(MODEL_NAME, "상품 추천", (
    Metric("share_of_hindsight_card", "사후 최선 카드 한 장 대비 혜택 비율"),
    Metric("oracle_share", "분기별 사후 최선 대비 혜택 비율", ceiling="hindsight_card_oracle_share"),
    Metric("popular_oracle_share", "가장 많이 추천된 카드의 사후 최선 대비 비율"),
    Metric("oracle_in_top3", f"사후 최선 카드가 {est.TOP_K}순위 안"),
    Metric("mean_regret_won", "평균 후회 (원/월)", higher_is_better=False),
    Metric("rank_change_share", f"지출 ±{JITTER:.0%}에 1순위가 바뀌는 비율", higher_is_better=False),
    Metric("catalogue_coverage", "카탈로그 노출 비율"),
))
SUMMARY = Section(MODEL_NAME, "상품 추천", MODEL_NAME, summary_lines)
