"""The overall levels the stand-in is raked to, as checks a generated file must pass.

Each :class:`fipro.eda.PublishedLevel` below carries the published figures of
:mod:`fipro.synth.params` (sources there), a Korean source line for the figure of
notebook 01 and the tolerance the source's own rounding or spread allows:

* ``sex``: women / men per card user, 통계청 통계플러스 2021 (2020 data). Tolerance 2%:
  rounding to 10만원 moves the ratio by up to 0.6%, the 2018 release of the same data
  gives 0.859 against 0.848 (1.3%).
* ``region``: per-user level of the ten named regions against the national 1,770만원,
  same release. Tolerance 1%: rounding to 10만원 moves a ratio by up to 0.6%; the
  other seven regions are our assumption, shown but never checked.
* ``quarter``: personal-card approvals per quarter against their eight-quarter mean,
  여신금융협회. Tolerance 1%: rounding (0.1조, growth 0.1%) is below 0.1%; the rest
  allows for approvals counting cards, not users (not measured, our assumption).

:func:`check_frame` compares a raw frame with all of them (the measured index within
tolerance x published + 4 customer-clustered standard errors); :func:`check_file`
reads only the columns it needs from a raw CSV, so it runs on the full-scale file
(``python -m fipro synth-levels data/raw/edu_data_F.csv``, or the marked test in
``tests/test_synth.py`` with ``FIPRO_FULL_SCALE_FILE`` set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy import stats

from fipro import config
from fipro.eda import PublishedLevel, level_check, level_table  # noqa: F401  (re-exported for the checks)
from fipro.synth.params import (
    NATIONAL_TOTAL_PER_USER, PERSONAL_CARD_APPROVALS, REGION_TOTAL_PER_USER_PUBLISHED, SEX_TOTAL_PER_USER,
    region_level_table,
)

_STATISTICS_KOREA = "통계청 통계플러스 2021년 가을호 「카드데이터로 본 코로나19 발생 이후 개인 소비 변화」(2020년, KCB 카드 자료)"

LEVELS = (
    PublishedLevel(
        name="sex", column="SEX_CD", title_ko="성별 1인당 총이용금액 (남성 = 100)",
        published={"1": SEX_TOTAL_PER_USER["1"], "2": SEX_TOTAL_PER_USER["2"]},
        source_ko=f"출처: {_STATISTICS_KOREA}: 남성 1,910만원, 여성 1,620만원 (2018년 자료는 1,840 / 1,580만원)",
        tolerance=0.02, tolerance_ko="±2% (10만원 단위 반올림 ±0.6%, 2018년 자료와의 차이 1.3%)",
        reference_group="1", reference_ko="남성 = 100"),
    PublishedLevel(
        name="region", column="HOUS_SIDO_NM", title_ko="거주 지역별 1인당 총이용금액 (전국 = 100)",
        published=REGION_TOTAL_PER_USER_PUBLISHED,
        assumed={r: v for r, v in region_level_table().items() if r not in REGION_TOTAL_PER_USER_PUBLISHED},
        source_ko=f"출처: {_STATISTICS_KOREA}: 상위·하위 5개 시도 (전국 1,770만원). 나머지 7개 시도는 공개되지 않아 가정값(빗금)",
        tolerance=0.01, tolerance_ko="±1% (10만원 단위 반올림 ±0.6%)",
        reference_value=NATIONAL_TOTAL_PER_USER, reference_ko="전국 = 100"),
    PublishedLevel(
        name="quarter", column="BAS_YH", title_ko="분기별 1인당 총이용금액 (분기 평균 = 100)",
        published=PERSONAL_CARD_APPROVALS,
        source_ko="출처: 여신금융협회 「카드승인실적 분석」 분기별 개인카드 승인금액 (2022년 1·2분기는 2023년 값과 전년 동기 대비 증가율로 환산)",
        tolerance=0.01, tolerance_ko="±1% (0.1조원 반올림 0.1% 미만, 나머지는 카드 수와 사용자 수의 차이에 대한 여유)",
        reference_ko="분기 평균 = 100"),
)
LEVELS_BY_NAME = {level.name: level for level in LEVELS}
CHECK_COLUMNS = ("BAS_YH", "SEQ", "AGE", "SEX_CD", "HOUS_SIDO_NM", "TOT_USE_AM", "INSUHOS_AM")


def check_frame(raw: pd.DataFrame, n_se: float = 4.0) -> dict[str, pd.DataFrame]:
    """Every level of :data:`LEVELS` measured on ``raw`` with its verdict
    (:func:`fipro.eda.level_check`), by level name."""
    return {level.name: level_check(level_table(raw, level), level, n_se) for level in LEVELS}


def insuhos_age_rank_correlation(raw: pd.DataFrame) -> float:
    """Spearman correlation of the numeric age bands with the mean 보험/병원 amount per row
    (the given fact "보험/병원 rises with age", read as a new user would)."""
    numeric = raw[raw["AGE"].astype(str).str.isdigit()]
    means = numeric.groupby(numeric["AGE"].astype(int))["INSUHOS_AM"].mean().sort_index()
    return float(stats.spearmanr(means.index, means.to_numpy()).statistic)


def read_check_columns(path) -> pd.DataFrame:
    """The columns :func:`check_frame` needs from a raw CSV (codes as strings)."""
    types = {c: (pa.int64() if c.endswith("_AM") else pa.string()) for c in CHECK_COLUMNS}
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=list(CHECK_COLUMNS),
                                                                      column_types=types))
    return table.to_pandas()


def check_file(path) -> dict[str, pd.DataFrame]:
    """:func:`check_frame` on a raw CSV, plus ``insuhos_age`` (a one-row frame)."""
    raw = read_check_columns(path)
    out = check_frame(raw)
    out["insuhos_age"] = pd.DataFrame({"spearman": [insuhos_age_rank_correlation(raw)], "rows": [len(raw)]})
    return out


def summary(checks: dict[str, pd.DataFrame]) -> dict:
    """JSON-ready verdicts of :func:`check_file`: per level the checked groups, the largest
    relative gap |measured - published| / published and whether every group is within;
    the 보험/병원 rank correlation and whether it reaches 0.85."""
    out = {}
    for name, table in checks.items():
        if name == "insuhos_age":
            rho = float(table["spearman"].iloc[0])
            out[name] = {"spearman": round(rho, 4), "within": rho >= 0.85}
            continue
        checked = table[~table["assumed"]]
        gap = ((checked["measured"] - checked["published"]).abs() / checked["published"]).max()
        out[name] = {"groups": int(len(checked)), "max_relative_gap": round(float(gap), 4),
                     "within": bool(checked["within"].astype(bool).all())}
    return out


def main(argv=None) -> int:
    """``python -m fipro synth-levels [RAW_CSV]``: print every check; exit 1 if one fails
    (the 보험/병원 rank correlation below 0.85 included)."""
    import argparse  # the command line only

    parser = argparse.ArgumentParser(prog="python -m fipro synth-levels", description=main.__doc__.splitlines()[0])
    parser.add_argument("raw_csv", nargs="?", type=Path, default=config.RAW_DIR / config.RAW_FILENAME,
                        help="the raw file (default: %(default)s)")
    path = parser.parse_args(sys.argv[1:] if argv is None else argv).raw_csv
    if not path.is_file():
        parser.error(f"no such file: {path}")
    checks = check_file(path)
    failed = 0
    for name, table in checks.items():
        print(f"== {name}\n{table.round(4).to_string()}")
        if "within" in table:
            failed += int((table["within"] == False).sum())  # noqa: E712  NaN (assumed) is not a failure
    print(f"{failed} failed")
    return int(failed > 0 or checks["insuhos_age"]["spearman"].iloc[0] < 0.85)
