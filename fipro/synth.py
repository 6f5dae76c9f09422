"""Synthetic stand-in for EDU_DATA_F, with a planted truth to measure models against.

When the licensed raw file is absent, ``ensure_synthetic`` writes
``data/raw/edu_data_F.csv`` in the real file's exact format (header, column order,
CRLF, UTF-8, no quoting, whole 천원 amounts, the real code spellings) plus
``edu_data_F.truth.parquet`` (never a model input) and a sidecar
``edu_data_F.csv.synth.json``. The parameters are tuned to every published fact in
``shared/spec/data-contract.md``; the tests check each one with a stated tolerance.

Generative model
----------------
Per customer (fixed over the eight quarters; "stable demographics"):

* ``AGE`` band (allocated to each block of customers in the published proportions,
  so the age mix is exact at every scale), ``SEX_CD``, region, membership grade
  ``MBR_RK`` (age-dependent priors); ``ATT_YM`` after age ~19 and not after the
  first quarter the customer appears (late joiners mostly join in that quarter);
  ``DIGT_CHNL_REG_YN`` from age (``USE`` is drawn per quarter from age and is ``N``
  whenever ``REG`` is ``N``).
* a latent class ``z = (segment k, sub-level l)``: five spending segments (a mix
  profile: 생활필수형 family groceries, 외식여가형 diners and travellers, 자동차형 car
  owners, 쇼핑형 heavy shoppers, 건강관리형 health and insurance; ``SEGMENTS``, scaled by
  ``SEGMENT_SIGNAL``) with prior P(k | age, sex), three sub-levels equally likely. The
  personal log spending level is ``level(grade) + nu[l]``, which ties the grade to
  spending. The segment is persistent, so a customer's quarters accumulate evidence.
* a personal mix: per category a persistent Gamma part of the amount multiplier and
  a persistent uniform that makes category use habitual (both keep the single-row
  marginals below exact, see *Exactness*).
* presence: ~4% join late, ~4% leave early, ~2% miss one quarter, so coverage is
  measurable; none of it depends on life stage.

Life stage is a Markov chain per customer: ``LIFE_STAGE`` in 2022q1 from
P(LS | age, sex), then a quarterly transition matrix per age band with a few
plausible moves (TEEN->UNI, UNI->NEW_JOB, NEW_JOB->NEW_WED, NEW_WED->CHILD_BABY,
CHILD_BABY->CHILD_TEEN, CHILD_TEEN->CHILD_UNI, CHILD_UNI->GOLLIFE, GOLLIFE->SECLIFE,
SECLIFE->RETIR). The prior of a row, P(LS_t | age, sex), is the exact marginal
``p1 @ T**t``.

Per customer-quarter: the row is inactive (all amounts 0) with probability
eps(age); otherwise each of 32 detail categories plus an *uncategorised remainder*
``REST`` is used with probability ``pi_c = logistic(eta_c)`` and then has amount
``1 + NegBin(r_c, p_c)``: a Poisson whose mean is ``odds_c`` times a Gamma(r_c)
multiplier. ``eta_c`` and ``log odds_c`` add effects of age band, life stage, sex,
segment, grade, sub-level and quarter; region shifts ``eta_c`` and the shape ``r_c``.
Categories in a co-movement group (``CO_GROUPS``: academies, books and groceries;
fuel, car maintenance and car purchase; travel and hotels) share a high/low intensity
per customer-quarter that shifts their log odds together. The card split is
``CNF ~ Binomial(TOT, s)`` with the check-card share ``s`` on a fixed grid drawn
from P(s | LS). Amounts are integers in 천원 by construction, so there is no
rounding step for the posterior to approximate.

Calibration: a per-age and a per-stage log level are raked (``Model._calibrate``, on
the model's analytic expected totals) so the mean ``TOT_USE_AM`` by age equals the
published means and the mean check share by stage equals the published one. The
published by-stage totals imply a grand mean ~8% below the by-age ones, so by-stage
amounts come out ~8% above their published values (``Model.stage_scale_factor``).
``SIGNAL`` scales every life-stage effect; at 1.8 the single-row Bayes ceiling is
~0.71 (macro-F1 ~0.71) against ~0.50 for the most common stage per age band x sex.
``SEGMENT_SIGNAL`` scales the segment effects; at 1.5 the single-row segment ceiling
is ~0.69 (ARI ~0.39) and the customer-level one ~0.83 (ARI ~0.63).

Structure beyond the published marginals (sources beside each table: ``_SEX``,
``_REGION_GROUP_EFFECTS`` / ``_REGION_EXTRA``, ``_SEASON``, ``_QUARTER_SHIFT``,
``CO_GROUPS``): women spend more on beauty, clothing, accessories, groceries and
health food, men on fuel, cars, golf/leisure and eating out; the provinces more on
fuel, farming and co-op stores (하나로마트), the capital region more on department
stores and online retail, warehouse clubs and culture; clothing peaks in q4 and
bottoms in q3, travel and hotels peak in q3, books and academies in q1 (academies
again in q3), groceries before 설 (q1) and 추석 (q3); fuel follows the 2022 pump-price
peak and travel, hotels, restaurants and leisure recover after distancing ended in
April 2022.

Accounting identities (one documented way): each upper amount is exactly the sum of
its details (``contract.HIERARCHY``; ``AGRICTR_AM`` and ``MBRSHOP_AM`` have no upper);
``TOT_USE_AM = sum(details) + REST``, so the category sum is <= TOT and the remainder
is uncategorised spend; ``TOT_USE_AM = CRDSL_USE_AM + CNF_USE_AM`` exactly.

Exactness of the posterior
--------------------------
``posterior_<CODE>`` in the truth file is P(LIFE_STAGE | the row's observed columns)
under this model, computed in closed form: with ``X = [used_c, used_c * r_c,
amount_c - 1]`` the NegBin log-likelihood is linear in X for each (LS, z), so it is a
matrix product per (age, sex, grade, quarter) group; z is summed out exactly, the
card split adds a mixture over the share grid, and inactivity a two-part mixture
for all-zero rows. Region's use shift enters only ``log P(no category used)`` (its
part of ``used * eta`` is the row's own and cancels), computed per region profile;
each co-movement group adds a two-part mixture over its intensity, again as matrix
products. Region, ATT_YM, grade and the digital flags are drawn
independently of life stage given (age, sex), so their priors cancel; region and sex
enter the likelihood through r_c, grade through the level and mix, quarter through
the prior and seasonality. Conditioning set: every observed column of the row
except LIFE_STAGE (BAS_YH, AGE, SEX_CD, MBR_RK, ATT_YM, HOUS_SIDO_NM, both digital
flags, all amounts; the remainder is TOT minus the detail sum). Persistent
per-customer parts are built so each row's marginal is exactly the model above:
Gamma(rho r) + Gamma((1-rho) r) = Gamma(r), and a uniform that is reused with
probability rho is still uniform. The posterior is single-row: it ignores the
customer's other quarters.

The truth file also holds the exact single-row ``posterior_segment_<k>`` (same closed
form, z summed over life stage and sub-level), ``segment_name``, and
``customer_posterior_segment_<k>``: an approximation from all the customer's quarters
(:func:`_customer_segment_posterior`: quarters independent given z, so it leaves out
the habits that persist across quarters and is overconfident, mean max ~0.96 for
accuracy ~0.83 on the sample).

Anomalies (about 1% of rows, ``anomaly_type`` in the truth; one per customer at most):
``total_spike`` (every amount times m in [1.6, 6]), ``category_burst`` (one category
gains f in [0.25, 3] times the customer's mean total, at least 50), ``mix_shift`` (the mix moves
by a weight w in [0.35, 1] towards the mix of a life stage the customer's age makes
unlikely, total kept), ``dormant_burst`` (one or two quiet quarters, zeroed, then
the amounts times m in [1.5, 5]). The magnitude is m, f, w, m, drawn log-uniform
(uniform for w) from obvious to subtle. Anomaly rows are not model outcomes: their
posterior is that of the clean row before planting. The zeroed quiet quarters are
ordinary model outcomes (an all-zero row, which inactivity produces anyway) and are
labelled ``none``; their posterior is the model's for an all-zero row.

Financial stress (truth ``stress_level``): a latent score from the model-outcome rows
(before anomalies), rising
with the credit-card share, a fall in spending from the previous quarter, the
volatility of the customer's spending, the insurance + hospital share, a personal
component and noise. ``adverse_next`` ~ Bernoulli(logistic(-4 + 1.3 stress)) is the
next-quarter adverse outcome.

Determinism: customers are generated in blocks of ``BLOCK_CUSTOMERS``, block b from
``SeedSequence(seed).spawn`` child b, so the same seed and scale give byte-identical
files whatever the chunk size used for writing.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.special import expit, log_expit, logsumexp
from sklearn.metrics import adjusted_rand_score, f1_score, roc_auc_score
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from fipro import config, contract, datasets
from fipro.evaluation.baselines import AGE_SEX_CODES, GroupMajorityClassifier
from fipro.evaluation.calibration import expected_calibration_error
from fipro.export import atomic_path, write_json_atomic

GENERATOR_VERSION = "2.0"
BLOCK_CUSTOMERS = 5_000
DEFAULT_CHUNK_CUSTOMERS = 20_000  # ~0.8 GB peak; the output does not depend on it
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


def _expected_quarters() -> float:
    """Exact expected quarters present per customer under the presence draws below."""
    T, e = N_Q, 0.0
    for f in range(T):
        pf = 1 - P_JOIN if f == 0 else P_JOIN / (T - 1)
        for last in range(T):
            pl = 1 - P_LEAVE if last == T - 1 else P_LEAVE / (T - 1)
            end = max(last, f)
            e += pf * pl * (end - f + 1 - P_GAP * max(end - f - 1, 0) / T)
    return e


SCALES: dict[str, int] = {"sample": 10_000, "full": int(round(ROWS_REAL / _expected_quarters() / 1000) * 1000)}

# --- published facts (data-contract.md) the model is calibrated to ---------------
AGE_ROW_SHARE = dict(zip(AGES, (5.8, 8.2, 9.7, 10.7, 12.0, 11.8, 11.2, 9.5, 7.7, 5.4, 3.1, 1.7, 0.9, 0.4, 1.8)))
MEAN_TOT_BY_AGE = dict(zip(AGES, (298, 365, 398, 414, 420, 415, 403, 380, 348, 309, 265, 242, 228, 212, 126)))
MEAN_CNF_CRDSL_BY_STAGE = {"UNI": (174, 86), "NEW_JOB": (139, 208), "NEW_WED": (150, 264), "CHILD_BABY": (139, 278),
                           "CHILD_TEEN": (78, 337), "CHILD_UNI": (63, 329), "GOLLIFE": (75, 198),
                           "SECLIFE": (54, 225), "RETIR": (36, 184), "TEEN": (104, 3)}

# P(LS | age band) in 2022q1 (columns in STAGES order); a modal age x sex rule gets ~50%.
_LS_PRIOR = {  # UNI NEW_JOB NEW_WED C_BABY C_TEEN C_UNI GOLLIFE SECLIFE RETIR TEEN
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
_LS_FEMALE_TILT = {"NEW_WED": 1.3, "CHILD_BABY": 1.1, "NEW_JOB": 0.9, "UNI": 1.1}
# quarterly transitions: (from, to, probability, youngest band where it can happen)
_TRANSITIONS = (("TEEN", "UNI", .04, 0), ("UNI", "NEW_JOB", .05, 0), ("NEW_JOB", "NEW_WED", .025, 0),
                ("NEW_WED", "CHILD_BABY", .05, 0), ("CHILD_BABY", "CHILD_TEEN", .02, 35),
                ("CHILD_TEEN", "CHILD_UNI", .02, 45), ("CHILD_UNI", "GOLLIFE", .012, 50),
                ("GOLLIFE", "SECLIFE", .012, 50), ("SECLIFE", "RETIR", .025, 55))

# per detail: (share of rows using it, mean amount when used in 천원, NegBin shape r)
_BASE = {
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
_AGE_CURVE = {
    "HOS_AM": (-.8, -.7, -.55, -.4, -.25, -.1, .1, .35, .85, 1.05, 1.0, .9, .85, .8),
    "INSU_AM": (-1.2, -.8, -.4, -.2, 0, .15, .3, .4, .45, .5, .5, .5, .5, .5),
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
    "RESTRNT_AM": (.2, .2, .1, .05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "MBRSHOP_AM": (-.5, -.3, 0, .2, .25, .25, .15, 0, -.1, -.2, -.4, -.6, -.8, -1),
    "GROCERY_AM": (-.5, -.3, -.1, 0, .05, .1, .15, .15, .2, .2, .2, .2, .2, .2),
}

# life-stage effects: category -> (use logit shift, log amount shift), times SIGNAL
_LS_EFFECTS = {
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
_GRADE_MIX = {"TRVL_AM": .5, "HOTEL_AM": .5, "LEISURE_S_AM": .5, "CLOTH_AM": .3, "AUTOSL_AM": .4,
              "GROCERY_AM": -.2, "DISTBNP_AM": -.2}
_GRADE_MIX_WEIGHT = np.array([1.0, .7, .3, 0.0, -.6])
LEVEL_USE_SLOPE = .35  # richer customers use more categories

# --- structure beyond the published marginals (issue 9) ---------------------------
# Each table is (use logit shift, log amount shift). Sources are the card companies'
# and public statistics named beside each entry (figures quoted by the press); where
# none was found the entry says "assumption". The figures are by merchant location or
# customer share, not per-customer amounts, so they set directions and rough sizes.
#
# Sex: female minus male, applied half each way (women +x/2, men -x/2).
#  - beauty 82% women, fashion 69% women, leisure/sports 27% women: 신한카드 빅데이터
#    연구소, Seoul merchants Q4 2016 (이데일리 2017-02); dermatology 77% women (신한카드)
#  - golf courses 66.5% men: BC카드·KT·AGL 2021 data (골프비즈 2022)
#  - eating out 57.9% men, bars 79-85% men: aT 외식산업 report on 신한카드 data (서울경제
#    2021-12); Korean restaurants and bars 62-65% men: 한국신용데이터 2024
#  - women's card mix leans to discount marts, online, medical, clothing: 삼성카드
#    women's card (중앙일보)
#  - passenger-car registrants ~30% women: KAIDA via 조선일보 2024-05; fuel, repair,
#    building work, education, groceries by sex: assumption (no card statistic found)
_SEX = {"SANIT_AM": (.9, .3), "CLOTH_AM": (.5, .15), "GOODS_AM": (.6, .15), "FABRIC_AM": (.4, 0),
        "KITWR_AM": (.4, 0), "GROCERY_AM": (.4, .1), "DISTBP_AM": (.3, .1), "MBRSHOP_AM": (.2, 0),
        "HOS_AM": (.3, 0), "HLTHFS_AM": (.3, .1), "BOOK_AM": (.2, 0), "ACDM_AM": (.3, .1), "CULTURE_AM": (.1, 0),
        "FUEL_AM": (-.5, -.1), "AUTOMNT_AM": (-.6, -.1), "AUTOSL_AM": (-.5, 0), "LEISURE_S_AM": (-.6, -.2),
        "LEISURE_P_AM": (-.3, 0), "RESTRNT_AM": (-.1, -.2), "ARCHIT_AM": (-.4, 0), "RPR_AM": (-.3, 0)}
_REGION_SHARE = dict(zip(REGIONS, (.19, .26, .057, .046, .007, .065, .013, .028, .028, .022, .03, .064,
                                   .031, .041, .051, .035, .036)))
# Region: use shift enters the use logit, amount shift the NegBin shape (so the
# likelihood stays linear in the row; see *Exactness*).
#  - fuel 20-26% of card spending in 경북/충남 against 11% nationally and 13% in 대전:
#    한국은행 지역별·업종별 개인 신용카드 이용실적 2010 and 대전충남본부 2010
#  - Seoul's largest category is distribution (33.5%); 대전 24% vs 충남 17%: same sources
#  - 9 of the 12 department stores over 1조 원 are in the capital region: 이투데이 2024
#  - 하나로마트 (co-op, DISTBNP) is the main shop in rural 읍·면: 내일신문 2025 (no share)
#  - 44% of hotel sales in Seoul, 36% of resort sales in 강원: KB국민카드 2023
#  - agriculture in provinces, warehouse clubs in the capital area and metro cities,
#    culture in Seoul: assumption (store locations only)
_REGION_GROUP_EFFECTS = {
    "capital": {"AGRICTR_AM": (-.6, -.2), "DISTBP_AM": (.25, .15), "DISTBNP_AM": (-.4, -.1), "MBRSHOP_AM": (.3, .1),
                "FUEL_AM": (-.2, -.1), "CULTURE_AM": (.15, .05)},
    "metro": {"AGRICTR_AM": (-.4, -.1), "DISTBP_AM": (.1, .05), "MBRSHOP_AM": (.2, 0), "FUEL_AM": (0, 0)},
    "province": {"AGRICTR_AM": (1.1, .3), "FUEL_AM": (.5, .2), "AUTOMNT_AM": (.3, .1), "DISTBNP_AM": (.7, .2),
                 "DISTBP_AM": (-.3, -.1), "MBRSHOP_AM": (-.7, -.1), "CULTURE_AM": (-.3, -.1), "TRVL_AM": (-.2, 0)},
}
_REGION_EXTRA = {
    "서울": {"FUEL_AM": (-.4, -.1), "AUTOMNT_AM": (-.3, 0), "AGRICTR_AM": (-.4, 0), "CULTURE_AM": (.15, .05),
           "TRVL_AM": (.2, .1), "HOTEL_AM": (.1, 0), "RESTRNT_AM": (.1, .1)},
    "강원": {"HOTEL_AM": (-.3, 0), "LEISURE_S_AM": (.2, 0)},  # resorts are local for 강원 residents
    "제주": {"HOTEL_AM": (-.4, 0), "TRVL_AM": (-.2, 0)},
    "울산": {"AUTOSL_AM": (.2, .1)},
}
# Season by quarter of the year (q1..q4), applied to use and amount alike.
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
_SEASON = {"CLOTH_AM": (0, -.05, -.25, .25), "GOODS_AM": (0, 0, -.1, .15), "FABRIC_AM": (.05, -.1, -.15, .15),
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
_QUARTER_SHIFT = {"FUEL_AM": (0, .12, .05, -.08, -.12, -.14, -.05, -.05),
                  "RESTRNT_AM": (-.15, -.05, 0, 0, 0, 0, 0, 0), "HOTEL_AM": (-.35, -.15, -.05, 0, 0, 0, 0, 0),
                  "TRVL_AM": (-.5, -.25, -.1, -.05, 0, 0, 0, 0), "LEISURE_S_AM": (-.2, -.05, 0, 0, 0, 0, 0, 0),
                  "CULTURE_AM": (-.2, -.05, 0, 0, 0, 0, 0, 0)}
YEAR_TREND = .03
# Co-movement: each group has a high/low intensity per customer-quarter (probability
# 1/2 each, reused across quarters with probability RHO_CO) that multiplies all its
# members' amounts by exp(+-CO_SHIFT) / cosh(CO_SHIFT) (mean 1, so the calibrated means
# stay), so members rise and fall together, within a row and over a customer's
# quarters. Sources: no household-level statistic was found; the groups are our
# assumption (education bills, books and the family shop; fuel, maintenance and car
# purchase; trips and lodging).
CO_GROUPS = (("ACDM_AM", "BOOK_AM", "GROCERY_AM"), ("FUEL_AM", "AUTOMNT_AM", "AUTOSL_AM"), ("TRVL_AM", "HOTEL_AM"))
CO_SHIFT = .5

_INACTIVE = np.array([.05, .04, .035, .03, .03, .03, .03, .035, .04, .05, .06, .07, .08, .09, .30])
_DIGITAL_REG = np.array([.88, .9, .88, .85, .8, .75, .68, .6, .5, .4, .3, .2, .12, .08, .5])
_DIGITAL_USE = np.array([.85, .85, .82, .8, .78, .75, .7, .65, .6, .55, .5, .45, .4, .35, .6])
_FEMALE = np.array([.5, .5, .49, .49, .5, .5, .5, .51, .52, .54, .56, .58, .6, .62, .5])
# check-card share grid and its concentration
SHARE_GRID = np.r_[.003, np.arange(1, 20) / 20, .997]
_SHARE_CONC = 3.0
RHO_GAMMA, RHO_USE, RHO_SHARE, RHO_DIGITAL, RHO_CO = .6, .7, .85, .6, .6  # persistence of personal habits


def _vec(d: dict, default: float = 0.0, index=CATS) -> np.ndarray:
    return np.array([d.get(c, default) for c in index], dtype=float)


def region_effects(region: str, part: int) -> dict:
    """Category -> shift for one region: its group's effects (``contract.SIDO_GROUP``)
    plus its own (part 0 use, 1 amount)."""
    out = {c: v[part] for c, v in _REGION_GROUP_EFFECTS[contract.SIDO_GROUP[region]].items()}
    for c, v in _REGION_EXTRA.get(region, {}).items():
        out[c] = out.get(c, 0.0) + v[part]
    return out


class Model:
    """All parameter arrays of the generator, derived once from the tables above.

    Index order: age (AGES), sex (SEXES), grade (GRADES), region (REGIONS),
    life stage (STAGES), segment, sub-level, quarter (config.QUARTERS),
    category (CATS = 32 details + REST).
    """

    def __init__(self, signal: float = SIGNAL, segment_signal: float = SEGMENT_SIGNAL):
        nums = np.arange(N_AGE - 1)
        self.age_p = np.array([AGE_ROW_SHARE[a] for a in AGES]) / sum(AGE_ROW_SHARE.values())
        self.female_p = _FEMALE
        self.region_p = np.array([_REGION_SHARE[r] for r in REGIONS])
        self.region_p /= self.region_p.sum()
        # grade prior: the young hold fewer premium grades, the 40s-50s more
        tilt = np.ones((N_AGE, N_GRADE))
        tilt[[0, 1], :3] = [.3, .3, .6]
        tilt[[4, 5, 6, 7], :2] = 1.4
        tilt[N_AGE - 1, :3] = .5
        self.grade_p = GRADE_PRIOR * tilt
        self.grade_p /= self.grade_p.sum(1, keepdims=True)
        # segment prior by age and sex
        seg = np.array([w for _, w, _ in SEGMENTS])
        sp = np.tile(seg, (N_AGE, N_SEX, 1))
        sp[:, 0, 2] *= 1.5
        sp[:, 1, 2] *= .6
        sp[:, 1, 3] *= 1.5
        sp[:, 0, 3] *= .6
        age_num = np.r_[np.arange(20, 90, 5), 45]
        sp[:, :, 4] *= (1 + .025 * (age_num - 45)).clip(.4)[:, None]
        self.seg_p = sp / sp.sum(2, keepdims=True)
        self.log_pz = np.repeat(np.log(self.seg_p) - np.log(N_SUB), N_SUB, axis=2)  # z = k * N_SUB + l
        self.sub_levels = np.array(SUB_LEVELS)
        # life stage: initial prior, transitions, exact marginal per quarter
        p1 = np.array([_LS_PRIOR[a] for a in AGES], dtype=float)
        fem = _vec(_LS_FEMALE_TILT, 1.0, STAGES)
        p1 = np.stack([p1, p1 * fem], axis=1)
        self.ls_p1 = p1 / p1.sum(2, keepdims=True)
        T = np.tile(np.eye(N_LS), (N_AGE, 1, 1))
        for src, dst, p, youngest in _TRANSITIONS:
            i, j = STAGES.index(src), STAGES.index(dst)
            for a in range(N_AGE):
                if a == N_AGE - 1 or 20 + 5 * a >= youngest:
                    T[a, i, i] -= p
                    T[a, i, j] += p
        self.trans = T
        prior = np.empty((N_AGE, N_SEX, N_Q, N_LS))
        prior[:, :, 0] = self.ls_p1
        for q in range(1, N_Q):
            prior[:, :, q] = np.einsum("asl,alm->asm", prior[:, :, q - 1], T)
        self.ls_prior = prior
        # use probability (logit) and amount (log odds) effects
        base_use, base_mean, base_r = (np.array([_BASE[c][k] for c in CATS]) for k in range(3))
        self.r0 = base_r
        curve = np.zeros((N_AGE, N_CAT))
        for c, v in _AGE_CURVE.items():
            curve[:-1, CATS.index(c)] = v
        ls_use = np.zeros((N_LS, N_CAT))
        ls_amt = np.zeros((N_LS, N_CAT))
        for s, eff in _LS_EFFECTS.items():
            for c, (u, m) in eff.items():
                ls_use[STAGES.index(s), CATS.index(c)] = signal * u
                ls_amt[STAGES.index(s), CATS.index(c)] = signal * m
        seg_use = np.zeros((N_SEG, N_CAT))
        seg_amt = np.zeros((N_SEG, N_CAT))
        for k, (_, _, eff) in enumerate(SEGMENTS):
            for c, (u, m) in eff.items():
                seg_use[k, CATS.index(c)], seg_amt[k, CATS.index(c)] = segment_signal * u, segment_signal * m
        season = np.zeros((N_Q, N_CAT))
        for c, v in _SEASON.items():
            season[:, CATS.index(c)] = np.tile(v, N_Q // 4)
        for c, v in _QUARTER_SHIFT.items():
            season[:, CATS.index(c)] += v
        season += YEAR_TREND * (np.arange(N_Q) // 4)[:, None]
        half = np.array([-.5, .5])[:, None]  # female minus male, half each way
        sex_use = half * _vec({c: u for c, (u, _) in _SEX.items()})
        grade_mix = np.outer(_GRADE_MIX_WEIGHT, _vec(_GRADE_MIX))
        # "used" logit = base + age + stage + sex + segment + level + season + region
        self.use_base = np.log(base_use / (1 - base_use))
        self.use_age, self.use_ls, self.use_sex, self.use_seg = curve, ls_use, sex_use, seg_use
        self.use_grade = LEVEL_USE_SLOPE * GRADE_LEVEL[:, None] + 0.5 * grade_mix
        self.use_sub = LEVEL_USE_SLOPE * self.sub_levels
        self.use_q = season
        # log odds of the NegBin (mean when used = 1 + r * odds)
        self.odds_base = np.log((base_mean - 1) / base_r)
        self.odds_age, self.odds_ls, self.odds_seg = .5 * curve, ls_amt, seg_amt
        self.odds_sex = half * _vec({c: m for c, (_, m) in _SEX.items()})
        self.odds_grade = GRADE_LEVEL[:, None] + grade_mix
        self.odds_sub = self.sub_levels
        self.odds_q = season
        # region: use logit shift and NegBin shape (region, cat); regions with the same
        # effects share a profile, so sums over regions run over a few profiles
        use_reg, amt_reg = (np.array([_vec(region_effects(r, k)) for r in REGIONS]) for k in (0, 1))
        profiles, self.region_profile = np.unique(np.c_[use_reg, amt_reg], axis=0, return_inverse=True)
        self.region_profile = self.region_profile.ravel()
        self.profile_p = np.bincount(self.region_profile, weights=self.region_p)
        self.use_region = profiles[:, :N_CAT]  # (profile, cat)
        self.r_profile = self.r0 * np.exp(profiles[:, N_CAT:])  # (profile, cat)
        self.r = self.r_profile[self.region_profile]  # (region, cat)
        # co-movement groups: member categories and the low/high log shift of their odds
        self.group_of = np.full(N_CAT, -1)
        for j, members in enumerate(CO_GROUPS):
            self.group_of[[CATS.index(c) for c in members]] = j
        self.co_shift = np.array([-CO_SHIFT, CO_SHIFT]) - np.log(np.cosh(CO_SHIFT))
        self.inactive = _INACTIVE
        self.digital_reg, self.digital_use = _DIGITAL_REG, _DIGITAL_USE
        # check-card share: P(s | LS) on the grid, tilted to the published mean share
        self.share_p = np.array([_share_weights(c / (c + k)) for c, k in
                                 (MEAN_CNF_CRDSL_BY_STAGE[s] for s in STAGES)])
        self.scale_age = np.zeros(N_AGE)
        self.scale_ls = np.zeros(N_LS)
        self._calibrate()

    # -- derived quantities --------------------------------------------------------
    def log_odds(self, age, ls, sex, seg, sub, grade, q, cat=None):
        """log odds of the NegBin amount; arguments broadcast.

        Without ``cat`` the result has a trailing axis over all categories; with ``cat``
        (broadcasting like the others) it is one value per element.
        """
        if cat is None:
            cat = np.arange(N_CAT)
            age, ls, sex, seg, sub, grade, q = (np.asarray(x)[..., None] for x in (age, ls, sex, seg, sub, grade, q))
        return (self.odds_base[cat] + self.odds_age[age, cat] + self.odds_ls[ls, cat] + self.odds_sex[sex, cat]
                + self.odds_seg[seg, cat] + self.odds_sub[sub] + self.odds_grade[grade, cat] + self.odds_q[q, cat]
                + self.scale_age[age] + self.scale_ls[ls])

    def use_logit(self, age, ls, sex, seg, sub, grade, q, profile=None):
        """logit of P(category used) per category; arguments broadcast.

        ``profile`` is the region profile (``region_profile[region]``); without it the
        region shift is left out (the posterior adds it separately).
        """
        eta = (self.use_base + self.use_age[age] + self.use_ls[ls] + self.use_sex[sex] + self.use_seg[seg]
               + self.use_sub[sub][..., None] + self.use_grade[grade] + self.use_q[q])
        return eta if profile is None else eta + self.use_region[profile]

    def _expected_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """E[TOT] = (A0 + A1 * exp(scale_age + scale_ls)) * (1 - inactive), by (age, sex, q, LS).

        The use probabilities do not depend on the calibrated scales, so one pass
        (looped over age to keep memory small) gives both parts.
        """
        a0 = np.empty((N_AGE, N_SEX, N_Q, N_LS))
        a1 = np.empty_like(a0)
        s, g, q, ls, k, l = np.ix_(*(np.arange(n) for n in (N_SEX, N_GRADE, N_Q, N_LS, N_SEG, N_SUB)))
        scale_age, scale_ls = self.scale_age, self.scale_ls
        self.scale_age, self.scale_ls = np.zeros(N_AGE), np.zeros(N_LS)
        try:
            for a in range(N_AGE):
                w = (self.grade_p[a][:, None, None, None, None] * self.seg_p[a][:, None, None, None, :, None] / N_SUB)
                eta = self.use_logit(a, ls, s, k, l, g, q)
                odds = np.exp(self.log_odds(a, ls, s, k, l, g, q))
                a0[a] = a1[a] = 0
                for p, weight in enumerate(self.profile_p):
                    pi = expit(eta + self.use_region[p])
                    a0[a] += weight * (pi.sum(-1) * w).sum((1, 4, 5))
                    a1[a] += weight * ((pi * self.r_profile[p] * odds).sum(-1) * w).sum((1, 4, 5))
        finally:
            self.scale_age, self.scale_ls = scale_age, scale_ls
        return a0, a1

    def _calibrate(self, iterations: int = 50) -> None:
        # Rake a per-age and a per-stage level so the model's expected mean TOT matches
        # the published means by age exactly and by stage up to one common factor
        # (the two published margins imply slightly different grand means).
        a0, a1 = self._expected_parts()
        keep = (1 - self.inactive)[:, None, None, None]
        w = self.ls_prior * (self.age_p[:, None] * np.c_[1 - self.female_p, self.female_p])[:, :, None, None]
        t_age = np.array([MEAN_TOT_BY_AGE[a] for a in AGES], float)
        t_ls = np.array([sum(MEAN_CNF_CRDSL_BY_STAGE[s]) for s in STAGES], float)
        w_ls = w.sum((0, 1, 2))
        published_grand = (t_ls * w_ls).sum() / w.sum()
        for _ in range(iterations):
            e = (a0 + a1 * np.exp(self.scale_age[:, None, None, None] + self.scale_ls)) * keep
            self.scale_age += np.log(t_age / ((e * w).sum((1, 2, 3)) / w.sum((1, 2, 3))))
            e = (a0 + a1 * np.exp(self.scale_age[:, None, None, None] + self.scale_ls)) * keep
            by_ls = (e * w).sum((0, 1, 2)) / w_ls
            grand = (by_ls * w_ls).sum() / w.sum()
            self.scale_ls += np.log(t_ls * grand / published_grand / by_ls)
        self.stage_scale_factor = float(grand / published_grand)


def _share_weights(mean: float) -> np.ndarray:
    """P(s) on SHARE_GRID: a Beta-like shape tilted (on the logit) to the given mean."""
    s = SHARE_GRID
    logit = np.log(s / (1 - s))
    base = _SHARE_CONC * (mean * np.log(s) + (1 - mean) * np.log(1 - s))
    lo, hi = -20.0, 20.0
    for _ in range(100):
        th = (lo + hi) / 2
        p = np.exp(base + th * logit - (base + th * logit).max())
        p /= p.sum()
        lo, hi = (th, hi) if p @ s < mean else (lo, th)
    return p


def get_model(signal: float | None = None, segment_signal: float | None = None) -> Model:
    """The generator's parameters (cached per signal strength)."""
    return _model(SIGNAL if signal is None else float(signal),
                  SEGMENT_SIGNAL if segment_signal is None else float(segment_signal))


@functools.lru_cache(maxsize=4)
def _model(signal: float, segment_signal: float) -> Model:
    return Model(signal, segment_signal)


# --- generation -------------------------------------------------------------------

def _draw_categorical(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: u (n,) uniforms, p (n, K) probabilities -> index (n,)."""
    cdf = np.cumsum(p, axis=-1)
    return np.minimum((u[:, None] > cdf[:, :-1]).sum(1), p.shape[-1] - 1)


def _persistent_uniform(rng, shape, rho: float) -> np.ndarray:
    """Uniforms over axis 1 (quarters) that repeat a personal draw with probability rho.

    Each entry is exactly Uniform(0, 1) (a mixture of two uniforms), so marginals stay
    as the model says while habits persist across quarters.
    """
    n, t = shape[0], shape[1]
    own = rng.random((n, 1) + tuple(shape[2:]))
    fresh = rng.random(shape)
    return np.where(rng.random(shape) < rho, own, fresh)


def _amounts(model: Model, rng, age, sex, region, grade, seg, sub, ls, q, gamma_own, allow_inactive=True):
    """Clean amounts (n, T, CATS) for customers x quarters; gamma_own (n, CATS) persistent.

    ``q`` broadcasts against ``ls`` (n, T): ``q[None, :]`` for all quarters, (n, 1) for one.
    """
    n, t = ls.shape
    A = lambda x: x[:, None]  # noqa: E731  customer attribute -> (n, 1)
    q = np.broadcast_to(q, ls.shape)
    profile = model.region_profile[region]
    pi = expit(model.use_logit(A(age), ls, A(sex), A(seg), A(sub), A(grade), q, profile=A(profile)))
    used = _persistent_uniform(rng, (n, t, N_CAT), RHO_USE) < pi
    inactive = (rng.random((n, t)) < model.inactive[age][:, None]) & allow_inactive
    used &= ~inactive[..., None]
    high = _persistent_uniform(rng, (n, t, len(CO_GROUPS)), RHO_CO) < .5  # co-movement intensity
    # only used cells need the quarterly Gamma part and the Poisson draw
    ci, ti, ki = np.nonzero(used)
    lo = model.log_odds(age[ci], ls[ci, ti], sex[ci], seg[ci], sub[ci], grade[ci], q[ci, ti], cat=ki)
    grp = model.group_of[ki]
    member = grp >= 0
    lo[member] += model.co_shift[high[ci[member], ti[member], grp[member]].astype(np.int64)]
    odds = np.exp(lo)
    r = model.r[region[ci], ki]
    g = gamma_own[ci, ki] + rng.standard_gamma((1 - RHO_GAMMA) * r)
    out = np.zeros((n, t, N_CAT), np.int64)
    out[ci, ti, ki] = 1 + rng.poisson(g * odds)
    return out


def _generate_block(model: Model, n: int, seed_seq: np.random.SeedSequence) -> dict:
    """One block of customers: all latent and observed arrays, customers x quarters."""
    rng = np.random.default_rng(seed_seq)
    T = N_Q
    q = np.arange(T)
    # age bands by quota (largest remainder) so the published age mix holds at any scale
    counts = np.floor(n * model.age_p).astype(np.int64)
    counts[np.argsort(-(n * model.age_p - counts), kind="stable")[: n - counts.sum()]] += 1
    age = rng.permutation(np.repeat(np.arange(N_AGE), counts))
    sex = (rng.random(n) < model.female_p[age]).astype(np.int64)
    region = _draw_categorical(rng.random(n), np.broadcast_to(model.region_p, (n, N_REG)))
    grade = _draw_categorical(rng.random(n), model.grade_p[age])
    seg = _draw_categorical(rng.random(n), model.seg_p[age, sex])
    sub = rng.integers(0, N_SUB, n)
    # life stage trajectory
    ls = np.empty((n, T), np.int64)
    ls[:, 0] = _draw_categorical(rng.random(n), model.ls_p1[age, sex])
    for t in range(1, T):
        ls[:, t] = _draw_categorical(rng.random(n), model.trans[age, ls[:, t - 1]])
    # presence: late joiners, early leavers, one-quarter gaps
    first = np.where(rng.random(n) < P_JOIN, rng.integers(1, T, n), 0)
    last = np.where(rng.random(n) < P_LEAVE, rng.integers(0, T - 1, n), T - 1)
    last = np.maximum(last, first)
    present = (q[None, :] >= first[:, None]) & (q[None, :] <= last[:, None])
    gap = rng.integers(0, T, n)
    has_gap = (rng.random(n) < P_GAP) & (gap > first) & (gap < last)
    present[has_gap, gap[has_gap]] = False
    # personal habits
    gamma_own = rng.standard_gamma(RHO_GAMMA * model.r[region])
    amounts = _amounts(model, rng, age, sex, region, grade, seg, sub, ls, q[None, :], gamma_own)
    share_u = _persistent_uniform(rng, (n, T), RHO_SHARE)
    share_idx = _draw_categorical(share_u.ravel(), model.share_p[ls.ravel()]).reshape(n, T)
    # ATT_YM (months since year 0): after age ~19, not after the first quarter present
    age_years = np.where(age < N_AGE - 1, 20 + 5 * np.minimum(age, N_AGE - 2) + rng.random(n) * 5, 25 + rng.random(n) * 40)
    start = 2022 * 12
    earliest = np.maximum(np.ceil(start - (age_years - 19) * 12), 1995 * 12)
    latest = start + 3 * first + 2
    new_member = (first > 0) & (rng.random(n) < .8)
    tenure = np.floor(rng.exponential(7 * 12, n))
    att = np.where(new_member, start + 3 * first + rng.integers(0, 3, n), np.maximum(latest - tenure, earliest))
    att = np.minimum(att, latest).astype(np.int64)
    reg_y = rng.random(n) < model.digital_reg[age]
    use_y = reg_y[:, None] & (_persistent_uniform(rng, (n, T), RHO_DIGITAL) < model.digital_use[age][:, None])
    return dict(n=n, rng=rng, gamma_own=gamma_own, age=age, sex=sex, region=region, grade=grade, seg=seg, sub=sub, ls=ls,
                present=present, amounts=amounts, share_idx=share_idx, att=att, reg_y=reg_y, use_y=use_y,
                stress_own=rng.normal(0, .6, n), stress_noise=rng.normal(0, .4, (n, T)), adverse_u=rng.random((n, T)))


_BURST_CATS = tuple(CATS.index(c) for c in (
    "APPLNC_AM", "FUNITR_AM", "HOTEL_AM", "TRVL_AM", "CLOTH_AM", "GOODS_AM", "LEISURE_P_AM", "OPTIC_AM",
    "AUTOMNT_AM", "MBRSHOP_AM", "ARCHIT_AM", "CULTURE_AM", "DISTBP_AM", "RESTRNT_AM", "LEISURE_S_AM"))
_TYPE_P = (.3, .3, .2, .2)


def _log_uniform(rng, lo, hi, size):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _plant_anomalies(model: Model, b: dict) -> None:
    """Plant about ANOMALY_RATE of rows as anomalies (at most one per customer), in place.

    Adds ``outcome`` (model outcomes: clean rows, quiet quarters before a dormant burst
    zeroed), ``observed`` (what the raw file shows), ``kind`` (0 none, 1.. ANOMALY_TYPES)
    and ``magnitude``.
    """
    rng, n, present, clean = b["rng"], b["n"], b["present"], b["amounts"]
    kind = np.zeros((n, N_Q), np.int64)
    mag = np.zeros((n, N_Q))
    outcome, observed = clean.copy(), clean.copy()
    tot = clean.sum(2)
    eligible = np.flatnonzero(present.sum(1) >= 3)
    n_anom = min(rng.binomial(int(present.sum()), ANOMALY_RATE), eligible.size)
    who = np.sort(rng.choice(eligible, n_anom, replace=False))
    typ = _draw_categorical(rng.random(n_anom), np.broadcast_to(_TYPE_P, (n_anom, 4)))
    u_quarter = rng.random(n_anom)
    m = np.select([typ == 0, typ == 1, typ == 2], [_log_uniform(rng, 1.6, 6, n_anom), _log_uniform(rng, .25, 3, n_anom),
                                                  rng.uniform(.35, 1, n_anom)], _log_uniform(rng, 1.5, 5, n_anom))
    burst_cat = np.array(_BURST_CATS)[rng.integers(0, len(_BURST_CATS), n_anom)]
    second_quiet = rng.random(n_anom) < .5
    # candidate quarters: present with spending; a dormant burst also needs a present quarter before
    cand = present[who] & (tot[who] > 0)
    prev_present = np.c_[np.zeros((n_anom, 1), bool), present[who][:, :-1]]
    cand = np.where((typ == 3)[:, None], cand & prev_present, cand)
    ok = cand.any(1)
    who, typ, m, burst_cat, second_quiet, u_quarter, cand = (x[ok] for x in (who, typ, m, burst_cat, second_quiet, u_quarter, cand))
    t = _draw_categorical(u_quarter, cand / cand.sum(1, keepdims=True))
    own_mean = (tot * present).sum(1) / np.maximum(present.sum(1), 1)
    # mix shift: the mix of a life stage the customer's age and sex make unlikely
    sel = np.flatnonzero(typ == 2)
    if sel.size:
        i, tt = who[sel], t[sel]
        prior = model.ls_prior[b["age"][i], b["sex"][i], tt].copy()
        prior[np.arange(sel.size), b["ls"][i, tt]] = np.inf
        # a random stage among those with prior < 2% (else the least likely one)
        alt = np.argmin(np.where(prior < .02, -1 - rng.random(prior.shape), prior), 1)
        alt_amounts = _amounts(model, rng, b["age"][i], b["sex"][i], b["region"][i], b["grade"][i], b["seg"][i],
                               b["sub"][i], alt[:, None], tt[:, None], b["gamma_own"][i], allow_inactive=False)[:, 0]
    new_rows = clean[who, t].astype(float)
    for j, (i, tt, ty) in enumerate(zip(who, t, typ)):
        if ty == 0 or ty == 3:  # total spike / burst after quiet quarters
            new_rows[j] *= m[j]
        elif ty == 1:
            new_rows[j, burst_cat[j]] += m[j] * max(own_mean[i], 50.0)
        else:
            a = alt_amounts[np.searchsorted(sel, j)].astype(float)
            new_rows[j] = (1 - m[j]) * new_rows[j] + m[j] * a * new_rows[j].sum() / max(a.sum(), 1.0)
        if ty == 3:
            quiet = [tt - 1] + ([tt - 2] if second_quiet[j] and tt >= 2 and present[i, tt - 2] else [])
            outcome[i, quiet] = 0
            observed[i, quiet] = 0
    observed[who, t] = np.rint(new_rows).astype(np.int64)
    kind[who, t] = typ + 1
    mag[who, t] = m
    b.update(outcome=outcome, observed=observed, kind=kind, magnitude=mag)


def _cards_and_stress(model: Model, b: dict) -> None:
    """Card split for outcome and observed rows, latent stress and next-quarter outcome."""
    rng = b["rng"]
    s = SHARE_GRID[b["share_idx"]]
    tot_out, tot_obs = b["outcome"].sum(2), b["observed"].sum(2)
    cnf_out = rng.binomial(tot_out, s)
    cnf_obs = np.where(b["kind"] > 0, rng.binomial(tot_obs, s), cnf_out)
    # stress from the model outcomes (the customer's underlying behaviour)
    credit = np.where(tot_out > 0, (tot_out - cnf_out) / np.maximum(tot_out, 1), .6)
    care_cols = [CATS.index("INSU_AM"), CATS.index("HOS_AM")]
    care = b["outcome"][..., care_cols].sum(2) / np.maximum(tot_out, 1)
    lt = np.log(tot_out + 20.0)
    decline = np.c_[np.zeros(b["n"]), np.maximum(lt[:, :-1] - lt[:, 1:], 0)]
    vol = lt.std(1, keepdims=True)
    stress = (1.5 * (credit - .6) + 1.0 * decline + .8 * (vol - .35) + 3.0 * (care - .12)
              + b["stress_own"][:, None] + b["stress_noise"])
    adverse = b["adverse_u"] < expit(-4.0 + 1.3 * stress)
    b.update(cnf_out=cnf_out, cnf_obs=cnf_obs, stress=stress, adverse=adverse.astype(np.int64))


def _block_rows(model: Model, n: int, seed_seq, first_id: int) -> dict:
    """Generate one block and flatten its present customer-quarters (customer-major)."""
    b = _generate_block(model, n, seed_seq)
    _plant_anomalies(model, b)
    _cards_and_stress(model, b)
    ci, qi = np.nonzero(b["present"])
    rows = {"id": first_id + ci, "q": qi, "ls": b["ls"][ci, qi], "use_y": b["use_y"][ci, qi]}
    for k in ("age", "sex", "region", "grade", "seg", "att", "reg_y"):
        rows[k] = b[k][ci]
    for k in ("outcome", "observed", "cnf_out", "cnf_obs", "kind", "magnitude", "stress", "adverse"):
        rows[k] = b[k][ci, qi]
    return rows


# --- exact posterior --------------------------------------------------------------

_Z_SEG = np.repeat(np.arange(N_SEG), N_SUB)
_Z_SUB = np.tile(np.arange(N_SUB), N_SEG)


def _log_joint_group(model: Model, a, s, g, q, stages, profile, amounts, cnf) -> np.ndarray:
    """log P(row, LS, z) up to a per-row constant, for rows sharing (age, sex, grade, quarter).

    ``profile`` is each row's region profile. Only the life stages in ``stages`` (those
    with a non-zero prior) are evaluated; the result has shape (rows, len(stages), N_Z).
    """
    ls = stages[:, None]
    eta = model.use_logit(a, ls, s, _Z_SEG[None, :], _Z_SUB[None, :], g, q)  # (LS, Z, C), region left out
    lo = model.log_odds(a, ls, s, _Z_SEG[None, :], _Z_SUB[None, :], g, q)
    # log P(no category used | LS, z, region): the region's use shift meets (LS, z) only
    # here; its part of used * logit depends on the row alone and cancels
    profiles, inv = np.unique(profile, return_inverse=True)
    bias = log_expit(-(eta[None] + model.use_region[profiles][:, None, None, :])).sum(3)[inv.ravel()]
    # NegBin(r, p) log-pmf of (amount - 1) is r log(1 - p) + (amount - 1) log p + a row-only
    # term; a co-movement group's members are left out here and added below as a
    # two-part mixture over the group's intensity
    solo = model.group_of < 0
    W = np.concatenate([eta, np.where(solo, log_expit(-lo), 0.0), np.where(solo, log_expit(lo), 0.0)], axis=2)
    used = (amounts > 0).astype(float)
    X = np.concatenate([used, used * model.r_profile[profile], np.maximum(amounts - 1, 0)], axis=1)
    ll = (X @ W.reshape(-1, 3 * N_CAT).T).reshape(len(X), len(stages), N_Z) + bias
    for j in range(len(CO_GROUPS)):
        members = np.flatnonzero(model.group_of == j)
        Xg = X[:, np.r_[N_CAT + members, 2 * N_CAT + members]]
        parts = []
        for shift in model.co_shift:
            lg = lo[..., members] + shift
            Wg = np.concatenate([log_expit(-lg), log_expit(lg)], axis=2).reshape(-1, 2 * len(members))
            parts.append(Xg @ Wg.T)
        ll += (np.logaddexp(*parts) + np.log(.5)).reshape(ll.shape)
    # card split: Binomial(TOT, s) mixed over the share grid, as a matrix product
    tot = amounts.sum(1)
    share = cnf[:, None] * np.log(SHARE_GRID) + (tot - cnf)[:, None] * np.log1p(-SHARE_GRID)
    top = share.max(1, keepdims=True)
    share = np.log(np.exp(share - top) @ model.share_p[stages].T) + top  # (n, LS)
    eps = model.inactive[a]
    zero = (tot == 0)[:, None, None]
    active = np.log1p(-eps) + ll + share[:, :, None]
    quiet = np.logaddexp(np.log(eps), np.log1p(-eps) + bias)
    log_prior = np.log(model.ls_prior[a, s, q, stages])
    return np.where(zero, quiet, active) + log_prior[None, :, None] + model.log_pz[a, s][None, None, :]


def _posteriors(model: Model, age, sex, grade, region, q, amounts, cnf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact P(LS | row) (n, N_LS), P(segment | row) (n, N_SEG) and log P(row | z) (n, N_Z).

    ``amounts`` holds the 32 details and the remainder (n, CATS) as integers. The last
    array is up to a per-row constant (life stage summed out with its quarter prior);
    :func:`_customer_segment_posterior` combines it over a customer's quarters.
    """
    n = len(age)
    post_ls, post_seg, log_lik_z = np.zeros((n, N_LS)), np.empty((n, N_SEG)), np.empty((n, N_Z))
    key = ((age * N_SEX + sex) * N_GRADE + grade) * N_Q + q
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    # tiny matrix products: BLAS threads would only contend with each other here
    with threadpool_limits(1, user_api="blas"):
        for k, lo, hi in zip(keys, starts, np.r_[starts[1:], n]):
            idx = order[lo:hi]
            a, rest = divmod(int(k), N_SEX * N_GRADE * N_Q)
            s, rest = divmod(rest, N_GRADE * N_Q)
            g, qq = divmod(rest, N_Q)
            stages = np.flatnonzero(model.ls_prior[a, s, qq] > 0)
            j = _log_joint_group(model, a, s, g, qq, stages, model.region_profile[region[idx]],
                                 amounts[idx].astype(float), cnf[idx].astype(float))
            p = np.exp(j - j.max(axis=(1, 2), keepdims=True))
            total = p.sum(axis=(1, 2))[:, None]
            post_ls[np.ix_(idx, stages)] = p.sum(2) / total
            post_seg[idx] = p.sum(1).reshape(len(idx), N_SEG, N_SUB).sum(2) / total
            log_lik_z[idx] = logsumexp(j, axis=1) - model.log_pz[a, s]
    return post_ls, post_seg, log_lik_z


def _customer_segment_posterior(model: Model, customer, age, sex, log_lik_z) -> np.ndarray:
    """Approximate P(segment | all the customer's quarters), one row per input row.

    Quarters are taken as independent given the customer's ``z = (segment, sub-level)``
    ("naive Bayes over quarters"): log P(z) + sum over quarters of log P(row | z), with
    life stage summed out per quarter under its quarter prior. It leaves out what else
    ties quarters together (the personal Gamma parts, the reused uniforms and the
    life-stage chain), so it is somewhat overconfident; rows must be grouped by customer.
    """
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    total = np.add.reduceat(log_lik_z, starts, axis=0) + model.log_pz[age[starts], sex[starts]]
    p = np.exp(total - total.max(1, keepdims=True))
    p = p.reshape(len(starts), N_SEG, N_SUB).sum(2)
    p /= p.sum(1, keepdims=True)
    return np.repeat(p, np.diff(np.r_[starts, len(customer)]), axis=0)


def _codes(raw: pd.DataFrame, column: str, codes) -> np.ndarray:
    idx = pd.Index(codes).get_indexer(raw[column].astype(str).str.strip())
    if (idx < 0).any():
        raise ValueError(f"{column} holds codes outside the contract")
    return idx


def life_stage_posterior(raw: pd.DataFrame, segments: bool = False):
    """The generator's exact P(LIFE_STAGE | row) for rows in raw format.

    Equals the truth file's ``posterior_*`` on every row labelled ``none``; on anomaly
    rows the truth holds the clean row's posterior instead.

    Parameters
    ----------
    raw : DataFrame
        Rows with the contract's columns (codes as the raw file writes them).
    segments : bool
        Also return P(segment | row).

    Returns
    -------
    DataFrame
        One column per ``contract.LIFE_STAGE_ORDER`` code, rows aligned with ``raw``
        (and a second frame ``segment_0..4`` when ``segments``).
    """
    model = get_model()
    quarter = pd.Index(config.QUARTERS).get_indexer(raw["BAS_YH"].astype(str).str.strip().str.lower())
    details = raw[list(DETAILS)].to_numpy(np.int64)
    tot = raw["TOT_USE_AM"].to_numpy(np.int64)
    amounts = np.c_[details, tot - details.sum(1)]
    post, seg, _ = _posteriors(model, _codes(raw, "AGE", AGES), _codes(raw, "SEX_CD", SEXES),
                            _codes(raw, "MBR_RK", GRADES), _codes(raw, "HOUS_SIDO_NM", REGIONS), quarter,
                            amounts, raw["CNF_USE_AM"].to_numpy(np.int64))
    out = pd.DataFrame(post, columns=list(STAGES), index=raw.index)
    if segments:
        return out, pd.DataFrame(seg, columns=[f"segment_{k}" for k in range(N_SEG)], index=raw.index)
    return out


# --- tables -----------------------------------------------------------------------

def _take(codes, idx) -> pa.Array:
    return pc.take(pa.array(list(codes), pa.string()), pa.array(idx))


def _chunk_tables(model: Model, rows: dict) -> tuple[pa.Table, pa.Table]:
    """Raw-format and truth tables for concatenated block rows."""
    obs = rows["observed"]
    tot = obs.sum(1)
    seq = pc.binary_join_element_wise("C", pc.utf8_lpad(pa.array(rows["id"]).cast(pa.string()), width=9, padding="0"), "")
    cols = {
        "BAS_YH": _take(config.QUARTERS, rows["q"]), "SEQ": seq, "AGE": _take(AGES, rows["age"]),
        "SEX_CD": _take(SEXES, rows["sex"]), "MBR_RK": _take(GRADES, rows["grade"]),
        "ATT_YM": pa.array((rows["att"] // 12) * 100 + rows["att"] % 12 + 1).cast(pa.string()),
        "HOUS_SIDO_NM": _take(REGIONS, rows["region"]), "DIGT_CHNL_REG_YN": _take("NY", rows["reg_y"].astype(np.int64)),
        "DIGT_CHNL_USE_YN": _take("NY", rows["use_y"].astype(np.int64)), "LIFE_STAGE": _take(STAGES, rows["ls"]),
        "TOT_USE_AM": tot, "CRDSL_USE_AM": tot - rows["cnf_obs"], "CNF_USE_AM": rows["cnf_obs"],
    }
    by_cat = np.ascontiguousarray(obs.T)
    for upper, details in contract.HIERARCHY.items():
        cols[upper] = by_cat[[CATS.index(d) for d in details]].sum(0)
    for d in DETAILS:
        cols[d] = by_cat[CATS.index(d)]
    raw = pa.table({c: cols[c] for c in contract.COLUMN_NAMES})
    post, seg_post, log_lik_z = _posteriors(model, rows["age"], rows["sex"], rows["grade"], rows["region"], rows["q"],
                                            rows["outcome"], rows["cnf_out"])
    seg_customer = _customer_segment_posterior(model, rows["id"], rows["age"], rows["sex"], log_lik_z)
    truth = {"BAS_YH": cols["BAS_YH"], "SEQ": seq, "segment": rows["seg"], "segment_name": _take(SEGMENT_NAMES, rows["seg"]),
             "anomaly_type": _take(("none",) + ANOMALY_TYPES, rows["kind"]), "anomaly_magnitude": rows["magnitude"],
             "stress_level": rows["stress"], "adverse_next": rows["adverse"]}
    truth.update({f"posterior_{c}": post[:, i] for i, c in enumerate(STAGES)})
    truth.update({f"posterior_segment_{k}": seg_post[:, k] for k in range(N_SEG)})
    truth.update({f"customer_posterior_segment_{k}": seg_customer[:, k] for k in range(N_SEG)})
    return raw, pa.table(truth)


def _blocks(n_customers: int, seed: int):
    """(first index, size, SeedSequence) per block; block b always gets spawn child b."""
    n_blocks = -(-n_customers // BLOCK_CUSTOMERS)
    children = np.random.SeedSequence(seed).spawn(n_blocks)
    return [(b * BLOCK_CUSTOMERS, min(BLOCK_CUSTOMERS, n_customers - b * BLOCK_CUSTOMERS), children[b])
            for b in range(n_blocks)]


def _generate_tables(n_customers: int, seed: int, chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS):
    """Yield (raw, truth) Arrow tables chunk by chunk; output independent of chunk size."""
    model = get_model()
    blocks = _blocks(n_customers, seed)
    per_chunk = max(1, chunk_customers // BLOCK_CUSTOMERS)
    for c in range(0, len(blocks), per_chunk):
        parts = [_block_rows(model, size, ss, first + 1) for first, size, ss in blocks[c:c + per_chunk]]
        rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        yield _chunk_tables(model, rows)


def generate_frame(n_customers: int, seed: int = config.RANDOM_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the raw rows and the planted truth in memory (for small sizes).

    Parameters
    ----------
    n_customers : int
        Customers to generate (rows are about 7.7 per customer).
    seed : int
        Seed; the same seed gives the same frames, and the first customers of a larger
        run are the same customers.

    Returns
    -------
    raw : DataFrame
        ``contract.COLUMN_NAMES`` in order: codes as strings, amounts as int64.
    truth : DataFrame
        One row per raw row, same order (see the module docstring).

    Examples
    --------
    >>> raw, truth = generate_frame(50, seed=1)
    >>> list(raw.columns) == list(contract.COLUMN_NAMES) and len(raw) == len(truth)
    True
    """
    parts = list(_generate_tables(n_customers, seed, chunk_customers=max(n_customers, 1)))
    raw = pa.concat_tables([p[0] for p in parts]).to_pandas()
    truth = pa.concat_tables([p[1] for p in parts]).to_pandas()
    return raw, truth


# --- files ------------------------------------------------------------------------

# Where the files live is decided in fipro.datasets; these names stay for callers.
truth_path = datasets.truth_path
is_synthetic = datasets.is_synthetic
load_truth = datasets.load_truth
_sidecar_path = datasets.sidecar_path
_read_sidecar = datasets.read_sidecar


_CSV_OPTIONS = dict(delimiter=",", quoting_style="none", quoting_header="none", eol="\r\n")


def write_synthetic(path=None, scale: str = "sample", seed: int = config.RANDOM_SEED, n_customers: int | None = None,
                    chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS, progress: bool | None = None) -> Path:
    """Write the synthetic raw CSV, its truth Parquet and the ``.synth.json`` sidecar.

    Customers are generated and written chunk by chunk (memory stays bounded at full
    scale); files are written under temporary names and renamed when complete, the
    sidecar last.

    Parameters
    ----------
    path : path-like, optional
        Raw file to write; default ``config.RAW_DIR / config.RAW_FILENAME``.
    scale : {"sample", "full"}
        Number of customers from ``SCALES`` unless ``n_customers`` is given.
    seed : int
        Seed of every random draw.
    n_customers : int, optional
        Overrides the scale's customer count.
    chunk_customers : int
        Customers held in memory at once (rounded to blocks of ``BLOCK_CUSTOMERS``);
        the output does not depend on it.
    progress : bool, optional
        Show a tqdm bar; default for more than 100,000 customers.

    Returns
    -------
    Path
        The raw file.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    path = Path(path) if path is not None else config.RAW_DIR / config.RAW_FILENAME
    n = int(n_customers if n_customers is not None else SCALES[scale])
    if n < 1:
        raise ValueError("n_customers must be positive")
    path.parent.mkdir(parents=True, exist_ok=True)
    tpath = truth_path(path)
    _sidecar_path(path).unlink(missing_ok=True)
    show = n > 100_000 if progress is None else progress
    bar = tqdm(total=n, unit="customer", desc=f"synth {scale}", unit_scale=True) if show else None
    digest, rows, writer, difficulty = hashlib.sha256(), 0, None, None
    per_chunk = max(1, chunk_customers // BLOCK_CUSTOMERS) * BLOCK_CUSTOMERS
    try:
        # leaving the block renames the truth first, then the raw file; the sidecar
        # that marks the pair as complete is written last
        with atomic_path(path) as tmp_raw, atomic_path(tpath) as tmp_truth:
            try:
                with open(tmp_raw, "wb") as out:
                    for i, (raw, truth) in enumerate(_generate_tables(n, seed, chunk_customers)):
                        buf = pa.BufferOutputStream()
                        pacsv.write_csv(raw, buf, pacsv.WriteOptions(include_header=i == 0, **_CSV_OPTIONS))
                        data = buf.getvalue()
                        digest.update(data)
                        out.write(data)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp_truth, truth.schema, compression="zstd")
                        writer.write_table(truth)
                        rows += raw.num_rows
                        if i == 0:
                            # reported on the first chunk's customers: reading back 5 M rows costs more than it tells
                            difficulty = difficulty_report(raw.to_pandas(), truth.to_pandas())
                            difficulty["measured_on"] = "first chunk of customers"
                        if bar is not None:
                            bar.update(min(n, (i + 1) * per_chunk) - bar.n)
            finally:
                if writer is not None:
                    writer.close()
    finally:
        if bar is not None:
            bar.close()
    meta = {"generator": "fipro.synth", "generator_version": GENERATOR_VERSION, "scale": scale, "seed": int(seed),
            "n_customers": n, "rows": rows, "file_size": path.stat().st_size, "sha256": digest.hexdigest(),
            "truth": tpath.name, "difficulty": difficulty}
    write_json_atomic(_sidecar_path(path), meta)
    return path


def ensure_synthetic(scale: str = "sample", seed: int = config.RANDOM_SEED, raw_dir=None) -> Path | None:
    """Make sure a raw file is available, generating the synthetic one only if needed.

    A real raw file (found by :func:`fipro.datasets.raw_file`, the one discovery rule
    that ingest uses too) always wins: nothing is generated and None is returned. An
    existing synthetic file with the same scale, seed and generator version is reused.

    Parameters
    ----------
    scale : {"sample", "full"}
    seed : int
    raw_dir : path-like, optional
        Default ``config.RAW_DIR`` (read at call time).

    Returns
    -------
    Path or None
        The synthetic raw file, or None when a real file is present.
    """
    raw_dir = Path(raw_dir) if raw_dir is not None else config.RAW_DIR
    found = datasets.raw_file(raw_dir)
    if found is not None and not is_synthetic(found):
        print(f"real raw file present, using it: {found} (no synthetic data generated)")
        return None
    path = raw_dir / config.RAW_FILENAME
    meta = _read_sidecar(path)
    if (meta and is_synthetic(path) and truth_path(path).is_file() and meta.get("scale") == scale
            and meta.get("seed") == int(seed) and meta.get("generator_version") == GENERATOR_VERSION
            and meta.get("n_customers") == SCALES.get(scale)):
        print(f"synthetic raw file up to date: {path} ({meta['rows']:,} rows, scale={scale}, seed={seed})")
        return path
    print(f"generating synthetic raw file: {path} (scale={scale}, seed={seed})")
    written = write_synthetic(path, scale=scale, seed=seed)
    print(describe_difficulty(_read_sidecar(written)["difficulty"]))
    return written


def _fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def describe_difficulty(difficulty: dict) -> str:
    """One line on how hard the planted tasks are (life stage vs the age x sex rule, segments, stress)."""
    return (f"planted difficulty ({difficulty.get('measured_on', 'all rows')}, {difficulty['rows']:,} rows): "
            f"Bayes ceiling accuracy {difficulty['bayes_accuracy']:.3f} / macro-F1 {difficulty['bayes_macro_f1']:.3f}, "
            f"age x sex rule {difficulty['age_sex_rule_accuracy']:.3f} / {difficulty['age_sex_rule_macro_f1']:.3f}, "
            f"segments {difficulty['segment_bayes_accuracy']:.3f} (ARI {difficulty['segment_bayes_ari']:.2f}) per row, "
            f"{difficulty['segment_customer_accuracy']:.3f} (ARI {difficulty['segment_customer_ari']:.2f}) per customer, "
            f"stress AUC {_fmt(difficulty.get('stress_auc'))}, "
            f"anomalies {sum(v for k, v in difficulty['anomaly_counts'].items() if k != 'none'):,} rows")


# --- messy variant for loader tests -----------------------------------------------

MESSY_DEFECTS = ("upper_q", "padded_codes", "blank_amount", "non_numeric_amount", "negative_amount",
                 "duplicate_key", "unknown_code", "short_line")
_UNKNOWN_CODES = (("AGE", "15"), ("SEX_CD", "3"), ("MBR_RK", "26"), ("HOUS_SIDO_NM", "평양"), ("LIFE_STAGE", "STUDENT"))


def write_messy(path, n_customers: int = 200, seed: int = config.RANDOM_SEED, defects=MESSY_DEFECTS,
                encoding: str = "cp949", bom: bool = False, line_end: str = "\n") -> dict:
    """Write a deliberately messy raw file and return the manifest of its defects.

    Parameters
    ----------
    path : path-like
        File to write (e.g. ``EDU_DATA_F.dat``); the manifest is also written to
        ``<path>.manifest.json``.
    n_customers, seed : int
        Size and seed of the underlying clean sample.
    defects : iterable of str or dict
        Defect names from ``MESSY_DEFECTS`` (two lines each), or ``{name: count}``.
    encoding : str
        ``"cp949"`` (EUC-KR) or ``"utf-8"``.
    bom : bool
        Start with a UTF-8 byte-order mark (only with a UTF-8 encoding).
    line_end : {"\\n", "\\r\\n"}

    Returns
    -------
    dict
        ``defects``: name -> sorted 1-based physical line numbers (header = line 1);
        ``lines``: line -> {defect, column, value}; ``duplicate_of``: duplicate line ->
        line it repeats; plus the file-level settings and line counts. Each defective
        line carries exactly one defect.
    """
    counts = dict(defects) if isinstance(defects, dict) else {d: 2 for d in defects}
    unknown = sorted(set(counts) - set(MESSY_DEFECTS))
    if unknown:
        raise ValueError(f"unknown defects {unknown}; choose from {MESSY_DEFECTS}")
    if bom and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ValueError("a byte-order mark needs a UTF-8 encoding")
    if line_end not in ("\n", "\r\n"):
        raise ValueError("line_end must be '\\n' or '\\r\\n'")
    raw, _ = generate_frame(n_customers, seed)
    fields = raw.astype(str).to_numpy().tolist()
    cols = list(contract.COLUMN_NAMES)
    rng = np.random.default_rng([seed, 7])
    needed = sum(counts.values())
    if needed > len(fields) // 2:
        raise ValueError("too many defects for this sample size")
    targets = iter(rng.choice(len(fields), needed, replace=False).tolist())
    notes: dict[int, dict] = {}  # data row index -> note
    dup_sources = []
    for name in MESSY_DEFECTS:
        for _ in range(counts.get(name, 0)):
            i = next(targets)
            row = fields[i]
            col, value = None, None
            if name == "upper_q":
                col, value = "BAS_YH", row[0].upper()
            elif name == "padded_codes":
                col = str(rng.choice(["AGE", "HOUS_SIDO_NM", "LIFE_STAGE", "MBR_RK"]))
                value = f" {row[cols.index(col)]}  "
            elif name in ("blank_amount", "non_numeric_amount", "negative_amount"):
                col = str(rng.choice(list(contract.AMOUNT_COLUMNS)))
                old = row[cols.index(col)]
                value = {"blank_amount": "", "non_numeric_amount": str(rng.choice(["N/A", "12a", "abc"])),
                         "negative_amount": f"-{old if old != '0' else rng.integers(1, 500)}"}[name]
            elif name == "unknown_code":
                col, value = _UNKNOWN_CODES[int(rng.integers(len(_UNKNOWN_CODES)))]
            elif name == "short_line":
                keep = int(rng.integers(5, len(cols) - 5))
                fields[i] = row[:keep]
                value = f"{keep} of {len(cols)} fields"
            elif name == "duplicate_key":
                dup_sources.append(i)
                notes[i] = {"defect": None}
                continue
            if col is not None:
                row[cols.index(col)] = value
            notes[i] = {"defect": name, "column": col, "value": value}
    # duplicates: an exact copy of a clean line, inserted a few lines later
    lines = [(",".join(f), i) for i, f in enumerate(fields)]
    for src in dup_sources:
        pos = next(k for k, (_, j) in enumerate(lines) if j == src)
        lines.insert(min(len(lines), pos + 1 + int(rng.integers(0, 5))), (lines[pos][0], ("dup", src)))
    manifest = {"path": str(path), "encoding": encoding, "bom": bom, "line_end": line_end,
                "defects": {d: [] for d in counts}, "lines": {}, "duplicate_of": {}}
    where = {}
    for k, (_, j) in enumerate(lines):
        if not isinstance(j, tuple):
            where[j] = k + 2
    for k, (_, j) in enumerate(lines):
        ln = k + 2  # header is line 1
        if isinstance(j, tuple):
            manifest["defects"]["duplicate_key"].append(ln)
            manifest["lines"][ln] = {"defect": "duplicate_key", "column": "BAS_YH,SEQ", "value": None}
            manifest["duplicate_of"][ln] = where[j[1]]
        elif j in notes and notes[j]["defect"]:
            manifest["defects"][notes[j]["defect"]].append(ln)
            manifest["lines"][ln] = notes[j]
    manifest["n_lines"] = len(lines) + 1
    manifest["n_data_lines"] = len(lines)
    text = line_end.join([",".join(cols)] + [t for t, _ in lines]) + line_end
    data = text.encode(encoding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    path.with_name(path.name + ".manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return manifest


# --- report -----------------------------------------------------------------------

ANOMALY_MAGNITUDE = {"none": "clean rows (magnitude 0)", "total_spike": "every amount times m", "category_burst": "one category gains f x the customer's mean total",
                     "mix_shift": "mix moved by weight w towards an unlikely life stage", "dormant_burst": "amounts times m after quiet quarters"}


def difficulty_report(raw: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """How hard the planted tasks are: the ceilings every model reports against.

    Parameters
    ----------
    raw, truth : DataFrame
        Aligned row by row (as ``generate_frame`` returns or the files hold), whole
        customers (all their quarters).

    Returns
    -------
    dict
        Life stage: ``bayes_accuracy`` / ``bayes_macro_f1`` (argmax of the exact
        posterior), ``age_sex_rule_accuracy`` / ``age_sex_rule_macro_f1`` (most common
        life stage per AGE x SEX_CD, :class:`~fipro.evaluation.baselines.GroupMajorityClassifier`),
        ``bayes_mean_true_posterior``, ``bayes_mean_max_posterior``, ``bayes_ece``
        (:func:`~fipro.evaluation.calibration.expected_calibration_error`, 10 bins).
        Segments: ``segment_bayes_accuracy`` / ``_ari`` / ``_mean_max_posterior`` /
        ``_ece`` (single row, exact posterior, clean rows) and ``segment_customer_*``
        (one row per customer, all quarters, see :func:`_customer_segment_posterior`),
        ``segment_sizes`` (rows), ``segment_names``. Anomalies: ``anomaly_counts`` and
        ``anomaly_magnitudes`` (per type: what the magnitude means, its quantiles and the
        median ratio of the row's TOT_USE_AM to the customer's median over the clean
        quarters, and the median mix change: half the L1 distance between the row's
        detail shares and the customer's mean shares over the clean quarters). Stress: ``adverse_rate`` and ``stress_auc`` (ROC-AUC of the latent
        stress level for the next-quarter adverse outcome). ``rows``, ``customers``.
    """
    post = truth[[f"posterior_{c}" for c in STAGES]].to_numpy()
    y = pd.Index(STAGES).get_indexer(raw["LIFE_STAGE"].astype(str))
    pred = post.argmax(1)
    # the project's one age x sex rule, so this number and the model notebooks' baseline agree
    groups = raw[list(AGE_SEX_CODES)].astype(str)
    rule = GroupMajorityClassifier().fit(groups, y).predict(groups)
    labels = np.unique(y)
    kind = truth["anomaly_type"].to_numpy()
    clean = kind == "none"
    seg = truth["segment"].to_numpy()
    seg_post = truth[[f"posterior_segment_{k}" for k in range(N_SEG)]].to_numpy()[clean]
    first = ~truth["SEQ"].duplicated().to_numpy()
    seg_customer = truth[[f"customer_posterior_segment_{k}" for k in range(N_SEG)]].to_numpy()[first]
    tot = raw["TOT_USE_AM"].astype(float)
    others = tot.where(clean)  # the customer's clean quarters as the yardstick
    own_median = others.groupby(raw["SEQ"]).transform("median").to_numpy()
    # mix: shares of the details; the yardstick is the customer's mean share over clean quarters
    details = raw[list(DETAILS)].to_numpy(float)
    shares = details / np.maximum(details.sum(1, keepdims=True), 1.0)
    own_shares = (pd.DataFrame(np.where(clean[:, None], shares, np.nan)).groupby(raw["SEQ"].to_numpy())
                  .transform("mean").to_numpy())
    magnitudes = {}
    for name in ("none",) + ANOMALY_TYPES:  # "none": the same yardsticks on clean rows, for scale
        rows = kind == name
        m = truth["anomaly_magnitude"].to_numpy()[rows]
        if not rows.any():
            continue
        ratio = tot.to_numpy()[rows] / np.maximum(own_median[rows], 1.0)
        mix_change = 0.5 * np.abs(shares[rows] - own_shares[rows]).sum(1)
        magnitudes[name] = {"magnitude": ANOMALY_MAGNITUDE[name], "rows": int(rows.sum()),
                            "min": float(m.min()), "median": float(np.median(m)), "max": float(m.max()),
                            "median_total_ratio": float(np.nanmedian(ratio)),
                            "median_mix_change": float(np.nanmedian(mix_change))}
    adverse = truth["adverse_next"].to_numpy()
    return {
        "rows": int(len(raw)), "customers": int(raw["SEQ"].nunique()),
        "bayes_accuracy": float((pred == y).mean()),
        "bayes_macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "age_sex_rule_accuracy": float((rule == y).mean()),
        "age_sex_rule_macro_f1": float(f1_score(y, rule, labels=labels, average="macro", zero_division=0)),
        "bayes_mean_true_posterior": float(post[np.arange(len(y)), y].mean()),
        "bayes_mean_max_posterior": float(post.max(1).mean()),
        "bayes_ece": expected_calibration_error(y, post),
        "segment_names": list(SEGMENT_NAMES),
        "segment_bayes_accuracy": float((seg_post.argmax(1) == seg[clean]).mean()),
        "segment_bayes_ari": float(adjusted_rand_score(seg[clean], seg_post.argmax(1))),
        "segment_bayes_mean_max_posterior": float(seg_post.max(1).mean()),
        "segment_bayes_ece": expected_calibration_error(seg[clean], seg_post),
        "segment_customer_accuracy": float((seg_customer.argmax(1) == seg[first]).mean()),
        "segment_customer_ari": float(adjusted_rand_score(seg[first], seg_customer.argmax(1))),
        "segment_customer_mean_max_posterior": float(seg_customer.max(1).mean()),
        "segment_customer_method": "naive Bayes over the customer's quarters given (segment, sub-level)",
        "segment_sizes": {int(k): int(v) for k, v in truth["segment"].value_counts().sort_index().items()},
        "anomaly_counts": {str(k): int(v) for k, v in truth["anomaly_type"].value_counts().items()},
        "anomaly_magnitudes": magnitudes,
        "adverse_rate": float(adverse.mean()),
        "stress_auc": float(roc_auc_score(adverse, truth["stress_level"])) if 0 < adverse.sum() < len(adverse) else None,
    }


# --- command line -----------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m fipro synth --scale sample|full --seed N [--out-dir DIR] [--force] [--messy PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro synth", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="sample")
    parser.add_argument("--seed", type=int, default=config.RANDOM_SEED)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: config.RAW_DIR")
    parser.add_argument("--force", action="store_true", help="regenerate even if an up-to-date file exists")
    parser.add_argument("--messy", type=Path, default=None, help="write only a messy loader-test file here")
    parser.add_argument("--chunk-customers", type=int, default=DEFAULT_CHUNK_CUSTOMERS)
    args = parser.parse_args(argv)
    if args.messy is not None:
        manifest = write_messy(args.messy, seed=args.seed)
        print(f"messy file {args.messy}: {manifest['n_lines']} lines, defects "
              + ", ".join(f"{k}={v}" for k, v in manifest["defects"].items()))
        return 0
    raw_dir = args.out_dir if args.out_dir is not None else config.RAW_DIR
    if args.force:
        path = Path(raw_dir) / config.RAW_FILENAME
        if path.exists() and not is_synthetic(path):
            print(f"refusing to overwrite a real raw file: {path}", file=sys.stderr)
            return 1
        path = write_synthetic(path, scale=args.scale, seed=args.seed, chunk_customers=args.chunk_customers)
    else:
        path = ensure_synthetic(scale=args.scale, seed=args.seed, raw_dir=raw_dir)
    if path is not None:
        meta = _read_sidecar(path)
        print(f"{path}: {meta['rows']:,} rows, {meta['n_customers']:,} customers, "
              f"{meta['file_size'] / 1e6:,.1f} MB, truth {truth_path(path).name}")
    return 0
