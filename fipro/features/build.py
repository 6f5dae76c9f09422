"""Computing the features: one vectorised function for the batch and the serving path.

:func:`build_features` turns a quarter of the processed table (``datasets.load_quarter``)
plus, optionally, the previous quarter into one row of features per customer. The
serving path, :func:`customer_features`, calls the same function on one customer's
rows, so batch and serving agree exactly: every feature is computed from the
customer's own rows only (no population statistics). What each feature is, and the
rules for zero totals, negative and missing amounts and codes, are in
:mod:`fipro.features.spec`. :func:`feature_metrics`, :func:`summary_ko` and
:func:`missing_pattern` describe a built frame.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special

from fipro import contract
from fipro.datasets import normalise_quarter, previous_quarter
from fipro.features.spec import (
    CATEGORY_COLUMNS, CHANGE_COLUMNS, FEATURE_BY_NAME, FEATURE_SPECS, GRADE_ORDINAL, REGION_ROMAN, feature_names,
    model_feature_names,
)


def _single_quarter(frame: pd.DataFrame, what: str) -> Optional[str]:
    # normalise the few distinct values, not every row
    distinct = pd.Series(pd.unique(frame["BAS_YH"].dropna()), dtype="string")
    values = pd.unique(distinct.str.strip().str.lower())
    if len(values) == 0:
        return None
    if len(values) > 1:
        raise ValueError(f"{what} frame holds several quarters: {sorted(values)}")
    return normalise_quarter(values[0])


# --- computing ------------------------------------------------------------------------


def _code_index(series: pd.Series, column: str) -> np.ndarray:
    """Position of each value in the contract's code table of ``column``; -1 if missing/unknown."""
    keys = pd.Index(list(contract.CODE_TABLES[column]))
    if isinstance(series.dtype, pd.CategoricalDtype):
        lookup = keys.get_indexer(series.cat.categories.astype(str))
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)
    return keys.get_indexer(series.astype("string").str.strip()).astype(np.int64)


def _encode(index: np.ndarray, values: Sequence[float]) -> np.ndarray:
    """Map code positions to numbers; -1 (missing/unknown) → NaN."""
    table = np.append(np.asarray(values, dtype=np.float64), np.nan)
    return table[np.where(index >= 0, index, len(values))]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den ≤ 0 (documented zero-total rule), NaN where either is NaN.

    ``den`` is (n,) for a (n,) ``num`` or (n, 1) for a (n, k) ``num``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    zero_rows = np.flatnonzero((den <= 0).ravel())
    if zero_rows.size:
        out[zero_rows] = np.where(np.isnan(num[zero_rows]), np.nan, 0.0)
    return out


def _row_sum(values: np.ndarray) -> np.ndarray:
    """Row sums added column by column, left to right: the result of a row never depends
    on how many rows come with it (``ndarray.sum(axis=1)`` may change its order of
    addition with the array's shape), so serving equals batch to the last bit."""
    values = np.asfortranarray(values)
    out = values[:, 0].copy()
    for j in range(1, values.shape[1]):
        out += values[:, j]
    return out


def _entropy(amounts: np.ndarray) -> np.ndarray:
    total = _row_sum(amounts)
    p = _safe_div(amounts, total[:, None])
    ent = _row_sum(special.entr(p))  # entr(p) = -p·ln p, 0 at p = 0; NaN propagates
    return np.maximum(ent, 0.0)  # -0.0 and rounding noise for a single category


def _amounts(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    values = np.asfortranarray(frame[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan))
    # negative (cancellations) count as 0; NaN stays NaN. Column-major, so that each
    # feature column below is a contiguous slice.
    return np.maximum(values, 0.0, out=values)


def _column_block(values: np.ndarray, index: Sequence[int]) -> np.ndarray:
    """Columns ``index`` of a column-major array, column-major: a view when they are
    adjacent and in order (the contract's amount order makes them so), else a copy."""
    index = list(index)
    if index and index == list(range(index[0], index[0] + len(index))):
        return values[:, index[0]:index[0] + len(index)]
    return np.asfortranarray(values[:, index])


def _tenure_months(att_ym: pd.Series, quarter: Optional[str], n: int) -> np.ndarray:
    if quarter is None:
        return np.full(n, np.nan)
    # parse the few distinct values (months of joining), not every row
    codes, uniques = pd.factorize(att_ym, use_na_sentinel=True)
    parsed = pd.to_numeric(pd.Series(uniques, dtype="string").str.strip(), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    ym = np.append(parsed, np.nan)[np.where(codes >= 0, codes, len(parsed))]
    year, month = np.floor(ym / 100), ym % 100
    valid = (month >= 1) & (month <= 12) & (year >= 1900)
    end = int(quarter[:4]) * 12 + int(quarter[5]) * 3
    months = end - (year * 12 + month)
    return np.where(valid & (months >= 0), months, np.nan)


def build_features(current: pd.DataFrame, previous: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Features of every customer in one quarter.

    Parameters
    ----------
    current : DataFrame
        One quarter in the contract's columns (as ``datasets.load_quarter`` gives; code
        columns may be Categorical or plain strings). Not modified.
    previous : DataFrame, optional
        The quarter before ``current`` (same columns; only ``SEQ``, ``BAS_YH``,
        ``TOT_USE_AM`` and the upper categories are read). ``None`` for the first quarter.

    Returns
    -------
    DataFrame
        ``BAS_YH``, ``SEQ`` then :func:`feature_names` in contract order, one row per row
        of ``current`` in the same order, with a fresh RangeIndex.

    Raises
    ------
    ValueError
        If a frame holds several quarters, ``previous`` is not the quarter just before
        ``current``, or a ``SEQ`` repeats within a frame.

    Examples
    --------
    >>> from fipro import contract
    >>> row = {c: 0 for c in contract.COLUMN_NAMES}
    >>> row.update(BAS_YH="2023q1", SEQ="1", AGE="30", SEX_CD="2", MBR_RK="24", ATT_YM="202001",
    ...            HOUS_SIDO_NM="서울", DIGT_CHNL_REG_YN="Y", DIGT_CHNL_USE_YN="N",
    ...            LIFE_STAGE="NEW_WED", TOT_USE_AM=100, CRDSL_USE_AM=60, CNF_USE_AM=40)
    >>> f = build_features(pd.DataFrame([row]))
    >>> float(f.loc[0, "credit_share"]), float(f.loc[0, "tenure_months"]), int(f.loc[0, "no_prev_quarter"])
    (0.6, 38.0, 1)
    """
    n = len(current)
    quarter = _single_quarter(current, "current")
    if n and not current["SEQ"].is_unique:
        raise ValueError("current frame repeats a SEQ: one row per customer expected")
    feats: dict[str, np.ndarray] = {}

    amounts = _amounts(current, contract.AMOUNT_COLUMNS)
    pos = {c: i for i, c in enumerate(contract.AMOUNT_COLUMNS)}
    for col in contract.AMOUNT_COLUMNS:
        feats[f"log_{col}"] = np.log1p(amounts[:, pos[col]])

    total = amounts[:, pos["TOT_USE_AM"]]
    cats = _column_block(amounts, [pos[c] for c in CATEGORY_COLUMNS])
    shares = _safe_div(cats, total[:, None])
    for j, col in enumerate(CATEGORY_COLUMNS):
        feats[f"share_{col}"] = shares[:, j]
    feats["credit_share"] = _safe_div(amounts[:, pos["CRDSL_USE_AM"]], total)
    feats["check_share"] = _safe_div(amounts[:, pos["CNF_USE_AM"]], total)

    upper = _column_block(amounts, [pos[c] for c in contract.UPPER_COLUMNS])
    detail = _column_block(amounts, [pos[c] for c in contract.DETAIL_COLUMNS])
    essential_mask = np.array([c in contract.ESSENTIAL_DETAILS for c in contract.DETAIL_COLUMNS])
    detail_total = _row_sum(detail)
    feats["essential_share"] = _safe_div(_row_sum(detail[:, essential_mask]), detail_total)
    feats["discretionary_share"] = _safe_div(_row_sum(detail[:, ~essential_mask]), detail_total)
    feats["n_active_upper"] = (upper > 0).sum(axis=1)
    feats["n_active_detail"] = (detail > 0).sum(axis=1)
    feats["entropy_upper"] = _entropy(upper)
    feats["entropy_detail"] = _entropy(detail)

    # quarter-on-quarter change from the customer's own previous-quarter row
    change = [pos[c] for c in CHANGE_COLUMNS]
    prev_values = np.full((n, len(change)), np.nan)
    has_prev = np.zeros(n, dtype=bool)
    if previous is not None and len(previous):
        prev_quarter = _single_quarter(previous, "previous")
        if quarter is not None and prev_quarter != previous_quarter(quarter):
            raise ValueError(f"previous frame is {prev_quarter}, expected {previous_quarter(quarter)}")
        if not previous["SEQ"].is_unique:
            raise ValueError("previous frame repeats a SEQ: one row per customer expected")
        # hash lookup in Arrow (as Index.get_indexer, missing ids match each other; -1 = absent)
        where = pc.index_in(pa.array(current["SEQ"].astype("string").array),
                            value_set=pa.array(previous["SEQ"].astype("string").array))
        where = where.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        has_prev = where >= 0
        prev_amounts = _amounts(previous, CHANGE_COLUMNS)
        prev_values[has_prev] = prev_amounts[where[has_prev]]
    qoq = np.log1p(amounts[:, change]) - np.log1p(prev_values)
    for j, col in enumerate(CHANGE_COLUMNS):
        feats[f"qoq_log_{col}"] = qoq[:, j]
    feats["no_prev_quarter"] = ~has_prev
    feats["zero_total"] = ~(total > 0) & ~np.isnan(total)

    feats["tenure_months"] = _tenure_months(current["ATT_YM"], quarter, n)
    yn = [{"Y": 1.0, "N": 0.0}[k] for k in contract.YN_CODES]
    feats["digital_registered"] = _encode(_code_index(current["DIGT_CHNL_REG_YN"], "DIGT_CHNL_REG_YN"), yn)
    feats["digital_active"] = _encode(_code_index(current["DIGT_CHNL_USE_YN"], "DIGT_CHNL_USE_YN"), yn)

    age_values = [np.nan if v is None else float(v) for v in contract.AGE_BAND_VALUE.values()]
    feats["age_band"] = _encode(_code_index(current["AGE"], "AGE"), age_values)
    feats["age_unknown"] = np.isnan(feats["age_band"])
    feats["sex_female"] = _encode(_code_index(current["SEX_CD"], "SEX_CD"),
                                  [1.0 if k == "2" else 0.0 for k in contract.SEX_CODES])
    feats["grade_ordinal"] = _encode(_code_index(current["MBR_RK"], "MBR_RK"),
                                     [GRADE_ORDINAL[k] for k in contract.MBR_RK_CODES])
    region = _code_index(current["HOUS_SIDO_NM"], "HOUS_SIDO_NM")
    for i, sido in enumerate(contract.SIDO_CODES):
        feats[f"region_{REGION_ROMAN[sido]}"] = region == i
    feats["LIFE_STAGE"] = pd.Categorical.from_codes(
        _code_index(current["LIFE_STAGE"], "LIFE_STAGE"), categories=list(contract.LIFE_STAGE_ORDER))

    names = feature_names("all")
    if set(feats) != set(names):  # the code and FEATURE_SPECS must agree
        raise AssertionError(f"features out of step with FEATURE_SPECS: {sorted(set(feats) ^ set(names))}")
    columns: dict[str, object] = {
        "BAS_YH": pd.array([quarter] * n, dtype="str") if quarter else current["BAS_YH"].astype("str").array,
        "SEQ": current["SEQ"].astype("str").array,
    }
    for spec in FEATURE_SPECS:
        value = feats[spec.name]
        columns[spec.name] = value if spec.dtype == "category" else np.asarray(value).astype(spec.dtype, copy=False)
    # copy=False: keep one block per column rather than stacking ~130 columns into new
    # 2-D blocks (a full copy of the frame, slow and doubling peak memory at full scale)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


def customer_features(seq: str, current: pd.DataFrame, previous: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Features of one customer (the serving path): one row, equal to their batch row.

    Raises ``KeyError`` if ``seq`` is not in ``current``.
    """
    seq = str(seq)
    row = current[current["SEQ"].astype("string") == seq]
    if row.empty:
        raise KeyError(f"customer not in the current quarter ({len(current)} rows)")
    prev = None
    if previous is not None:
        prev = previous[previous["SEQ"].astype("string") == seq]
    return build_features(row, prev)


# --- describing a built frame ---------------------------------------------------------


def feature_metrics(feature_df: pd.DataFrame, build_seconds: Optional[float] = None) -> dict:
    """Headline numbers of a quarter's features (what notebook 02 records)."""
    change = [n for n in feature_names(family="change") if n.startswith("qoq_")]
    model = model_feature_names()
    n = len(feature_df)
    # Column by column (never one n × 130 float copy of the frame): missing counts are
    # whole numbers, so count / size equals the mean of the stacked missing mask exactly.
    missing = {name: int(feature_df[name].isna().to_numpy().sum()) for name in model}
    non_finite = sum(int(np.isinf(feature_df[name].to_numpy(dtype=np.float64)).sum()) for name in model)
    return {
        "rows": int(n),
        "n_features": len(FEATURE_SPECS),
        "n_model_features": len(model),
        "change_missing_share": sum(missing[c] for c in change) / (n * len(change)) if n else float("nan"),
        "no_prev_quarter_share": float(feature_df["no_prev_quarter"].mean()) if n else float("nan"),
        "zero_total_share": float(feature_df["zero_total"].mean()) if n else float("nan"),
        "model_missing_share": sum(missing.values()) / (n * len(model)) if n else float("nan"),
        "non_finite_model_values": int(non_finite),
        "build_seconds": None if build_seconds is None else float(build_seconds),
    }


def summary_ko(feature_df: pd.DataFrame, build_seconds: Optional[float] = None) -> str:
    """Korean sentences on a quarter's features, generated from :func:`feature_metrics`."""
    return metrics_summary_ko(feature_metrics(feature_df, build_seconds))


def metrics_summary_ko(m: dict) -> str:
    s = [f"고객 {m['rows']:,}명에 대해 피처 {m['n_features']}개(모델 입력 {m['n_model_features']}개)를 만들었습니다"
         + (f" ({m['build_seconds']:.1f}초)." if m["build_seconds"] is not None else ".")]
    if m["no_prev_quarter_share"] >= 1.0:
        s.append("전분기 자료가 없는 분기라 전분기 대비 변화 피처는 모두 결측(no_prev_quarter = 1)입니다.")
    else:
        s.append(f"전분기 행이 없는 고객(신규 등)은 {m['no_prev_quarter_share']:.1%}이며, 이들의 변화 피처는 "
                 f"0이 아니라 결측으로 두었습니다 (변화 피처 전체 결측 비율 {m['change_missing_share']:.1%}).")
    s.append(f"총이용금액이 0인 고객은 {m['zero_total_share']:.1%}이고, 이들의 비중 피처는 0(zero_total = 1)입니다.")
    return " ".join(s)


def missing_pattern(feature_df: pd.DataFrame, family: str = "change") -> pd.DataFrame:
    """Missing share of each feature of ``family``, split into rows with no previous
    quarter (the documented reason for change features) and any other missing. Features
    that can never be missing (flags such as ``no_prev_quarter``) are left out."""
    names = [n for n in feature_names(family=family) if FEATURE_BY_NAME[n].missing_ko != "결측 없음"]
    no_prev = feature_df["no_prev_quarter"].to_numpy() == 1
    n = max(len(feature_df), 1)
    rows = []
    for name in names:
        missing = feature_df[name].isna().to_numpy()
        rows.append((name, FEATURE_BY_NAME[name].label_ko, missing.mean() if len(missing) else 0.0,
                     (missing & no_prev).sum() / n, (missing & ~no_prev).sum() / n))
    return pd.DataFrame(rows, columns=["feature", "label_ko", "missing", "missing_no_prev", "missing_other"])
