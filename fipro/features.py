"""Per customer × quarter features shared by every model, and their contract.

One vectorised function, :func:`build_features`, turns a quarter of the processed
table (``datasets.load_quarter``) plus, optionally, the previous quarter into one row
of features per customer. The serving path, :func:`customer_features`, calls the
same function on one customer's rows, so batch and serving agree exactly: every
feature is computed from the customer's own rows only (no population statistics).

:data:`FEATURE_SPECS` is the single definition of the features: their order,
dtype, Korean description, source columns, expected range or categories and
missing-value rule. :func:`feature_names`, :func:`model_feature_names` and the
serving contract ``data/reference/feature_schema.json`` (:func:`write_feature_schema`)
all derive from it, and :func:`build_features` refuses to return a frame that
disagrees with it.

Families (``FeatureSpec.family``)
---------------------------------
``log_amount``     ``log_<COL>`` = log1p(max(amount, 0)) of the totals, upper and detail
                   categories (raw unit 천원).
``share_upper`` /  ``share_<COL>`` = amount / ``TOT_USE_AM``.
``share_detail``
``card_mix``       ``credit_share`` = CRDSL/TOT, ``check_share`` = CNF/TOT.
``essential``      ``essential_share`` / ``discretionary_share``: share of the detail-classified
                   spending that is essential / discretionary (``contract.SPENDING_NATURE``);
                   the two add up to 1 whenever any detail spending exists.
``diversity``      count of active (> 0) upper and detail categories; Shannon entropy
                   (natural log) of the upper and of the detail mix.
``change``         ``qoq_log_<COL>`` = log1p(this quarter) − log1p(previous quarter) for the total
                   and each upper category, from the customer's own previous-quarter row.
                   The log difference is defined when the previous amount was 0 (a ratio
                   is not). No previous row (first quarter, or a customer new this quarter)
                   → NaN, never 0, and ``no_prev_quarter`` = 1.
``quality``        ``zero_total`` = 1 when ``TOT_USE_AM`` ≤ 0.
``tenure``         ``tenure_months``: months from ``ATT_YM`` to the quarter's last month.
``digital``        ``digital_registered`` / ``digital_active`` (Y → 1, N → 0).
``demographic``    ``age_band`` (lower bound of the 5-year band, numeric), ``age_unknown``,
                   ``sex_female``, ``grade_ordinal`` (해당없음 0 … VVIP 4, the grade order),
                   ``region_<sido>`` one-hot over the 17 regions (unordered).
``label``          ``LIFE_STAGE``, the target of the life-stage model: in the frame, never in
                   :func:`model_feature_names`.

Rules that matter
-----------------
* **Zero total**: when ``TOT_USE_AM`` ≤ 0 every share and ``credit_share``/``check_share`` is
  0 (not NaN/inf) and ``zero_total`` = 1 says so. Same for the essential split when the
  detail spending is 0, and entropy is 0 when there is nothing to mix.
* **Negative amounts** (cancellations, if the real file has any) count as 0 in logs, shares,
  counts and entropy.
* **Missing amounts** propagate: any feature computed from a missing amount is NaN.
* **Codes**: a missing or unknown code gives NaN in its numeric encoding (``age_band`` also
  for 기타), and all-zero region one-hots.
* Model inputs (:func:`model_feature_names`) are all numeric; NaN appears only where the
  schema's missing rule says so, so a model should use a NaN-aware learner or impute.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import special

from fipro import config, contract, datasets
from fipro.export import write_json_atomic, write_parquet_atomic

# --- the feature contract -------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the contract (see the module docstring for the families)."""

    name: str
    dtype: str  # "float64" | "int8" | "category"
    kind: str  # "model" (numeric model input) | "label" (never a model input)
    family: str
    description_ko: str
    sources: tuple[str, ...]
    value_range: Optional[tuple[Optional[float], Optional[float]]] = None  # inclusive, None = open
    categories: Optional[tuple[str, ...]] = None
    missing_ko: str = "결측 없음"
    label_ko: str = ""  # short Korean label for figures and tables


KEY_COLUMNS = contract.KEY_COLUMNS

# Region one-hot names are romanised so feature names stay ASCII identifiers.
REGION_ROMAN: dict[str, str] = {
    "서울": "seoul", "경기": "gyeonggi", "인천": "incheon", "대구": "daegu", "세종": "sejong",
    "부산": "busan", "제주": "jeju", "대전": "daejeon", "광주": "gwangju", "울산": "ulsan",
    "강원": "gangwon", "경남": "gyeongnam", "충북": "chungbuk", "충남": "chungnam",
    "경북": "gyeongbuk", "전북": "jeonbuk", "전남": "jeonnam",
}
# Grade as an order: 해당없음 (no grade) < 골드 < 플래티넘 < VIP < VVIP.
GRADE_ORDINAL: dict[str, int] = {"25": 0, "24": 1, "23": 2, "22": 3, "21": 4}

CHANGE_COLUMNS: tuple[str, ...] = ("TOT_USE_AM",) + contract.UPPER_COLUMNS
_CATEGORY_COLUMNS = contract.UPPER_COLUMNS + contract.DETAIL_COLUMNS

_AMOUNT_MISSING = "입력 금액이 결측이면 결측"
_SHARE_MISSING = "입력 금액이 결측이면 결측; 총이용금액 ≤ 0 이면 0 (zero_total = 1)"


def _specs() -> tuple[FeatureSpec, ...]:
    L = contract.label
    specs: list[FeatureSpec] = []
    for col in contract.AMOUNT_COLUMNS:
        family = "log_amount"
        specs.append(FeatureSpec(
            f"log_{col}", "float64", "model", family,
            f"{L(col)}의 로그 log1p(천원 단위 금액), 음수는 0으로 봄", (col,), (0.0, None), None, _AMOUNT_MISSING))
    for col in _CATEGORY_COLUMNS:
        family = "share_upper" if col in contract.UPPER_COLUMNS else "share_detail"
        specs.append(FeatureSpec(
            f"share_{col}", "float64", "model", family,
            f"총이용금액 중 {L(col)} 비중", (col, "TOT_USE_AM"), (0.0, 1.0), None, _SHARE_MISSING))
    specs += [
        FeatureSpec("credit_share", "float64", "model", "card_mix", "총이용금액 중 신용카드 비중",
                    ("CRDSL_USE_AM", "TOT_USE_AM"), (0.0, 1.0), None, _SHARE_MISSING),
        FeatureSpec("check_share", "float64", "model", "card_mix", "총이용금액 중 체크카드 비중",
                    ("CNF_USE_AM", "TOT_USE_AM"), (0.0, 1.0), None, _SHARE_MISSING),
        FeatureSpec("essential_share", "float64", "model", "essential",
                    "세부 업종 이용금액 중 필수 소비 비중 (분류: contract.SPENDING_NATURE)",
                    contract.DETAIL_COLUMNS, (0.0, 1.0), None,
                    "입력 금액이 결측이면 결측; 세부 업종 합계 ≤ 0 이면 0"),
        FeatureSpec("discretionary_share", "float64", "model", "essential",
                    "세부 업종 이용금액 중 선택 소비 비중 (분류: contract.SPENDING_NATURE)",
                    contract.DETAIL_COLUMNS, (0.0, 1.0), None,
                    "입력 금액이 결측이면 결측; 세부 업종 합계 ≤ 0 이면 0"),
        FeatureSpec("n_active_upper", "int8", "model", "diversity", "이용금액이 있는(> 0) 상위 업종 수",
                    contract.UPPER_COLUMNS, (0, len(contract.UPPER_COLUMNS)), None,
                    "결측 없음 (결측 금액은 이용 없음으로 셈)"),
        FeatureSpec("n_active_detail", "int8", "model", "diversity", "이용금액이 있는(> 0) 세부 업종 수",
                    contract.DETAIL_COLUMNS, (0, len(contract.DETAIL_COLUMNS)), None,
                    "결측 없음 (결측 금액은 이용 없음으로 셈)"),
        FeatureSpec("entropy_upper", "float64", "model", "diversity",
                    "상위 업종 지출 구성의 엔트로피 (자연로그, 0 = 한 업종에 집중)",
                    contract.UPPER_COLUMNS, (0.0, float(np.log(len(contract.UPPER_COLUMNS)))), None,
                    "입력 금액이 결측이면 결측; 지출이 없으면 0"),
        FeatureSpec("entropy_detail", "float64", "model", "diversity",
                    "세부 업종 지출 구성의 엔트로피 (자연로그, 0 = 한 업종에 집중)",
                    contract.DETAIL_COLUMNS, (0.0, float(np.log(len(contract.DETAIL_COLUMNS)))), None,
                    "입력 금액이 결측이면 결측; 지출이 없으면 0"),
    ]
    for col in CHANGE_COLUMNS:
        specs.append(FeatureSpec(
            f"qoq_log_{col}", "float64", "model", "change",
            f"{L(col)} 전분기 대비 변화: log1p(이번 분기) − log1p(전분기)", (col,), (None, None), None,
            "전분기 행이 없으면(첫 분기·신규 고객) 결측, no_prev_quarter = 1; 0으로 채우지 않음; 입력 금액이 결측이면 결측"))
    specs += [
        FeatureSpec("no_prev_quarter", "int8", "model", "change",
                    "전분기 행이 없음(첫 분기 또는 이번 분기 신규 고객) = 1", ("SEQ", "BAS_YH"), (0, 1)),
        FeatureSpec("zero_total", "int8", "model", "quality",
                    "총이용금액 ≤ 0 (비중 피처를 0으로 둠) = 1", ("TOT_USE_AM",), (0, 1)),
        FeatureSpec("tenure_months", "float64", "model", "tenure",
                    "입회년월부터 분기 마지막 달까지 개월 수", ("ATT_YM", "BAS_YH"), (0.0, None), None,
                    "입회년월이 결측·형식 오류이거나 분기 이후이면 결측"),
        FeatureSpec("digital_registered", "float64", "model", "digital", "디지털채널 가입 (Y = 1, N = 0)",
                    ("DIGT_CHNL_REG_YN",), (0.0, 1.0), None, "코드가 결측·미등록이면 결측"),
        FeatureSpec("digital_active", "float64", "model", "digital", "디지털채널 당월 이용 (Y = 1, N = 0)",
                    ("DIGT_CHNL_USE_YN",), (0.0, 1.0), None, "코드가 결측·미등록이면 결측"),
        FeatureSpec("age_band", "float64", "model", "demographic", "연령대 하한(세), 5세 단위",
                    ("AGE",), (20.0, 85.0), None, "기타(미상)·결측이면 결측, age_unknown = 1"),
        FeatureSpec("age_unknown", "int8", "model", "demographic", "연령대가 기타(미상)·결측 = 1",
                    ("AGE",), (0, 1)),
        FeatureSpec("sex_female", "float64", "model", "demographic", "성별 여성 = 1, 남성 = 0",
                    ("SEX_CD",), (0.0, 1.0), None, "코드가 결측·미등록이면 결측"),
        FeatureSpec("grade_ordinal", "float64", "model", "demographic",
                    "회원등급 순서: 해당없음 0, 골드 1, 플래티넘 2, VIP 3, VVIP 4",
                    ("MBR_RK",), (0.0, 4.0), None, "코드가 결측·미등록이면 결측"),
    ]
    for sido, roman in REGION_ROMAN.items():
        specs.append(FeatureSpec(
            f"region_{roman}", "int8", "model", "demographic", f"거주지역 {sido} = 1 (원-핫)",
            ("HOUS_SIDO_NM",), (0, 1), None, "지역이 결측·미등록이면 모든 지역 피처가 0"))
    specs.append(FeatureSpec(
        "LIFE_STAGE", "category", "label", "label", "라이프스테이지 (라이프스테이지 모델의 정답, 모델 입력 아님)",
        ("LIFE_STAGE",), None, contract.LIFE_STAGE_ORDER, "코드가 결측·미등록이면 결측"))
    return tuple(replace(s, label_ko=_short_label_ko(s.name)) for s in specs)


# Short Korean names for figures, SHAP charts and reason sentences ("학원 지출 비중이 높아 …").
_SHORT_LABEL_KO = {
    "credit_share": "신용카드 비중", "check_share": "체크카드 비중", "essential_share": "필수 소비 비중",
    "discretionary_share": "선택 소비 비중", "n_active_upper": "이용 상위 업종 수",
    "n_active_detail": "이용 세부 업종 수", "entropy_upper": "상위 업종 지출 다양성",
    "entropy_detail": "세부 업종 지출 다양성", "no_prev_quarter": "전분기 이용 없음", "zero_total": "이용 실적 없음",
    "tenure_months": "가입 기간", "digital_registered": "디지털채널 가입", "digital_active": "디지털채널 이용",
    "age_band": "연령대", "age_unknown": "연령 미상", "sex_female": "성별", "grade_ordinal": "회원등급",
    "LIFE_STAGE": "라이프스테이지",
}


def _short_label_ko(name: str) -> str:
    if name in _SHORT_LABEL_KO:
        return _SHORT_LABEL_KO[name]
    L = contract.label
    if name.startswith("qoq_log_"):
        return f"{L(name[8:])} 전분기 대비 증감"
    if name.startswith("share_"):
        return f"{L(name[6:])} 지출 비중"
    if name.startswith("log_"):
        col = name[4:]
        return L(col) if col in contract.TOTAL_COLUMNS else f"{L(col)} 지출액"
    if name.startswith("region_"):
        roman = name[len("region_"):]
        return next(k for k, v in REGION_ROMAN.items() if v == roman) + " 거주"
    return name


FEATURE_SPECS: tuple[FeatureSpec, ...] = _specs()
FEATURE_BY_NAME: dict[str, FeatureSpec] = {s.name: s for s in FEATURE_SPECS}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(s.family for s in FEATURE_SPECS))


def feature_names(kind: str = "all", family: Optional[str] = None) -> list[str]:
    """Feature names in contract order.

    Parameters
    ----------
    kind : {"all", "model", "label"}
        ``"model"``: numeric model inputs (no label, nothing derived from it).
    family : str, optional
        Keep one family only (see :data:`FAMILIES`).
    """
    if kind not in ("all", "model", "label"):
        raise ValueError(f"kind must be 'all', 'model' or 'label', not {kind!r}")
    return [s.name for s in FEATURE_SPECS
            if (kind == "all" or s.kind == kind) and (family is None or s.family == family)]


def feature_label_ko(name: str) -> str:
    """Short Korean label of a feature (for figures and tables)."""
    return FEATURE_BY_NAME[name].label_ko if name in FEATURE_BY_NAME else name


def model_feature_names() -> list[str]:
    """Numeric model inputs: every feature except the ``LIFE_STAGE`` label."""
    return feature_names("model")


# --- quarters ---------------------------------------------------------------------------


normalise_quarter = datasets.normalise_quarter


def previous_quarter(quarter: str) -> str:
    """The quarter before: ``previous_quarter("2023q1") == "2022q4"``."""
    q = normalise_quarter(quarter)
    year, n = int(q[:4]), int(q[5])
    return f"{year - 1}q4" if n == 1 else f"{year}q{n - 1}"


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
    cats = _column_block(amounts, [pos[c] for c in _CATEGORY_COLUMNS])
    shares = _safe_div(cats, total[:, None])
    for j, col in enumerate(_CATEGORY_COLUMNS):
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


# --- the contract as JSON ---------------------------------------------------------------


def feature_schema() -> dict:
    """The feature contract as a JSON-ready dict (what ``feature_schema.json`` holds)."""
    features = []
    for spec in FEATURE_SPECS:
        d = asdict(spec)
        d["sources"] = list(spec.sources)
        d["value_range"] = None if spec.value_range is None else list(spec.value_range)
        d["categories"] = None if spec.categories is None else list(spec.categories)
        features.append(d)
    return {
        "name": "fipro customer-quarter features",
        "generated_by": "python -m fipro.features --schema",
        "key_columns": list(KEY_COLUMNS),
        "amount_unit": f"{contract.AMOUNT_UNIT_LABEL} ({contract.AMOUNT_PERIOD_LABEL})",
        "n_features": len(FEATURE_SPECS),
        "n_model_features": len(model_feature_names()),
        "label_columns": feature_names("label"),
        "rules_ko": {
            "zero_total": "총이용금액 ≤ 0 이면 모든 비중 피처는 0, zero_total = 1",
            "negative_amounts": "음수 금액(취소)은 로그·비중·엔트로피에서 0으로 봄",
            "previous_quarter": "전분기 행이 없으면 변화 피처는 결측, no_prev_quarter = 1",
            "value_range": "value_range는 기대 범위 [하한, 상한], null은 열린 쪽",
        },
        "spending_nature": {
            col: {"kind": kind, "label_ko": contract.label(col), "reason_ko": reason}
            for col, (kind, reason) in contract.SPENDING_NATURE.items()
        },
        "features": features,
    }


def schema_table() -> pd.DataFrame:
    """The feature contract as a table with Korean headings (for notebook 02 and the site)."""

    def rng(spec: FeatureSpec) -> str:
        if spec.categories is not None:
            return ", ".join(spec.categories)
        if spec.value_range is None:
            return "제한 없음"
        lo, hi = spec.value_range
        return f"[{'-∞' if lo is None else f'{lo:g}'}, {'∞' if hi is None else f'{hi:g}'}]"

    return pd.DataFrame({
        "피처": [s.name for s in FEATURE_SPECS],
        "이름": [s.label_ko for s in FEATURE_SPECS],
        "종류": ["모델 입력" if s.kind == "model" else "정답(라벨)" for s in FEATURE_SPECS],
        "묶음": [s.family for s in FEATURE_SPECS],
        "자료형": [s.dtype for s in FEATURE_SPECS],
        "설명": [s.description_ko for s in FEATURE_SPECS],
        "원천 컬럼": [", ".join(s.sources) if len(s.sources) <= 3 else f"{s.sources[0]} 외 {len(s.sources) - 1}개"
                  for s in FEATURE_SPECS],
        "기대 범위·범주": [rng(s) for s in FEATURE_SPECS],
        "결측 규칙": [s.missing_ko for s in FEATURE_SPECS],
    })


def family_counts() -> pd.Series:
    """Number of features per family, in contract order."""
    return pd.Series([s.family for s in FEATURE_SPECS]).value_counts(sort=False).rename("피처 수")


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


def schema_path() -> Path:
    return config.REFERENCE_DIR / "feature_schema.json"


def write_feature_schema(path: Optional[Path] = None) -> Path:
    """Write :func:`feature_schema` (default: ``data/reference/feature_schema.json``)."""
    return write_json_atomic(Path(path) if path else schema_path(), feature_schema())


# --- per-quarter files ------------------------------------------------------------------


def features_path(quarter: str, processed_dir: Optional[Path] = None) -> Path:
    """A quarter's feature cache (:func:`fipro.datasets.features_path`)."""
    return datasets.features_path(quarter, processed_dir)


# The cache is stale when the code that decides its content is newer than the file:
# this module (the features) and the data contract (columns, codes, hierarchy).
CODE_INPUTS: tuple[Path, ...] = (Path(__file__).resolve(), Path(contract.__file__).resolve())


def _is_fresh(path: Path, inputs: Sequence[Path]) -> bool:
    """True when the cache at ``path`` is newer than its data and code and has the contract's columns."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    if any(p.exists() and p.stat().st_mtime > mtime for p in [*inputs, *CODE_INPUTS]):
        return False
    try:  # the features code changed since the file was written
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid):  # gone meanwhile, or not a (whole) Parquet file: rebuild
        return False
    return names == ["BAS_YH", "SEQ", *feature_names("all")]


# What the previous quarter is read for (change features, quarter-on-quarter tables).
PREVIOUS_COLUMNS: tuple[str, ...] = ("BAS_YH", "SEQ", *CHANGE_COLUMNS)


def load_quarter_pair(quarter: str, processed_dir: Optional[Path] = None
                      ) -> tuple[pd.DataFrame, Optional[pd.DataFrame]]:
    """A processed quarter (all columns) and the quarter before it (``None`` if not
    available; only :data:`PREVIOUS_COLUMNS`, which is all the change features need)."""
    quarter = normalise_quarter(quarter)
    available = datasets.available_quarters(processed_dir)
    if quarter not in available:
        raise FileNotFoundError(f"quarter {quarter} is not in the processed data ({available})")
    prev_q = previous_quarter(quarter)
    current = datasets.load_quarter(quarter, processed_dir=processed_dir)
    previous = (datasets.load_quarter(prev_q, columns=list(PREVIOUS_COLUMNS), processed_dir=processed_dir)
                if prev_q in available else None)
    return current, previous


def is_fresh(quarter: str, processed_dir: Optional[Path] = None) -> bool:
    """Whether the quarter's feature cache can be read as it is.

    It cannot when it is missing, unreadable, older than the quarter's table or the
    previous quarter's, older than this module or ``fipro/contract.py``, or when its
    columns differ from :data:`FEATURE_SPECS`.
    """
    quarter = normalise_quarter(quarter)
    available = datasets.available_quarters(processed_dir)
    inputs = [datasets.quarter_table_path(q, processed_dir) for q in (quarter, previous_quarter(quarter))
              if q in available]
    return _is_fresh(datasets.features_path(quarter, processed_dir), inputs)


def load_features(quarter: str, processed_dir: Optional[Path] = None, rebuild: bool = False) -> pd.DataFrame:
    """A quarter's features: read the cache (:func:`fipro.datasets.features_path`) if it
    is fresh (:func:`is_fresh`), else build from the processed quarter (and the previous
    quarter, if available) and write it atomically."""
    return build_report(quarter, processed_dir, rebuild=rebuild).features


def write_features(feature_df: pd.DataFrame, path: Path) -> Path:
    """Write a features frame as Parquet through :func:`fipro.export.atomic_path`: two
    processes may build the same quarter (``make -j2``); each writes its own temporary
    file and the rename is atomic, so a reader never sees half a file."""
    return write_parquet_atomic(feature_df, path)


@dataclass(frozen=True)
class FeatureReport:
    """What :func:`build_report` did for one quarter (what notebook 02 shows and records).

    Attributes
    ----------
    quarter : str
    features : DataFrame
        The quarter's features, as :func:`load_features` returns them.
    rebuilt : bool
        Whether the features were built now (``False``: read from a fresh cache).
    seconds : dict
        Wall-clock seconds of ``read`` (the processed tables, or the cache), ``build``,
        ``write`` and ``total``.
    metrics : dict
        :func:`feature_metrics`, with ``build_seconds`` = ``seconds["total"]``.
    summary_ko : str
        :func:`summary_ko` of the same numbers.
    """

    quarter: str
    features: pd.DataFrame
    rebuilt: bool
    seconds: dict
    metrics: dict
    summary_ko: str


def build_report(quarter: str, processed_dir: Optional[Path] = None, rebuild: bool = True) -> FeatureReport:
    """Build (or read) a quarter's features and measure it: what notebook 02 records.

    Parameters
    ----------
    quarter : str
    processed_dir : Path, optional
        Default ``config.PROCESSED_DIR``.
    rebuild : bool
        Build even when the cache is fresh (the notebook's default, so its timing is the
        build's); ``False`` reads a fresh cache and builds only a stale or missing one.

    Returns
    -------
    FeatureReport
    """
    quarter = normalise_quarter(quarter)
    path = datasets.features_path(quarter, processed_dir)
    t0 = time.perf_counter()
    rebuilt = rebuild or not is_fresh(quarter, processed_dir)
    if rebuilt:
        current, previous = load_quarter_pair(quarter, processed_dir)
        t1 = time.perf_counter()
        feature_df = build_features(current, previous)
        t2 = time.perf_counter()
        write_features(feature_df, path)
    else:
        feature_df = pd.read_parquet(path)
        t1 = t2 = time.perf_counter()
    t3 = time.perf_counter()
    seconds = {"read": t1 - t0, "build": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    metrics = feature_metrics(feature_df, seconds["total"])
    return FeatureReport(quarter=quarter, features=feature_df, rebuilt=rebuilt, seconds=seconds,
                         metrics=metrics, summary_ko=_summary_from_metrics(metrics))


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
    return _summary_from_metrics(feature_metrics(feature_df, build_seconds))


def _summary_from_metrics(m: dict) -> str:
    s = [f"고객 {m['rows']:,}명에 대해 피처 {m['n_features']}개(모델 입력 {m['n_model_features']}개)를 만들었습니다"
         + (f" ({m['build_seconds']:.1f}초)." if m["build_seconds"] is not None else ".")]
    if m["no_prev_quarter_share"] >= 1.0:
        s.append("전분기 자료가 없는 분기라 전분기 대비 변화 피처는 모두 결측(no_prev_quarter = 1)입니다.")
    else:
        s.append(f"전분기 행이 없는 고객(신규 등)은 {m['no_prev_quarter_share']:.1%}이며, 이들의 변화 피처는 "
                 f"0이 아니라 결측으로 두었습니다 (변화 피처 전체 결측 비율 {m['change_missing_share']:.1%}).")
    s.append(f"총이용금액이 0인 고객은 {m['zero_total_share']:.1%}이고, 이들의 비중 피처는 0(zero_total = 1)입니다.")
    return " ".join(s)


# A readable handful for distributions and correlations.
HEADLINE_FEATURES: tuple[str, ...] = (
    "log_TOT_USE_AM", "credit_share", "essential_share", "entropy_detail", "n_active_detail",
    "share_FSBZ_AM", "share_DIST_AM", "share_INSUHOS_AM", "share_OFFEDU_AM", "share_TRVLEC_AM",
    "share_AUTO_AM", "qoq_log_TOT_USE_AM", "tenure_months", "age_band", "grade_ordinal", "digital_active",
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m fipro.features [--quarter Q ...|--all] [--processed-dir DIR] [--schema]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro.features", description=main.__doc__)
    parser.add_argument("--quarter", action="append", default=[], help="quarter to build (repeatable)")
    parser.add_argument("--all", action="store_true", help="build every processed quarter")
    parser.add_argument("--processed-dir", type=Path, default=None, help="processed data folder")
    parser.add_argument("--schema", action="store_true", help="regenerate data/reference/feature_schema.json")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.schema:
        print(f"schema: {write_feature_schema()} ({len(FEATURE_SPECS)} features)")
    quarters = list(args.quarter)
    if args.all:
        quarters = datasets.available_quarters(args.processed_dir)
    if not quarters and not args.schema:
        parser.print_usage()
        return 2
    for q in quarters:
        report = build_report(q, args.processed_dir)
        t, frame = report.seconds, report.features
        print(f"{report.quarter}: {len(frame):,} rows × {frame.shape[1] - 2} features in {t['total']:.1f} s "
              f"(read {t['read']:.1f} s, build {t['build']:.1f} s, write {t['write']:.1f} s) -> "
              f"{datasets.features_path(q, args.processed_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
