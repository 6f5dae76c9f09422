"""Decay: the previous quarter's saved models scored on this quarter's held-out customers beside
this quarter's refit (a row of the drift table of :mod:`fipro.drift`, kind ``decay``).

Where labels exist: the life-stage model of ``p`` on ``q`` (macro-F1: the life-stage model's
temporal check, shown in the model report as 시간 검증 매크로 F1) and, on the stand-in, the
health risk model of ``p`` (AUC of the next-quarter adverse outcome). Bounded: at most
:data:`DECAY_ROWS` held-out rows (a seeded draw), so the cost does not grow with the quarter.
Decay alerts when the refit beats the previous quarter's model by more than :data:`DECAY_Z`
standard errors of the gap (a seeded paired bootstrap over the held-out customers).

The check lives here, in notebook 08, rather than in the life-stage notebook: there it made
quarter q's model notebook wait for quarter q−1's, a serial chain of eight ~200 s fits at full
scale (53 of a 53-minute rebuild's critical path). A previous model that saw quarter ``q``'s
rows (a first quarter pooled with the quarters after it, at sample scale) is left out: its
score on ``q`` would flatter it.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import config, datasets

# 50k held-out rows: the life-stage temporal macro-F1 within about ±0.005 (it moved by up to
# 0.009 at 20k, full scale, against the 50k the life-stage notebook used when it measured it)
DECAY_ROWS = 50_000
DECAY_BOOTSTRAP = 200
DECAY_Z = 2.58
# the previous model's metric under the name the model report shows it by (fipro.model_report)
DECAY_KEYS = {"lifestage": "temporal_macro_f1", "health": "temporal_risk_auc"}


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
    resamples as multinomial counts, vectorised). :func:`paired_gap_interval` gives the old
    metric's percentile interval from the same resamples."""
    return paired_gap_interval(y, old, new, metric, n_boot=n_boot, seed=seed)[:4]


def paired_gap_interval(y: np.ndarray, old: np.ndarray, new: np.ndarray, metric: str, *,
                        n_boot: int = DECAY_BOOTSTRAP, seed: Optional[int] = None
                        ) -> tuple[float, float, float, float, float, float]:
    """:func:`paired_gap` and the 95% percentile interval of the old predictions' metric."""
    y, old, new = np.asarray(y), np.asarray(old), np.asarray(new)
    rng = np.random.default_rng(config.RANDOM_SEED if seed is None else seed)
    ones = np.ones((1, len(y)))
    m_old, m_new = float(weighted_metric(metric, y, old, ones)[0]), float(weighted_metric(metric, y, new, ones)[0])
    counts = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y)), size=n_boot)
    olds = weighted_metric(metric, y, old, counts)
    gaps = weighted_metric(metric, y, new, counts) - olds
    lo, hi = np.quantile(olds, [0.025, 0.975])
    return m_old, m_new, m_new - m_old, float(np.std(gaps, ddof=1)), float(lo), float(hi)


def decay_row(group: str, subject_ko: str, metric_ko: str, values: tuple[float, ...], n: int) -> dict:
    """A drift row of kind ``decay``, with the previous model's metric and (when ``values`` carries
    it, :func:`paired_gap_interval`) its interval: what :func:`decay_metrics` reads back."""
    m_old, m_new, gap, se = values[:4]
    return {"kind": "decay", "group": group, "subject": group, "subject_ko": subject_ko, "measure": "gap",
            "value": gap, "noise_mean": se, "noise_q": DECAY_Z * se, "n_previous": n, "n_current": n,
            "detail_ko": f"{metric_ko}: 전분기 모델 {m_old:.3f}, 이번 분기 재학습 {m_new:.3f} (평가 {n:,}행)",
            "previous_metric": m_old, "current_metric": m_new,
            "previous_lo": values[4] if len(values) > 4 else None, "previous_hi": values[5] if len(values) > 5 else None}


def temporal_model(previous: str):
    """The life-stage model saved for ``previous`` when it saw no row of a later quarter (its
    registry's ``data_range``); else ``None`` (no saved model, or one pooled with later quarters,
    whose score on the next quarter would flatter it)."""
    from fipro.evaluation import registry  # scikit-learn: see decay_measures

    directory = datasets.model_dir(previous, "lifestage")
    try:
        entry = registry.load_entry(directory)
    except (FileNotFoundError, ValueError):
        return None
    seen = entry.get("data_range", {}).get("quarters") or []
    if not seen or any(q > previous for q in seen) or not (directory / registry.MODEL_FILE).exists():
        return None
    return registry.load_model(directory)


def decay_measures(quarter: str, previous: str, outputs: Mapping[str, Optional[pd.DataFrame]],
                seed: Optional[int] = None) -> list[dict]:
    """The previous quarter's saved life-stage and health risk models scored on this quarter's
    held-out customers (at most :data:`DECAY_ROWS`), beside this quarter's saved predictions."""
    # scikit-learn (split, registry), the feature cache and the health package load only when a
    # decay is measured: fipro.drift imports this module, and the site imports fipro.drift for its tables
    from fipro import split
    from fipro.evaluation import registry

    rows = []
    preds = outputs.get("lifestage")
    model = temporal_model(previous) if preds is not None and "role" in preds else None
    if model is not None:
        import pyarrow.parquet as pq  # see above: only with a saved model to score

        test = preds[preds["role"] == "test"].reset_index(drop=True)
        test = test.iloc[split.sample_positions(len(test), DECAY_ROWS, seed)]
        from fipro.features import cache  # see above

        if not cache.is_fresh(quarter):
            cache.load_features(quarter)
        # only the drawn customers' rows and the model's columns
        feats = pq.read_table(datasets.features_path(quarter), columns=["SEQ", *model.feature_names_in_],
                              filters=[("SEQ", "in", list(test["SEQ"].astype(str)))]).to_pandas()
        feats = feats.assign(SEQ=feats["SEQ"].astype(str)).set_index("SEQ").loc[test["SEQ"].astype(str)]
        old = np.asarray(model.predict(feats[list(model.feature_names_in_)])).astype(str)
        values = paired_gap_interval(test["LIFE_STAGE"].astype(str).to_numpy(), old,
                                     test["predicted"].astype(str).to_numpy(), "macro_f1", seed=seed)
        rows.append(decay_row("lifestage", "라이프스테이지 모델", "매크로 F1", values, len(test)))
    health = outputs.get("health")
    old_dir = datasets.model_dir(previous, "health")
    if health is not None and "risk_probability" in health and (old_dir / registry.MODEL_FILE).exists():
        saved = registry.load_model(old_dir)
        risk = saved.get("risk") if isinstance(saved, dict) else None
        labels = datasets.truth_rows(quarter, health["SEQ"].astype(str).to_numpy(), ["adverse_next"])
        if risk is not None and labels is not None and health["risk_probability"].notna().any():
            from fipro.health import risk_inputs  # see above
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
                values = paired_gap_interval(y, old, health["risk_probability"].to_numpy()[at], "auc", seed=seed)
                rows.append(decay_row("health", "위험 모델", "다음 분기 악화 AUC", values, len(at)))
    return rows


def decay_metrics(table: Optional[pd.DataFrame]) -> dict:
    """The decay rows of a saved drift table as headline metrics: ``DECAY_KEYS[group]`` the
    previous quarter's model on this quarter, ``<key>_lo``/``<key>_hi`` its 95% interval,
    ``<key>_refit`` this quarter's model on the same rows; empty without a table or decay rows."""
    if table is None or "previous_metric" not in table:
        return {}
    out = {}
    for row in table[table["kind"] == "decay"].itertuples(index=False):
        key = DECAY_KEYS.get(row.group)
        if key is None:
            continue
        out[key], out[f"{key}_refit"] = float(row.previous_metric), float(row.current_metric)
        if pd.notna(row.previous_lo) and pd.notna(row.previous_hi):
            out[f"{key}_lo"], out[f"{key}_hi"] = float(row.previous_lo), float(row.previous_hi)
    return out
