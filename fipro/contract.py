"""The EDU_DATA_F data contract: the single source of truth for the raw file.

Column order, dtypes, Korean labels, column groups, the upper -> detail category
hierarchy and the code tables all live here. The generator, the loader, the
features, figure labels and the data dictionary read them from this module.

See ``shared/spec/data-contract.md`` for what is known about the real file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# --- amount unit ----------------------------------------------------------------
# Raw amounts are whole numbers in thousands of won. Whether a row is the quarter's
# total or a monthly average within the quarter is not published; the default
# follows the one author who wrote 월평균. Changing either is one line here.
AMOUNT_UNIT_WON = 1_000
AMOUNT_UNIT_LABEL = "천원"
AMOUNT_PERIOD = "monthly_average"  # or "quarter_total"
AMOUNT_PERIOD_LABEL = {"monthly_average": "분기 내 월평균", "quarter_total": "분기 합계"}[AMOUNT_PERIOD]


@dataclass(frozen=True)
class Column:
    """One raw column: its name, dtype, Korean label, group and parent category."""

    name: str
    dtype: str  # "str" | "int" | "yn"
    label_ko: str
    group: str  # key | demographic | total | upper | detail
    parent: Optional[str] = None  # upper category of a detail column, if any
    note: str = ""


def _c(name, dtype, label, group, parent=None, note=""):
    return Column(name, dtype, label, group, parent, note)


COLUMNS: tuple[Column, ...] = (
    _c("BAS_YH", "str", "기준시점(분기)", "key", note="2022q1 … 2023q4"),
    _c("SEQ", "str", "고객번호", "key", note="보고서·사이트에 표시하지 않음"),
    _c("AGE", "str", "연령대", "demographic", note="5세 단위 하한, 기타"),
    _c("SEX_CD", "str", "성별", "demographic"),
    _c("MBR_RK", "str", "회원등급", "demographic"),
    _c("ATT_YM", "str", "입회년월", "demographic", note="YYYYMM"),
    _c("HOUS_SIDO_NM", "str", "거주지역_1", "demographic"),
    _c("DIGT_CHNL_REG_YN", "yn", "디지털채널가입여부", "demographic"),
    _c("DIGT_CHNL_USE_YN", "yn", "디지털채널이용여부(당월)", "demographic"),
    _c("LIFE_STAGE", "str", "라이프스테이지", "demographic"),
    _c("TOT_USE_AM", "int", "총이용금액", "total"),
    _c("CRDSL_USE_AM", "int", "신용카드이용금액", "total"),
    _c("CNF_USE_AM", "int", "체크카드이용금액", "total"),
    _c("INTERIOR_AM", "int", "가전/가구/주방용품", "upper"),
    _c("INSUHOS_AM", "int", "보험/병원", "upper"),
    _c("OFFEDU_AM", "int", "사무통신/서적/학원", "upper"),
    _c("TRVLEC_AM", "int", "여행/레져/문화", "upper"),
    _c("FSBZ_AM", "int", "요식업", "upper"),
    _c("SVCARC_AM", "int", "용역/수리/건축자재", "upper"),
    _c("DIST_AM", "int", "유통", "upper"),
    _c("PLSANIT_AM", "int", "보건위생", "upper"),
    _c("CLOTHGDS_AM", "int", "의류/신변잡화", "upper"),
    _c("AUTO_AM", "int", "자동차/연료/정비", "upper"),
    _c("FUNITR_AM", "int", "가구", "detail", "INTERIOR_AM"),
    _c("APPLNC_AM", "int", "가전제품", "detail", "INTERIOR_AM"),
    _c("HLTHFS_AM", "int", "건강식품", "detail", "FSBZ_AM"),
    _c("BLDMNG_AM", "int", "건물및시설관리", "detail", "SVCARC_AM"),
    _c("ARCHIT_AM", "int", "건축/자재", "detail", "SVCARC_AM"),
    _c("OPTIC_AM", "int", "광학제품", "detail", "SVCARC_AM"),
    _c("AGRICTR_AM", "int", "농업", "detail", None, "상위 분류 없음"),
    _c("LEISURE_S_AM", "int", "레져업소", "detail", "TRVLEC_AM"),
    _c("LEISURE_P_AM", "int", "레져용품", "detail", "TRVLEC_AM"),
    _c("CULTURE_AM", "int", "문화/취미", "detail", "TRVLEC_AM"),
    _c("SANIT_AM", "int", "보건/위생", "detail", "PLSANIT_AM"),
    _c("INSU_AM", "int", "보험", "detail", "INSUHOS_AM"),
    _c("OFFCOM_AM", "int", "사무/통신기기", "detail", "OFFEDU_AM"),
    _c("BOOK_AM", "int", "서적/문구", "detail", "OFFEDU_AM"),
    _c("RPR_AM", "int", "수리서비스", "detail", "SVCARC_AM"),
    _c("HOTEL_AM", "int", "숙박업", "detail", "TRVLEC_AM"),
    _c("GOODS_AM", "int", "신변잡화", "detail", "CLOTHGDS_AM"),
    _c("TRVL_AM", "int", "여행업", "detail", "TRVLEC_AM"),
    _c("FUEL_AM", "int", "연료판매", "detail", "AUTO_AM"),
    _c("SVC_AM", "int", "용역서비스", "detail", "SVCARC_AM"),
    _c("DISTBNP_AM", "int", "유통업비영리", "detail", "DIST_AM"),
    _c("DISTBP_AM", "int", "유통업영리", "detail", "DIST_AM"),
    _c("GROCERY_AM", "int", "음식료품", "detail", "FSBZ_AM"),
    _c("HOS_AM", "int", "의료기관", "detail", "INSUHOS_AM"),
    _c("CLOTH_AM", "int", "의류", "detail", "CLOTHGDS_AM"),
    _c("RESTRNT_AM", "int", "일반/휴게음식", "detail", "FSBZ_AM"),
    _c("AUTOMNT_AM", "int", "자동차정비/유지", "detail", "AUTO_AM"),
    _c("AUTOSL_AM", "int", "자동차판매", "detail", "AUTO_AM"),
    _c("KITWR_AM", "int", "주방용품", "detail", "INTERIOR_AM"),
    _c("FABRIC_AM", "int", "직물", "detail", "CLOTHGDS_AM"),
    _c("ACDM_AM", "int", "학원", "detail", "OFFEDU_AM"),
    _c("MBRSHOP_AM", "int", "회원제형태업소", "detail", None, "상위 분류 없음"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
KEY_COLUMNS = ("BAS_YH", "SEQ")
DEMOGRAPHIC_COLUMNS = tuple(c.name for c in COLUMNS if c.group == "demographic")
TOTAL_COLUMNS = ("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM")
UPPER_COLUMNS = tuple(c.name for c in COLUMNS if c.group == "upper")
DETAIL_COLUMNS = tuple(c.name for c in COLUMNS if c.group == "detail")
AMOUNT_COLUMNS = TOTAL_COLUMNS + UPPER_COLUMNS + DETAIL_COLUMNS
CODE_COLUMNS = ("AGE", "SEX_CD", "MBR_RK", "HOUS_SIDO_NM", "DIGT_CHNL_REG_YN", "DIGT_CHNL_USE_YN", "LIFE_STAGE")

# Upper -> its details. Our documented assumption (not in any public spec): the
# grouping public analyses of the file use. AGRICTR_AM and MBRSHOP_AM have no upper
# category. The data check measures how well upper = sum(details) holds.
HIERARCHY: dict[str, tuple[str, ...]] = {
    u: tuple(c.name for c in COLUMNS if c.parent == u) for u in UPPER_COLUMNS
}
UNASSIGNED_DETAILS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.group == "detail" and c.parent is None)

LABEL_KO: dict[str, str] = {c.name: c.label_ko for c in COLUMNS}

# --- code tables ------------------------------------------------------------------
AGE_CODES: dict[str, str] = {
    **{str(a): f"{a}~{a + 4}세" for a in range(20, 85, 5)},
    "85": "85세 이상",
    "기타": "기타(미상)",
}
SEX_CODES: dict[str, str] = {"1": "남", "2": "여"}
MBR_RK_CODES: dict[str, str] = {"21": "VVIP", "22": "VIP", "23": "플래티넘", "24": "골드", "25": "해당없음"}
SIDO_CODES: dict[str, str] = {
    s: s
    for s in ("서울", "경기", "인천", "대구", "세종", "부산", "제주", "대전", "광주",
              "울산", "강원", "경남", "충북", "충남", "경북", "전북", "전남")
}
# The usual three-way split of Korean regions: the capital region (수도권), the other
# metropolitan and special self-governing cities (광역시·세종) and the provinces (도).
REGION_GROUP_KO: dict[str, str] = {"capital": "수도권", "metro": "광역시", "province": "도 지역"}
SIDO_GROUP: dict[str, str] = {
    **{s: "capital" for s in ("서울", "경기", "인천")},
    **{s: "metro" for s in ("부산", "대구", "대전", "광주", "울산", "세종")},
    **{s: "province" for s in ("강원", "충북", "충남", "전북", "전남", "경북", "경남", "제주")},
}
YN_CODES: dict[str, str] = {"Y": "예", "N": "아니오"}
LIFE_STAGE_CODES: dict[str, str] = {
    "UNI": "대학생",
    "NEW_JOB": "사회초년생",
    "NEW_WED": "신혼",
    "CHILD_BABY": "자녀 영유아",
    "CHILD_TEEN": "자녀 의무교육",
    "CHILD_UNI": "자녀 대학생",
    "GOLLIFE": "중년기타",
    "SECLIFE": "2nd Life",
    "RETIR": "은퇴",
    # Seen in one team's charts of the real file; later teams list nine codes.
    "TEEN": "청소년",
}
LIFE_STAGE_ORDER: tuple[str, ...] = tuple(LIFE_STAGE_CODES)

CODE_TABLES: dict[str, dict[str, str]] = {
    "AGE": AGE_CODES,
    "SEX_CD": SEX_CODES,
    "MBR_RK": MBR_RK_CODES,
    "HOUS_SIDO_NM": SIDO_CODES,
    "DIGT_CHNL_REG_YN": YN_CODES,
    "DIGT_CHNL_USE_YN": YN_CODES,
    "LIFE_STAGE": LIFE_STAGE_CODES,
}

# Age band as a number for features and ordering; 기타 (unknown) has none.
AGE_BAND_VALUE: dict[str, Optional[int]] = {k: (int(k) if k.isdigit() else None) for k in AGE_CODES}


def label(name: str) -> str:
    """Korean label of a column or code-table name (falls back to the name)."""
    return LABEL_KO.get(name, name)


def code_label(column: str, code: str) -> str:
    """Korean label of one code of a coded column, e.g. ``code_label("SEX_CD", "1") == "남"``."""
    return CODE_TABLES[column].get(code, code)


def format_amount(value_thousand_won: float) -> str:
    """Format a raw amount (천원) for a person, in 원/만원/억원 with the unit shown.

    >>> format_amount(372)
    '37.2만원'
    >>> format_amount(0.5)
    '500원'
    >>> format_amount(123_456)
    '1.23억원'
    """
    won = float(value_thousand_won) * AMOUNT_UNIT_WON
    sign = "-" if won < 0 else ""
    won = abs(won)
    if won >= 1e8:
        return f"{sign}{won / 1e8:,.2f}억원"
    if won >= 1e4:
        return f"{sign}{won / 1e4:,.1f}만원"
    return f"{sign}{won:,.0f}원"


# --- essential vs discretionary spending -------------------------------------------
# Classified at the detail level, because several upper categories mix both kinds
# (요식업 holds groceries and restaurants; 보험/병원 is essential but 여행/레져/문화 is not).
# The rule: spending that keeps a household running and is hard to postpone (food at
# home, daily necessities, health, insurance, housing upkeep, getting around with a car
# already owned, children's education) is essential; spending that can be chosen,
# postponed or scaled down (eating out, leisure, travel, fashion, durables, a new car)
# is discretionary. Loosely follows Statistics Korea's household-survey notion of
# 필수 소비. Every detail column is classified exactly once (tests check it).
ESSENTIAL = "essential"
DISCRETIONARY = "discretionary"
SPENDING_NATURE_LABEL_KO: dict[str, str] = {ESSENTIAL: "필수", DISCRETIONARY: "선택"}

SPENDING_NATURE: dict[str, tuple[str, str]] = {
    # essential: (kind, reason shown to people)
    "GROCERY_AM": (ESSENTIAL, "집에서 먹는 식료품: 가계 식비의 기본"),
    "DISTBP_AM": (ESSENTIAL, "대형마트·슈퍼·편의점: 생활필수품을 사는 주된 경로"),
    "DISTBNP_AM": (ESSENTIAL, "농협·군납 등 비영리 유통: 생활필수품 구매"),
    "MBRSHOP_AM": (ESSENTIAL, "창고형 회원제 매장: 식료품·생필품 대량 구매"),
    "HOS_AM": (ESSENTIAL, "의료기관 진료비: 건강 유지에 필요하고 미루기 어려움"),
    "INSU_AM": (ESSENTIAL, "보험료: 계약으로 정해진 고정 납입"),
    "SANIT_AM": (ESSENTIAL, "약국·위생용품: 일상 보건"),
    "OPTIC_AM": (ESSENTIAL, "안경·렌즈: 시력 교정 목적이 대부분"),
    "FUEL_AM": (ESSENTIAL, "연료·주유: 이동과 난방에 필요"),
    "AUTOMNT_AM": (ESSENTIAL, "보유 차량의 정비·유지: 미루기 어려운 비용"),
    "BLDMNG_AM": (ESSENTIAL, "건물·시설 관리: 관리비 성격의 주거비"),
    "RPR_AM": (ESSENTIAL, "고장 수리: 필요가 생기면 미루기 어려움"),
    "ACDM_AM": (ESSENTIAL, "학원비: 자녀 교육비, 가계조사에서 필수 소비로 봄"),
    "BOOK_AM": (ESSENTIAL, "교재·문구: 교육에 딸린 지출"),
    "AGRICTR_AM": (ESSENTIAL, "농업 자재·농산물: 생업과 식생활 관련"),
    # discretionary
    "RESTRNT_AM": (DISCRETIONARY, "외식·카페: 집밥으로 대체할 수 있음"),
    "HLTHFS_AM": (DISCRETIONARY, "건강식품: 선택적 구매"),
    "FUNITR_AM": (DISCRETIONARY, "가구: 교체 시기를 고를 수 있는 내구재"),
    "APPLNC_AM": (DISCRETIONARY, "가전제품: 교체 시기를 고를 수 있는 내구재"),
    "KITWR_AM": (DISCRETIONARY, "주방용품: 교체 시기를 고를 수 있음"),
    "ARCHIT_AM": (DISCRETIONARY, "건축·자재: 리모델링 등 미룰 수 있는 지출"),
    "SVC_AM": (DISCRETIONARY, "용역서비스: 직접 하거나 줄일 수 있는 외부 서비스"),
    "OFFCOM_AM": (DISCRETIONARY, "사무·통신기기 구매: 교체 시기를 고를 수 있음"),
    "LEISURE_S_AM": (DISCRETIONARY, "레져업소: 여가 지출"),
    "LEISURE_P_AM": (DISCRETIONARY, "레져용품: 여가 지출"),
    "CULTURE_AM": (DISCRETIONARY, "문화·취미: 여가 지출"),
    "HOTEL_AM": (DISCRETIONARY, "숙박: 여행·여가 지출"),
    "TRVL_AM": (DISCRETIONARY, "여행: 여가 지출"),
    "CLOTH_AM": (DISCRETIONARY, "의류: 필요 이상은 유행·취향에 따른 선택"),
    "GOODS_AM": (DISCRETIONARY, "신변잡화: 취향에 따른 선택"),
    "FABRIC_AM": (DISCRETIONARY, "직물: 취향에 따른 선택"),
    "AUTOSL_AM": (DISCRETIONARY, "자동차 구매: 시기를 고를 수 있는 큰 지출"),
}
ESSENTIAL_DETAILS: tuple[str, ...] = tuple(c for c in DETAIL_COLUMNS if SPENDING_NATURE[c][0] == ESSENTIAL)
DISCRETIONARY_DETAILS: tuple[str, ...] = tuple(c for c in DETAIL_COLUMNS if SPENDING_NATURE[c][0] == DISCRETIONARY)
