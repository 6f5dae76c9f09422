"""The generator's parameters: the published facts it is calibrated to and its tuned tables.

Everything the stand-in draws from is declared here and only here, with its source
beside it (``shared/spec/data-contract.md`` for the published facts, card-company and
public statistics for the structure beyond them); :class:`fipro.synth.model.Model`
turns the tables into the arrays that :mod:`fipro.synth.generate` draws from and
:mod:`fipro.synth.posterior` scores with. A table is ``category -> (use logit shift,
log amount shift)`` unless it says otherwise.

Overall levels (issue 27, sources beside ``SEX_TOTAL_PER_USER``, ``REGION_TOTAL_PER_USER_PUBLISHED``,
``PERSONAL_CARD_APPROVALS``): women spend 0.85 of what men spend per card user, Seoul
1.26 times 전남 and 1.33 times 경북, and the year rises from a low 2022q1 to 2023q4; the
model rakes a per-sex, per-region and per-quarter level so its expected means match them
(:meth:`fipro.synth.model.Model._calibrate`), and :mod:`fipro.synth.levels` checks the file.

Structure beyond the published marginals (sources beside each table: ``SEX_EFFECTS``,
``REGION_GROUP_EFFECTS`` / ``REGION_EXTRA``, ``SEASON``, ``QUARTER_SHIFT``,
``CO_GROUPS``): women spend more on beauty, clothing, accessories, groceries and
health food, men on fuel, cars, golf/leisure and eating out; the provinces more on
fuel, farming and co-op stores (하나로마트), the capital region more on department
stores and online retail, warehouse clubs and culture; clothing peaks in q4 and
bottoms in q3, travel and hotels peak in q3, books and academies in q1 (academies
again in q3), groceries before 설 (q1) and 추석 (q3); fuel follows the 2022 pump-price
peak and travel, hotels, restaurants and leisure recover after distancing ended in
April 2022.
"""

from __future__ import annotations

import numpy as np

from fipro import config, contract

ROWS_REAL = 5_382_734  # published COUNT(*) of the real file
ANOMALY_RATE = 0.01
ANOMALY_TYPES = ("total_spike", "category_burst", "mix_shift", "dormant_burst")

AGES = tuple(contract.AGE_CODES)  # '20' ... '85', '기타'
SEXES = tuple(contract.SEX_CODES)
GRADES = tuple(contract.MBR_RK_CODES)  # 21 VVIP ... 25 none
REGIONS = tuple(contract.SIDO_CODES)
STAGES = contract.LIFE_STAGE_ORDER
DETAILS = contract.DETAIL_COLUMNS
CATS = DETAILS + ("REST",)  # the uncategorised remainder is the last "category"
N_AGE, N_SEX, N_GRADE, N_REG, N_LS, N_CAT = len(AGES), 2, len(GRADES), len(REGIONS), len(STAGES), len(CATS)
N_Q = len(config.QUARTERS)
N_SEG, N_SUB = 5, 3
N_Z = N_SEG * N_SUB

# --- presence (joining / leaving), independent of everything else ----------------
P_JOIN, P_LEAVE, P_GAP = 0.04, 0.04, 0.02


def expected_quarters() -> float:
    """Exact expected quarters present per customer under the presence draws
    (``P_JOIN``, ``P_LEAVE``, ``P_GAP`` as :mod:`fipro.synth.generate` draws them)."""
    T, e = N_Q, 0.0
    for f in range(T):
        pf = 1 - P_JOIN if f == 0 else P_JOIN / (T - 1)
        for last in range(T):
            pl = 1 - P_LEAVE if last == T - 1 else P_LEAVE / (T - 1)
            end = max(last, f)
            e += pf * pl * (end - f + 1 - P_GAP * max(end - f - 1, 0) / T)
    return e


SCALES: dict[str, int] = {"sample": 10_000, "full": int(round(ROWS_REAL / expected_quarters() / 1000) * 1000)}

# --- published facts (data-contract.md) the model is calibrated to ---------------
AGE_ROW_SHARE = dict(zip(AGES, (5.8, 8.2, 9.7, 10.7, 12.0, 11.8, 11.2, 9.5, 7.7, 5.4, 3.1, 1.7, 0.9, 0.4, 1.8)))
MEAN_TOT_BY_AGE = dict(zip(AGES, (298, 365, 398, 414, 420, 415, 403, 380, 348, 309, 265, 242, 228, 212, 126)))
MEAN_CNF_CRDSL_BY_STAGE = {"UNI": (174, 86), "NEW_JOB": (139, 208), "NEW_WED": (150, 264), "CHILD_BABY": (139, 278),
                           "CHILD_TEEN": (78, 337), "CHILD_UNI": (63, 329), "GOLLIFE": (75, 198),
                           "SECLIFE": (54, 225), "RETIR": (36, 184), "TEEN": (104, 3)}

# P(LS | age band) in 2022q1 (columns in STAGES order); a modal age x sex rule gets ~50%.
LS_PRIOR = {  # UNI NEW_JOB NEW_WED C_BABY C_TEEN C_UNI GOLLIFE SECLIFE RETIR TEEN
    "20": (.55, .36, .03, 0, 0, 0, .03, 0, 0, .03),
    "25": (.12, .47, .32, .06, 0, 0, .03, 0, 0, 0),
    "30": (0, .15, .38, .40, 0, 0, .07, 0, 0, 0),
    "35": (0, 0, .14, .46, .28, 0, .12, 0, 0, 0),
    "40": (0, 0, 0, .17, .56, .09, .18, 0, 0, 0),
    "45": (0, 0, 0, 0, .48, .34, .18, 0, 0, 0),
    "50": (0, 0, 0, 0, .18, .54, .18, .10, 0, 0),
    "55": (0, 0, 0, 0, 0, .44, .13, .38, .05, 0),
    "60": (0, 0, 0, 0, 0, .20, .06, .46, .28, 0),
    "65": (0, 0, 0, 0, 0, 0, .05, .37, .58, 0),
    "70": (0, 0, 0, 0, 0, 0, .03, .13, .84, 0),
    "75": (0, 0, 0, 0, 0, 0, .03, .05, .92, 0),
    "80": (0, 0, 0, 0, 0, 0, .04, 0, .96, 0),
    "85": (0, 0, 0, 0, 0, 0, .04, 0, .96, 0),
    "기타": (.10, .10, 0, .05, .10, 0, .20, .05, .15, .25),
}
LS_FEMALE_TILT = {"NEW_WED": 1.3, "CHILD_BABY": 1.1, "NEW_JOB": 0.9, "UNI": 1.1}
# quarterly transitions: (from, to, probability, youngest band where it can happen)
TRANSITIONS = (("TEEN", "UNI", .04, 0), ("UNI", "NEW_JOB", .05, 0), ("NEW_JOB", "NEW_WED", .025, 0),
                ("NEW_WED", "CHILD_BABY", .05, 0), ("CHILD_BABY", "CHILD_TEEN", .02, 35),
                ("CHILD_TEEN", "CHILD_UNI", .02, 45), ("CHILD_UNI", "GOLLIFE", .012, 50),
                ("GOLLIFE", "SECLIFE", .012, 50), ("SECLIFE", "RETIR", .025, 55))

# per detail: (share of rows using it, mean amount when used in 천원, NegBin shape r)
BASE = {
    "FUNITR_AM": (.025, 160, .8), "APPLNC_AM": (.07, 130, .8), "HLTHFS_AM": (.09, 50, 1.0),
    "BLDMNG_AM": (.09, 45, 1.2), "ARCHIT_AM": (.03, 110, .8), "OPTIC_AM": (.04, 55, 1.0),
    "AGRICTR_AM": (.03, 50, .9), "LEISURE_S_AM": (.08, 75, 1.0), "LEISURE_P_AM": (.06, 55, .9),
    "CULTURE_AM": (.20, 35, 1.0), "SANIT_AM": (.30, 30, 1.1), "INSU_AM": (.22, 75, 1.5),
    "OFFCOM_AM": (.30, 40, 1.5), "BOOK_AM": (.12, 28, 1.0), "RPR_AM": (.05, 55, .9),
    "HOTEL_AM": (.06, 90, .9), "GOODS_AM": (.20, 40, .9), "TRVL_AM": (.06, 110, .8),
    "FUEL_AM": (.33, 85, 1.5), "SVC_AM": (.20, 40, 1.0), "DISTBNP_AM": (.18, 35, .9),
    "DISTBP_AM": (.72, 55, 1.2), "GROCERY_AM": (.55, 45, 1.2), "HOS_AM": (.36, 40, .9),
    "CLOTH_AM": (.25, 55, 1.0), "RESTRNT_AM": (.86, 95, 1.6), "AUTOMNT_AM": (.10, 65, .9),
    "AUTOSL_AM": (.008, 500, .7), "KITWR_AM": (.05, 45, .9), "FABRIC_AM": (.02, 35, .9),
    "ACDM_AM": (.08, 60, 1.3), "MBRSHOP_AM": (.12, 65, 1.1), "REST": (.92, 45, 1.0),
}

# age curves on the 14 numeric bands 20..85 (기타 gets 0): added to the use logit,
# half of it to the log amount
AGE_CURVE = {
    # 보험/병원 rises with age (data-contract.md) in amount per row, not only in share: the
    # old bands' totals fall ~10% a band, so the curve keeps climbing past 65
    "HOS_AM": (-.8, -.7, -.55, -.4, -.25, -.1, .1, .35, .85, 1.05, 1.1, 1.15, 1.2, 1.25),
    "INSU_AM": (-1.2, -.8, -.4, -.2, 0, .15, .3, .4, .45, .5, .7, .9, 1.05, 1.2),
    "HLTHFS_AM": (-.3, -.3, -.25, -.2, -.1, 0, .1, .15, .2, .2, .2, .2, .2, .2),
    "FUEL_AM": (-1.0, -.6, -.3, -.1, .05, .15, .3, .6, .45, .1, -.4, -.8, -1.2, -1.5),
    "AUTOMNT_AM": (-1.0, -.6, -.3, -.1, .05, .15, .3, .65, .45, .1, -.4, -.8, -1.2, -1.5),
    "AUTOSL_AM": (-1.0, -.5, -.2, 0, .1, .2, .3, .7, .5, .1, -.4, -.8, -1.2, -1.5),
    "TRVL_AM": (1.1, .9, .4, .1, 0, 0, 0, -.1, -.2, -.3, -.6, -.9, -1.2, -1.4),
    "HOTEL_AM": (.5, .5, .3, .1, 0, 0, 0, 0, -.1, -.2, -.5, -.8, -1.0, -1.2),
    "CULTURE_AM": (.5, .45, .3, .1, 0, -.1, -.2, -.3, -.4, -.5, -.7, -.9, -1.0, -1.1),
    "CLOTH_AM": (.3, .3, .2, .1, .05, 0, 0, -.1, -.2, -.3, -.4, -.5, -.6, -.7),
    "GOODS_AM": (.3, .3, .2, .1, .05, 0, 0, -.1, -.2, -.3, -.4, -.5, -.6, -.7),
    "OFFCOM_AM": (.3, .3, .2, .2, .1, .05, 0, -.1, -.2, -.3, -.5, -.6, -.7, -.8),
    "ACDM_AM": (-.6, -.9, -.6, 0, .35, .35, .1, -.3, -.6, -.8, -1, -1, -1, -1),
    "BOOK_AM": (.1, -.2, -.2, .1, .25, .2, 0, -.2, -.3, -.4, -.5, -.6, -.7, -.8),
    "OPTIC_AM": (-.3, -.3, -.2, -.1, 0, .15, .2, .2, .2, .2, .1, 0, 0, 0),
    "AGRICTR_AM": (-.4, -.35, -.3, -.2, -.1, 0, .05, .1, .15, .15, .15, .15, .1, .1),
    "DISTBNP_AM": (-.3, -.25, -.2, -.1, 0, 0, .1, .15, .2, .25, .3, .3, .3, .3),
    "LEISURE_S_AM": (.2, .2, .1, .1, .1, .1, .1, .1, 0, -.2, -.5, -.8, -1, -1.2),
    # restaurants stay the largest detail at 70+ beside the rising 보험/병원 (a given fact)
    "RESTRNT_AM": (.2, .2, .1, .05, 0, 0, 0, 0, 0, 0, .3, .45, .6, .7),
    "MBRSHOP_AM": (-.5, -.3, 0, .2, .25, .25, .15, 0, -.1, -.2, -.4, -.6, -.8, -1),
    "GROCERY_AM": (-.5, -.3, -.1, 0, .05, .1, .15, .15, .2, .2, .2, .2, .2, .2),
}

# life-stage effects: category -> (use logit shift, log amount shift), times SIGNAL
LS_EFFECTS = {
    "UNI": {"BOOK_AM": (1.2, .3), "CULTURE_AM": (.6, .2), "OFFCOM_AM": (.5, .1), "TRVL_AM": (.3, 0),
            "INSU_AM": (-1.5, -.3), "FUEL_AM": (-1.2, -.3), "AUTOMNT_AM": (-1.5, 0), "AUTOSL_AM": (-1.5, 0),
            "HOS_AM": (-.4, 0), "APPLNC_AM": (-.5, 0), "GROCERY_AM": (-.6, -.2), "MBRSHOP_AM": (-.8, 0),
            "DISTBNP_AM": (-.5, 0), "CLOTH_AM": (.3, 0), "RESTRNT_AM": (.3, -.1), "REST": (0, -.2)},
    "NEW_JOB": {"CLOTH_AM": (.6, .2), "GOODS_AM": (.5, .1), "CULTURE_AM": (.5, .1), "TRVL_AM": (.6, .2),
                "HOTEL_AM": (.5, .1), "OFFCOM_AM": (.4, .1), "LEISURE_P_AM": (.4, 0), "RESTRNT_AM": (.2, .2),
                "INSU_AM": (-.5, -.2), "ACDM_AM": (-.3, 0), "SANIT_AM": (.3, 0), "GROCERY_AM": (-.3, 0)},
    "NEW_WED": {"FUNITR_AM": (2.0, .4), "APPLNC_AM": (1.5, .3), "KITWR_AM": (1.5, .2), "FABRIC_AM": (.8, .1),
                "BLDMNG_AM": (.5, 0), "ARCHIT_AM": (.8, .2), "TRVL_AM": (.5, .2), "HOTEL_AM": (.4, 0),
                "GROCERY_AM": (.3, 0), "INSU_AM": (.3, 0), "MBRSHOP_AM": (.3, 0), "ACDM_AM": (-.8, 0)},
    "CHILD_BABY": {"DISTBP_AM": (.5, .2), "GROCERY_AM": (.5, .2), "HOS_AM": (.8, .1), "SANIT_AM": (.7, .2),
                   "CLOTH_AM": (.4, 0), "FABRIC_AM": (.7, 0), "MBRSHOP_AM": (.7, .2), "CULTURE_AM": (-.3, 0),
                   "TRVL_AM": (-.6, 0), "LEISURE_S_AM": (-.4, 0), "ACDM_AM": (.3, 0), "APPLNC_AM": (.4, 0),
                   "FUEL_AM": (.3, 0), "RESTRNT_AM": (-.2, -.1)},
    "CHILD_TEEN": {"ACDM_AM": (1.4, .25), "BOOK_AM": (.8, .2), "OFFCOM_AM": (.4, .1), "GROCERY_AM": (.4, .1),
                   "DISTBP_AM": (.3, .1), "CLOTH_AM": (.2, 0), "FUEL_AM": (.3, 0), "INSU_AM": (.3, 0),
                   "MBRSHOP_AM": (.5, 0), "TRVL_AM": (-.3, 0)},
    "CHILD_UNI": {"ACDM_AM": (.5, 0), "BOOK_AM": (.3, 0), "INSU_AM": (.5, .1), "AUTOMNT_AM": (.15, 0),
                  "FUEL_AM": (.2, 0), "CLOTH_AM": (.2, 0), "OFFCOM_AM": (.3, .1), "HLTHFS_AM": (.3, 0),
                  "DISTBNP_AM": (.2, 0), "AUTOSL_AM": (.2, 0)},
    "GOLLIFE": {"TRVL_AM": (.5, .2), "HOTEL_AM": (.4, .1), "LEISURE_S_AM": (.6, .2), "CULTURE_AM": (.3, 0),
                "RESTRNT_AM": (.2, .2), "ACDM_AM": (-1.5, 0), "GROCERY_AM": (-.3, 0), "MBRSHOP_AM": (-.3, 0),
                "HLTHFS_AM": (.3, 0), "AUTOSL_AM": (.3, 0)},
    "SECLIFE": {"LEISURE_S_AM": (.6, .2), "TRVL_AM": (.3, .1), "HOS_AM": (.4, 0), "INSU_AM": (.4, .1),
                "HLTHFS_AM": (.2, 0), "OPTIC_AM": (.3, 0), "AGRICTR_AM": (.2, 0), "ARCHIT_AM": (.4, 0),
                "BLDMNG_AM": (.3, 0), "ACDM_AM": (-1.5, 0), "CULTURE_AM": (-.2, 0)},
    "RETIR": {"HOS_AM": (.8, .1), "HLTHFS_AM": (.2, 0), "GROCERY_AM": (.3, 0), "DISTBNP_AM": (.5, 0),
              "AGRICTR_AM": (.2, 0), "OPTIC_AM": (.3, 0), "INSU_AM": (.2, 0), "FUEL_AM": (-.5, 0),
              "AUTOMNT_AM": (-.6, 0), "AUTOSL_AM": (-.6, 0), "CLOTH_AM": (-.4, 0), "CULTURE_AM": (-.5, 0),
              "OFFCOM_AM": (-.4, 0), "ACDM_AM": (-2.0, 0), "TRVL_AM": (-.3, 0)},
    "TEEN": {"OFFCOM_AM": (.5, 0), "BOOK_AM": (.8, 0), "CULTURE_AM": (.6, 0), "GOODS_AM": (.5, 0),
             "RESTRNT_AM": (.3, -.3), "INSU_AM": (-3, 0), "FUEL_AM": (-3, 0), "AUTOMNT_AM": (-3, 0),
             "AUTOSL_AM": (-3, 0), "MBRSHOP_AM": (-1, 0), "HOS_AM": (-1, 0), "APPLNC_AM": (-1, 0),
             "ACDM_AM": (.5, 0), "HOTEL_AM": (-2, 0), "TRVL_AM": (-1.5, 0), "REST": (0, -.3)},
}
SIGNAL = 1.8  # strength of the life-stage effects: sets the Bayes ceiling

# spending segments (latent, persistent): name, prior weight, effects as above, times
# SEGMENT_SIGNAL. Broad enough that one row carries its segment (single-row ceiling
# ~0.7), overlapping enough that a single quarter is not a lookup.
SEGMENTS = (
    ("생활필수형", .22, {"GROCERY_AM": (.9, .5), "DISTBP_AM": (.7, .4), "DISTBNP_AM": (.8, .3), "MBRSHOP_AM": (.8, .3),
                      "KITWR_AM": (.5, 0), "SANIT_AM": (.3, .1), "RESTRNT_AM": (-.4, -.4), "TRVL_AM": (-.8, 0),
                      "HOTEL_AM": (-.6, 0), "CULTURE_AM": (-.6, 0), "LEISURE_S_AM": (-.5, 0)}),
    ("외식여가형", .22, {"RESTRNT_AM": (.8, .6), "CULTURE_AM": (1.0, .3), "HOTEL_AM": (1.0, .3), "TRVL_AM": (.9, .3),
                      "LEISURE_S_AM": (.8, .2), "LEISURE_P_AM": (.5, 0), "GROCERY_AM": (-.6, -.3),
                      "DISTBNP_AM": (-.5, 0), "MBRSHOP_AM": (-.4, 0)}),
    ("자동차형", .18, {"FUEL_AM": (1.8, .6), "AUTOMNT_AM": (1.5, .4), "AUTOSL_AM": (1.2, .2), "RPR_AM": (.5, 0),
                   "MBRSHOP_AM": (.4, 0), "TRVL_AM": (-.3, 0), "CLOTH_AM": (-.3, 0)}),
    ("쇼핑형", .18, {"CLOTH_AM": (1.2, .5), "GOODS_AM": (1.2, .5), "SANIT_AM": (.8, .3), "FABRIC_AM": (.8, .2),
                  "DISTBP_AM": (.4, .2), "OPTIC_AM": (.4, 0), "FUNITR_AM": (.3, 0), "FUEL_AM": (-.3, 0)}),
    ("건강관리형", .20, {"INSU_AM": (1.2, .5), "HOS_AM": (1.0, .4), "HLTHFS_AM": (1.2, .4), "OPTIC_AM": (.6, 0),
                      "SANIT_AM": (.2, 0), "RESTRNT_AM": (-.2, -.2), "LEISURE_S_AM": (-.2, 0)}),
)
SEGMENT_NAMES = tuple(name for name, _, _ in SEGMENTS)
SEGMENT_SIGNAL = 1.5  # strength of the segment effects: sets the segment ceiling
SUB_LEVELS = (-.4, 0.0, .4)
# grade -> personal log level (spend share: 21 ~3.5%, 24 ~35%, 23 second) and a mix tilt
GRADE_LEVEL = np.array([1.05, .75, .48, 0.0, -.5])
GRADE_PRIOR = np.array([.01, .045, .16, .35, .435])
GRADE_MIX = {"TRVL_AM": .5, "HOTEL_AM": .5, "LEISURE_S_AM": .5, "CLOTH_AM": .3, "AUTOSL_AM": .4,
              "GROCERY_AM": -.2, "DISTBNP_AM": -.2}
GRADE_MIX_WEIGHT = np.array([1.0, .7, .3, 0.0, -.6])
LEVEL_USE_SLOPE = .35  # richer customers use more categories

# --- structure beyond the published marginals (issue 9) ---------------------------
# Each table is (use logit shift, log amount shift). Sources are the card companies'
# and public statistics named beside each entry (figures quoted by the press); where
# none was found the entry says "assumption". The figures are by merchant location or
# customer share, not per-customer amounts, so they set directions and rough sizes.
#
# Sex: female minus male, applied half each way (women +x/2, men -x/2). Every source below
# is a ratio inside one category (women's share of its customers or sales) or a card's
# mix, not a level: these shifts set the mix, and the overall level by sex is
# SEX_TOTAL_PER_USER (raked on top, so a category's women/men amount ratio is its mix
# ratio times 0.848).
#  - beauty 82% women, fashion 69% women, leisure/sports 27% women: 신한카드 빅데이터
#    연구소, Seoul merchants Q4 2016 (이데일리 2017-02); dermatology 77% women (신한카드)
#  - golf courses 66.5% men: BC카드·KT·AGL 2021 data (골프비즈 2022)
#  - eating out 57.9% men, bars 79-85% men: aT 외식산업 report on 신한카드 data (서울경제
#    2021-12); Korean restaurants and bars 62-65% men: 한국신용데이터 2024
#  - women's card mix leans to discount marts, online, medical, clothing: 삼성카드
#    women's card (중앙일보)
#  - passenger-car registrants ~30% women: KAIDA via 조선일보 2024-05; fuel, repair,
#    building work, education, groceries by sex: assumption (no card statistic found)
SEX_EFFECTS = {"SANIT_AM": (.9, .3), "CLOTH_AM": (.5, .15), "GOODS_AM": (.6, .15), "FABRIC_AM": (.4, 0),
        "KITWR_AM": (.4, 0), "GROCERY_AM": (.4, .1), "DISTBP_AM": (.3, .1), "MBRSHOP_AM": (.2, 0),
        "HOS_AM": (.3, 0), "HLTHFS_AM": (.3, .1), "BOOK_AM": (.2, 0), "ACDM_AM": (.3, .1), "CULTURE_AM": (.1, 0),
        "FUEL_AM": (-.5, -.1), "AUTOMNT_AM": (-.6, -.1), "AUTOSL_AM": (-.5, 0), "LEISURE_S_AM": (-.6, -.2),
        "LEISURE_P_AM": (-.3, 0), "RESTRNT_AM": (-.1, -.2), "ARCHIT_AM": (-.4, 0), "RPR_AM": (-.3, 0)}
REGION_SHARE = dict(zip(REGIONS, (.19, .26, .057, .046, .007, .065, .013, .028, .028, .022, .03, .064,
                                   .031, .041, .051, .035, .036)))
# Region: use shift enters the use logit, amount shift the NegBin shape (so the
# likelihood stays linear in the row; see *Exactness*). The sources below are shares of a
# region's card spending or of a category's sales (ratios inside a region or a category),
# not per-user levels: they set the mix; the overall level is REGION_TOTAL_PER_USER_PUBLISHED.
#  - fuel 20-26% of card spending in 경북/충남 against 11% nationally and 13% in 대전:
#    한국은행 지역별·업종별 개인 신용카드 이용실적 2010 and 대전충남본부 2010
#  - Seoul's largest category is distribution (33.5%); 대전 24% vs 충남 17%: same sources
#  - 9 of the 12 department stores over 1조 원 are in the capital region: 이투데이 2024
#  - 하나로마트 (co-op, DISTBNP) is the main shop in rural 읍·면: 내일신문 2025 (no share)
#  - 44% of hotel sales in Seoul, 36% of resort sales in 강원: KB국민카드 2023
#  - not planted yet (a category level inside one region): 충북's personal credit cards in
#    2023 H1, 4.92조: fuel 17.9%, 숙박·음식점 19.5%, 의료·보건 10.8% (한국은행 ECOS 지역별
#    소비유형별 개인 신용카드, via 연합뉴스 2023-09-24); the stand-in gives 충북 fuel 11% and
#    hotels + restaurants 17% of TOT_USE_AM (the categories do not map one to one)
#  - agriculture in provinces, warehouse clubs in the capital area and metro cities,
#    culture in Seoul: assumption (store locations only)
REGION_GROUP_EFFECTS = {
    "capital": {"AGRICTR_AM": (-.6, -.2), "DISTBP_AM": (.25, .15), "DISTBNP_AM": (-.4, -.1), "MBRSHOP_AM": (.3, .1),
                "FUEL_AM": (-.2, -.1), "CULTURE_AM": (.15, .05)},
    "metro": {"AGRICTR_AM": (-.4, -.1), "DISTBP_AM": (.1, .05), "MBRSHOP_AM": (.2, 0), "FUEL_AM": (0, 0)},
    "province": {"AGRICTR_AM": (1.1, .3), "FUEL_AM": (.5, .2), "AUTOMNT_AM": (.3, .1), "DISTBNP_AM": (.7, .2),
                 "DISTBP_AM": (-.3, -.1), "MBRSHOP_AM": (-.7, -.1), "CULTURE_AM": (-.3, -.1), "TRVL_AM": (-.2, 0)},
}
REGION_EXTRA = {
    "서울": {"FUEL_AM": (-.4, -.1), "AUTOMNT_AM": (-.3, 0), "AGRICTR_AM": (-.4, 0), "CULTURE_AM": (.15, .05),
           "TRVL_AM": (.2, .1), "HOTEL_AM": (.1, 0), "RESTRNT_AM": (.1, .1)},
    "강원": {"HOTEL_AM": (-.3, 0), "LEISURE_S_AM": (.2, 0)},  # resorts are local for 강원 residents
    "제주": {"HOTEL_AM": (-.4, 0), "TRVL_AM": (-.2, 0)},
    "울산": {"AUTOSL_AM": (.2, .1)},
}
# Season by quarter of the year (q1..q4), applied to use and amount alike. Every source
# below is a ratio inside one category (a month or quarter against another), not a
# level against total spending; the total's level by quarter is PERSONAL_CARD_APPROVALS.
#  - clothing peaks Nov-Dec, bottoms in August (현대카드 index 2012-13; LG카드 2003)
#  - lodging +60% in August vs April (신한카드 2011); travel peaks in summer, with the
#    winter break second
#  - academies: March ~9% of the year (신한카드 2015-17), July 14% (삼성카드 2022);
#    study books Jan-Mar 42% of the year (인터파크)
#  - groceries and co-op stores peak before 설 (q1 both years) and 추석 (q3 both
#    years) (KB국민카드; 통계청 온라인쇼핑동향 2022-08)
#  - air conditioners lift appliances in July (여신금융연구소 2016)
#  - golf peaks in October, January green fees 37-40% lower (서울경제)
#  - bars and restaurants peak in December (LG카드 2003)
SEASON = {"CLOTH_AM": (0, -.05, -.25, .25), "GOODS_AM": (0, 0, -.1, .15), "FABRIC_AM": (.05, -.1, -.15, .15),
           "TRVL_AM": (.1, 0, .5, -.2), "HOTEL_AM": (-.05, 0, .4, -.1), "ACDM_AM": (.2, -.1, .15, -.1),
           "BOOK_AM": (.3, -.1, -.05, -.1), "GROCERY_AM": (.12, 0, .12, -.05), "DISTBNP_AM": (.12, 0, .12, -.05),
           "APPLNC_AM": (-.05, .1, .25, -.05), "LEISURE_S_AM": (-.3, .15, .05, .15),
           "LEISURE_P_AM": (-.1, .15, .1, -.1), "RESTRNT_AM": (0, 0, 0, .12)}
# Quarter-specific shifts, 2022q1..2023q4.
#  - fuel follows the pump price: record ~2,138 won/L in late June 2022, tax cut to 37%
#    from July, ~1,527 won/L by late December 2022 (서울신문 2022-07; Opinet) -> amounts
#  - social distancing ended 2022-04-18; card approvals for lodging & restaurants
#    +5% y/y in 2022q1, +28% q2, +37% q3, +20% q4, arts/sports/leisure +23% q2, +29% q3
#    (여신금융협회 quarterly card approvals, via 이데일리/NSP/한국경제): the recovery
#    is modelled as a 2022q1 dip that closes over 2022
QUARTER_SHIFT = {"FUEL_AM": (0, .12, .05, -.08, -.12, -.14, -.05, -.05),
                  "RESTRNT_AM": (-.15, -.05, 0, 0, 0, 0, 0, 0), "HOTEL_AM": (-.35, -.15, -.05, 0, 0, 0, 0, 0),
                  "TRVL_AM": (-.5, -.25, -.1, -.05, 0, 0, 0, 0), "LEISURE_S_AM": (-.2, -.05, 0, 0, 0, 0, 0, 0),
                  "CULTURE_AM": (-.2, -.05, 0, 0, 0, 0, 0, 0)}

# --- overall levels (issue 27): published levels the model is raked to --------------
# Total card spending per card user (카드 사용액 / 카드 사용자 수) in 2020, 만원 a year,
# rounded to 10만원 (±5만원): 통계청 통계플러스 2021년 가을호, 「카드데이터로 본 코로나19
# 발생 이후 개인 소비 변화」 (KCB card data; reported by 이데일리, KPI뉴스, 미디어펜
# 2021-09-29). National 1,770; men 1,910, women 1,620 (women / men 0.848). The 2018
# release of the same data (통계청 통계빅데이터센터 with KCB; 한라일보 2019-06-17: national
# 1,710, men 1,840, women 1,580, women / men 0.859) disagrees by 0.011: we use 2020 and
# take the gap into the tolerance. Only the ratio to the national mean is planted (the
# real file's level is the published MEAN_TOT_BY_AGE).
NATIONAL_TOTAL_PER_USER = 1770
SEX_TOTAL_PER_USER = {"1": 1910, "2": 1620}
# By region of residence, same release: the five highest (세종 2,190, 서울 1,930, 경기 1,890,
# 제주 1,880, 광주 1,840) and the five lowest (경북 1,450, 전남 1,530, 대구·전북·경남 1,600).
# The other seven are not in the published text; the ranking puts each between 1,600
# and 1,840, and they get one common value that makes the mean over REGION_SHARE the
# national 1,770 (assumption: about 1,703, see region_level_table).
REGION_TOTAL_PER_USER_PUBLISHED = {"세종": 2190, "서울": 1930, "경기": 1890, "제주": 1880, "광주": 1840,
                                   "경북": 1450, "전남": 1530, "대구": 1600, "전북": 1600, "경남": 1600}
# Across the year: personal-card approvals (개인카드 승인금액, 조원) per quarter,
# 여신금융협회 「카드승인실적 분석」 (quarterly releases, via 뉴스웍스 2023-04-28, 에너지경제
# 2023-07-31, KPI뉴스 2023-11-01, 에너지경제 2024-01-31, 화이트페이퍼 2022-10-31, 뉴스핌
# 2023-01-31), rounded to 0.1조. 2022q1 and 2022q2 are derived from 2023's figures and
# their year-on-year growth (228.6 / 1.115, 237.7 / 1.051; growth rounded to 0.1%). They
# count all personal cards, not users: the per-user level is taken to move with them.
# The total of all cards (법인 included: 282.5조 in 2022q4, 300.2조 in 2023q4) moves
# slightly differently; we use the personal cards as the closer match.
PERSONAL_CARD_APPROVALS = dict(zip(config.QUARTERS, (205.0, 226.2, 232.3, 233.1, 228.6, 237.7, 241.8, 246.7)))


def region_level_table() -> dict[str, float]:
    """Total per card user (만원 a year) for all 17 regions: the published ten and, for the
    seven the release does not name, the common value that makes the REGION_SHARE-weighted
    mean the national figure."""
    w = {r: REGION_SHARE[r] / sum(REGION_SHARE.values()) for r in REGIONS}
    known = sum(w[r] * v for r, v in REGION_TOTAL_PER_USER_PUBLISHED.items())
    rest = (NATIONAL_TOTAL_PER_USER - known) / sum(w[r] for r in REGIONS if r not in REGION_TOTAL_PER_USER_PUBLISHED)
    return {r: float(REGION_TOTAL_PER_USER_PUBLISHED.get(r, rest)) for r in REGIONS}


# Co-movement: each group has a high/low intensity per customer-quarter (probability
# 1/2 each, reused across quarters with probability RHO_CO) that multiplies all its
# members' amounts by exp(+-CO_SHIFT) / cosh(CO_SHIFT) (mean 1, so the calibrated means
# stay), so members rise and fall together, within a row and over a customer's
# quarters. Sources: no household-level statistic was found; the groups are our
# assumption (education bills, books and the family shop; fuel, maintenance and car
# purchase; trips and lodging).
CO_GROUPS = (("ACDM_AM", "BOOK_AM", "GROCERY_AM"), ("FUEL_AM", "AUTOMNT_AM", "AUTOSL_AM"), ("TRVL_AM", "HOTEL_AM"))
CO_SHIFT = .6  # .5 before the overall levels (issue 27), which lift every pair's correlation

INACTIVE = np.array([.05, .04, .035, .03, .03, .03, .03, .035, .04, .05, .06, .07, .08, .09, .30])
DIGITAL_REG = np.array([.88, .9, .88, .85, .8, .75, .68, .6, .5, .4, .3, .2, .12, .08, .5])
DIGITAL_USE = np.array([.85, .85, .82, .8, .78, .75, .7, .65, .6, .55, .5, .45, .4, .35, .6])
FEMALE_SHARE = np.array([.5, .5, .49, .49, .5, .5, .5, .51, .52, .54, .56, .58, .6, .62, .5])
# check-card share grid and its concentration
SHARE_GRID = np.r_[.003, np.arange(1, 20) / 20, .997]
SHARE_CONC = 3.0
RHO_GAMMA, RHO_USE, RHO_SHARE, RHO_DIGITAL, RHO_CO = .6, .7, .85, .6, .6  # persistence of personal habits

# --- anomalies (see fipro.synth.generate) ------------------------------------------
# categories a category burst can hit, and the probability of each of ANOMALY_TYPES
BURST_CATS = tuple(CATS.index(c) for c in (
    "APPLNC_AM", "FUNITR_AM", "HOTEL_AM", "TRVL_AM", "CLOTH_AM", "GOODS_AM", "LEISURE_P_AM", "OPTIC_AM",
    "AUTOMNT_AM", "MBRSHOP_AM", "ARCHIT_AM", "CULTURE_AM", "DISTBP_AM", "RESTRNT_AM", "LEISURE_S_AM"))
ANOMALY_TYPE_P = (.3, .3, .2, .2)
