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
