"""Evaluation step of the segment model: internal quality, the planted segments and their ceiling, stability.

* Internal (any data): silhouette of the segments in the clustering space and DBCV
  (density-based cluster validity, ``hdbscan.validity``), both on a seeded sample.
* Against the truth (synthetic data): adjusted Rand index (ARI) between the segments
  and the planted segment, beside this quarter's ceilings computed from the truth file:
  the exact single-row Bayes assignment's ARI and the customer-level one.
* Stability: this quarter's model applied to the previous quarter's customers, ARI
  between their two assignments (same segment ids, so no matching is needed) and the
  migration table; where the previous quarter's own run is saved, the ARI between the
  two runs' assignments too (label-free).
* Method comparison: k-means in the style space against UMAP + HDBSCAN on one sample
  (noise share, DBCV, silhouette, split stability, ARI where the truth exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from fipro import datasets, split
from fipro.evaluation import intervals as iv
from fipro.evaluation.intervals import Interval
from fipro.modelrun import Target, targets_frame
from fipro.segments.estimator import KMEANS_THREADS, umap_embedding

INTERNAL_SAMPLE = 2000   # silhouette and DBCV are quadratic in the rows: a seeded sample
COMPARE_SAMPLE = 2000    # the UMAP + HDBSCAN comparison's sample
ROW_POSTERIOR = "posterior_segment_"                # truth: P(segment k | this row), one column per k
CUSTOMER_POSTERIOR = "customer_posterior_segment_"  # truth: P(segment k | all the customer's quarters)


def dbcv(points: np.ndarray, labels: np.ndarray) -> float:
    """DBCV in [-1, 1] (``hdbscan.validity.validity_index``); NaN with fewer than two segments."""
    # hdbscan compiles with numba on import (seconds): loaded only when a DBCV is asked for
    from hdbscan.validity import validity_index

    labels = np.asarray(labels)
    if len(np.unique(labels[labels >= 0])) < 2:
        return float("nan")
    try:
        return float(validity_index(np.asarray(points, dtype=np.float64), labels))
    except (ValueError, ZeroDivisionError):
        return float("nan")


def _scored_rows(labels: np.ndarray, seed: int, size: int) -> np.ndarray:
    keep = np.flatnonzero(np.asarray(labels) >= 0)
    return keep[split.sample_positions(len(keep), size, seed)]


def _silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    return float(silhouette_score(points, labels)) if len(np.unique(labels)) >= 2 else float("nan")


def _internal_quality(points: np.ndarray, labels: np.ndarray, *, seed: int, size: int = INTERNAL_SAMPLE) -> dict:
    """Silhouette and DBCV of ``labels`` in ``points`` on a seeded sample (noise rows left out).

    The silhouette carries a bootstrap interval over the sample's customers
    (:func:`fipro.evaluation.intervals.silhouette_interval`: a thousand replicates in about 0.4 s,
    the sample's size at any scale); DBCV none (one ``validity_index`` on the sample costs about
    0.15 s, a thousand of them minutes)."""
    rows = _scored_rows(labels, seed, size)
    lab = np.asarray(labels)[rows]
    out = {"silhouette": _silhouette(points[rows], lab), "dbcv": dbcv(points[rows], lab), "internal_rows": int(len(rows))}
    return iv.add_intervals(out, {"silhouette": iv.silhouette_interval(points[rows], lab, seed=seed)
                                  if np.isfinite(out["silhouette"]) else None})


def load_labels(quarter: str, seq: np.ndarray) -> Optional[pd.DataFrame]:
    """Planted segment and the exact posteriors, aligned to ``seq`` (``None`` on real data).

    The posterior columns are whichever ``posterior_segment_<k>`` the truth file holds.
    """
    cols = ["SEQ", "segment", "segment_name", "anomaly_type",
            *datasets.truth_columns(ROW_POSTERIOR), *datasets.truth_columns(CUSTOMER_POSTERIOR)]
    return datasets.truth_rows(quarter, seq, cols)


def posterior_matrix(truth: pd.DataFrame, prefix: str) -> np.ndarray:
    """The ``<prefix><k>`` columns of ``truth`` as a matrix, column ``k`` for segment ``k``."""
    names = sorted((c for c in truth.columns if c.startswith(prefix)), key=lambda c: int(c[len(prefix):]))
    return truth[names].to_numpy()


def _truth_agreement(truth: pd.DataFrame, segment: np.ndarray, soft: np.ndarray, seed: Optional[int] = None) -> dict:
    """ARI of the segments (noise as its own group, and the soft labels) beside this quarter's ceilings,
    the two ARIs with their bootstrap interval over customers (``seed``)."""
    y = truth["segment"].to_numpy()
    row_post = posterior_matrix(truth, ROW_POSTERIOR)
    cust_post = posterior_matrix(truth, CUSTOMER_POSTERIOR)
    out = {"ari": float(adjusted_rand_score(y, segment)), "ari_soft": float(adjusted_rand_score(y, soft)),
           "ceiling_row_ari": float(adjusted_rand_score(y, row_post.argmax(1))),
           "ceiling_customer_ari": float(adjusted_rand_score(y, cust_post.argmax(1))),
           "n_planted": int(len(np.unique(y)))}
    return iv.add_intervals(out, {"ari": iv.ari_interval(y, segment, seed=seed),
                                  "ari_soft": iv.ari_interval(y, soft, seed=seed)})


def evaluate(points: np.ndarray, segment: np.ndarray, soft: np.ndarray, truth: Optional[pd.DataFrame], *,
             seed: int) -> dict:
    """The headline scores of one quarter's segments.

    Silhouette and DBCV of ``segment`` in ``points`` (the clustering space) on a seeded
    sample, and, where ``truth`` (:func:`load_labels`) is given, the ARI of the segments
    (noise as its own group) and of the ``soft`` ones against the planted segment beside
    this quarter's ceilings.
    """
    out = _internal_quality(points, segment, seed=seed)
    if truth is not None:
        iv.merge_fields(out, _truth_agreement(truth, segment, soft, seed=seed))
    return out


MAX_NOISE_SHARE = 0.15      # unassigned customers
MIN_STABILITY_ARI = 0.5     # agreement of the customers present in two consecutive quarters
# the measurement table's rows (measurement_table)
TARGETS = (
    Target("silhouette", "실루엣 (군집 공간, 표본)"),
    Target("dbcv", "DBCV (표본)"),
    Target("noise_share", "미분류 비율", at_most=MAX_NOISE_SHARE),
    Target("stability_ari", "분기 간 일치도 ARI (이번 분기 모델, 전분기 → 이번 분기)", at_least=MIN_STABILITY_ARI),
    Target("stability_ari_refit", "분기 간 일치도 ARI (각 분기 따로 맞춘 모델)", at_least=MIN_STABILITY_ARI),
    Target("ari", "심어 둔 세그먼트 대비 ARI (미분류 포함)", needs="has_truth"),
    Target("ari_soft", "심어 둔 세그먼트 대비 ARI (가장 가까운 세그먼트)", below_ceiling=0.0, ceiling="ceiling_row_ari",
           needs="has_truth"),
    Target("ceiling_customer_ari", "상한: 고객 단위 사후확률(전 분기)", needs="has_truth"),
)


def measurement_table(run) -> pd.DataFrame:
    """This run's headline beside ``TARGETS`` (Korean; the truth rows only on synthetic data)."""
    return targets_frame(run.headline, TARGETS)


def agreement_table(truth: pd.DataFrame, soft: np.ndarray, names: dict) -> pd.DataFrame:
    """Rows: segments (by name); columns: planted segments; cells: share of the row (%)."""
    tab = pd.crosstab(pd.Series(soft).map(names).rename("세그먼트"), truth["segment_name"].rename("심어 둔 세그먼트"),
                      normalize="index")
    return (100 * tab).round(1)


@dataclass
class Stability:
    """Assignments of the customers present in both quarters."""

    previous_quarter: str
    n_common: int
    ari: float                   # this quarter's model on both quarters
    ari_refit: Optional[float]   # the previous quarter's own saved run against this one
    migration: pd.DataFrame      # counts: previous segment (rows) → this segment (columns)
    ari_interval: Optional[Interval] = None        # bootstrap over the customers in common
    ari_refit_interval: Optional[Interval] = None


def stability(previous_quarter: str, prev_seq: np.ndarray, prev_soft: np.ndarray, seq: np.ndarray, soft: np.ndarray,
              saved_prev: Optional[pd.DataFrame] = None, seed: Optional[int] = None) -> Optional[Stability]:
    """Agreement of the assignments of customers present in both quarters (``None`` with none in common),
    each ARI with its bootstrap interval over those customers (``seed``)."""
    cur = pd.Series(soft, index=pd.Index(seq))
    prev = pd.Series(prev_soft, index=pd.Index(prev_seq))
    common = cur.index.intersection(prev.index)
    if len(common) == 0:
        return None
    a, b = prev.loc[common].to_numpy(), cur.loc[common].to_numpy()
    refit, refit_interval = None, None
    if saved_prev is not None:
        s = saved_prev.set_index("SEQ")["soft_segment"]
        both = common.intersection(s.index)
        if len(both):
            before, now = s.loc[both].to_numpy(), cur.loc[both].to_numpy()
            refit, refit_interval = float(adjusted_rand_score(before, now)), iv.ari_interval(before, now, seed=seed)
    migration = pd.crosstab(pd.Series(a, name="이전 분기"), pd.Series(b, name="이번 분기"))
    return Stability(previous_quarter, int(len(common)), float(adjusted_rand_score(a, b)), refit, migration,
                     iv.ari_interval(a, b, seed=seed), refit_interval)


def compare_methods(space: np.ndarray, lead: int, kmeans_labels: np.ndarray, truth_y: Optional[np.ndarray], *,
                    seed: int, size: int = COMPARE_SAMPLE, min_cluster_sizes=(50, 150)) -> pd.DataFrame:
    """The chosen k-means against UMAP (5-D) + HDBSCAN on one seeded sample of the style space.

    ``space``: style-space rows; ``lead``: the components k-means groups; ``kmeans_labels``:
    the model's segments for those rows. HDBSCAN's noise gets its most likely cluster
    (``all_points_membership_vectors``) for the soft ARI.
    """
    # hdbscan compiles with numba on import (seconds): loaded only when the comparison runs
    import hdbscan

    rows = split.sample_positions(len(space), size, seed)
    Z = space[rows]
    C = Z[:, :lead]
    half = np.random.default_rng(seed).permutation(len(rows))[: len(rows) // 2]
    out = []

    def row(method, labels, soft, points, stable):
        scored = _scored_rows(labels, seed, INTERNAL_SAMPLE)
        r = {"방법": method, "세그먼트 수": int(len(np.unique(labels[labels >= 0]))),
             "잡음 비율(%)": round(100 * float((labels < 0).mean()), 1),
             "실루엣": _silhouette(points[scored], labels[scored]), "DBCV": dbcv(points, labels),
             "반분 안정성(ARI)": stable}
        if truth_y is not None:
            r["정답 ARI(연성)"] = float(adjusted_rand_score(truth_y[rows], soft))
        out.append(r)

    km = kmeans_labels[rows]
    k = int(len(np.unique(km)))
    with threadpool_limits(limits=KMEANS_THREADS, user_api="openmp"):
        half_km = KMeans(k, n_init=4, random_state=seed).fit(C[half]).predict(C)
    row(f"k-means (k={k}, 스타일 공간 {lead}차원)", km, km, C, float(adjusted_rand_score(km, half_km)))
    _, emb = umap_embedding(Z, n_components=5, n_neighbors=30, min_dist=0.0, seed=seed)
    for mcs in min_cluster_sizes:
        cl = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=10, prediction_data=True).fit(emb)
        labels = cl.labels_.astype(int)
        soft = (hdbscan.all_points_membership_vectors(cl).argmax(1) if labels.max() >= 1 else np.zeros(len(labels), int))
        other = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=10, prediction_data=True).fit(emb[half])
        pred = hdbscan.approximate_predict(other, emb)[0] if other.labels_.max() >= 0 else np.full(len(emb), -1)
        row(f"UMAP 5차원 + HDBSCAN (최소 크기 {mcs})", labels, soft, emb, float(adjusted_rand_score(labels, pred)))
    return pd.DataFrame(out)
