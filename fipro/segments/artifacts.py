"""Artifacts step: assignments, the similar-customer index, profiles, model, card; the model's declarations.

``outputs/<quarter>/models/segments/``

* ``assignments.parquet``: ``BAS_YH``, ``SEQ``, ``segment`` (−1 for noise),
  ``soft_segment`` (the nearest segment, for everyone), ``segment_name`` (the soft
  segment's name; ``미분류`` for noise), ``x``, ``y`` (the 2-D map);
* ``index.parquet``: ``BAS_YH``, ``SEQ``, the style-space coordinates ``s0…`` and the
  per-category trait lifts ``t_<category>`` (float32): what the similar-customer search
  and the customer views load instead of refitting;
* ``profiles.parquet``: one row per segment (id, name, size, share, average total,
  credit share, top categories).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

import numpy as np
import pandas as pd

from fipro.evaluation import cards, registry
from fipro.export import write_parquet_atomic
from fipro.handoff import Column, Source, as_int
from fipro.model_report import Metric, ModelReport
from fipro.modelrun import model_dir_of
from fipro.segments.data import CATEGORIES, MODEL_NAME
from fipro.segments.similarity import SimilarityIndex
from fipro.evaluation.intervals import format_metric
from fipro.summary import Section, share_moves_line

if TYPE_CHECKING:  # the pipeline imports this module: the run's type for annotations only
    from fipro.segments.pipeline import SegmentRun

ASSIGNMENTS_FILE = "assignments.parquet"
INDEX_FILE = "index.parquet"
PROFILES_FILE = "profiles.parquet"
ASSIGNMENT_COLUMNS = ("BAS_YH", "SEQ", "segment", "soft_segment", "segment_name", "x", "y")
NOISE_NAME = "미분류"


model_dir = model_dir_of(MODEL_NAME)


def index_frame(table: pd.DataFrame, space: np.ndarray, traits: np.ndarray) -> pd.DataFrame:
    cols = {"BAS_YH": table["BAS_YH"].to_numpy(), "SEQ": table["SEQ"].to_numpy()}
    cols.update({f"s{j}": space[:, j].astype(np.float32) for j in range(space.shape[1])})
    cols.update({f"t_{c}": traits[:, j].astype(np.float32) for j, c in enumerate(CATEGORIES)})
    return pd.DataFrame(cols)


def load_index(quarter: str):
    """The saved similar-customer index of a quarter (a :class:`SimilarityIndex`)."""
    d = model_dir(quarter)
    idx = pd.read_parquet(d / INDEX_FILE)
    names = pd.read_parquet(d / ASSIGNMENTS_FILE, columns=["SEQ", "segment_name"]).set_index("SEQ")["segment_name"]
    space = idx[[c for c in idx.columns if c.startswith("s") and c[1:].isdigit()]].to_numpy(np.float32)
    traits = idx[[f"t_{c}" for c in CATEGORIES]].to_numpy(np.float32)
    return SimilarityIndex(idx["SEQ"].to_numpy(), space, traits, names.reindex(idx["SEQ"]).to_numpy())


def save_artifacts(quarter: str, run: "SegmentRun", *, directory: Optional[Path] = None) -> dict:
    """Write the assignments, the index, the profiles, the model, its registry entry and card.

    Reads ``run.model``, ``run.table``, ``run.space``, the index's traits, the profiles'
    summary and ``run.headline`` (with ``fit_rows``).
    """
    model, table, space, traits, headline = run.model, run.table, run.space, run.index.traits, run.headline
    profiles, fit_rows = run.profile["summary"], headline["fit_rows"]
    directory = Path(directory) if directory is not None else model_dir(quarter)
    data_hash = registry.data_hash(pd.concat([table[["BAS_YH", "SEQ"]].reset_index(drop=True),
                                              pd.DataFrame(space[:, :4])], axis=1))
    data_range = {"quarters": [quarter], "n_rows": int(len(table)), "fit_rows": int(fit_rows),
                  "history": "고객의 이번 분기까지 지출 분기 전부(이후 분기는 보지 않음)"}
    entry = registry.register_model(model, directory, name=MODEL_NAME, data_hash=data_hash, metrics=dict(headline),
                                    data_range=data_range, extra={"n_clusters": int(model.n_clusters_),
                                                                  "stability": {str(k): v for k, v in
                                                                                model.stability_.items()}})
    card = cards.model_card_markdown(
        MODEL_NAME, title="모델 카드: 고객 세그먼트 (소비 스타일 k-means) · 비슷한 고객 찾기",
        purpose=("고객을 '어떻게 쓰는가'(또래 대비 업종 이용·금액·비중)로 묶어 이름 붙인 세그먼트와, "
                 "스타일이 가장 비슷한 고객 목록을 제공합니다."),
        intended_use=["세그먼트별 마케팅·상품 기획의 출발점", "고객 화면의 '나와 비슷한 고객' 비교",
                      "신용·위험 판단에는 쓰지 않습니다"],
        data_range=data_range,
        features=[f"업종 {len(CATEGORIES)}개 × (이용 여부, 이용 금액, 지출 비중)의 또래(연령대×성별×라이프스테이지) 대비 편차",
                  "고객의 이번 분기까지 지출 분기 평균(습관은 한 분기보다 오래 갑니다)",
                  f"표준화 → 주성분 {space.shape[1]}개(스타일 공간) → 앞 {model.cluster_centers_.shape[1]}개로 k-means"],
        metrics=dict(headline),
        calibration={"방법": "없음 (군집; 확률이 아님)"},
        limitations=["세그먼트 경계는 연속적인 소비 스타일 위의 선입니다: 경계 근처 고객은 분기마다 옮겨 갈 수 있습니다",
                     "UMAP + HDBSCAN은 겹치는 스타일에서 잡음 비율이 크거나 조각이 많아 비교용으로만 보고합니다",
                     "지도(x, y)는 표본에 맞춘 UMAP 위치의 최근접 평균으로, 그림용입니다(거리 계산에는 스타일 공간을 씁니다)",
                     "이름은 특징 업종에서 자동으로 만듭니다: 분기마다 같은 번호가 같은 이름이라는 보장은 없습니다"],
        entry=entry,
    )
    card_path = cards.write_model_card(directory, card)
    assignments = write_parquet_atomic(table[list(ASSIGNMENT_COLUMNS)], directory / ASSIGNMENTS_FILE)
    index = write_parquet_atomic(index_frame(table, space, traits), directory / INDEX_FILE)
    prof = profiles.copy()
    prof["top_categories"] = prof["top_categories"].map(lambda v: ",".join(v))
    prof["top_lifts"] = prof["top_lifts"].map(lambda v: ",".join(f"{x:.2f}" for x in v))
    prof_path = write_parquet_atomic(prof.reset_index(), directory / PROFILES_FILE)
    return registry.artifact_paths(directory, entry, card=card_path, assignments=assignments, index=index,
                                   profiles=prof_path)


def load_assignments(quarter: str, columns=None) -> Optional[pd.DataFrame]:
    """A quarter's saved assignments (``None`` before the model ran)."""
    path = model_dir(quarter) / ASSIGNMENTS_FILE
    return pd.read_parquet(path, columns=list(columns) if columns else None) if path.exists() else None


def summary_lines(m: Mapping[str, Any], prev: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The quarter summary's segment section: sizes and names, growth, stability."""
    sizes = dict(m.get("sizes") or {})
    lines = [f"고객을 소비 스타일로 {int(m['n_segments'])}개 세그먼트로 나눴습니다 "
             f"(미분류 {format_metric(m, 'noise_share', 1, percent=True)})."]
    if sizes:
        total = max(sum(sizes.values()), 1)
        lines.append("규모 순: " + ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in
                                          sorted(sizes.items(), key=lambda kv: -kv[1])) + ".")
    if prev and prev.get("sizes"):
        before = dict(prev["sizes"])
        before_total, total = max(sum(before.values()), 1), max(sum(sizes.values()), 1)
        common = [n for n in sizes if n in before]
        if common:  # the same-named segments' shares, judged by their Wilson intervals
            lines.append(share_moves_line("같은 이름 세그먼트", {n: sizes[n] / total for n in common}, total,
                                          {n: before[n] / before_total for n in common}, before_total))
    if m.get("stability_ari") is not None:
        lines.append(f"두 분기에 모두 있는 고객의 세그먼트 일치도(ARI)는 {format_metric(m, 'stability_ari', 2)}입니다.")
    if m.get("ari_soft") is not None:
        lines.append(f"합성 자료의 심어 둔 세그먼트 대비 ARI {format_metric(m, 'ari_soft', 2)} "
                     f"(한 분기 행 상한 {m['ceiling_row_ari']:.2f}, 고객 단위 {m['ceiling_customer_ari']:.2f}).")
    return lines


# declarations: DB hand-off (fipro.handoff.MODEL_SOURCES), model report
# (fipro.model_report.MODEL_REPORTS) and quarter summary (fipro.summary.MODEL_SECTIONS)
HANDOFF = Source.from_table(MODEL_NAME, (
    Column("SEGMENT", "INTEGER", "소비 스타일 세그먼트 번호 (-1 = 미분류)", "segment", as_int),
    Column("SEGMENT_NAME", "TEXT", "세그먼트 이름 (특징 업종에서 자동 생성)", "segment_name")),
    lambda quarter: model_dir(quarter) / ASSIGNMENTS_FILE)
REPORT = ModelReport(MODEL_NAME, "고객 세그먼트", (
    Metric("ari_soft", "심어 둔 세그먼트 대비 ARI", ceiling="ceiling_row_ari"),
    Metric("stability_ari", "분기 간 일치도(ARI)"),
    Metric("silhouette", "실루엣"),
    Metric("dbcv", "DBCV"),
    Metric("noise_share", "미분류 비율", higher_is_better=False),
    Metric("query_ms_p95", "비슷한 고객 조회 시간 p95(ms)", higher_is_better=False),
))
SUMMARY = Section(MODEL_NAME, "고객 세그먼트", MODEL_NAME, summary_lines)
