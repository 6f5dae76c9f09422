"""Evaluation step: rules, model and combined score against the planted anomalies and a yardstick.

On the synthetic stand-in the truth file marks every planted anomaly with its type and
magnitude (read with ``datasets.truth_rows``); on a real file there is no truth and
:func:`load_labels` returns ``None``, so the notebook shows the flags without these tables.

The yardstick is the observable one (:mod:`fipro.evaluation.yardstick`): a supervised
LightGBM classifier trained on the truth labels with customer-grouped cross-validation,
on features of the quarter and the customer's earlier quarters only (never used for
flagging). It is what a spending record lets any detector see, the practical ceiling the
unsupervised scores are measured against; the latent ceiling (a detector that knows the
generator's hidden variables) stays out of reach and is not computed here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from fipro import datasets, history, split
from fipro.anomaly.rules import ranking
from fipro.evaluation import intervals as iv
from fipro.evaluation import yardstick as observable
from fipro.modelrun import Target, targets_frame
from fipro.text_ko import ANOMALY_TYPE_KO, MAGNITUDE_BAND_KO

TYPE_LABEL_KO = ANOMALY_TYPE_KO
SCORER_LABEL_KO = {"rules": "규칙", "model": "모델(Isolation Forest)", "combined": "결합 점수",
                   "yardstick": "관측 가능 지도학습 기준(상한)"}
YARDSTICK_MAX_ROWS = observable.MAX_ROWS  # a full quarter is subsampled (prevalence kept) to bound the five fits
YARDSTICK_POOL_BELOW = 100_000  # smaller quarters pool earlier quarters' rows (customers grouped) up to this many


def load_labels(quarter: str, seq: Sequence[str]) -> Optional[pd.DataFrame]:
    """``anomaly_type`` and ``anomaly_magnitude`` in ``seq`` order (``None`` on a real file)."""
    truth = datasets.truth_rows(quarter, list(seq), ["anomaly_type", "anomaly_magnitude"])
    return truth.drop(columns="SEQ") if truth is not None else None


def magnitude_medians(labels: pd.DataFrame) -> dict[str, float]:
    """Each type's median magnitude: the sidecar's over the whole file, else this quarter's."""
    raw = datasets.raw_file()
    sidecar = datasets.read_sidecar(raw) if raw is not None else None
    known = ((sidecar or {}).get("difficulty") or {}).get("anomaly_magnitudes") or {}
    out = {}
    for t in sorted(set(labels["anomaly_type"]) - {"none"}):
        med = (known.get(t) or {}).get("median")
        out[t] = float(med) if med is not None else float(labels.loc[labels["anomaly_type"] == t, "anomaly_magnitude"].median())
    return out


def observable_ceiling(quarter: str) -> Optional[float]:
    """The best observable detector's precision at k in ``quarter``, fitted on the whole file's rows.

    From the sidecar's difficulty report (``anomaly_observable``, see
    :func:`fipro.synth.difficulty.observable_anomaly_ceiling`): unlike the per-quarter
    yardstick it learns from every quarter's planted anomalies (its features still never
    look ahead). ``None`` on a real file or an older sidecar.
    """
    raw = datasets.raw_file()
    sidecar = datasets.read_sidecar(raw) if raw is not None else None
    known = (((sidecar or {}).get("difficulty") or {}).get("anomaly_observable") or {})
    value = (known.get("precision_at_k_by_quarter") or {}).get(quarter)
    return float(value) if value is not None else None


def top_k(score: np.ndarray, k: int, tiebreak: Optional[np.ndarray] = None) -> np.ndarray:
    """Boolean mask of the ``k`` highest scores (ties broken by ``tiebreak``, e.g. SEQ; else row order)."""
    return ranking(score, tiebreak if tiebreak is not None else np.arange(len(score))) <= k


def score_table(y: np.ndarray, scores: Mapping[str, np.ndarray], k: Optional[int] = None,
                hits: Optional[Mapping[str, np.ndarray]] = None) -> pd.DataFrame:
    """ROC-AUC, average precision and precision/recall at k (k = positives) per scorer.

    ``hits``: each scorer's :func:`top_k` mask when already computed.
    """
    y = np.asarray(y, dtype=bool)
    k = int(y.sum()) if k is None else int(k)
    rows = []
    for name, s in scores.items():
        hit = hits[name] if hits is not None else top_k(s, k)
        rows.append({"scorer": name, "점수": SCORER_LABEL_KO.get(name, name),
                     "roc_auc": roc_auc_score(y, s) if 0 < y.sum() < len(y) else np.nan,
                     "average_precision": average_precision_score(y, s) if y.any() else np.nan,
                     "precision_at_k": float(y[hit].mean()) if k else np.nan,
                     "recall_at_k": float(hit[y].mean()) if y.any() else np.nan, "k": k})
    return pd.DataFrame(rows).set_index("scorer")


def recall_by_type(labels: pd.DataFrame, scores: Mapping[str, np.ndarray], medians: Mapping[str, float],
                   k: Optional[int] = None, hits: Optional[Mapping[str, np.ndarray]] = None) -> pd.DataFrame:
    """Recall at k per planted type and magnitude band (lower / upper half of the type's magnitudes).

    ``hits``: each scorer's :func:`top_k` mask when already computed.
    """
    kind = labels["anomaly_type"].to_numpy()
    mag = labels["anomaly_magnitude"].to_numpy(dtype=float)
    y = kind != "none"
    k = int(y.sum()) if k is None else int(k)
    hits = hits if hits is not None else {name: top_k(s, k) for name, s in scores.items()}
    rows = []
    for t in medians:
        for band, sel in (("lower", (kind == t) & (mag < medians[t])), ("upper", (kind == t) & (mag >= medians[t]))):
            rows.append({"type": t, "band": band, "n": int(sel.sum()),
                         "magnitude_range": f"{mag[sel].min():.2f}–{mag[sel].max():.2f}" if sel.any() else "",
                         **{f"recall_{name}": (float(h[sel].mean()) if sel.any() else np.nan) for name, h in hits.items()}})
    return pd.DataFrame(rows)


@dataclass
class Yardstick:
    """Out-of-fold probabilities of the observable yardstick on this quarter's rows it saw."""

    rows: np.ndarray          # positions in the quarter's customer order
    probability: np.ndarray
    n_pooled_rows: int
    pooled_quarters: list
    seconds: float = 0.0


def yardstick_frame(src, quarter: str, seq: Optional[Sequence[str]] = None, *, max_rows: Optional[int] = None,
                    seed: Optional[int] = None) -> Optional[pd.DataFrame]:
    """One quarter's yardstick rows: ``BAS_YH``, ``SEQ``, ``y``, ``row`` and the observable features.

    ``seq``: the quarter's customers in the order the scores use (``row`` is the position
    there); the table's order when not given. ``max_rows``, ``seed``: only the rows the
    yardstick's fit would draw (:func:`fipro.evaluation.yardstick.quarter_features`).
    ``None`` without a truth file.
    """
    feats = observable.quarter_features(src, quarter, max_rows=max_rows, seed=seed)
    seq = feats["SEQ"].to_numpy() if seq is None else np.asarray(seq).astype(str)
    labels = load_labels(quarter, seq)
    if labels is None:
        return None
    pos = pd.Index(seq).get_indexer(feats["SEQ"].to_numpy())
    y = (labels["anomaly_type"] != "none").to_numpy().astype(int)
    return pd.concat([pd.DataFrame({"y": y[pos], "row": pos}), feats], axis=1)


def yardstick_frames(quarter: str, seq: Sequence[str], *, pool_below: int = YARDSTICK_POOL_BELOW,
                     src=None, max_rows: int = YARDSTICK_MAX_ROWS, seed: Optional[int] = None) -> list[pd.DataFrame]:
    """This quarter's yardstick rows and, while fewer than ``pool_below``, earlier quarters' (newest first).

    A small quarter has too few planted anomalies to learn from; earlier quarters add
    rows (each with its own past only; the folds keep a customer's rows together). A
    quarter above ``max_rows`` (≥ ``pool_below``, so nothing is pooled) builds features
    for the ``max_rows`` the fit draws only: the same rows, a seventh of the work at full scale.
    """
    src = src if src is not None else history.source(None)
    presample = max_rows if max_rows >= pool_below else None
    frames = [yardstick_frame(src, quarter, seq, max_rows=presample, seed=split.resolve_seed(seed))]
    if frames[0] is None:
        return []
    for q in reversed([q for q in src.quarters if q < quarter]):
        if sum(len(f) for f in frames) >= pool_below:
            break
        frame = yardstick_frame(src, q)
        if frame is not None:
            frames.append(frame)
    return frames


def fit_yardstick(frames: Sequence[pd.DataFrame], quarter: str, *, seed: Optional[int] = None,
                  n_jobs: Optional[int] = None, max_rows: int = YARDSTICK_MAX_ROWS) -> Yardstick:
    """The observable yardstick's out-of-fold probabilities on ``quarter``'s rows.

    ``frames``: from :func:`yardstick_frames` (this quarter first). The folds group a
    customer's rows, so no customer is scored by a model that saw them.
    """
    t0 = time.perf_counter()
    data = pd.concat(frames, ignore_index=True)
    oof = observable.fit_out_of_fold(data.drop(columns=["BAS_YH", "SEQ", "y", "row"]), data["y"].to_numpy(),
                                     data["SEQ"].astype(str).to_numpy(), seed=split.resolve_seed(seed),
                                     n_jobs=n_jobs, max_rows=max_rows)
    used = data.iloc[oof.rows]
    mine = (used["BAS_YH"] == quarter).to_numpy()
    return Yardstick(rows=used.loc[mine, "row"].to_numpy(dtype=int), probability=oof.probability[mine],
                     n_pooled_rows=oof.n_rows, pooled_quarters=sorted(used["BAS_YH"].unique().tolist()),
                     seconds=time.perf_counter() - t0)


@dataclass
class AnomalyEvaluation:
    """Every table the notebook shows against the truth, and the headline numbers."""

    scores: pd.DataFrame              # rules / model / combined on the whole quarter
    by_type: pd.DataFrame             # recall at k per type and magnitude band
    versus_yardstick: pd.DataFrame    # all four scorers on the yardstick's rows
    medians: dict
    headline: dict = field(default_factory=dict)


def evaluate(labels: pd.DataFrame, scores: Mapping[str, np.ndarray], yardstick: Optional[Yardstick],
             quarter: Optional[str] = None, seed: Optional[int] = None) -> AnomalyEvaluation:
    """Score tables for ``scores`` (name → array over the quarter) against the planted truth.

    ``quarter``: also report the whole-file observable ceiling of that quarter
    (:func:`observable_ceiling`) where the sidecar has it. 95% intervals (headline
    ``<key>_lo``/``<key>_hi``): each precision at k is a share of the k flagged customers and
    each recall at k (overall, and per type and magnitude half) a share of the planted ones
    (Wilson); each scorer's ROC-AUC and the rules', model's and combined score's average
    precision a bootstrap over customers (``seed``); the combined score's precision at k as a
    share of the yardstick's a paired bootstrap of the ratio on the yardstick's rows.
    """
    y = (labels["anomaly_type"] != "none").to_numpy()
    medians = magnitude_medians(labels)
    hits = {name: top_k(s, int(y.sum())) for name, s in scores.items()}  # one ranking per scorer for both tables
    table = score_table(y, scores, hits=hits)
    by_type = recall_by_type(labels, scores, medians, hits=hits)
    versus = pd.DataFrame()
    head: dict = {"n_planted": int(y.sum()),
                  "observable_ceiling_precision_at_k": observable_ceiling(quarter) if quarter is not None else None,
                  "planted_by_type": {t: int((labels["anomaly_type"] == t).sum()) for t in medians}}
    intervals: dict = {}
    for name in table.index:
        for metric in ("roc_auc", "average_precision", "precision_at_k", "recall_at_k"):
            head[f"{name}_{metric}"] = float(table.loc[name, metric])
        if hits[name].any():
            intervals[f"{name}_precision_at_k"] = iv.share_interval(y[hits[name]])
        if y.any():
            intervals[f"{name}_recall_at_k"] = iv.share_interval(hits[name][y])
        if 0 < y.sum() < len(y):
            intervals[f"{name}_roc_auc"] = iv.auc_interval(y, scores[name], seed=seed)
            intervals[f"{name}_average_precision"] = iv.average_precision_interval(y, scores[name], seed=seed)
    if yardstick is not None and len(yardstick.rows):
        sub = {name: np.asarray(s)[yardstick.rows] for name, s in scores.items()}
        sub["yardstick"] = yardstick.probability
        versus = score_table(y[yardstick.rows], sub)
        for metric in ("average_precision", "precision_at_k"):
            head[f"yardstick_{metric}"] = float(versus.loc["yardstick", metric])
            head[f"combined_{metric}_on_yardstick_rows"] = float(versus.loc["combined", metric])
        ap_y = versus.loc["yardstick", "average_precision"]
        head["combined_ap_share_of_yardstick"] = float(versus.loc["combined", "average_precision"] / ap_y) if ap_y else None
        pk_y = versus.loc["yardstick", "precision_at_k"]
        head["combined_pk_share_of_yardstick"] = float(versus.loc["combined", "precision_at_k"] / pk_y) if pk_y else None
        on_rows = y[yardstick.rows]
        chosen = {name: top_k(s, int(on_rows.sum())) for name, s in (("yardstick", yardstick.probability),
                                                                    ("combined", sub["combined"]))}
        for name, flagged in chosen.items():
            if flagged.any():
                intervals[f"{name}_precision_at_k" + ("_on_yardstick_rows" if name == "combined" else "")] = \
                    iv.share_interval(on_rows[flagged])
        if head["combined_pk_share_of_yardstick"] is not None:
            intervals["combined_pk_share_of_yardstick"] = iv.precision_ratio_interval(
                on_rows, chosen["combined"], chosen["yardstick"], seed=seed)
        head["yardstick_rows"] = int(yardstick.n_pooled_rows)
        head["yardstick_quarters"] = list(yardstick.pooled_quarters)
        # the same table for the yardstick, on its rows (k = the planted anomalies among them)
        theirs = recall_by_type(labels.iloc[yardstick.rows].reset_index(drop=True),
                                {"yardstick": yardstick.probability}, medians)
        by_type["recall_yardstick"] = theirs["recall_yardstick"].to_numpy()
    upper = by_type[by_type["band"] == "upper"].set_index("type")
    lower = by_type[by_type["band"] == "lower"].set_index("type")
    head["recall_upper_half"] = {t: float(upper.loc[t, "recall_combined"]) for t in upper.index}
    # hits and planted rows, so the recall can be pooled over quarters (pooled_upper_half)
    head["upper_half_counts"] = {t: [int(round(upper.loc[t, "recall_combined"] * upper.loc[t, "n"]))
                                     if upper.loc[t, "n"] else 0, int(upper.loc[t, "n"])] for t in upper.index}
    head["recall_lower_half"] = {t: float(lower.loc[t, "recall_combined"]) for t in lower.index}
    # per type and half: a share of that half's planted customers (nested keys: recall_upper_half.<type>)
    for half, rows in (("upper", upper), ("lower", lower)):
        for t in rows.index:
            n = int(rows.loc[t, "n"])
            if n:
                hit = int(round(rows.loc[t, "recall_combined"] * n))
                intervals[f"recall_{half}_half.{t}"] = iv.wilson_interval(hit, n)
    if "recall_yardstick" in upper:
        head["yardstick_recall_upper_half"] = {t: float(upper.loc[t, "recall_yardstick"]) for t in upper.index}
    head["combined_beats_parts_ap"] = bool(table.loc["combined", "average_precision"]
                                           > max(table.loc["rules", "average_precision"],
                                                 table.loc["model", "average_precision"]))
    head.update(iv.headline_fields(intervals))
    return AnomalyEvaluation(scores=table, by_type=by_type, versus_yardstick=versus, medians=medians, headline=head)


# upper-half recall goals per type (issue 26: pooled over the quarters with history, set
# against what the observable yardstick reaches: total spike 0.82, category burst 0.52,
# mix shift 0.20, dormant burst 0.95 on the sample)
UPPER_HALF_RECALL_TARGETS = {"total_spike": 0.8, "category_burst": 0.45, "mix_shift": 0.15, "dormant_burst": 0.8}
UPPER_HALF_RECALL_TARGET = 0.8  # the default for a type not listed
YARDSTICK_SHARE_TARGET = 0.9    # the combined score's precision at k, as a share of the yardstick's, in every quarter with history
# why a planted type stays hard on this stand-in (what the generator does, in Korean)
HARD_WHY_KO = {
    "category_burst": "가전·가구·여행처럼 한 번에 큰돈이 드는 업종은 평범한 고객에게도 분기마다 큰 지출이 흔해, "
                      "심어 둔 급증이 자연스러운 목돈 지출과 겹칩니다",
    "mix_shift": "총액은 그대로 두고 구성만 다른 라이프스테이지 쪽으로 옮기는데, 업종별 분기 변동이 커서 옮겨 간 구성이 "
                 "평소의 흔들림 안에 묻힙니다. 평소 안 쓰던 업종이 함께 늘어날 때만 드러납니다",
    "total_spike": "배수가 작으면 분기마다의 자연스러운 총액 변동과 겹칩니다",
    "dormant_burst": "배수가 작으면 쉬었다 돌아온 고객의 평범한 재개와 구별되지 않습니다",
}


def pooled_upper_half(headlines: Sequence[Mapping]) -> dict:
    """Each type's upper-half recall pooled over quarters (the headlines' ``upper_half_counts``)."""
    hits: dict = {}
    for h in headlines:
        for t, (hit, n) in (h.get("upper_half_counts") or {}).items():
            a, b = hits.get(t, (0, 0))
            hits[t] = (a + hit, b + n)
    return {t: (a / b if b else None) for t, (a, b) in hits.items()}


def describe_hard_types(ev: AnomalyEvaluation, targets: Optional[Mapping[str, float]] = None) -> str:
    """Korean sentences: which planted types stay under the recall target in their upper half, and why."""
    h = ev.headline
    goals = {**UPPER_HALF_RECALL_TARGETS, **dict(targets or {})}
    lines = []
    for t, r in h["recall_upper_half"].items():
        target = goals.get(t, UPPER_HALF_RECALL_TARGET)
        if not np.isfinite(r):  # no planted anomaly of this type in the upper half
            continue
        yard = h.get("yardstick_recall_upper_half", {}).get(t, np.nan)
        yard_text = f"; 관측 가능 기준 {yard:.2f}" if np.isfinite(yard) else ""
        name = TYPE_LABEL_KO.get(t, t)
        if r < target:
            lines.append(f"- **{name}**: 상위 절반 재현율 {r:.2f}(목표 {target}{yard_text}). {HARD_WHY_KO.get(t, '')}.")
        else:
            lines.append(f"- {name}: 상위 절반 재현율 {r:.2f}(목표 {target} 이상{yard_text}), 하위 절반 "
                         f"{h['recall_lower_half'][t]:.2f}. 하위 절반이 어려운 이유: {HARD_WHY_KO.get(t, '')}.")
    return "\n".join(lines)


# the measurement table's rows (measurement_table): the combined score beside the observable
# yardstick (its precision at k at least YARDSTICK_SHARE_TARGET of the yardstick's in a quarter
# with history), and each planted type's upper-half recall against UPPER_HALF_RECALL_TARGETS
# (the goal is pooled over quarters: a quarter holds 10–40 of a type's upper half on the sample)
TARGETS = (
    Target("combined_average_precision", "결합 점수 평균 정밀도", ceiling="yardstick_average_precision", needs="has_truth"),
    Target("combined_precision_at_k", "결합 점수 정밀도@k", ceiling="yardstick_precision_at_k", needs="has_truth"),
    Target("combined_precision_at_k", "결합 점수 정밀도@k (자료 전체로 학습한 관측 가능 상한 대비)",
           ceiling="observable_ceiling_precision_at_k"),
    Target("combined_pk_share_of_yardstick", "결합 점수 정밀도@k ÷ 관측 가능 기준의 정밀도@k",
           at_least=YARDSTICK_SHARE_TARGET, needs="has_history_truth"),
    Target("combined_beats_parts_ap", "결합 점수의 평균 정밀도가 규칙·모델보다 높음", holds="더 높음", needs="has_truth"),
    *(Target(f"recall_upper_half.{t}", f"{name}: 상위 절반 재현율(목표는 분기 합산)",
             at_least=UPPER_HALF_RECALL_TARGETS.get(t, UPPER_HALF_RECALL_TARGET),
             ceiling=f"yardstick_recall_upper_half.{t}", needs="has_truth") for t, name in TYPE_LABEL_KO.items()),
    Target("flag_share", "검토 대상 비율"),
)


def measurement_table(run) -> pd.DataFrame:
    """This run's headline beside ``TARGETS`` (Korean; the truth rows only on synthetic data)."""
    return targets_frame(run.headline, TARGETS)


def display_scores(table: pd.DataFrame) -> pd.DataFrame:
    """A score table with Korean headers, rounded."""
    out = table.rename(columns={"roc_auc": "ROC-AUC", "average_precision": "평균 정밀도(AP)",
                                "precision_at_k": "정밀도@k", "recall_at_k": "재현율@k"})
    return out.set_index("점수").round(3)


def display_by_type(by_type: pd.DataFrame) -> pd.DataFrame:
    """:func:`recall_by_type`'s table with Korean headers and labels (유형, 크기 구간, n, 크기 범위, recall_*)."""
    out = by_type.assign(type=by_type["type"].map(lambda t: TYPE_LABEL_KO.get(t, t)),
                         band=by_type["band"].map(MAGNITUDE_BAND_KO))
    return out.rename(columns={"type": "유형", "band": "크기 구간", "magnitude_range": "크기 범위"})


def describe(ev: AnomalyEvaluation) -> str:
    """Korean sentences: the combined score against its parts and the yardstick."""
    h = ev.headline
    parts = (f"결합 점수의 평균 정밀도 {h['combined_average_precision']:.3f} (규칙 {h['rules_average_precision']:.3f}, "
             f"모델 {h['model_average_precision']:.3f}), 정밀도@k {h['combined_precision_at_k']:.3f} "
             f"(k = 심어 둔 이상 {h['n_planted']:,}건).")
    if h.get("yardstick_average_precision") is not None:
        parts += (f" 관측 가능한 입력(이번·이전 분기만)으로 정답을 보고 학습한 지도학습 기준의 평균 정밀도는 "
                  f"{h['yardstick_average_precision']:.3f}, 정밀도@k {h['yardstick_precision_at_k']:.3f}이며, 결합 점수는 그 평균 정밀도의 "
                  f"{100 * (h['combined_ap_share_of_yardstick'] or 0):.0f}%입니다.")
    return parts
