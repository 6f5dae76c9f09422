"""How hard the planted tasks are: the ceilings and baselines every model reports against.

:func:`difficulty_report` measures them on aligned raw and truth frames (the sidecar's
``difficulty``, see DEVELOPERS.md); :func:`describe_difficulty` says them in one line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, f1_score, roc_auc_score

from fipro import history
from fipro.evaluation import yardstick
from fipro.evaluation.baselines import AGE_SEX_CODES, GroupMajorityClassifier
from fipro.evaluation.calibration import expected_calibration_error
from fipro.synth.params import ANOMALY_TYPES, DETAILS, N_SEG, SEGMENT_NAMES, STAGES

ANOMALY_MAGNITUDE = {"none": "clean rows (magnitude 0)", "total_spike": "every amount times m", "category_burst": "one category gains f x the customer's mean total",
                     "mix_shift": "mix moved by weight w towards an unlikely life stage", "dormant_burst": "amounts times m after quiet quarters"}


def difficulty_report(raw: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """How hard the planted tasks are: the ceilings every model reports against.

    Parameters
    ----------
    raw, truth : DataFrame
        Aligned row by row (as ``generate_frame`` returns or the files hold), whole
        customers (all their quarters).

    Returns
    -------
    dict
        Life stage: ``bayes_accuracy`` / ``bayes_macro_f1`` (argmax of the exact
        posterior), ``age_sex_rule_accuracy`` / ``age_sex_rule_macro_f1`` (most common
        life stage per AGE x SEX_CD, :class:`~fipro.evaluation.baselines.GroupMajorityClassifier`),
        ``bayes_mean_true_posterior``, ``bayes_mean_max_posterior``, ``bayes_ece``
        (:func:`~fipro.evaluation.calibration.expected_calibration_error`, 10 bins).
        Segments: ``segment_bayes_accuracy`` / ``_ari`` / ``_mean_max_posterior`` /
        ``_ece`` (single row, exact posterior, clean rows) and ``segment_customer_*``
        (one row per customer, all quarters, see
        :func:`fipro.synth.posterior.customer_segment_posterior`),
        ``segment_sizes`` (rows), ``segment_names``. Anomalies: ``anomaly_counts`` and
        ``anomaly_magnitudes`` (per type: what the magnitude means, its quantiles and the
        median ratio of the row's TOT_USE_AM to the customer's median over the clean
        quarters, and the median mix change: half the L1 distance between the row's
        detail shares and the customer's mean shares over the clean quarters) and
        ``anomaly_observable`` (the best observable detector, :func:`observable_anomaly_ceiling`).
        Stress: ``adverse_rate``, ``stress_auc`` (ROC-AUC of the latent stress level for the
        next-quarter adverse outcome) and ``stress_observable_auc`` (that of its part visible in
        the file up to the quarter, :mod:`fipro.synth.stress`: the observable ceiling).
        ``rows``, ``customers``.
    """
    post = truth[[f"posterior_{c}" for c in STAGES]].to_numpy()
    y = pd.Index(STAGES).get_indexer(raw["LIFE_STAGE"].astype(str))
    pred = post.argmax(1)
    # the project's one age x sex rule, so this number and the model notebooks' baseline agree
    groups = raw[list(AGE_SEX_CODES)].astype(str)
    rule = GroupMajorityClassifier().fit(groups, y).predict(groups)
    labels = np.unique(y)
    kind = truth["anomaly_type"].to_numpy()
    clean = kind == "none"
    seg = truth["segment"].to_numpy()
    seg_post = truth[[f"posterior_segment_{k}" for k in range(N_SEG)]].to_numpy()[clean]
    first = ~truth["SEQ"].duplicated().to_numpy()
    seg_customer = truth[[f"customer_posterior_segment_{k}" for k in range(N_SEG)]].to_numpy()[first]
    tot = raw["TOT_USE_AM"].astype(float)
    others = tot.where(clean)  # the customer's clean quarters as the yardstick
    own_median = others.groupby(raw["SEQ"]).transform("median").to_numpy()
    # mix: shares of the details; the yardstick is the customer's mean share over clean quarters
    details = raw[list(DETAILS)].to_numpy(float)
    shares = details / np.maximum(details.sum(1, keepdims=True), 1.0)
    own_shares = (pd.DataFrame(np.where(clean[:, None], shares, np.nan)).groupby(raw["SEQ"].to_numpy())
                  .transform("mean").to_numpy())
    magnitudes = {}
    for name in ("none",) + ANOMALY_TYPES:  # "none": the same yardsticks on clean rows, for scale
        rows = kind == name
        m = truth["anomaly_magnitude"].to_numpy()[rows]
        if not rows.any():
            continue
        ratio = tot.to_numpy()[rows] / np.maximum(own_median[rows], 1.0)
        mix_change = 0.5 * np.abs(shares[rows] - own_shares[rows]).sum(1)
        magnitudes[name] = {"magnitude": ANOMALY_MAGNITUDE[name], "rows": int(rows.sum()),
                            "min": float(m.min()), "median": float(np.median(m)), "max": float(m.max()),
                            "median_total_ratio": float(np.nanmedian(ratio)),
                            "median_mix_change": float(np.nanmedian(mix_change))}
    adverse = truth["adverse_next"].to_numpy()
    return {
        "rows": int(len(raw)), "customers": int(raw["SEQ"].nunique()),
        "bayes_accuracy": float((pred == y).mean()),
        "bayes_macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "age_sex_rule_accuracy": float((rule == y).mean()),
        "age_sex_rule_macro_f1": float(f1_score(y, rule, labels=labels, average="macro", zero_division=0)),
        "bayes_mean_true_posterior": float(post[np.arange(len(y)), y].mean()),
        "bayes_mean_max_posterior": float(post.max(1).mean()),
        "bayes_ece": expected_calibration_error(y, post),
        "segment_names": list(SEGMENT_NAMES),
        "segment_bayes_accuracy": float((seg_post.argmax(1) == seg[clean]).mean()),
        "segment_bayes_ari": float(adjusted_rand_score(seg[clean], seg_post.argmax(1))),
        "segment_bayes_mean_max_posterior": float(seg_post.max(1).mean()),
        "segment_bayes_ece": expected_calibration_error(seg[clean], seg_post),
        "segment_customer_accuracy": float((seg_customer.argmax(1) == seg[first]).mean()),
        "segment_customer_ari": float(adjusted_rand_score(seg[first], seg_customer.argmax(1))),
        "segment_customer_mean_max_posterior": float(seg_customer.max(1).mean()),
        "segment_customer_method": "naive Bayes over the customer's quarters given (segment, sub-level)",
        "segment_sizes": {int(k): int(v) for k, v in truth["segment"].value_counts().sort_index().items()},
        "anomaly_counts": {str(k): int(v) for k, v in truth["anomaly_type"].value_counts().items()},
        "anomaly_magnitudes": magnitudes,
        "adverse_rate": float(adverse.mean()),
        "stress_auc": float(roc_auc_score(adverse, truth["stress_level"])) if 0 < adverse.sum() < len(adverse) else None,
        "anomaly_observable": observable_anomaly_ceiling(raw, truth),
        "stress_observable_auc": (float(roc_auc_score(adverse, truth["stress_observable"]))
                                  if "stress_observable" in truth and 0 < adverse.sum() < len(adverse) else None),
    }


def observable_anomaly_ceiling(raw: pd.DataFrame, truth: pd.DataFrame, *, seed=None) -> dict:
    """The best observable anomaly detector: :mod:`fipro.evaluation.yardstick` on these rows.

    Each quarter's features come from that quarter and the customer's earlier quarters
    (a :class:`~fipro.history.MemoryHistory` over ``raw``); one LightGBM with
    customer-grouped folds scores every row out of fold. Returns its ``precision_at_k``
    (k = the quarter's planted anomalies; mean over the quarters after the first, which
    has no earlier quarter), ``precision_at_k_by_quarter``, ``recall_upper_half`` per type
    (the top k of each quarter, pooled; halves at the type's median magnitude), ``rows``
    (rows fitted, at most ``yardstick.MAX_ROWS``); empty values when too few anomalies.
    """
    src = history.MemoryHistory({q: t.reset_index(drop=True) for q, t in raw.groupby("BAS_YH", sort=True)})
    feats = pd.concat([yardstick.quarter_features(src, q) for q in src.quarters], ignore_index=True)
    keys = truth[["BAS_YH", "SEQ"]].astype(str)
    at = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(feats[["BAS_YH", "SEQ"]].astype(str)))
    kind = truth["anomaly_type"].astype(str).to_numpy()[at]
    magnitude = truth["anomaly_magnitude"].to_numpy(dtype=float)[at]
    y = kind != "none"
    empty = {"precision_at_k": None, "precision_at_k_by_quarter": {}, "recall_upper_half": {}, "rows": 0}
    if y.sum() < 2 * yardstick.FOLDS:
        return empty
    oof = yardstick.fit_out_of_fold(feats.drop(columns=["BAS_YH", "SEQ"]), y, feats["SEQ"].to_numpy(), seed=seed)
    quarters = feats["BAS_YH"].to_numpy()[oof.rows]
    summary = yardstick.detector_summary(quarters, kind[oof.rows], magnitude[oof.rows], oof.probability,
                                         medians={t: float(np.median(magnitude[kind == t])) for t in set(kind[y])},
                                         with_history=quarters != src.quarters[0])
    return {**summary, "rows": oof.n_rows,
            "method": "LightGBM, customer-grouped 5-fold, features of the quarter and earlier quarters only"}


def _fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def describe_difficulty(difficulty: dict) -> str:
    """One line on how hard the planted tasks are (life stage vs the age x sex rule, segments, stress)."""
    return (f"planted difficulty ({difficulty.get('measured_on', 'all rows')}, {difficulty['rows']:,} rows): "
            f"Bayes ceiling accuracy {difficulty['bayes_accuracy']:.3f} / macro-F1 {difficulty['bayes_macro_f1']:.3f}, "
            f"age x sex rule {difficulty['age_sex_rule_accuracy']:.3f} / {difficulty['age_sex_rule_macro_f1']:.3f}, "
            f"segments {difficulty['segment_bayes_accuracy']:.3f} (ARI {difficulty['segment_bayes_ari']:.2f}) per row, "
            f"{difficulty['segment_customer_accuracy']:.3f} (ARI {difficulty['segment_customer_ari']:.2f}) per customer, "
            f"stress AUC {_fmt(difficulty.get('stress_auc'))} (observable {_fmt(difficulty.get('stress_observable_auc'))}), "
            f"anomalies {sum(v for k, v in difficulty['anomaly_counts'].items() if k != 'none'):,} rows"
            f" (observable detector P@k {_fmt((difficulty.get('anomaly_observable') or {}).get('precision_at_k'))})")
