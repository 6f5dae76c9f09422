"""One quarter end to end: the function notebook 05 calls and ``make benchmark`` times.

data (style relative to peers over the customer's quarters) → estimator (style space,
k-means fitted on a stratified sample, every customer assigned) → 2-D map → profiles and
names → similar-customer index → evaluation (internal, truth and its ceilings,
stability, method comparison) → artifacts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional

import numpy as np
import pandas as pd

from fipro import config, contract, export, split
from fipro.privacy import pseudonym
from fipro.segments import evaluation as ev
from fipro.segments.artifacts import NOISE_NAME, load_assignments, save_artifacts
from fipro.datasets import earlier_quarters, runs_extras
from fipro.evaluation.intervals import add_intervals, share_interval
from fipro.modelrun import ModelRun
from fipro.segments.data import MODEL_NAME, SegmentInputs, load_inputs, stratified_sample
from fipro.segments.estimator import DEFAULT_PARAMS, MapEmbedder, SegmentModel, fit_segments
from fipro.segments.profiles import profile_segments, profile_table
from fipro.segments.similarity import SimilarityIndex, trait_scores
from fipro.timing import Laps

FIT_ROWS = 100_000   # k-means and PCA on a stratified sample; everyone is assigned after
N_LATENCY_QUERIES = 50


@dataclass(kw_only=True)
class SegmentRun(ModelRun):
    """Everything one quarter's run produced (what notebook 05 shows)."""

    model_name: ClassVar[str] = MODEL_NAME

    inputs: SegmentInputs
    model: SegmentModel
    embedder: MapEmbedder
    space: np.ndarray
    table: pd.DataFrame
    profile: dict
    index: SimilarityIndex
    truth: Optional[pd.DataFrame]
    stability: Optional[ev.Stability]
    comparison: Optional[pd.DataFrame]

    @property
    def names(self) -> dict:
        return self.profile["summary"]["name"].to_dict()

    def profile_table(self) -> pd.DataFrame:
        return profile_table(self.profile)


def assign(model: SegmentModel, inputs: SegmentInputs, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(style space, segment with −1 for noise, soft segment) for every customer of ``inputs``.

    Noise: no spending in this or any earlier quarter (no style to judge), or farther
    from every centre than the model's ``noise_radius_``.
    """
    n = len(inputs)
    space = np.empty((n, model.pca_.n_components_), np.float32)
    for start in range(0, n, chunk):
        space[start:start + chunk] = model.transform(inputs.style[start:start + chunk])
    soft, far = model.assign_space(space)
    noise = ~inputs.has_style | far
    return space, np.where(noise, -1, soft), soft


def query_latency(index: SimilarityIndex, n: int = N_LATENCY_QUERIES, k: int = 10, seed: Optional[int] = None) -> dict:
    """Median and 95th-percentile milliseconds of ``n`` similar-customer queries for random customers."""
    seqs = index.seq[split.sample_positions(len(index), n, seed)]
    times = []
    for s in seqs:
        t0 = time.perf_counter()
        index.neighbours(s, k)
        times.append(1000 * (time.perf_counter() - t0))
    return {"query_ms_median": float(np.median(times)), "query_ms_p95": float(np.percentile(times, 95)),
            "query_k": k, "index_rows": int(len(index))}


def run_quarter(quarter: str, *, params: Optional[Mapping] = None, fit_rows: int = FIT_ROWS, truth: bool = True,
                compare: Optional[bool] = None, save: bool = True, seed: Optional[int] = None) -> SegmentRun:
    """Segment, name, index, evaluate (on synthetic data) and (``save``) record one quarter.

    ``truth=False`` skips the comparison with the truth file even where one exists;
    ``compare=False`` skips the UMAP + HDBSCAN comparison (a few seconds on its sample); by
    default it runs where :func:`fipro.datasets.runs_extras` says (every quarter of a small
    data set, the latest quarter only at full scale).
    """
    seed = config.RANDOM_SEED if seed is None else seed
    compare = runs_extras(quarter) if compare is None else compare
    laps = Laps()
    inputs, prev = load_inputs(quarter, with_previous=True)
    laps.lap("load")
    fit_pool = np.flatnonzero(inputs.has_style)
    sample = fit_pool[stratified_sample(inputs.frame.iloc[fit_pool], fit_rows, seed)]
    model = fit_segments(inputs.style[sample], params, seed=seed)
    laps.lap("fit")
    space, segment, soft = assign(model, inputs)
    laps.lap("assign")
    embedder = MapEmbedder(random_state=seed).fit(space[sample])
    xy = embedder.transform(space)
    laps.lap("map")
    profile = profile_segments(inputs, segment)
    names = profile["summary"]["name"].to_dict()
    table = pd.DataFrame({"BAS_YH": inputs.frame["BAS_YH"].to_numpy(), "SEQ": inputs.frame["SEQ"].to_numpy(),
                          "segment": segment.astype(np.int64), "soft_segment": soft.astype(np.int64),
                          "segment_name": np.where(segment < 0, NOISE_NAME, pd.Series(soft).map(names).to_numpy()),
                          "x": xy[:, 0], "y": xy[:, 1]})
    traits = trait_scores(inputs.style, model.scaler_.scale_)
    index = SimilarityIndex(table["SEQ"].to_numpy(), space, traits, table["segment_name"].to_numpy())
    laps.lap("profile_and_index")
    laps.since_start("segmenting")  # load → index: the scale target
    latency = query_latency(index, seed=seed)

    lead = model.cluster_centers_.shape[1]
    truth_frame = ev.load_labels(quarter, table["SEQ"].to_numpy()) if truth else None
    scores = ev.evaluate(space[:, :lead], segment, soft, truth_frame, seed=seed)
    stab = None
    if prev is not None:
        _, _, prev_soft = assign(model, prev)
        stab = ev.stability(prev.quarter, prev.frame["SEQ"].to_numpy(), prev_soft, table["SEQ"].to_numpy(), soft,
                            load_assignments(prev.quarter, ["SEQ", "soft_segment"]), seed=seed)
        del prev
    comparison = None
    if compare:
        y = truth_frame["segment"].to_numpy() if truth_frame is not None else None
        comparison = ev.compare_methods(space, lead, soft, y, seed=seed)
    laps.lap("evaluate")
    summary = profile["summary"]
    headline = {
        "quarter": quarter, "n_customers": int(len(table)), "n_segments": int(model.n_clusters_),
        "noise_share": float((segment < 0).mean()), "n_no_style": int((~inputs.has_style).sum()),
        "fit_rows": int(len(sample)), "sizes": {names[s]: int(summary.loc[s, "size"]) for s in summary.index},
        "stability_k": {str(k): round(v, 4) for k, v in model.stability_.items()},
        "params": {**DEFAULT_PARAMS, **dict(params or {}), "k_range": list(model.k_range)},
        "has_truth": truth_frame is not None, **scores, **latency,
        "stability_ari": stab.ari if stab is not None else None,
        "stability_ari_refit": stab.ari_refit if stab is not None else None,
        "stability_common": stab.n_common if stab is not None else 0,
    }
    add_intervals(headline, {"noise_share": share_interval(segment < 0),
                             "stability_ari": stab.ari_interval if stab is not None else None,
                             "stability_ari_refit": stab.ari_refit_interval if stab is not None else None})
    run = SegmentRun(quarter=quarter, inputs=inputs, model=model, embedder=embedder, space=space, table=table,
                     profile=profile, index=index, truth=truth_frame, stability=stab, comparison=comparison,
                     headline=headline)
    return run.finish(laps, save_artifacts if save else None)


def describe_run(run: SegmentRun) -> str:
    """A Korean paragraph: how many segments, how chosen, how much noise, how long it took."""
    h = run.headline
    stab = ", ".join(f"k={k}: {v:.2f}" for k, v in h["stability_k"].items())
    text = (f"{run.quarter} 고객 {h['n_customers']:,}명 중 {h['fit_rows']:,}명(라이프스테이지·연령대 층화 표본)으로 "
            f"스타일 공간과 세그먼트를 맞추고 모든 고객을 가장 가까운 세그먼트에 배정했습니다. "
            f"세그먼트 수 {h['n_segments']}개는 반분 안정성(두 절반에 따로 맞춘 결과의 일치도)이 "
            f"{run.model.stability_min:.2f} 이상인 가장 큰 k입니다 ({stab}). ")
    text += (f"미분류 {100 * h['noise_share']:.1f}% (지출 분기가 없어 스타일을 판단할 수 없는 고객 {h['n_no_style']:,}명 포함). "
             f"계산 {run.seconds.get('segmenting', 0):.1f}초, 비슷한 고객 조회 중앙값 {h['query_ms_median']:.1f}ms.")
    return text


def worked_query(run: SegmentRun, k: int = 5, seed: Optional[int] = None) -> tuple[str, pd.DataFrame, str]:
    """(pseudonymous label, neighbours table, Korean sentence) for one seeded customer with a segment."""
    seed = config.RANDOM_SEED if seed is None else seed
    rows = np.flatnonzero(run.table["segment"].to_numpy() >= 0)
    seq = str(run.table["SEQ"].to_numpy()[rows[np.random.default_rng(seed).integers(len(rows))]])
    return pseudonym(seq), run.index.query(seq, k + 1), run.index.describe(seq, k)


def size_history(quarter: str, current: Optional[Mapping] = None) -> pd.DataFrame:
    """Segment sizes by quarter up to ``quarter`` (quarter × name, customers), from the saved
    ``segments.json`` files; ``current``: this quarter's headline when not saved yet."""
    rows = {}
    for q in [*earlier_quarters(quarter), quarter]:
        if q == quarter and current is not None:
            rows[q] = dict(current.get("sizes") or {})
            continue
        try:
            rows[q] = dict(export.load_metrics(q, "segments").get("sizes") or {})
        except (FileNotFoundError, ValueError):
            continue
    return pd.DataFrame.from_dict(rows, orient="index").fillna(0).astype(int).rename_axis("분기")


def map_groups(run: SegmentRun, by: str = "LIFE_STAGE") -> np.ndarray:
    """Korean labels of a code column of this quarter's customers (to colour the map by)."""
    codes = run.inputs.frame[by].astype(str)
    labels = {c: contract.code_label(by, c) for c in codes.unique()}
    return codes.map(labels).to_numpy()
