"""Data-quality measures of one ingested quarter (notebook 00, ``data_quality.json``).

Functions take frames and return dicts or frames; only :func:`quality_report` (and
:func:`load_presence`, from the customer history) read the processed tables, through :mod:`fipro.ingest`.

What is measured, never assumed (see the data contract): whether ``TOT_USE_AM`` equals
``CRDSL_USE_AM + CNF_USE_AM`` and whether each upper category equals the sum of its
details (our documented grouping); missing and zero shares; code distributions against
the code tables; amount distributions; duplicate keys; rejects by reason; outliers by a
robust rule on the log scale. Nothing here shows a customer id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fipro import contract, datasets, history

# Outlier rule: above Q3 + OUTLIER_IQR_K x IQR of log1p(amount), among positive amounts.
# On the log scale the rule is scale-free and not swamped by the many zeros.
OUTLIER_IQR_K = 3.0
OUTLIER_COLUMNS = contract.TOTAL_COLUMNS + contract.UPPER_COLUMNS
# An identity "holds" on a row when the gap is at most this (천원): rounding of
# separately rounded parts can leave 1.
IDENTITY_TOLERANCE = 1
# Verdict thresholds (shares of rows)
REJECT_SHARE_WARN = 0.01
IDENTITY_SHARE_WARN = 0.95


def _share(mask) -> float:
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else float("nan")


def missing_zero_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per contract column: Korean label, missing share and (amounts) zero share."""
    rows = []
    for c in contract.COLUMN_NAMES:
        if c not in frame:
            continue
        s = frame[c]
        missing = float(s.isna().mean()) if len(s) else float("nan")
        if c not in contract.AMOUNT_COLUMNS and s.dtype != "category":
            missing = float((s.isna() | (s.astype("str").str.strip() == "")).mean()) if len(s) else missing
        zero = float((s == 0).mean()) if c in contract.AMOUNT_COLUMNS and len(s) else float("nan")
        rows.append({"column": c, "label_ko": contract.label(c), "group": contract.COLUMN_BY_NAME[c].group,
                     "missing_share": missing, "zero_share": zero})
    return pd.DataFrame(rows)


def code_distribution(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows per code of ``column`` in code-table order, with Korean labels and shares.

    Values outside the table (none after ingest) are listed after the table's codes.
    """
    table = contract.CODE_TABLES[column]
    counts = frame[column].astype("object").value_counts(dropna=False)
    codes = list(table) + [c for c in counts.index if c not in table]
    n = int(counts.sum())
    out = pd.DataFrame({
        "code": [str(c) for c in codes],
        "label_ko": [table.get(c, "표에 없는 코드") if isinstance(c, str) else "결측" for c in codes],
        "rows": [int(counts.get(c, 0)) for c in codes],
    })
    out["share"] = out["rows"] / n if n else np.nan
    out["in_table"] = [c in table for c in codes]
    return out


def amount_summary(frame: pd.DataFrame, columns=contract.TOTAL_COLUMNS + contract.UPPER_COLUMNS) -> pd.DataFrame:
    """Mean, zero share and quantiles (천원) of amount columns."""
    rows = []
    for c in columns:
        s = frame[c].to_numpy(dtype="float64")
        q = np.quantile(s, [0.5, 0.9, 0.99]) if s.size else [np.nan] * 3
        rows.append({"column": c, "label_ko": contract.label(c), "mean": float(s.mean()) if s.size else np.nan,
                     "zero_share": _share(s == 0), "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2]),
                     "max": float(s.max()) if s.size else np.nan})
    return pd.DataFrame(rows)


def _gap_stats(gap: np.ndarray) -> dict:
    a = np.abs(gap)
    return {
        "share_exact": _share(a == 0),
        "share_within_tolerance": _share(a <= IDENTITY_TOLERANCE),
        "mean_abs_gap": float(a.mean()) if a.size else float("nan"),
        "p99_abs_gap": float(np.quantile(a, 0.99)) if a.size else float("nan"),
        "max_abs_gap": float(a.max()) if a.size else float("nan"),
        "share_positive_gap": _share(gap > IDENTITY_TOLERANCE),
        "share_negative_gap": _share(gap < -IDENTITY_TOLERANCE),
    }


def identity_checks(frame: pd.DataFrame) -> dict:
    """How well the total and hierarchy identities hold (gap = left side − right side, 천원).

    Returns ``{"total": {...}, "hierarchy": {upper: {...}}, "hierarchy_all_share": float,
    "uppers_plus_unassigned_vs_total": {...}, "upper_above_total_share": float}``.
    """
    tot = frame["TOT_USE_AM"].to_numpy(dtype="int64")
    parts = frame["CRDSL_USE_AM"].to_numpy(dtype="int64") + frame["CNF_USE_AM"].to_numpy(dtype="int64")
    hierarchy, all_hold = {}, np.ones(len(frame), dtype=bool)
    for upper, details in contract.HIERARCHY.items():
        gap = frame[upper].to_numpy(dtype="int64") - frame[list(details)].to_numpy(dtype="int64").sum(axis=1)
        hierarchy[upper] = {"label_ko": contract.label(upper), **_gap_stats(gap)}
        all_hold &= np.abs(gap) <= IDENTITY_TOLERANCE
    uppers = frame[list(contract.UPPER_COLUMNS)].to_numpy(dtype="int64")
    cover = uppers.sum(axis=1) + frame[list(contract.UNASSIGNED_DETAILS)].to_numpy(dtype="int64").sum(axis=1)
    return {
        "total": {"label_ko": "총이용금액 = 신용카드 + 체크카드", **_gap_stats(tot - parts)},
        "hierarchy": hierarchy,
        "hierarchy_all_share": _share(all_hold),
        "uppers_plus_unassigned_vs_total": {"label_ko": "상위 업종 + 미분류 세부 업종 = 총이용금액",
                                             **_gap_stats(cover - tot)},
        "upper_above_total_share": _share((uppers > tot[:, None]).any(axis=1)),
    }


def identity_table(identities: dict) -> pd.DataFrame:
    """The identities of :func:`identity_checks` as one table (one row per identity)."""
    rows = [{"identity": "TOT_USE_AM", **identities["total"]},
            {"identity": "UPPER+UNASSIGNED", **identities["uppers_plus_unassigned_vs_total"]}]
    for upper, stats in identities["hierarchy"].items():
        rows.append({"identity": upper, **stats})
    return pd.DataFrame(rows)


def outlier_table(frame: pd.DataFrame, columns=OUTLIER_COLUMNS, k: float = OUTLIER_IQR_K) -> pd.DataFrame:
    """Rows above Q3 + k·IQR of ``log1p(amount)`` (positive amounts) per column.

    Returns counts and thresholds only, never the rows themselves (no customer ids).
    """
    rows = []
    for c in columns:
        s = frame[c].to_numpy(dtype="float64")
        pos = np.log1p(s[s > 0])
        if pos.size < 4:
            rows.append({"column": c, "label_ko": contract.label(c), "threshold": np.nan, "outliers": 0,
                         "share": 0.0})
            continue
        q1, q3 = np.quantile(pos, [0.25, 0.75])
        cut = float(np.expm1(q3 + k * (q3 - q1)))
        n = int((s > cut).sum())
        rows.append({"column": c, "label_ko": contract.label(c), "threshold": cut, "outliers": n,
                     "share": n / len(s) if len(s) else np.nan})
    return pd.DataFrame(rows)


def coverage(presence: pd.Series, n_quarters: int) -> dict:
    """Customers of a quarter by how many of the ``n_quarters`` quarters they appear in.

    ``presence``: for each customer of the quarter, the number of quarters holding them.
    """
    counts = presence.value_counts().sort_index()
    n = int(len(presence))
    return {
        "quarters_available": int(n_quarters),
        "customers": n,
        "share_in_all_quarters": _share(presence.to_numpy() == n_quarters),
        "by_quarters_present": {int(k): int(v) for k, v in counts.items()},
    }


def rejects_for_quarter(rejects: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """Rejected lines whose first field reads as ``quarter`` (case and spaces ignored)."""
    if rejects.empty:
        return rejects
    first = rejects["raw_line"].astype("str").str.split(",", n=1).str[0].str.strip().str.lower()
    return rejects[first == quarter.lower()]


def rejects_summary(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejected lines per reason (most frequent first)."""
    if rejects.empty:
        return pd.DataFrame({"reason": pd.Series(dtype="str"), "rows": pd.Series(dtype="int64")})
    out = rejects.groupby("reason").size().rename("rows").reset_index()
    return out.sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True)


def load_presence(quarter: str) -> tuple[pd.Series, int]:
    """For each customer of ``quarter``: in how many quarters up to it they appear, and how
    many quarters that is.

    Read from the customer history's state of ``quarter`` (:mod:`fipro.history`), so the
    check of a quarter reads nothing later and its cost does not grow with the number of
    quarters. Customers come in no particular order.
    """
    state = history.load_state(quarter, "core", ["n_present", "last_quarter"])
    here = state["last_quarter"].to_numpy() == quarter
    counts = pd.Series(state["n_present"].to_numpy()[here], dtype="int64", name="quarters_present")
    return counts, len([q for q in datasets.available_quarters() if q <= quarter])


def quality_report(quarter: str, frame: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None,
                   manifest: dict | None = None, presence: pd.Series | None = None,
                   n_quarters: int | None = None, processed_dir=None, outlier_k: float = OUTLIER_IQR_K) -> dict:
    """All data-quality numbers of one quarter as a JSON-ready dict.

    Any input left ``None`` is read from the processed tables (``processed_dir``,
    default ``config.PROCESSED_DIR``). The frame is not modified.
    """
    from fipro import ingest  # ingest pulls duckdb (~0.2 s): only the readers of the processed tables need it

    if frame is None:
        frame = ingest.load_quarter(quarter, processed_dir=processed_dir)
    if rejects is None:
        rejects = ingest.load_rejects(processed_dir)
    if manifest is None:
        manifest = ingest.read_manifest(processed_dir)
    if presence is None:
        presence, n_quarters = load_presence(quarter)
    n_quarters = n_quarters if n_quarters is not None else int(presence.max()) if len(presence) else 0

    rows = int(len(frame))
    customers = int(frame["SEQ"].nunique())
    mz = missing_zero_table(frame)
    q_rejects = rejects_for_quarter(rejects, quarter)
    rows_read = int(manifest.get("rows_read", 0))
    rows_rejected = int(manifest.get("rows_rejected", len(rejects)))
    amounts = amount_summary(frame)
    outliers = outlier_table(frame, k=outlier_k)
    codes = {c: code_distribution(frame, c) for c in contract.CODE_COLUMNS}
    return {
        "quarter": quarter,
        "rows": rows,
        "customers": customers,
        "duplicate_keys": rows - customers,
        "source": {
            "file": manifest.get("source_name"),
            "synthetic": manifest.get("synthetic"),
            "encoding": manifest.get("encoding"),
            "rows_read": rows_read,
            "rows_accepted": int(manifest.get("rows_accepted", 0)),
            "rows_rejected": rows_rejected,
            "reject_share": rows_rejected / rows_read if rows_read else 0.0,
            "rejects_by_reason": dict(manifest.get("rejects_by_reason", {})),
            "rows_by_quarter": dict(manifest.get("quarters", {})),
        },
        "rejects_this_quarter": {r: int(n) for r, n in rejects_summary(q_rejects).itertuples(index=False)},
        "coverage": coverage(presence, n_quarters),
        "missing_share": {r.column: r.missing_share for r in mz.itertuples() if r.missing_share > 0},
        "missing_share_max": float(mz["missing_share"].max()) if len(mz) else 0.0,
        "zero_share": {r.column: r.zero_share for r in mz.itertuples() if r.group != "key" and r.zero_share == r.zero_share},
        "codes": {c: {row.code: row.rows for row in table.itertuples()} for c, table in codes.items()},
        "codes_unseen": {c: [row.code for row in table.itertuples() if row.rows == 0]
                         for c, table in codes.items()},
        "amounts": {r.column: {"mean": r.mean, "zero_share": r.zero_share, "p50": r.p50, "p90": r.p90,
                               "p99": r.p99, "max": r.max} for r in amounts.itertuples()},
        "identities": identity_checks(frame),
        "outlier_rule": f"log1p(amount) > Q3 + {outlier_k:g} x IQR (positive amounts)",
        "outliers": {r.column: {"threshold": r.threshold, "rows": r.outliers, "share": r.share}
                     for r in outliers.itertuples()},
        "unit": f"{contract.AMOUNT_UNIT_LABEL} ({contract.AMOUNT_PERIOD_LABEL})",
    }


def coverage_table(report: dict) -> pd.DataFrame:
    """Customers of the quarter by the number of quarters they appear in (Korean headers)."""
    by = report["coverage"]["by_quarters_present"]
    total = sum(by.values())
    return pd.DataFrame({"등장 분기 수": list(by), "고객 수": list(by.values()),
                         "비율": [v / total if total else np.nan for v in by.values()]})


def rows_by_quarter_table(report: dict) -> pd.DataFrame:
    """Accepted rows per quarter of the whole file (Korean headers)."""
    rows = report["source"]["rows_by_quarter"]
    return pd.DataFrame({"분기": list(rows), "행 수": list(rows.values())})


def amount_table_ko(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`amount_summary` for people: Korean headers, amounts with their unit."""
    out = pd.DataFrame({"항목": summary["label_ko"]})
    for col, name in (("mean", "평균"), ("p50", "중앙값"), ("p90", "90분위"), ("p99", "99분위"), ("max", "최댓값")):
        out[name] = [contract.format_amount(v) for v in summary[col]]
    out["0원 비율"] = summary["zero_share"].map(lambda v: f"{v:.1%}")
    return out


def verdict_ko(report: dict) -> str:
    """A short Korean verdict (Markdown) generated from :func:`quality_report`'s numbers."""
    src, ids, cov = report["source"], report["identities"], report["coverage"]
    problems = []
    if src["reject_share"] > REJECT_SHARE_WARN:
        problems.append(f"거절 행 비율이 {src['reject_share']:.2%}로 높습니다")
    if report["duplicate_keys"]:
        problems.append(f"중복 키가 {report['duplicate_keys']:,}건 남아 있습니다")
    if ids["total"]["share_within_tolerance"] < IDENTITY_SHARE_WARN:
        problems.append("총이용금액 = 신용 + 체크 항등식이 성립하지 않는 행이 많습니다")
    if ids["hierarchy_all_share"] < IDENTITY_SHARE_WARN:
        problems.append("상위 업종 = 세부 업종 합계가 성립하지 않는 행이 많습니다")
    grade = "양호" if not problems else "주의"
    reasons = ", ".join(f"{k} {v:,}건" for k, v in src["rejects_by_reason"].items()) or "없음"
    kind = "합성 대체 자료" if src.get("synthetic") else "원자료"
    lines = [
        f"**판정: {grade}** — {report['quarter']} 분기 {report['rows']:,}행, 고객 {report['customers']:,}명 ({kind} `{src['file']}`).",
        "",
        f"- 파일 전체 {src['rows_read']:,}행 중 {src['rows_accepted']:,}행 채택, {src['rows_rejected']:,}행 거절"
        f" ({src['reject_share']:.2%}; 사유: {reasons}).",
        f"- 이 분기 고객 중 {cov['share_in_all_quarters']:.1%}가 이 분기까지의 {cov['quarters_available']}개 분기 모두에 있습니다.",
        f"- 총이용금액 = 신용카드 + 체크카드: 행의 {ids['total']['share_exact']:.1%}에서 정확히, "
        f"{ids['total']['share_within_tolerance']:.1%}에서 ±{IDENTITY_TOLERANCE}천원 안에서 성립"
        f" (평균 차이 {contract.format_amount(ids['total']['mean_abs_gap'])}).",
        f"- 상위 업종 = 세부 업종 합계(10개 모두): 행의 {ids['hierarchy_all_share']:.1%}에서 성립.",
        f"- 결측이 가장 많은 열의 결측 비율 {report['missing_share_max']:.2%}.",
    ]
    if problems:
        lines.append("- 확인할 점: " + "; ".join(problems) + ".")
    return "\n".join(lines)


def summary_ko(report: dict) -> str:
    """Korean sentences for sections after the verdict: identities and outliers."""
    ids = report["identities"]
    worst = min(ids["hierarchy"].items(), key=lambda kv: kv[1]["share_within_tolerance"])
    top_out = max(report["outliers"].items(), key=lambda kv: kv[1]["share"])
    if worst[1]["share_within_tolerance"] >= 1.0:
        first = "모든 상위 업종이 모든 행에서 세부 업종 합계와 일치합니다."
    else:
        first = (f"가장 자주 어긋나는 상위 업종은 {contract.label(worst[0])}"
                 f"(성립 {worst[1]['share_within_tolerance']:.1%})입니다.")
    if top_out[1]["rows"] == 0:
        last = "로그 금액 기준 이상치는 없습니다."
    else:
        last = (f"이상치 비율이 가장 높은 금액은 {contract.label(top_out[0])}"
                f"({top_out[1]['share']:.2%}, 기준 {contract.format_amount(top_out[1]['threshold'])} 초과)입니다.")
    return f"{first} 상위 업종 금액이 총이용금액보다 큰 행은 {ids['upper_above_total_share']:.2%}입니다. {last}"
