"""One quarter end to end: the function notebook 04 calls and ``make benchmark`` times.

data (this quarter beside each customer's past) → rules (statistics, thresholds) →
estimator (Isolation Forest on the rules' one-sided statistics) → combined ranking →
reasons → evaluation against the planted truth and the observable yardstick
(:mod:`fipro.evaluation.yardstick`; synthetic data only) → artifacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional

import numpy as np
import pandas as pd

from fipro import config, contract
from fipro.modelrun import ModelRun
from fipro.privacy import pseudonyms
from fipro.timing import Laps
from fipro.anomaly import rules
from fipro.anomaly.artifacts import save_artifacts
from fipro.anomaly.data import MODEL_NAME, AnomalyInputs, load_inputs
from fipro.anomaly.estimator import DEFAULT_PARAMS, OneSidedIsolationForest, fit_anomaly, model_inputs
from fipro.anomaly.evaluation import (AnomalyEvaluation, Yardstick, evaluate, fit_yardstick, load_labels,
                                      yardstick_frames)
from fipro.anomaly.reasons import fired_names, model_pushes, reasons_for

FLAG_SHARE = 0.01   # the review list: the top 1% of the quarter (a review team's capacity, a parameter)
REVIEW_N = 50       # rows of the review table the notebook shows
FIT_ROWS = 100_000  # the forest draws 2,048 rows per tree; a sample bounds the fit's memory at full scale


@dataclass(kw_only=True)
class AnomalyRun(ModelRun):
    """Everything one quarter's run produced (what notebook 04 shows)."""

    model_name: ClassVar[str] = MODEL_NAME

    inputs: AnomalyInputs
    stats: pd.DataFrame
    flags: pd.DataFrame
    X: pd.DataFrame
    model: OneSidedIsolationForest
    scores: dict
    table: pd.DataFrame
    thresholds: dict
    labels: Optional[pd.DataFrame]
    yardstick: Optional[Yardstick]
    evaluation: Optional[AnomalyEvaluation]

    def review_table(self, n: int = REVIEW_N) -> pd.DataFrame:
        """The top ``n`` of the ranking with their rules and reasons (pseudonymous labels)."""
        top = self.table.nsmallest(n, "rank")
        out = pd.DataFrame({"순위": top["rank"].to_numpy(), "고객": pseudonyms(top["SEQ"]),
                            "점수": top["score"].round(2).to_numpy(), "규칙": top["rules"].to_numpy(),
                            "이유": top["reason"].to_numpy()})
        if self.labels is not None:
            out["심어 둔 이상"] = self.labels["anomaly_type"].to_numpy()[top.index.to_numpy()]
        return out.reset_index(drop=True)


def combined_score(rule_score: np.ndarray, model_score: np.ndarray) -> np.ndarray:
    """Rules and model together: the sum of their surprisals (Fisher's method on empirical p-values).

    Each part becomes its upper-tail share in the quarter, so neither part's scale
    matters, and a customer high on both outranks one high on a single part.
    """
    return rules.surprisal(rule_score) + rules.surprisal(model_score)


def _yardstick(quarter: str, seq: np.ndarray, *, seed: int, n_jobs: Optional[int]) -> Optional[Yardstick]:
    frames = yardstick_frames(quarter, seq, seed=seed)
    return fit_yardstick(frames, quarter, seed=seed, n_jobs=n_jobs) if frames else None


def score_inputs(inputs: AnomalyInputs, *, thresholds: Mapping[str, float], flag_share: float = FLAG_SHARE,
                 fit_rows: int = FIT_ROWS, params: Optional[Mapping] = None, seed: Optional[int] = None,
                 n_jobs: Optional[int] = None, laps: Optional[Laps] = None) -> dict:
    """Rules, model, combined ranking and reasons for one quarter's inputs (no files read or written).

    The forest is fitted on the rows in ``SEQ`` order, so the scores and the ranking do
    not depend on the order the rows come in. ``laps``: record the steps' seconds there.
    """
    seed = config.RANDOM_SEED if seed is None else seed
    laps = laps if laps is not None else Laps()
    stats = rules.rule_statistics(inputs)
    flags = rules.fired(stats, thresholds)
    laps.lap("rules")
    seq = inputs.frame["SEQ"].astype(str).to_numpy()
    X = model_inputs(stats)
    model = fit_anomaly(X.iloc[np.argsort(seq, kind="stable")], params, fit_rows=fit_rows, seed=seed, n_jobs=n_jobs)
    s_model = model.anomaly_score(X)
    laps.lap("model")
    s_rules = rules.rule_score(stats)
    score = combined_score(s_rules, s_model)
    rank = rules.ranking(score, seq)
    flagged = rank <= max(1, math.ceil(flag_share * len(score)))
    rules_column = fired_names(flags)
    explained = np.flatnonzero(flagged | (rank <= REVIEW_N))
    reason = reasons_for(explained, stats, rules_column, model_pushes(model, X.iloc[explained]))
    table = pd.DataFrame({"BAS_YH": inputs.frame["BAS_YH"].to_numpy(), "SEQ": seq, "score": score, "rank": rank,
                          "flagged": flagged, "rules": rules_column, "reason": reason})
    laps.lap("rank_and_reasons")
    return {"stats": stats, "flags": flags, "X": X, "model": model, "rules": s_rules, "model_score": s_model,
            "table": table}


def run_quarter(quarter: str, *, thresholds: Optional[Mapping[str, float]] = None, flag_share: float = FLAG_SHARE,
                fit_rows: int = FIT_ROWS, params: Optional[Mapping] = None, truth: bool = True,
                save: bool = True, seed: Optional[int] = None, n_jobs: Optional[int] = None) -> AnomalyRun:
    """Score, explain, evaluate (on synthetic data) and (``save``) record one quarter.

    ``truth=False`` skips the comparison with the truth file even where one exists
    (what a real file gets).
    """
    seed = config.RANDOM_SEED if seed is None else seed
    if not 0 < flag_share < 1:
        raise ValueError(f"flag_share must be in (0, 1), got {flag_share!r}")
    thresholds = {**rules.DEFAULT_THRESHOLDS, **dict(thresholds or {})}
    unknown = set(thresholds) - set(rules.RULE_NAMES)
    if unknown:
        raise KeyError(f"unknown rules in thresholds: {sorted(unknown)}; rules: {rules.RULE_NAMES}")
    laps = Laps()
    inputs = load_inputs(quarter)
    laps.lap("load")
    scored = score_inputs(inputs, thresholds=thresholds, flag_share=flag_share, fit_rows=fit_rows, params=params,
                          seed=seed, n_jobs=n_jobs, laps=laps)
    stats, flags, X, model, table = scored["stats"], scored["flags"], scored["X"], scored["model"], scored["table"]
    laps.since_start("scoring")  # load + rules + model + ranking: the scale target
    seq, score, flagged = table["SEQ"].to_numpy(), table["score"].to_numpy(), table["flagged"].to_numpy()
    s_rules, s_model = scored["rules"], scored["model_score"]

    labels = load_labels(quarter, seq) if truth else None
    yard, ev = None, None
    scores = {"rules": s_rules, "model": s_model, "combined": score}
    if labels is not None:
        yard = _yardstick(quarter, seq, seed=seed, n_jobs=n_jobs)
        ev = evaluate(labels, scores, yard, quarter, seed=seed)
    laps.lap("evaluate")
    headline = {
        "quarter": quarter, "n_customers": int(len(table)), "n_flagged": int(flagged.sum()),
        "flag_share": float(flagged.mean()), "rule_counts": {r: int(flags[r].sum()) for r in rules.RULE_NAMES},
        "n_any_rule": int(flags.any(axis=1).sum()), "n_flagged_with_rule": int((flagged & flags.any(axis=1).to_numpy()).sum()),
        "n_peer_baseline": int((stats["baseline"] == "peers").sum()), "thresholds": dict(thresholds),
        "params": {**DEFAULT_PARAMS, **dict(params or {})}, "fit_rows": int(min(fit_rows, len(X))),
        "has_truth": labels is not None,
        # the yardstick's share is a goal only where the customers have an earlier quarter
        "has_history_truth": labels is not None and bool((inputs.frame["n_prev_active"] > 0).any()),
        **(ev.headline if ev is not None else {}),
    }
    run = AnomalyRun(quarter=quarter, inputs=inputs, stats=stats, flags=flags, X=X, model=model, scores=scores,
                     table=table, thresholds=thresholds, labels=labels, yardstick=yard, evaluation=ev,
                     headline=headline)
    return run.finish(laps, save_artifacts if save else None)


def describe_run(run: AnomalyRun) -> str:
    """A Korean paragraph: who was scored, against which baseline, what was flagged, how long it took."""
    h = run.headline
    peers = h["n_peer_baseline"]
    return (f"{run.quarter} 고객 {h['n_customers']:,}명을 모두 점수로 순위 매기고 상위 {100 * h['flag_share']:.1f}% "
            f"{h['n_flagged']:,}명을 검토 대상으로 표시했습니다. 검토 대상 중 {h['n_flagged_with_rule']:,}명은 규칙이 "
            f"하나 이상 발동했고, 나머지는 여러 신호가 함께 높아 모델과 결합 점수로 올라왔습니다. 이전 분기 이용 기록이 없는 "
            f"{peers:,}명({100 * peers / max(h['n_customers'], 1):.1f}%)은 본인 대신 같은 라이프스테이지·연령대 또래와 "
            f"비교했습니다. 점수 계산 {run.seconds.get('scoring', 0):.1f}초, "
            f"정답 대비 평가 {run.seconds.get('evaluate', 0):.1f}초.")


def _amounts(values: pd.Series) -> list:
    """Raw amounts (천원) as a person reads them (``contract.format_amount``); empty where missing."""
    return [contract.format_amount(v) if pd.notna(v) else "" for v in values]


def worked_examples(run: AnomalyRun, n: int = 3) -> pd.DataFrame:
    """``n`` flagged customers, each with a different first rule where possible (pseudonymous labels)."""
    flagged = run.table[run.table["flagged"]].sort_values("rank")
    picked, seen = [], set()
    for idx, rules_fired in zip(flagged.index, flagged["rules"]):
        first = rules_fired.split(",")[0] if rules_fired else "model"
        if first not in seen:
            picked.append(idx)
            seen.add(first)
        if len(picked) == n:
            break
    for idx in flagged.index:  # fill up when fewer kinds than n
        if len(picked) == n:
            break
        if idx not in picked:
            picked.append(idx)
    s = run.stats.loc[picked]
    out = pd.DataFrame({"고객": pseudonyms(run.table.loc[picked, "SEQ"]),
                        "순위": run.table.loc[picked, "rank"].to_numpy(),
                        "비교 기준": np.where(s["baseline"] == "own", "본인 이전 분기", "또래"),
                        "이번 분기 총액": _amounts(run.inputs.frame.loc[picked, "total"]),
                        "평소 총액": _amounts(s["usual_total"]),
                        "발동 규칙": run.table.loc[picked, "rules"].to_numpy(),
                        "이유": run.table.loc[picked, "reason"].to_numpy()})
    if run.labels is not None:
        out["심어 둔 이상"] = run.labels.loc[picked, "anomaly_type"].to_numpy()
    return out.reset_index(drop=True)
