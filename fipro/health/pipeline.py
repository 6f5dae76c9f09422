"""One quarter end to end: the function notebook 06 calls and ``make benchmark`` times.

data (this quarter beside the customer's past) → components (rules, 0–100) → weights
corrected by the next-quarter outcome (synthetic data) → score, tier, peer percentile,
reasons → risk model, calibrated probability, grades → evaluation on held-out customers
→ artifacts. On a real file there is no outcome: the rule weights give the score and
the grades come from the score (``risk_probability`` is left empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import pandas as pd

from fipro import config, datasets, split
from fipro.evaluation.calibration import expected_calibration_error
from fipro.evaluation.intervals import add_intervals, mean_interval
from fipro.health import evaluation as ev
from fipro.health.artifacts import save_artifacts
from fipro.health.components import (COMPONENT_BY_NAME, COMPONENT_NAMES, TIERS, compute_components, peer_codes, peer_percentile,
                                     rule_weights, tier_of, weighted_score)
from fipro.health.data import MODEL_NAME, HealthInputs, iter_window
from fipro.health.estimator import (FIT_ROWS, OUTLOOK_SHARE, RISK_MONOTONE, SMOOTH_ALPHA, WINDOW, HealthWeights, RiskModel,
                                   ScoreFunction, fit_rows_of, grades_from_score, risk_inputs, smoothed)
from fipro.health.reasons import lowest, reasons_for
from fipro.modelrun import ModelRun
from fipro.privacy import pseudonyms
from fipro.timing import Laps

BLEND = 1.0           # share of the outcome-learned weights (on synthetic data; 0.5 ranks worse and is no steadier per point of AUC)
TEST_SIZE = 0.2       # held-out customers (evaluation only)
CALIBRATION_SIZE = 0.2


@dataclass(kw_only=True)
class HealthRun(ModelRun):
    """Everything one quarter's run produced (what notebook 06 shows)."""

    model_name: ClassVar[str] = MODEL_NAME

    inputs: HealthInputs
    previous: Optional[HealthInputs]
    previous_components: Optional[pd.DataFrame]
    components: pd.DataFrame
    weights: np.ndarray
    weight_model: Optional[HealthWeights]
    risk_model: Optional[RiskModel]
    table: pd.DataFrame
    labels: Optional[pd.DataFrame]
    roles: np.ndarray
    evaluation: Optional[dict]
    rule: Optional[ScoreFunction] = None


def score_table(inputs: HealthInputs, components: pd.DataFrame, weights: np.ndarray, score: Optional[np.ndarray] = None,
                components_score: Optional[np.ndarray] = None, outlook: Optional[np.ndarray] = None,
                n_quarters: Optional[np.ndarray] = None) -> pd.DataFrame:
    """Score, tier, peer percentile, the score's parts and reason for every customer (no risk
    columns yet). Without ``score`` it is the components' weighted mean of this quarter."""
    own = weighted_score(components, weights) if components_score is None else components_score
    score = own if score is None else score
    tier = tier_of(score)
    pct = 100 * peer_percentile(score, peer_codes(inputs.frame))
    n = len(score)
    outlook = np.full(n, np.nan) if outlook is None else outlook
    reason = reasons_for(score, tier, pct, lowest(components, weights, outlook_points=score - own))
    return pd.concat([pd.DataFrame({"BAS_YH": inputs.frame["BAS_YH"].to_numpy(), "SEQ": inputs.frame["SEQ"].to_numpy(),
                                    "health_score": score.round(2), "tier": tier, "peer_percentile": pct.round(1),
                                    "component_score": own.round(2), "outlook": outlook.round(2),
                                    "quarters_smoothed": np.ones(n, np.int64) if n_quarters is None else n_quarters}),
                      components.round(2), pd.DataFrame({"reason": reason})], axis=1)


def run_quarter(quarter: str, *, blend: float = BLEND, outlook_share: float = OUTLOOK_SHARE, alpha: float = SMOOTH_ALPHA,
                truth: bool = True, save: bool = True, fit_rows: int = FIT_ROWS, seed: Optional[int] = None,
                n_jobs: Optional[int] = None) -> HealthRun:
    """Score, grade, evaluate (on synthetic data) and (``save``) record one quarter.

    With the outcome (synthetic data) the score is the components' weighted mean and the risk
    model's outlook (``outlook_share``), averaged over the customer's last ``WINDOW`` quarters
    with weight ``alpha`` on this one, every quarter of the window scored by this quarter's rule
    (:class:`ScoreFunction`); on real data it is the components' weighted mean of this quarter."""
    seed = config.RANDOM_SEED if seed is None else seed
    laps = Laps()
    has_outcome = truth and bool(datasets.truth_columns("adverse_next"))
    # the window, and one quarter more: the previous quarter's score over its own window (stability);
    # this quarter and the previous one are kept, the earlier ones are scored once the rule is fitted
    window = iter_window(quarter, WINDOW + 1 if has_outcome else 2)
    inputs = next(window)
    previous = next(window, None)
    laps.lap("load")
    comps = compute_components(inputs)
    prev_comps = compute_components(previous) if previous is not None else None
    laps.lap("components")
    seq = inputs.frame["SEQ"].to_numpy()
    roles = split.customer_roles(seq, test_size=TEST_SIZE, calibration_size=CALIBRATION_SIZE, seed=seed)
    labels = ev.load_labels(quarter, seq) if has_outcome else None
    weight_model = risk_model = None
    weights = rule_weights()
    X = risk_inputs(inputs) if labels is not None else None  # the risk model's and the outlook's only
    if labels is not None:
        y = labels["adverse_next"].to_numpy()
        train = fit_rows_of(roles, fit_rows, seed)
        weight_model = HealthWeights(blend=blend).fit(comps.iloc[train], y[train])
        weights = weight_model.weights_
        cal = roles == "calibration"
        risk_model = RiskModel(monotone=tuple(RISK_MONOTONE.values()), n_jobs=n_jobs,
                               random_state=seed).fit(X.iloc[train], y[train], X[cal], y[cal])
    rule = ScoreFunction(weights, risk_model, share=outlook_share).fit(comps, X)
    laps.lap("fit")
    a = alpha if rule.share > 0 else 1.0  # nothing transient to smooth without the outlook
    span = WINDOW if a < 1 else 1

    def scored(w: HealthInputs, c: pd.DataFrame, x: Optional[pd.DataFrame] = None) -> pd.Series:
        if x is None and rule.share > 0:
            x = risk_inputs(w)
        return pd.Series(rule.quarter_score(c, x), index=w.frame["SEQ"].to_numpy())

    per_quarter = [scored(inputs, comps, X)] + ([scored(previous, prev_comps)] if previous is not None else [])
    per_quarter += [scored(w, compute_components(w)) for w in window]  # the earlier quarters, one at a time
    laps.lap("window")
    score, n_quarters = smoothed(per_quarter[:span], a)
    table = score_table(inputs, comps, weights, np.clip(score, 0, 100), rule.components_score(comps),
                        rule.outlook(X) if risk_model is not None else None, n_quarters)
    if risk_model is not None:
        p = risk_model.predict_proba(X)[:, 1]
        table["risk_probability"] = p.round(5)
        table["risk_grade"] = risk_model.grade(X)
    else:
        table["risk_probability"] = np.nan
        table["risk_grade"] = grades_from_score(table["health_score"].to_numpy())
    laps.lap("score")
    laps.since_start("scoring")
    evaluation = None
    if labels is not None:
        test = roles == "test"
        evaluation = ev.evaluate(labels, test, table["health_score"].to_numpy(), table["tier"].to_numpy(),
                                 table["risk_probability"].to_numpy(), table["risk_grade"].to_numpy(), seed=seed)
        evaluation["risk_ece_before"] = expected_calibration_error(labels["adverse_next"].to_numpy()[test],
                                                                   risk_model.raw_proba(X[test]))
        evaluation["components_auc"] = ev._auc(labels["adverse_next"].to_numpy()[test],
                                               100 - table["component_score"].to_numpy()[test])
    stab = {"stability_corr": None, "stability_n": 0, "stability_all_corr": None, "interval": None}
    if previous is not None:
        # the previous quarter scored by this quarter's rule: the change is the customer's alone
        prev_seq = previous.frame["SEQ"].to_numpy()
        prev_score = np.clip(smoothed(per_quarter[1:1 + span], a)[0], 0, 100)
        stab["stability_all_corr"] = ev.stability(prev_seq, prev_score, seq,
                                                  table["health_score"].to_numpy())["stability_corr"]
        clean = ev.clean_customers(previous.quarter, prev_seq, labels) if labels is not None else None
        stab.update(ev.stability(prev_seq, prev_score, seq, table["health_score"].to_numpy(), clean, interval=True,
                                 seed=seed))
    stability_interval = stab.pop("interval")
    score_interval = mean_interval(table["health_score"].to_numpy(), seed=seed)
    laps.lap("evaluate")
    tier_shares = table["tier"].value_counts(normalize=True).to_dict()
    headline = {
        "quarter": quarter, "n_customers": int(len(table)), "mean_score": float(table["health_score"].mean()),
        "tier_shares": {k: float(v) for k, v in tier_shares.items()},
        "grade_shares": {str(k): float(v) for k, v in table["risk_grade"].value_counts(normalize=True).sort_index().items()},
        "weights": dict(zip(COMPONENT_NAMES, np.round(weights, 4).tolist())),
        "weights_source": "blend" if weight_model is not None else "rule",
        "blend": blend if weight_model is not None else 0.0, "outlook_share": rule.share, "smoothing_alpha": a,
        "window_quarters": span, "has_truth": labels is not None, **stab,
    }
    if evaluation is not None:
        headline.update({k: v for k, v in evaluation.items() if not isinstance(v, pd.DataFrame)})
        headline["adverse_by_tier"] = evaluation["by_tier"]["adverse_rate"].round(4).to_dict()
        headline["adverse_by_grade"] = {str(k): v for k, v in
                                        evaluation["by_grade"]["adverse_rate"].round(4).to_dict().items()}
    add_intervals(headline, {"stability_corr": stability_interval,
                             "mean_score": score_interval})
    run = HealthRun(quarter=quarter, inputs=inputs, previous=previous, previous_components=prev_comps,
                    components=comps, weights=weights, weight_model=weight_model,
                    risk_model=risk_model, table=table, labels=labels, roles=roles, evaluation=evaluation,
                    headline=headline, rule=rule)
    return run.finish(laps, save_artifacts if save else None)


def describe_run(run: HealthRun) -> str:
    h = run.headline
    shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in h["tier_shares"].items())
    source = (f"다음 분기 결과로 보정한 가중치(보정 몫 {h['blend']:.0%})" if h["weights_source"] == "blend"
              else "규칙 가중치(실제 자료에는 다음 분기 결과가 없어 보정할 수 없습니다)")
    blend = (f" 점수는 구성 요소 점수 {1 - h['outlook_share']:.0%}와 위험 모델의 전망 {h['outlook_share']:.0%}를 섞어, 연속한 최근 "
             f"{h['window_quarters']}개 분기를 이번 분기의 규칙으로 매겨 평균했습니다(이번 분기 가중치 {h['smoothing_alpha']:g})."
             if h.get("outlook_share") else "")
    return (f"{run.quarter} 고객 {h['n_customers']:,}명의 소비 건강 점수를 {source}로 계산했습니다.{blend} 평균 {h['mean_score']:.1f}점, "
            f"등급 구성 {shares}. 계산 {run.seconds.get('scoring', 0):.1f}초.")


def worked_examples(run: HealthRun, n: int = 3) -> pd.DataFrame:
    """The median customer of each tier (pseudonymous labels): score, tier, grade, components, reason."""
    t = run.table
    picked = []
    for tier, _ in TIERS:
        rows = t.index[t["tier"] == tier]
        if len(rows):
            order = t.loc[rows, "health_score"].sort_values(kind="stable").index
            picked.append(order[len(order) // 2])
    picked = picked[:n]
    out = pd.DataFrame({"고객": pseudonyms(t.loc[picked, "SEQ"]), "점수": t.loc[picked, "health_score"].round(1),
                        "등급": t.loc[picked, "tier"], "또래 백분위": t.loc[picked, "peer_percentile"],
                        "위험 등급": t.loc[picked, "risk_grade"], "위험 확률": t.loc[picked, "risk_probability"],
                        **{COMPONENT_BY_NAME[c].title_ko: t.loc[picked, c].round(0) for c in COMPONENT_NAMES},
                        "이유": t.loc[picked, "reason"]})
    return out.reset_index(drop=True)


def fairness_sentence(run: HealthRun) -> str:
    """Korean sentences: the score gap by sex and by age band and the component behind each
    (when the score also holds the risk outlook, the components' own gap beside it)."""
    parts = []
    blended = "outlook" in run.table and run.table["outlook"].notna().any()
    for by, word in (("SEX_CD", "성별"), ("AGE", "연령대")):
        g = ev.fairness_gaps(run.inputs.frame, run.table["health_score"].to_numpy(), run.components, run.weights, by)
        if g["gap"] < 1:
            parts.append(f"{word}: 집단 간 평균 점수 차이가 {g['gap']:.1f}점으로 거의 없습니다.")
        elif blended:  # the score also holds the outlook and earlier quarters: the components explain their own part
            parts.append(f"{word}: {g['high']}의 평균 점수가 {g['low']}보다 {g['gap']:.1f}점 높습니다. 구성 요소 점수로는 "
                         f"{g['components_gap']:+.1f}점 차이이고, 그중 {g['component_points']:+.1f}점이 "
                         f"'{COMPONENT_BY_NAME[g['component']].title_ko}'에서 옵니다.")
        else:
            parts.append(f"{word}: {g['high']}의 평균 점수가 {g['low']}보다 {g['gap']:.1f}점 높고, 그중 "
                         f"{g['component_points']:+.1f}점이 '{COMPONENT_BY_NAME[g['component']].title_ko}'에서 옵니다.")
    return " ".join(parts) + " 성별은 입력이 아니므로 성별 차이는 모두 성별에 따라 다른 소비 패턴에서 옵니다."
