"""Thresholds, alerts and their Korean sentences for the drift measures of :mod:`fipro.drift`,
and the check of the alerts against the stand-in's planted changes.

Thresholds from the data (:func:`thresholds`)
---------------------------------------------
Two samples from one distribution give ``PSI ≈ χ²(B − 1) · (1/n_p + 1/n_q)`` (B bins): the
*noise* of a measure, known from its bins and counts. Real quarters vary more than two random
samples do (customers age, move between life stages, spend with the season), so each kind of
measure (population, presence, categories, families, outputs, data quality) gets an
over-dispersion factor ``φ`` = the median, over its subjects and over every quarter pair up to
``q`` (the earlier ones read from their saved drift tables), of ``PSI / E[noise PSI]`` among the
rows that do not alert under that ``φ`` (:func:`stable_median`), and at least 1: the
quarter-to-quarter variation of the *stable* subjects. A plain median would be that only while
fewer than half of a kind's subjects move; on the stand-in the seasons move about half of the
45 amount columns every quarter (their upper categories and the totals with them), and the
plain median, taken among the moving columns, raised the thresholds by the very changes they
are meant to catch (φ 3.2 instead of 1.2 in the first compared quarter). A measure alerts when
its PSI exceeds ``φ`` times the 99.9% quantile of its noise (:data:`fipro.drift.NOISE_QUANTILE`); severity
is ``높음`` from twice the threshold. The values used are saved in every row (``threshold``,
``phi``). A quarter compared with itself has PSI 0 and never alerts. Decay alerts when the
refit beats the previous quarter's model by more than :data:`fipro.decay.DECAY_Z` standard errors of the
gap (a seeded paired bootstrap over the held-out customers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from fipro import contract, datasets
from fipro.text_ko import particle

if TYPE_CHECKING:  # the run is made by fipro.drift, which imports this module
    from fipro.drift import DriftRun

SEVERE_FACTOR = 2.0
KINDS_KO = {"input": "입력", "output": "출력", "decay": "성능 저하", "data quality": "데이터 품질"}
SEVERITY_KO = ("주의", "높음")
# the pools within which the over-dispersion factor is estimated
GROUPS_KO = {"population": "고객 구성", "presence": "신규·이탈", "category": "업종 금액", "family": "피처 묶음",
             "lifestage": "라이프스테이지 모델", "segments": "세그먼트", "health": "건강·위험 점수",
             "anomaly": "이상 탐지", "recommend": "추천", "data quality": "데이터 품질"}
ALERT_COLUMNS = ("BAS_YH", "kind", "kind_ko", "group", "subject", "subject_ko", "measure", "value", "threshold", "severity",
                 "sentence_ko")


# --- thresholds and alerts ------------------------------------------------------------------------

def pool_of(frame: pd.DataFrame) -> pd.Series:
    """The pool a row's over-dispersion factor is estimated in: the group for inputs and data
    quality (many subjects vary alike), the measure itself for model outputs (each has its own
    quarter-to-quarter variation)."""
    return np.where(frame["kind"] == "output", frame["group"].astype(str) + ":" + frame["subject"].astype(str),
                    frame["group"].astype(str)).astype(str)


# an output measure needs this many quarter pairs of its own before its own variation sets its
# threshold; until then it borrows the median of every output measure
MIN_OWN_HISTORY = 3


def stable_median(ratio: np.ndarray, limit: np.ndarray, iterations: int = 100) -> float:
    """The median of ``ratio`` (``PSI / E[noise PSI]``) over the rows that would not alert under
    it (``ratio ≤ max(φ, 1) × limit``, ``limit`` = each row's ``noise_q / noise_mean``): start from
    the median of all rows, drop the rows above the threshold it gives, take the median again,
    until it settles (it only falls, the rows kept only shrink). Rows that move less than the
    threshold stay, so a pool where every subject varies alike keeps its median.

    >>> stable_median(np.array([1.0, 1.0, 1.2, 9.0, 10.0]), np.full(5, 3.0))  # two moved subjects of five
    1.0
    """
    ratio, limit = np.asarray(ratio, dtype=np.float64), np.asarray(limit, dtype=np.float64)
    if not len(ratio):
        return float("nan")
    phi = float(np.median(ratio))
    for _ in range(iterations):
        keep = ratio <= max(phi, 1.0) * limit
        new = float(np.median(ratio[keep])) if keep.any() else phi
        if new == phi:
            break
        phi = new
    return phi


def thresholds(current: pd.DataFrame, earlier: Sequence[pd.DataFrame] = ()) -> pd.DataFrame:
    """``current`` with ``phi`` (the over-dispersion of its pool, :func:`stable_median` over the
    pool's rows of this and the ``earlier`` quarters' drift tables, at least 1) and ``threshold`` (``phi`` times
    the row's noise quantile; decay: :data:`fipro.decay.DECAY_Z` standard errors). An output measure with
    fewer than :data:`MIN_OWN_HISTORY` values uses the median of all output measures. Rows
    without a noise model (segment migration, a share) get no threshold."""
    out = current.copy()
    pooled = pd.concat([*[e for e in earlier if e is not None and len(e)], current], ignore_index=True)
    pooled = pooled[(pooled["kind"] != "decay") & (pooled["noise_mean"] > 0) & pooled["value"].notna()]
    ratio = (pooled["value"] / pooled["noise_mean"]).to_numpy()
    limit = (pooled["noise_q"] / pooled["noise_mean"]).to_numpy()
    pools = pool_of(pooled)
    median = pd.Series({k: stable_median(ratio[pools == k], limit[pools == k]) for k in np.unique(pools)}, dtype=float)
    size = pd.Series(pools).value_counts()
    outputs = pooled["kind"].to_numpy() == "output"
    all_outputs = stable_median(ratio[outputs], limit[outputs]) if outputs.any() else 1.0
    keys = pd.Series(pool_of(out), index=out.index)
    phi = keys.map(median)
    short = (out["kind"] == "output") & (keys.map(size).fillna(0) < MIN_OWN_HISTORY)
    phi[short] = all_outputs
    out["phi"] = np.where(out["kind"] == "decay", 1.0, phi.fillna(1.0).clip(lower=1.0))
    out["threshold"] = out["phi"] * out["noise_q"]
    return out


def alert_sentence(row: Mapping) -> str:
    """The Korean sentence of one alert."""
    what = row["subject_ko"]
    detail = f" ({row['detail_ko']})" if row.get("detail_ko") else ""
    if row["kind"] == "decay":
        return (f"{what}: 전분기에 저장한 모델이 이번 분기 자료에서 재학습 모델보다 {row['value']:.3f} 낮습니다"
                f"(기준 {row['threshold']:.3f}){detail}. 모델이 낡았을 수 있으니 재학습 결과를 쓰세요.")
    kind = KINDS_KO[row["kind"]]
    return (f"[{kind}] {particle(what, '이/가')} 전분기({row['previous']}) 대비 평소보다 크게 바뀌었습니다: PSI {row['value']:.4f}, "
            f"기준 {row['threshold']:.4f}{detail}.")


def alerts_of(table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose value exceeds their threshold, as alerts (:data:`ALERT_COLUMNS`), strongest first."""
    if not len(table) or "threshold" not in table:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    fired = table[table["threshold"].notna() & (table["value"] > table["threshold"])].copy()
    if not len(fired):
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    fired["severity"] = np.where(fired["value"] > SEVERE_FACTOR * fired["threshold"], SEVERITY_KO[1], SEVERITY_KO[0])
    fired["kind_ko"] = fired["kind"].map(KINDS_KO)
    fired["sentence_ko"] = [alert_sentence(r) for r in fired.to_dict("records")]
    fired["strength"] = fired["value"] / fired["threshold"]
    order = {k: i for i, k in enumerate(KINDS_KO)}
    fired = fired.assign(_k=fired["kind"].map(order)).sort_values(["_k", "strength"], ascending=[True, False])
    return fired[list(ALERT_COLUMNS)].reset_index(drop=True)


def drift_table_ko(table: pd.DataFrame) -> pd.DataFrame:
    """The drift table with Korean headings, for the notebook and the site."""
    if not len(table):
        return pd.DataFrame(columns=["종류", "묶음", "대상", "값", "기준", "경보", "설명"])
    fired = table["threshold"].notna() & (table["value"] > table["threshold"])
    return pd.DataFrame({"종류": table["kind"].map(KINDS_KO), "묶음": table["group"].map(GROUPS_KO).fillna(table["group"]),
                         "대상": table["subject_ko"], "값": table["value"].round(4),
                         "기준": table["threshold"].round(4), "경보": np.where(fired, "●", ""),
                         "설명": table["detail_ko"]})


def describe_run(run: DriftRun) -> str:
    """Korean Markdown: what was compared, how many measures and alerts, the thresholds' factors."""
    if not len(run.table):
        return f"{run.quarter}: 비교할 전분기가 없어(첫 분기) 변화를 재지 않았습니다."
    previous = str(run.table["previous"].iloc[0])
    counts = run.headline()["alerts_by_kind"]
    fired = ", ".join(f"{KINDS_KO[k]} {n}개" for k, n in counts.items() if n) or "없음"
    inputs = run.table[run.table["kind"].isin(["input", "data quality"])]
    phi = inputs.groupby(pool_of(inputs))["phi"].first()
    factors = ", ".join(f"{GROUPS_KO.get(k, k)} {v:.2f}" for k, v in phi.items()) + " (모델 출력은 측정값마다 따로)"
    return (f"{particle(run.quarter, '을/를')} {particle(previous, '과/와')} 비교했습니다: 측정값 {len(run.table)}개, 경보 {len(run.alerts)}개 ({fired}). "
            f"평소 변화 폭(우연 대비 배율 φ): {factors}. 측정에 {run.seconds.get('total', 0):.1f}초 걸렸습니다.")


def describe_decay(table: pd.DataFrame) -> str:
    """Korean Markdown, one line per decay row: the previous quarter's model on this quarter (with
    its 95% interval) beside this quarter's refit, and whether the gap passes its threshold."""
    rows = table[table["kind"] == "decay"] if len(table) else table
    if not len(rows):
        return ("시간 검증을 하지 않았습니다: 첫 분기이거나, 전분기에 저장된 모델이 없거나, 전분기 모델이 "
                "이번 분기 자료까지 함께 학습했습니다(작은 자료의 첫 분기).")
    lines = []
    for r in rows.itertuples(index=False):
        interval = (f" (95% 구간 {r.previous_lo:.3f}–{r.previous_hi:.3f})"
                    if "previous_lo" in rows and pd.notna(r.previous_lo) else "")
        limit = getattr(r, "threshold", np.nan)
        verdict = ("재학습이 기준보다 크게 앞서 성능 저하 경보입니다" if pd.notna(limit) and r.value > limit
                   else "차이가 기준 안이라 전분기 모델도 그대로 쓸 수 있습니다")
        lines.append(f"- {r.subject_ko}: {r.previous}에 저장된 모델 {r.previous_metric:.3f}{interval}, "
                     f"이번 분기 재학습 {r.current_metric:.3f} (차이 {r.value:+.3f}, 평가 {int(r.n_current):,}행): {verdict}.")
    return "\n".join(lines)


# --- validation against planted changes --------------------------------------------------------

# feature families computed from the amounts: a change in one category legitimately moves them
AMOUNT_FAMILIES: tuple[str, ...] = ("share_upper", "share_detail", "card_mix", "essential", "diversity", "change")


def related_subjects(columns: Sequence[str]) -> set[str]:
    """Input subjects a change in the amount ``columns`` legitimately moves: the columns, their
    upper categories, the totals and the families computed from amounts."""
    if not len(columns):
        return set()
    parents = {contract.COLUMN_BY_NAME[c].parent for c in columns if c in contract.COLUMN_BY_NAME}
    return {*columns, *(p for p in parents if p), *contract.TOTAL_COLUMNS, *AMOUNT_FAMILIES}


def planted_scores(alerts: pd.DataFrame, planted: pd.DataFrame, *, detect: float = 0.1,
                   real: float = 0.05) -> dict:
    """Precision and recall of the input alerts on planted category changes.

    ``planted``: ``quarter``, ``column``, ``shift`` (e.g. :func:`fipro.synth.shifts.planted_category_shifts`).
    A planted change of at least ``detect`` (in log amount and use logit) should fire its
    column's alert (recall); an input alert is right when it names a column with a planted
    change of at least ``real`` in its quarter or a subject related to one
    (:func:`related_subjects`), wrong otherwise (precision). Only quarters in ``planted`` count.
    """
    quarters = set(planted["quarter"])
    fired = alerts[(alerts["kind"] == "input") & alerts["BAS_YH"].isin(quarters)]
    fired_keys = set(zip(fired["BAS_YH"], fired["subject"]))
    positives = planted[planted["shift"].abs() >= detect]
    found = [(q, c) in fired_keys for q, c in zip(positives["quarter"], positives["column"])]
    real_by_q = {q: related_subjects(list(g.loc[g["shift"].abs() >= real, "column"]))
                 for q, g in planted.groupby("quarter")}
    right = [s in real_by_q.get(q, set()) for q, s in zip(fired["BAS_YH"], fired["subject"])]
    return {"precision": float(np.mean(right)) if right else float("nan"),
            "recall": float(np.mean(found)) if found else float("nan"),
            "n_alerts": int(len(right)), "n_right": int(np.sum(right)), "n_planted": int(len(found)),
            "n_found": int(np.sum(found)),
            "missed": [f"{q} {c}" for (q, c), f in zip(zip(positives["quarter"], positives["column"]), found) if not f],
            "wrong": [f"{q} {s}" for q, s, r in zip(fired["BAS_YH"], fired["subject"], right) if not r]}


def planted_check(quarter: str, alerts: pd.DataFrame, detect: float = 0.1) -> Optional[pd.DataFrame]:
    """On the stand-in: the generator's planted category changes of at least ``detect`` into
    ``quarter`` (:func:`fipro.synth.shifts.planted_category_shifts`, with the generator rows they
    come from) and whether each fired its alert; ``None`` on real data."""
    raw = datasets.raw_file()
    if raw is None or not datasets.is_synthetic(raw):
        return None
    from fipro.synth.shifts import planted_category_shifts  # the generator's tables: stand-in only

    planted = planted_category_shifts(datasets.available_quarters())
    planted = planted[(planted["quarter"] == quarter) & (planted["shift"].abs() >= detect)]
    fired = set(alerts.loc[alerts["kind"] == "input", "subject"]) if len(alerts) else set()
    return pd.DataFrame({"업종": [contract.label(c) for c in planted["column"]],
                         "심어 둔 변화(로그)": planted["shift"].to_numpy(),
                         "생성기 행": planted["rows"].to_numpy(),
                         "경보": np.where(planted["column"].isin(fired), "●", "놓침")})
