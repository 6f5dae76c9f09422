"""Evaluation step of the health model: the planted next-quarter outcome and its ceiling, monotone
tiers and grades, calibration, stability between quarters, fairness by sex and age band.

On synthetic data the truth file holds ``adverse_next`` (the next-quarter adverse outcome)
and ``stress_level`` (the latent stress that drives it): the stress level's ROC-AUC is
the ceiling any score from spending can approach. Everything is measured on held-out
customers (``split.customer_roles``), never on the ones the weights or the risk model saw.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from fipro import contract, datasets
from fipro.evaluation.calibration import expected_calibration_error
from fipro.health.components import COMPONENT_NAMES, TIERS


def load_labels(quarter: str, seq: np.ndarray) -> Optional[pd.DataFrame]:
    """``adverse_next``, ``stress_level``, ``anomaly_type`` aligned to ``seq`` (``None`` on real data)."""
    truth = datasets.load_truth(quarter, columns=["SEQ", "adverse_next", "stress_level", "anomaly_type"])
    if truth is None:
        return None
    truth = truth.assign(SEQ=truth["SEQ"].astype(str)).set_index("SEQ")
    missing = pd.Index(seq).difference(truth.index)
    if len(missing):
        raise KeyError(f"truth file has no row for {len(missing)} customers of {quarter}")
    return truth.loc[seq].reset_index()


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def rate_table(y: np.ndarray, groups: np.ndarray, order: list) -> pd.DataFrame:
    """Customers and adverse rate per group, in ``order``."""
    frame = pd.DataFrame({"g": groups, "y": y})
    tab = frame.groupby("g")["y"].agg(["size", "mean"]).reindex(order)
    return tab.rename(columns={"size": "고객 수", "mean": "다음 분기 악화 비율"}).rename_axis("")


def is_monotone(rates: pd.Series, decreasing: bool = True) -> bool:
    r = rates.dropna().to_numpy()
    d = np.diff(r)
    return bool((d <= 0).all() if decreasing else (d >= 0).all())


def evaluate(labels: pd.DataFrame, test: np.ndarray, health: np.ndarray, tiers: np.ndarray,
             risk: Optional[np.ndarray], grades: np.ndarray) -> dict:
    """Held-out AUCs beside the ceiling, tier and grade tables with their monotonicity, ECE."""
    y = labels["adverse_next"].to_numpy()[test]
    stress = labels["stress_level"].to_numpy()[test]
    tier_names = [t for t, _ in TIERS]
    by_tier = rate_table(y, tiers[test], tier_names)
    by_grade = rate_table(y, grades[test], list(range(1, 6)))
    out = {"n_test": int(test.sum()), "test_adverse_rate": float(y.mean()),
           "ceiling_auc": _auc(y, stress), "health_auc": _auc(y, 100 - health[test]),
           "tiers_monotone": is_monotone(by_tier["다음 분기 악화 비율"], decreasing=True),
           "grades_monotone": is_monotone(by_grade["다음 분기 악화 비율"], decreasing=False),
           "by_tier": by_tier, "by_grade": by_grade}
    if risk is not None:
        out["risk_auc"] = _auc(y, risk[test])
        out["risk_ece"] = expected_calibration_error(y, risk[test])
    return out


def stability(prev_seq: np.ndarray, prev_score: np.ndarray, seq: np.ndarray, score: np.ndarray,
              clean: Optional[pd.Series] = None) -> dict:
    """Pearson correlation of the score between consecutive quarters for customers in both
    (only those with no planted anomaly in either quarter when ``clean`` is given: SEQ → bool)."""
    a = pd.Series(prev_score, index=pd.Index(prev_seq))
    b = pd.Series(score, index=pd.Index(seq))
    common = a.index.intersection(b.index)
    if clean is not None:
        common = common[clean.reindex(common).fillna(False).to_numpy(dtype=bool)]
    if len(common) < 3:
        return {"stability_corr": None, "stability_n": int(len(common))}
    return {"stability_corr": float(np.corrcoef(a.loc[common], b.loc[common])[0, 1]), "stability_n": int(len(common))}


def fairness_table(frame: pd.DataFrame, health: np.ndarray, components: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean score and components by ``by`` (``SEX_CD`` or ``AGE``), Korean labels."""
    data = components[list(COMPONENT_NAMES)].assign(health_score=health, g=frame[by].to_numpy())
    tab = data.groupby("g").mean().round(1)
    tab.insert(0, "고객 수", data.groupby("g").size())
    tab.index = [contract.code_label(by, str(c)) for c in tab.index]
    return tab
