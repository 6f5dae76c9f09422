"""The feature contract: :data:`FEATURE_SPECS`, the single definition of the features.

Each :class:`FeatureSpec` gives a feature's order, dtype, Korean description, source
columns, expected range or categories and missing-value rule. :func:`feature_names`,
:func:`model_feature_names` and the serving contract
``data/reference/feature_schema.json`` (:func:`feature_schema`, written by
:func:`fipro.features.cache.write_feature_schema`) all derive from it, and
:func:`fipro.features.build.build_features` refuses to return a frame that disagrees
with it.

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

from dataclasses import asdict, dataclass, replace
from typing import Optional

import numpy as np
import pandas as pd

from fipro import contract
from fipro.text_ko import COLUMN_NAME_KO

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
CATEGORY_COLUMNS = contract.UPPER_COLUMNS + contract.DETAIL_COLUMNS

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
    for col in CATEGORY_COLUMNS:
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
    "tenure_months": "가입 기간", "digital_registered": COLUMN_NAME_KO["DIGT_CHNL_REG_YN"],
    "digital_active": COLUMN_NAME_KO["DIGT_CHNL_USE_YN"], "age_band": COLUMN_NAME_KO["AGE"], "age_unknown": "연령 미상",
    "sex_female": COLUMN_NAME_KO["SEX_CD"], "grade_ordinal": COLUMN_NAME_KO["MBR_RK"],
    "LIFE_STAGE": COLUMN_NAME_KO["LIFE_STAGE"],
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


# A readable handful for distributions and correlations.
HEADLINE_FEATURES: tuple[str, ...] = (
    "log_TOT_USE_AM", "credit_share", "essential_share", "entropy_detail", "n_active_detail",
    "share_FSBZ_AM", "share_DIST_AM", "share_INSUHOS_AM", "share_OFFEDU_AM", "share_TRVLEC_AM",
    "share_AUTO_AM", "qoq_log_TOT_USE_AM", "tenure_months", "age_band", "grade_ordinal", "digital_active",
)
