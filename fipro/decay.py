"""Decay: the previous quarter's saved models scored on this quarter's held-out customers beside
this quarter's refit (a row of the drift table of :mod:`fipro.drift`, kind ``decay``).

Where labels exist: the life-stage model of ``p`` on ``q`` (macro-F1) and, on the stand-in, the
health risk model of ``p`` (AUC of the next-quarter adverse outcome). Bounded: at most
:data:`DECAY_ROWS` held-out rows (a seeded draw), so the cost does not grow with the quarter.
Decay alerts when the refit beats the previous quarter's model by more than :data:`DECAY_Z`
standard errors of the gap (a seeded paired bootstrap over the held-out customers).
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import config, datasets

DECAY_ROWS = 20_000
DECAY_BOOTSTRAP = 200
DECAY_Z = 2.58


def weighted_metric(metric: str, y: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``metric`` of ``pred`` against ``y`` under each row of ``weights`` (replicates × rows of
    bootstrap counts; a row of ones is the plain metric), vectorised over the replicates.

    ``"accuracy"``; ``"macro_f1"`` (labels, the mean F1 over the classes in ``y`` or ``pred``, as
    scikit-learn's ``f1_score(average="macro")``); ``"auc"`` (``pred`` a score, ``y`` 0/1, ties
    counted half, as ``roc_auc_score``).
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if metric == "accuracy":
        return (w @ (y == pred)) / w.sum(1)
    if metric == "macro_f1":
        f1 = []
        for k in np.union1d(y, pred):
            tp, fp, fn = (w @ ((y == k) & (pred == k)), w @ ((y != k) & (pred == k)), w @ ((y == k) & (pred != k)))
            with np.errstate(invalid="ignore", divide="ignore"):
                f1.append(np.nan_to_num(2 * tp / (2 * tp + fp + fn)))
        return np.mean(f1, axis=0)
    if metric == "auc":
        order = np.argsort(pred, kind="stable")
        score, pos = np.asarray(pred)[order], np.asarray(y)[order].astype(bool)
        starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
        ws = w[:, order]
        wp, wn = np.add.reduceat(ws * pos, starts, axis=1), np.add.reduceat(ws * ~pos, starts, axis=1)
        below = np.cumsum(wn, axis=1) - wn
        return (wp * (below + 0.5 * wn)).sum(1) / (wp.sum(1) * wn.sum(1))
    raise ValueError(f"metric must be 'accuracy', 'macro_f1' or 'auc', got {metric!r}")


def paired_gap(y: np.ndarray, old: np.ndarray, new: np.ndarray, metric: str, *, n_boot: int = DECAY_BOOTSTRAP,
               seed: Optional[int] = None) -> tuple[float, float, float, float]:
    """``metric`` (:func:`weighted_metric`) of the old and the new predictions, their gap
    (new − old) and the gap's bootstrap standard error over rows (seeded, ``n_boot`` paired
    resamples as multinomial counts, vectorised)."""
    y, old, new = np.asarray(y), np.asarray(old), np.asarray(new)
    rng = np.random.default_rng(config.RANDOM_SEED if seed is None else seed)
    ones = np.ones((1, len(y)))
    m_old, m_new = float(weighted_metric(metric, y, old, ones)[0]), float(weighted_metric(metric, y, new, ones)[0])
    counts = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y)), size=n_boot)
    gaps = weighted_metric(metric, y, new, counts) - weighted_metric(metric, y, old, counts)
    return m_old, m_new, m_new - m_old, float(np.std(gaps, ddof=1))


def decay_row(group: str, subject_ko: str, metric_ko: str, values: tuple[float, float, float, float],
              n: int) -> dict:
    m_old, m_new, gap, se = values
    return {"kind": "decay", "group": group, "subject": group, "subject_ko": subject_ko, "measure": "gap",
            "value": gap, "noise_mean": se, "noise_q": DECAY_Z * se, "n_previous": n, "n_current": n,
            "detail_ko": f"{metric_ko}: 전분기 모델 {m_old:.3f}, 이번 분기 재학습 {m_new:.3f} (평가 {n:,}행)"}


def decay_measures(quarter: str, previous: str, outputs: Mapping[str, Optional[pd.DataFrame]],
                seed: Optional[int] = None) -> list[dict]:
    """The previous quarter's saved life-stage and health risk models scored on this quarter's
    held-out customers (at most :data:`DECAY_ROWS`), beside this quarter's saved predictions."""
    from fipro import split
    from fipro.evaluation import registry

    rows = []
    preds = outputs.get("lifestage")
    old_dir = datasets.model_dir(previous, "lifestage")
    if preds is not None and "role" in preds and (old_dir / registry.MODEL_FILE).exists():
        import pyarrow.parquet as pq

        test = preds[preds["role"] == "test"].reset_index(drop=True)
        test = test.iloc[split.sample_positions(len(test), DECAY_ROWS, seed)]
        model = registry.load_model(old_dir)
        from fipro.features import cache

        if not cache.is_fresh(quarter):
            cache.load_features(quarter)
        # only the drawn customers' rows and the model's columns
        feats = pq.read_table(datasets.features_path(quarter), columns=["SEQ", *model.feature_names_in_],
                              filters=[("SEQ", "in", list(test["SEQ"].astype(str)))]).to_pandas()
        feats = feats.assign(SEQ=feats["SEQ"].astype(str)).set_index("SEQ").loc[test["SEQ"].astype(str)]
        old = np.asarray(model.predict(feats[list(model.feature_names_in_)])).astype(str)
        values = paired_gap(test["LIFE_STAGE"].astype(str).to_numpy(), old, test["predicted"].astype(str).to_numpy(),
                            "macro_f1", seed=seed)
        rows.append(decay_row("lifestage", "라이프스테이지 모델", "매크로 F1", values, len(test)))
    health = outputs.get("health")
    old_dir = datasets.model_dir(previous, "health")
    if health is not None and "risk_probability" in health and (old_dir / registry.MODEL_FILE).exists():
        saved = registry.load_model(old_dir)
        risk = saved.get("risk") if isinstance(saved, dict) else None
        labels = datasets.truth_rows(quarter, health["SEQ"].astype(str).to_numpy(), ["adverse_next"])
        if risk is not None and labels is not None and health["risk_probability"].notna().any():
            from fipro.health import risk_inputs
            from fipro.health.data import load_inputs

            from fipro.health.pipeline import CALIBRATION_SIZE, TEST_SIZE

            # the health notebook's own held-out customers (same split, same seed)
            roles = split.customer_roles(health["SEQ"].astype(str).to_numpy(), test_size=TEST_SIZE,
                                         calibration_size=CALIBRATION_SIZE, seed=seed)
            at = np.flatnonzero(roles == "test")
            at = at[split.sample_positions(len(at), DECAY_ROWS, seed)]
            inputs = load_inputs(quarter)
            X = risk_inputs(inputs)
            order = pd.Index(inputs.frame["SEQ"].astype(str)).get_indexer(health["SEQ"].astype(str).to_numpy()[at])
            old = risk.predict_proba(X.iloc[order])[:, 1]
            y = labels["adverse_next"].to_numpy()[at].astype(int)
            if 0 < y.sum() < len(y):
                values = paired_gap(y, old, health["risk_probability"].to_numpy()[at], "auc", seed=seed)
                rows.append(decay_row("health", "위험 모델", "다음 분기 악화 AUC", values, len(at)))
    return rows


