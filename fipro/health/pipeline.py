"""One quarter end to end: the function notebook 06 calls and ``make benchmark`` times.

data (this quarter beside the customer's past) → components (rules, 0–100) → weights
corrected by the next-quarter outcome (synthetic data) → score, tier, peer percentile,
reasons → risk model, calibrated probability, grades → evaluation on held-out customers
→ artifacts. On a real file there is no outcome: the rule weights give the score and
the grades come from the score (``risk_probability`` is left empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from fipro import config, split
from fipro.health import evaluation as ev
from fipro.health.artifacts import save_artifacts
from fipro.health.components import (COMPONENT_NAMES, compute_components, peer_codes, peer_percentile,
                                     rule_weights, tier_of, weighted_score)
from fipro.health.data import LOG_OFFSET, HealthInputs, earlier_quarters, load_inputs
from fipro.health.estimator import HealthWeights, RiskModel, grades_from_score
from fipro.health.reasons import lowest, reasons_for
from fipro.timing import Laps

BLEND = 0.5           # share of the outcome-learned weights in the score's weights
TEST_SIZE = 0.2       # held-out customers (evaluation only)
CALIBRATION_SIZE = 0.2
FIT_ROWS = 200_000    # the risk model's training rows at full scale (a seeded draw of the train customers)


@dataclass
class HealthRun:
    quarter: str
    inputs: HealthInputs
    components: pd.DataFrame
    weights: np.ndarray
    weight_model: Optional[HealthWeights]
    risk_model: Optional[RiskModel]
    table: pd.DataFrame
    labels: Optional[pd.DataFrame]
    roles: np.ndarray
    evaluation: Optional[dict]
    headline: dict
    artifacts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


RISK_MONOTONE = {"hist_credit_share": 1, "hist_care_share": 1, "hist_discretionary_share": -1, "fall": 1,
                 "credit_rise": 1, "log_sd": 1, "log_total": 0, "n_active": 0}


def risk_inputs(inputs: HealthInputs, components: pd.DataFrame) -> pd.DataFrame:
    """The risk model's inputs: the raw history measures behind the components (``RISK_MONOTONE``
    gives each one's known direction; the percentile transforms lose what the booster can use)."""
    f = inputs.frame
    lt = np.log(f["total"].to_numpy() + LOG_OFFSET)
    prev = np.log(f["prev_total"].to_numpy() + LOG_OFFSET)
    credit = np.log(f["credit"].to_numpy() + LOG_OFFSET)
    prev_credit = np.log(f["prev_credit"].to_numpy() + LOG_OFFSET)
    hist = {k: np.nan_to_num(f[k].to_numpy(), nan=float(np.nanmedian(f[k].to_numpy())) if f[k].notna().any() else 0.0)
            for k in ("hist_credit_share", "hist_care_share", "hist_discretionary_share")}
    return pd.DataFrame({**hist,
                         "fall": np.nan_to_num(np.maximum(prev - lt, 0)), "credit_rise": np.nan_to_num(np.maximum(credit - prev_credit, 0)),
                         "log_sd": np.nan_to_num(f["log_sd"].to_numpy(), nan=0.35), "log_total": lt,
                         "n_active": f["n_active"].to_numpy()})


def score_table(inputs: HealthInputs, components: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Score, tier, peer percentile and reason for every customer (no risk columns yet)."""
    score = weighted_score(components, weights)
    tier = tier_of(score)
    pct = 100 * peer_percentile(score, peer_codes(inputs.frame))
    reason = reasons_for(score, tier, pct, lowest(components, weights))
    return pd.concat([pd.DataFrame({"BAS_YH": inputs.frame["BAS_YH"].to_numpy(), "SEQ": inputs.frame["SEQ"].to_numpy(),
                                    "health_score": score.round(2), "tier": tier, "peer_percentile": pct.round(1)}),
                      components.round(2), pd.DataFrame({"reason": reason})], axis=1)


def run_quarter(quarter: str, *, blend: float = BLEND, truth: bool = True, save: bool = True,
                fit_rows: int = FIT_ROWS, seed: int = config.RANDOM_SEED, n_jobs: Optional[int] = None) -> HealthRun:
    """Score, grade, evaluate (on synthetic data) and (``save``) record one quarter."""
    laps = Laps()
    inputs = load_inputs(quarter)
    laps.lap("load")
    comps = compute_components(inputs)
    laps.lap("components")
    seq = inputs.frame["SEQ"].to_numpy()
    roles = split.customer_roles(seq, test_size=TEST_SIZE, calibration_size=CALIBRATION_SIZE, seed=seed)
    labels = ev.load_labels(quarter, seq) if truth else None
    weight_model = risk_model = None
    weights = rule_weights()
    X = risk_inputs(inputs, comps)
    if labels is not None:
        y = labels["adverse_next"].to_numpy()
        train = np.flatnonzero(roles == "train")
        if len(train) > fit_rows:
            train = np.sort(np.random.default_rng(seed).choice(train, fit_rows, replace=False))
        weight_model = HealthWeights(blend=blend).fit(comps.iloc[train], y[train])
        weights = weight_model.weights_
        cal = roles == "calibration"
        risk_model = RiskModel(monotone=tuple(RISK_MONOTONE.values()), n_jobs=n_jobs,
                               random_state=seed).fit(X.iloc[train], y[train], X[cal], y[cal])
    laps.lap("fit")
    table = score_table(inputs, comps, weights)
    if risk_model is not None:
        p = risk_model.predict_proba(X)[:, 1]
        table["risk_probability"] = p.round(5)
        table["risk_grade"] = risk_model.grade(p)
    else:
        table["risk_probability"] = np.nan
        table["risk_grade"] = grades_from_score(table["health_score"].to_numpy())
    laps.lap("score")
    laps.since_start("scoring")
    evaluation = None
    if labels is not None:
        test = roles == "test"
        evaluation = ev.evaluate(labels, test, table["health_score"].to_numpy(), table["tier"].to_numpy(),
                                 table["risk_probability"].to_numpy(), table["risk_grade"].to_numpy())
    past = earlier_quarters(quarter)
    stab = {"stability_corr": None, "stability_n": 0}
    if past:
        prev = load_inputs(past[-1])
        prev_score = weighted_score(compute_components(prev), weights)
        clean = None
        if labels is not None:
            prev_labels = ev.load_labels(past[-1], prev.frame["SEQ"].to_numpy())
            both = pd.concat([prev_labels.set_index("SEQ")["anomaly_type"], labels.set_index("SEQ")["anomaly_type"]],
                             axis=1, keys=["a", "b"])
            clean = ((both["a"].fillna("none") == "none") & (both["b"].fillna("none") == "none"))
        stab = ev.stability(prev.frame["SEQ"].to_numpy(), prev_score, seq, table["health_score"].to_numpy(), clean)
    laps.lap("evaluate")
    tier_shares = table["tier"].value_counts(normalize=True).to_dict()
    headline = {
        "quarter": quarter, "n_customers": int(len(table)), "mean_score": float(table["health_score"].mean()),
        "tier_shares": {k: float(v) for k, v in tier_shares.items()},
        "grade_shares": {str(k): float(v) for k, v in table["risk_grade"].value_counts(normalize=True).sort_index().items()},
        "weights": dict(zip(COMPONENT_NAMES, np.round(weights, 4).tolist())),
        "weights_source": "blend" if weight_model is not None else "rule",
        "blend": blend if weight_model is not None else 0.0, "has_truth": labels is not None, **stab,
    }
    if evaluation is not None:
        headline.update({k: v for k, v in evaluation.items() if not isinstance(v, pd.DataFrame)})
        headline["adverse_by_tier"] = evaluation["by_tier"]["다음 분기 악화 비율"].round(4).to_dict()
        headline["adverse_by_grade"] = {str(k): v for k, v in
                                        evaluation["by_grade"]["다음 분기 악화 비율"].round(4).to_dict().items()}
    run = HealthRun(quarter=quarter, inputs=inputs, components=comps, weights=weights, weight_model=weight_model,
                    risk_model=risk_model, table=table, labels=labels, roles=roles, evaluation=evaluation,
                    headline=headline, seconds=laps.seconds)
    if save:
        run.artifacts = save_artifacts(quarter, {"weights": weight_model, "risk": risk_model}, table, headline)
        laps.lap("save")
    headline["seconds"] = dict(laps.since_start("total"))
    return run


def describe_run(run: HealthRun) -> str:
    h = run.headline
    shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in h["tier_shares"].items())
    source = ("규칙 가중치와 다음 분기 결과로 배운 가중치를 반씩 섞은 가중치" if h["weights_source"] == "blend"
              else "규칙 가중치(실제 자료에는 다음 분기 결과가 없어 보정할 수 없습니다)")
    return (f"{run.quarter} 고객 {h['n_customers']:,}명의 소비 건강 점수를 {source}로 계산했습니다. 평균 {h['mean_score']:.1f}점, "
            f"등급 구성 {shares}. 계산 {run.seconds.get('scoring', 0):.1f}초.")


def worked_examples(run: HealthRun, n: int = 3) -> pd.DataFrame:
    """One customer per tier where possible (pseudonymous labels)."""
    from fipro.privacy import pseudonym

    t = run.table
    picked = []
    for tier in ("취약", "보통", "건강"):
        rows = t.index[t["tier"] == tier]
        if len(rows):
            picked.append(rows[len(rows) // 2])
    picked = picked[:n]
    out = pd.DataFrame({"고객": [pseudonym(s) for s in t.loc[picked, "SEQ"]], "점수": t.loc[picked, "health_score"].round(1),
                        "등급": t.loc[picked, "tier"], "위험 등급": t.loc[picked, "risk_grade"],
                        "이유": t.loc[picked, "reason"]})
    return out.reset_index(drop=True)
