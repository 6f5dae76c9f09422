"""Drift and decay between consecutive quarters, and the alerts they raise.

Where it runs: its own notebook, ``notebooks/08_drift.ipynb``, one per quarter, not a section
of the summary step. The summary step (``make reports``) rewrites every quarter on every run
and has no staleness of its own, while drift reads the quarter's and the previous quarter's
saved model outputs, features and history states and scores the previous quarter's saved
models on this quarter (decay): a per-quarter file target lets ``make`` re-run it only when
those change (its notebooks, its code stamp, the previous quarter's drift table), like every
other per-quarter step, and gives the measures an executed notebook with figures. The summary
and the site only read what it saved (``outputs/<q>/drift.parquet``, ``alerts.parquet``).

What is measured, quarter ``q`` against the previous quarter ``p`` (:func:`measure_quarter`)
--------------------------------------------------------------------------------------------
``input``
    the population mix (age band, sex, region group, life stage, grade), the share of
    customers new this quarter and gone since ``p`` (from the history states, which know
    presence), each amount column (``log_<column>`` of the feature contract: 45 subjects, so
    a change in one category names that category) and each other feature family of the
    contract (:data:`FAMILY_SUBJECTS`, the family's largest PSI and the feature that has it).
``output``
    the predicted life-stage mix, segment sizes and migration (the share of customers of both
    quarters whose segment changed), the health tier and risk grade mix, the anomaly flag
    rate and rule mix, the most recommended first cards' shares.
``decay``
    where labels exist: the life-stage model of ``p`` scored on ``q``'s held-out customers
    beside ``q``'s refit (macro-F1), and on the stand-in the health risk model of ``p`` beside
    ``q``'s (AUC of the next-quarter adverse outcome). Bounded: at most :data:`fipro.decay.DECAY_ROWS`
    held-out rows (a seeded draw), so the cost does not grow with the quarter.
``data quality``
    rejected rows, missing values, duplicate keys and zero-total rows as shares.

Every distribution is compared by the population stability index
``PSI = Σ (q_i − p_i) ln(q_i / p_i)`` over bins fixed on the *reference quarter* (the first
ingested one: deciles of each numeric feature, a bin for a point mass such as 0 and one for
missing values; the codes of a categorical column), and every rate by the same index over two
bins (in, out).

Thresholds and alerts: :mod:`fipro.alerts` (the noise of each measure times its pooled
quarter-to-quarter over-dispersion); decay: :mod:`fipro.decay`. :func:`run_quarter` (the step of
notebook 08) measures, sets the thresholds, raises the alerts and saves both tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fipro import contract, datasets
from fipro.alerts import KINDS_KO, alerts_of, pool_of, thresholds
from fipro.decay import decay_measures, decay_metrics
from fipro.export import write_parquet_atomic
from fipro.features import spec as feature_spec

N_BINS = 10
EDGE_SAMPLE = 200_000
NOISE_QUANTILE = 0.999
TOP_CARDS = 10
# a count added to every bin so that an empty bin gives a finite PSI (half a customer)
SMOOTHING = 0.5

POPULATION_COLUMNS: tuple[str, ...] = ("AGE", "SEX_CD", "REGION_GROUP", "LIFE_STAGE", "MBR_RK")
POPULATION_KO = {"AGE": "연령대 구성", "SEX_CD": "성별 구성", "REGION_GROUP": "지역(수도권·광역시·도) 구성",
                 "LIFE_STAGE": "라이프스테이지 구성(원자료)", "MBR_RK": "회원등급 구성"}
# feature families judged as a whole (log amounts are judged per column, the label is no input)
FAMILY_SUBJECTS: tuple[str, ...] = tuple(f for f in feature_spec.FAMILIES if f not in ("log_amount", "label"))
FAMILY_KO = {"share_upper": "상위 업종 비중", "share_detail": "세부 업종 비중", "card_mix": "신용·체크 구성",
             "essential": "필수·선택 소비 구성", "diversity": "지출 다양성", "change": "분기 간 증감 피처",
             "quality": "이용 실적 없음", "tenure": "가입 기간", "digital": "디지털 채널", "demographic": "인구통계 특성"}
OUTPUT_GROUPS = ("lifestage", "segments", "health", "anomaly", "recommend")
DRIFT_COLUMNS = ("BAS_YH", "previous", "kind", "group", "subject", "subject_ko", "measure", "value", "noise_mean",
                 "noise_q", "n_previous", "n_current", "detail_ko",
                 # decay rows only (fipro.decay.decay_metrics): the two models' metrics, the previous one's interval
                 "previous_metric", "current_metric", "previous_lo", "previous_hi")


# --- the index ------------------------------------------------------------------------------

def fit_edges(reference: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Inner bin edges of a numeric column fixed on the reference quarter's values: its
    quantiles (NaN ignored), duplicates merged, so a point mass (e.g. all the zeros) is one bin.

    >>> fit_edges(np.array([0, 0, 0, 0, 0, 0, 3, 4.0]), 4).tolist()  # six zeros: one bin up to 0
    [0.0, 0.75]
    """
    values = np.asarray(reference, dtype=np.float64)
    if len(values) > EDGE_SAMPLE:
        # evenly spaced rows (no draw, so no seed): the deciles of 200k rows are those of 673k
        # to a fraction of a bin, at a fraction of the sorting
        values = values[np.linspace(0, len(values) - 1, EDGE_SAMPLE).astype(np.int64)]
    values = values[np.isfinite(values)]
    if not len(values):
        return np.array([])
    return np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of ``edges`` (``len(edges) + 1`` bins, right-closed) and a last bin for NaN."""
    x = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(edges, x, side="left")  # NaN sorts last: index len(edges), fixed below
    missing = np.isnan(x)
    if missing.any():
        idx[missing] = len(edges) + 1
    return np.bincount(idx, minlength=len(edges) + 2)


def psi(previous: np.ndarray, current: np.ndarray, smoothing: float = SMOOTHING) -> float:
    """Population stability index between two count vectors over the same bins.

    Bins empty in both are dropped; ``smoothing`` is added to every other bin's counts.

    >>> float(psi(np.array([50, 50]), np.array([50, 50])))
    0.0
    >>> round(psi(np.array([50, 50]), np.array([25, 75])), 4)
    0.2687
    """
    a, b = np.asarray(previous, dtype=np.float64), np.asarray(current, dtype=np.float64)
    keep = (a + b) > 0
    a, b = a[keep] + smoothing, b[keep] + smoothing
    pa, pb = a / a.sum(), b / b.sum()
    return float(np.sum((pb - pa) * np.log(pb / pa)))


def noise(previous: np.ndarray, current: np.ndarray, quantile: float = NOISE_QUANTILE) -> tuple[float, float]:
    """Mean and ``quantile`` of the PSI of two samples of these sizes from one distribution over
    these bins: ``χ²(B − 1) · (1/n_p + 1/n_q)`` with B the bins used by either."""
    a, b = np.asarray(previous), np.asarray(current)
    used = int(((a + b) > 0).sum())
    df = max(used - 1, 1)
    scale = 1.0 / max(a.sum(), 1) + 1.0 / max(b.sum(), 1)
    return float(df * scale), float(stats.chi2.ppf(quantile, df) * scale)


def category_counts(previous: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """Counts of each value (missing as its own value) of two categorical columns, over the union."""
    a = previous.astype("object").where(previous.notna(), "<NA>").astype(str)
    b = current.astype("object").where(current.notna(), "<NA>").astype(str)
    levels = sorted(set(a.unique()) | set(b.unique()))
    return (a.value_counts().reindex(levels, fill_value=0).to_numpy(),
            b.value_counts().reindex(levels, fill_value=0).to_numpy(), levels)


def _row(kind: str, group: str, subject: str, subject_ko: str, measure: str, a: np.ndarray, b: np.ndarray,
         detail_ko: str = "") -> dict:
    mean, q = noise(a, b)
    return {"kind": kind, "group": group, "subject": subject, "subject_ko": subject_ko, "measure": measure,
            "value": psi(a, b), "noise_mean": mean, "noise_q": q, "n_previous": int(np.sum(a)),
            "n_current": int(np.sum(b)), "detail_ko": detail_ko}


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def rate_row(kind: str, group: str, subject: str, subject_ko: str, k_prev: int, n_prev: int, k_now: int,
             n_now: int) -> dict:
    """A rate compared as a two-bin distribution (in, out)."""
    detail = f"{_pct(k_prev / max(n_prev, 1), 2)} → {_pct(k_now / max(n_now, 1), 2)}"
    return _row(kind, group, subject, subject_ko, "psi_rate", np.array([k_prev, n_prev - k_prev]),
                np.array([k_now, n_now - k_now]), detail)


def mix_row(kind: str, group: str, subject: str, subject_ko: str, previous: pd.Series, current: pd.Series,
            labels: Optional[Mapping[str, str]] = None) -> dict:
    """A categorical mix compared by PSI; the detail names the value whose share moved most."""
    a, b, levels = category_counts(previous, current)
    pa, pb = a / max(a.sum(), 1), b / max(b.sum(), 1)
    i = int(np.argmax(np.abs(pb - pa))) if len(levels) else 0
    name = (labels or {}).get(levels[i], levels[i]) if len(levels) else ""
    detail = f"가장 크게 움직인 값 {name}: {_pct(pa[i])} → {_pct(pb[i])}" if len(levels) else ""
    return _row(kind, group, subject, subject_ko, "psi_mix", a, b, detail)


# --- inputs -------------------------------------------------------------------------------------

def population_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The population-mix columns of a quarter table (region as its three-way group)."""
    out = pd.DataFrame({c: table[c].astype("object") for c in POPULATION_COLUMNS if c in table and c != "REGION_GROUP"})
    out["REGION_GROUP"] = table["HOUS_SIDO_NM"].astype("object").map(contract.SIDO_GROUP)
    return out


def _code_labels(column: str) -> dict:
    if column == "REGION_GROUP":
        return dict(contract.REGION_GROUP_KO)
    return dict(contract.CODE_TABLES.get(column, {}))


def category_detail(column: str, previous: np.ndarray, current: np.ndarray) -> str:
    """Users' share and mean amount per user (천원 → 원/만원), previous → current."""
    def summary(x: np.ndarray) -> tuple[float, float]:
        x = np.asarray(x, dtype=np.float64)
        used = x > 0
        return float(used.mean()) if len(x) else 0.0, float(x[used].mean()) if used.any() else 0.0

    (ua, ma), (ub, mb) = summary(previous), summary(current)
    return (f"이용 고객 {_pct(ua)} → {_pct(ub)}, 이용 고객 1인당 "
            f"{contract.format_amount(ma)} → {contract.format_amount(mb)}")


# features that grow with time for every customer: the previous quarter's values are moved on
# by the months between the quarters before they are compared
AGEING_FEATURES: tuple[str, ...] = ("tenure_months",)


def quarter_months(previous: pd.DataFrame, current: pd.DataFrame) -> int:
    """Months between the quarters of two feature frames (``BAS_YH``), 0 when unknown."""
    try:
        a, b = str(previous["BAS_YH"].iloc[0]), str(current["BAS_YH"].iloc[0])
        return 3 * ((int(b[:4]) - int(a[:4])) * 4 + int(b[5]) - int(a[5]))
    except (KeyError, IndexError, ValueError):
        return 0


def input_measures(reference: pd.DataFrame, previous: pd.DataFrame, current: pd.DataFrame,
                   tables: tuple[pd.DataFrame, pd.DataFrame]) -> list[dict]:
    """Input rows: population mix, every amount column and every other feature family.

    ``reference``, ``previous``, ``current``: feature frames (:func:`fipro.features.load_features`)
    of the reference quarter, ``p`` and ``q``; ``tables``: the quarter tables of ``p`` and ``q``
    (population columns and amounts).
    """
    rows = []
    pop_p, pop_q = population_frame(tables[0]), population_frame(tables[1])
    for c in POPULATION_COLUMNS:
        rows.append(mix_row("input", "population", c, POPULATION_KO[c], pop_p[c], pop_q[c], _code_labels(c)))
    for c in contract.AMOUNT_COLUMNS:
        name = f"log_{c}"
        edges = fit_edges(reference[name].to_numpy())
        a, b = bin_counts(previous[name].to_numpy(), edges), bin_counts(current[name].to_numpy(), edges)
        label = contract.label(c)
        rows.append(_row("input", "category", c, label if label.endswith("금액") else f"{label} 금액", "psi", a, b,
                         category_detail(c, tables[0][c].to_numpy(), tables[1][c].to_numpy())))
    months = quarter_months(previous, current)
    for family in FAMILY_SUBJECTS:
        best = None
        for name in feature_spec.feature_names("model", family):
            if name not in current or name not in previous:
                continue
            before = previous[name].to_numpy(dtype=np.float64)
            if not np.isfinite(before).any():
                continue  # structurally missing (quarter-on-quarter change of the first quarter): not comparable
            ref = reference[name].to_numpy(dtype=np.float64) if name in reference else before
            edges = fit_edges(ref if np.isfinite(ref).any() else before)
            # a stable population's tenure grows by the months between the quarters: compare with that
            before = before + (months if name in AGEING_FEATURES else 0)
            a, b = bin_counts(before, edges), bin_counts(current[name].to_numpy(), edges)
            row = _row("input", "family", family, FAMILY_KO.get(family, family), "psi_max", a, b,
                       f"가장 크게 바뀐 피처: {feature_spec.feature_label_ko(name)}")
            if best is None or row["value"] / row["noise_q"] > best["value"] / best["noise_q"]:
                best = row
        if best is not None:
            rows.append(best)
    return rows


def presence_measures(state_previous: Optional[pd.DataFrame], state_current: pd.DataFrame, previous: str,
                      current: str, before_previous: Optional[str]) -> list[dict]:
    """Shares of customers new this quarter and gone since the previous one, against the same
    shares a quarter earlier (from the history states of ``p`` and ``q``; none when ``p`` is the
    first quarter: everyone was new then)."""
    if state_previous is None or before_previous is None:
        return []

    def shares(state: pd.DataFrame, q: str, p: str) -> tuple[int, int, int, int]:
        present = state["last_quarter"].to_numpy() == q
        new = int((present & (state["first_quarter"].to_numpy() == q)).sum())
        gone = int((state["last_quarter"].to_numpy() == p).sum())
        # customers of p: those who left plus those present now and seen before (a customer back
        # after a gap counts too: the state keeps no quarter-by-quarter presence)
        n_p = gone + int((present & (state["first_quarter"].to_numpy() < q)).sum())
        return new, int(present.sum()), gone, n_p

    new_q, n_q, gone_q, _ = shares(state_current, current, previous)
    base_q = int((state_previous["last_quarter"].to_numpy() == previous).sum())  # exactly the customers of p
    new_p, n_p, gone_p, base_p = shares(state_previous, previous, before_previous)
    return [rate_row("input", "presence", "new", "이번 분기 신규 고객 비율", new_p, n_p, new_q, n_q),
            rate_row("input", "presence", "gone", "전분기 고객 중 이탈 비율", gone_p, base_p, gone_q, base_q)]


# --- outputs ------------------------------------------------------------------------------------

def _read(path, columns: Sequence[str], filters=None) -> Optional[pd.DataFrame]:
    """Columns of a saved table that exist today (a reader tolerant of renamed or added columns)."""
    import pyarrow.parquet as pq  # when a table is read: the site imports this module for its names

    if path is None or not path.exists():
        return None
    names = set(pq.read_schema(path).names)
    if filters is not None and not all(f[0] in names for f in filters):
        filters = None
    return pq.read_table(path, columns=[c for c in columns if c in names], filters=filters).to_pandas()


class ColumnReader:
    """A saved table read one column at a time (``name in reader``, ``reader[name]``): the input
    measures need every feature of three quarters but only one at a time, so at full scale
    (673k rows × 150 features) memory holds a few columns, never three whole feature tables."""

    def __init__(self, path):
        import pyarrow.parquet as pq  # see _read

        self._file = pq.ParquetFile(path)
        self._names = set(self._file.schema_arrow.names)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._names:
            raise KeyError(name)
        return self._file.read(columns=[name]).column(0).to_pandas()


def feature_columns(quarter: str):
    """The quarter's features as a :class:`ColumnReader` on the fresh cache (built first when stale)."""
    from fipro.features import cache  # the feature builder (scikit-learn) only when a quarter is measured

    if not cache.is_fresh(quarter):
        cache.load_features(quarter)
    return ColumnReader(datasets.features_path(quarter))


def saved_outputs(quarter: str) -> dict[str, Optional[pd.DataFrame]]:
    """The quarter's saved per-customer tables (``None`` for a model that has not run)."""
    return {
        "lifestage": _read(datasets.model_dir(quarter, "lifestage") / "predictions.parquet",
                           ["SEQ", "role", "LIFE_STAGE", "predicted", "probability"]),
        "segments": _read(datasets.model_dir(quarter, "segments") / "assignments.parquet",
                          ["SEQ", "segment", "segment_name"]),
        "health": _read(datasets.model_dir(quarter, "health") / "scores.parquet",
                        ["SEQ", "health_score", "tier", "risk_grade", "risk_probability", "reason"]),
        "anomaly": _read(datasets.model_dir(quarter, "anomaly") / "scores.parquet",
                         ["SEQ", "score", "flagged", "rules", "reason"]),
        # first-ranked rows only: the drift reads the first cards' shares, the notifications the first card
        "recommend": _read(datasets.recommendations_path(quarter),
                           ["SEQ", "product_id", "rank", "expected_monthly_benefit_won", "reason", "recommender"],
                           filters=[("rank", "==", 1)]),
    }


def first_cards(log: pd.DataFrame) -> pd.DataFrame:
    """Each customer's first-ranked card (the life-stage product rule is no card)."""
    cards = log[(log["rank"] == 1) & (log.get("recommender", pd.Series("", index=log.index)) != "life_stage_rule")]
    return cards.drop_duplicates("SEQ")


def segment_measures(previous: pd.DataFrame, current: pd.DataFrame) -> list[dict]:
    """Segment sizes and migration. Segments are fitted (and named) again every quarter, so a name
    need not mean the same group twice: each of this quarter's segments is matched to the previous
    quarter's segment that most of its returning customers came from, sizes are compared on the
    matched names, and a customer *migrated* when their previous segment is not the one their
    current segment was matched to."""
    a = previous[["SEQ", "segment_name"]].astype({"SEQ": str, "segment_name": str})
    b = current[["SEQ", "segment_name"]].astype({"SEQ": str, "segment_name": str})
    joined = a.merge(b, on="SEQ", suffixes=("_p", "_q"))
    if len(joined):
        cross = pd.crosstab(joined["segment_name_q"], joined["segment_name_p"])
        match = cross.idxmax(axis=1)
    else:
        match = pd.Series(dtype=str)
    mapped = b["segment_name"].map(match).fillna(b["segment_name"])
    rows = [mix_row("output", "segments", "sizes", "세그먼트 크기(전분기 세그먼트에 맞춘 이름)", a["segment_name"], mapped)]
    moved = int((joined["segment_name_p"] != joined["segment_name_q"].map(match)).sum()) if len(joined) else 0
    renamed = sorted(f"{q}→{p}" for q, p in match.items() if q != p)
    rows.append({"kind": "output", "group": "segments", "subject": "migration",
                 "subject_ko": "세그먼트 이동 비율(두 분기 모두 있는 고객)", "measure": "share",
                 "value": moved / max(len(joined), 1), "noise_mean": np.nan, "noise_q": np.nan,
                 "n_previous": int(len(joined)), "n_current": int(len(joined)),
                 "detail_ko": f"{len(joined):,}명 중 {moved:,}명이 다른 세그먼트로 이동"
                              + (f"; 이름이 바뀐 세그먼트 {', '.join(renamed)}" if renamed else "")})
    return rows


def output_measures(previous: Mapping[str, Optional[pd.DataFrame]], current: Mapping[str, Optional[pd.DataFrame]]
                    ) -> list[dict]:
    """Output rows from the saved tables of ``p`` and ``q`` (a model missing in either is skipped)."""
    rows = []

    def both(name: str, column: str) -> bool:
        return all(t is not None and column in t for t in (previous.get(name), current.get(name)))

    if both("lifestage", "predicted"):
        rows.append(mix_row("output", "lifestage", "predicted_mix", "예측 라이프스테이지 구성",
                            previous["lifestage"]["predicted"], current["lifestage"]["predicted"],
                            contract.LIFE_STAGE_CODES))
    if both("segments", "segment_name"):
        rows += segment_measures(previous["segments"], current["segments"])
    if both("health", "tier"):
        rows.append(mix_row("output", "health", "tier_mix", "건강 등급 구성", previous["health"]["tier"],
                            current["health"]["tier"]))
    if both("health", "risk_grade"):
        rows.append(mix_row("output", "health", "risk_grade_mix", "위험 등급 구성",
                            previous["health"]["risk_grade"].astype(str), current["health"]["risk_grade"].astype(str)))
    if both("anomaly", "flagged"):
        a, b = previous["anomaly"], current["anomaly"]
        rows.append(rate_row("output", "anomaly", "flag_rate", "이상 표시 비율", int(a["flagged"].sum()), len(a),
                             int(b["flagged"].sum()), len(b)))
        if "rules" in a and "rules" in b:
            def rule_list(t: pd.DataFrame) -> pd.Series:
                r = t.loc[t["flagged"].astype(bool), "rules"].fillna("").astype(str)
                r = r.str.split(",").explode().str.strip()
                return r.where(r != "", "model_only")
            rows.append(mix_row("output", "anomaly", "rule_mix", "이상 표시 규칙 구성", rule_list(a), rule_list(b)))
    if both("recommend", "product_id"):
        a, b = first_cards(previous["recommend"]), first_cards(current["recommend"])
        top = a["product_id"].value_counts().head(TOP_CARDS).index
        cap = lambda s: s.where(s.isin(top), "기타")  # noqa: E731 (one-line relabel)
        rows.append(mix_row("output", "recommend", "top_cards", f"1순위 추천 카드 점유(상위 {TOP_CARDS}개)",
                            cap(a["product_id"]), cap(b["product_id"])))
    return rows


# --- data quality ----------------------------------------------------------------------------------

def quality_measures(previous: Optional[Mapping], current: Optional[Mapping]) -> list[dict]:
    """Data-quality rates of ``data_quality.json`` of ``p`` and ``q`` (rejected, missing, duplicate
    keys, zero totals), each a two-bin PSI."""
    if not previous or not current:
        return []

    def counts(m: Mapping) -> dict[str, tuple[int, int]]:
        rows = int(m.get("rows") or 0)
        rejected = sum(int(v) for v in (m.get("rejects_this_quarter") or {}).values())
        zero = float((m.get("zero_share") or {}).get("TOT_USE_AM") or 0.0)
        missing = float(m.get("missing_share_max") or 0.0)
        return {"rejected": (rejected, rows + rejected), "duplicate_keys": (int(m.get("duplicate_keys") or 0), rows),
                "missing": (int(round(missing * rows)), rows), "zero_total": (int(round(zero * rows)), rows)}

    names = {"rejected": "거부된 행 비율", "duplicate_keys": "중복 키 비율", "missing": "결측이 가장 많은 열의 결측 비율",
             "zero_total": "총이용금액 0 이하 비율"}
    a, b = counts(previous), counts(current)
    return [rate_row("data quality", "data quality", k, names[k], *a[k], *b[k]) for k in names]


# --- one quarter -----------------------------------------------------------------------------------

def measure_quarter(quarter: str, *, previous: Optional[str] = None, decay: bool = True,
                    seed: Optional[int] = None) -> pd.DataFrame:
    """Every drift row of ``quarter`` against ``previous`` (default: the quarter before it among
    the ingested ones); an empty frame for the first quarter. ``previous=quarter`` compares the
    quarter with itself (every PSI is 0)."""
    # the history states and the saved metrics only when a quarter is measured (the site imports this module)
    from fipro import history
    from fipro.export import load_metrics

    quarters = datasets.available_quarters()
    if previous is None:
        previous = history.previous_quarter(quarter, quarters)
    if previous is None:
        return pd.DataFrame(columns=list(DRIFT_COLUMNS))
    reference = quarters[0]
    feats = {q: feature_columns(q) for q in dict.fromkeys((reference, previous, quarter))}
    columns = ["SEQ", "AGE", "SEX_CD", "HOUS_SIDO_NM", "LIFE_STAGE", "MBR_RK", *contract.AMOUNT_COLUMNS]
    tables = (datasets.load_quarter(previous, columns=columns), datasets.load_quarter(quarter, columns=columns))
    rows = input_measures(feats[reference], feats[previous], feats[quarter], tables)
    if previous != quarter:
        keep = ["SEQ", "first_quarter", "last_quarter"]

        def presence(q: str) -> pd.DataFrame:
            # the saved state as it is (make rebuilt it before this notebook); its staleness check
            # imports every history part, seconds that buy nothing here
            path = history.state_path(q, "core")
            return pd.read_parquet(path, columns=keep) if path.exists() else history.source().state(q, "core", keep)

        before = history.previous_quarter(previous, quarters)
        rows += presence_measures(presence(previous) if before else None, presence(quarter), previous, quarter, before)
    out_p, out_q = saved_outputs(previous), saved_outputs(quarter)
    rows += output_measures(out_p, out_q)

    def quality(q: str) -> Optional[dict]:
        try:
            return load_metrics(q, "data_quality")
        except FileNotFoundError:
            return None

    rows += quality_measures(quality(previous), quality(quarter))
    if decay and previous != quarter:
        rows += decay_measures(quarter, previous, out_q, seed)
    frame = pd.DataFrame(rows)
    frame.insert(0, "previous", previous)
    frame.insert(0, "BAS_YH", quarter)
    return frame.reindex(columns=list(DRIFT_COLUMNS))


# --- the step ------------------------------------------------------------------------------------------

drift_path = datasets.drift_path
alerts_path = datasets.alerts_path


def load_drift(quarter: str) -> Optional[pd.DataFrame]:
    path = drift_path(quarter)
    return pd.read_parquet(path) if path.exists() else None


def decay_metrics_of(quarter: str) -> dict:
    """``quarter``'s decay measures as metrics (:func:`fipro.decay.decay_metrics`): the model
    report's source of the temporal checks (``Metric(source=...)``)."""
    return decay_metrics(load_drift(quarter))


def load_alerts(quarter: str) -> Optional[pd.DataFrame]:
    path = alerts_path(quarter)
    return pd.read_parquet(path) if path.exists() else None


@dataclass
class DriftRun:
    """One quarter's drift table (with thresholds) and its alerts."""

    quarter: str
    table: pd.DataFrame
    alerts: pd.DataFrame
    seconds: dict = field(default_factory=dict)

    def headline(self) -> dict:
        counts = self.alerts["kind"].value_counts().to_dict() if len(self.alerts) else {}
        return {"quarter": self.quarter, "n_measures": int(len(self.table)), "n_alerts": int(len(self.alerts)),
                "alerts_by_kind": {k: int(counts.get(k, 0)) for k in KINDS_KO},
                "alert_subjects": self.alerts["subject"].astype(str).tolist() if len(self.alerts) else [],
                "phi": (self.table.groupby(pool_of(self.table))["phi"].first().round(3).to_dict()
                        if len(self.table) else {}),
                # the temporal checks (previous quarter's models on this quarter), as the model report shows them
                **decay_metrics(self.table),
                "seconds": self.seconds}


def run_quarter(quarter: str, *, save: bool = True, decay: bool = True, seed: Optional[int] = None) -> DriftRun:
    """Measure ``quarter`` against the previous quarter, set the thresholds from this and the
    earlier quarters' saved drift tables, and (``save``) write ``drift.parquet`` and ``alerts.parquet``."""
    start = time.perf_counter()
    table = measure_quarter(quarter, decay=decay, seed=seed)
    earlier = [load_drift(q) for q in datasets.earlier_quarters(quarter)]
    table = thresholds(table, earlier) if len(table) else table.assign(phi=pd.Series(dtype=float),
                                                                       threshold=pd.Series(dtype=float))
    alerts = alerts_of(table)
    seconds = {"measure": round(time.perf_counter() - start, 2)}
    if save:
        write_parquet_atomic(table, drift_path(quarter))
        write_parquet_atomic(alerts, alerts_path(quarter))
    seconds["total"] = round(time.perf_counter() - start, 2)
    return DriftRun(quarter, table, alerts, seconds)
