"""Korean text shown to people, in one place: labels of codes that data frames keep in English.

Data frames carry English keys (``type``, ``band``, ``adverse_rate``); a table or figure
puts the Korean label on them only where it is shown, from the maps here.
"""

from __future__ import annotations

# planted anomaly types (fipro.anomaly) and the two magnitude bands of each type
ANOMALY_TYPE_KO = {"total_spike": "총액 급증", "category_burst": "업종 급증", "mix_shift": "구성 변화",
                   "dormant_burst": "휴면 후 급증"}
MAGNITUDE_BAND_KO = {"lower": "하위 절반", "upper": "상위 절반"}


def korean_numeral(n: int) -> str:
    """The native Korean numeral before a counter (장, 개, 명): 1 → 한, 2 → 두, 3 → 세, … 20 → 스무.

    Above 20 (and for 0) the Arabic number, as Korean text writes large counts.
    """
    units = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉"]
    if n <= 0 or n > 20:
        return f"{n:,}"
    if n == 20:
        return "스무"
    return ("열" if n >= 10 else "") + units[n % 10]


# --- column and category labels -------------------------------------------------------------
# The raw columns' own labels (table headers, the data dictionary) are part of the data
# contract: ``contract.COLUMNS`` / ``contract.label``. The maps below are the shorter names
# the other modules use in sentences, code sheets, feature names and segment names.

# a grouping column's short name in sentences ("라이프스테이지를 빼고"), code sheets and features
COLUMN_NAME_KO: dict[str, str] = {
    "AGE": "연령대", "SEX_CD": "성별", "LIFE_STAGE": "라이프스테이지", "MBR_RK": "회원등급",
    "HOUS_SIDO_NM": "거주지역", "DIGT_CHNL_USE_YN": "디지털채널 이용", "DIGT_CHNL_REG_YN": "디지털채널 가입",
}
# the code sheet shared by the Y/N columns (data dictionary)
YN_SHEET_KO = "디지털채널 여부"

# shorter words for spending categories, for segment names (the contract's labels are written for tables)
CATEGORY_SHORT_KO: dict[str, str] = {
    "DISTBNP_AM": "비영리유통", "DISTBP_AM": "대형유통", "RESTRNT_AM": "외식", "GROCERY_AM": "식료품",
    "FUEL_AM": "주유", "AUTOMNT_AM": "차량정비", "AUTOSL_AM": "차량구매", "HOS_AM": "병원",
    "HLTHFS_AM": "건강식품", "LEISURE_S_AM": "레저시설", "LEISURE_P_AM": "레저용품", "CULTURE_AM": "문화·취미",
    "HOTEL_AM": "숙박", "TRVL_AM": "여행", "CLOTH_AM": "의류", "GOODS_AM": "잡화", "SANIT_AM": "보건·위생",
    "MBRSHOP_AM": "회원제매장", "BLDMNG_AM": "건물관리", "ARCHIT_AM": "건축자재", "OFFCOM_AM": "사무·통신",
    "BOOK_AM": "서적·문구", "RPR_AM": "수리", "SVC_AM": "용역", "ACDM_AM": "학원", "KITWR_AM": "주방용품",
    "FABRIC_AM": "직물", "OPTIC_AM": "안경·광학",
}


def particle(word: str, pair: str) -> str:
    """``word`` with the particle of ``pair`` that fits its last syllable: ``"이/가"``, ``"은/는"``,
    ``"을/를"``, ``"과/와"`` (the first after a final consonant) or ``"으로/로"`` (``로`` also after ㄹ).
    Non-Hangul ends (digits, brackets) are skipped back to the last Hangul syllable.

    >>> particle("연료판매 금액", "이/가"), particle("세그먼트 크기", "이/가"), particle("보통", "으로/로")
    ('연료판매 금액이', '세그먼트 크기가', '보통으로')
    >>> particle("라이프스테이지 구성(원자료)", "이/가"), particle("은퇴", "으로/로"), particle("대학생", "으로/로")
    ('라이프스테이지 구성(원자료)가', '은퇴로', '대학생으로')
    """
    with_final, without = pair.split("/")
    for ch in reversed(word):
        if "가" <= ch <= "힣":
            final = (ord(ch) - ord("가")) % 28
            if with_final == "으로":
                return word + ("로" if final in (0, 8) else "으로")  # 8: ㄹ
            return word + (with_final if final else without)
    return word + f"{with_final}({without})" if with_final != "으로" else word + "(으)로"
