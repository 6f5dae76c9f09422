"""The generator's analytic model: the parameter arrays every draw and posterior uses.

:class:`Model` derives, once, every array the generator draws from and the exact
posterior scores with, from the tables in :mod:`fipro.synth.params`; :func:`get_model`
caches it per signal strength. Drawing is :mod:`fipro.synth.generate`, scoring
:mod:`fipro.synth.posterior`.

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
  marginals below exact, see :mod:`fipro.synth.posterior`).
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

Calibration: log levels per age, stage, sex, quarter and region are raked
(``Model._calibrate``, on the model's analytic expected totals) so the mean
``TOT_USE_AM`` by age equals the published means, by sex, quarter and region the
published relative levels (``SEX_TOTAL_PER_USER``, ``PERSONAL_CARD_APPROVALS``,
``region_level_table``; :meth:`Model.expected_means` shows them), and the mean check
share by stage equals the published one. Age, stage, sex and quarter levels shift the
log odds; a region's level scales its NegBin shapes ``r_c``. The
published by-stage totals imply a grand mean ~8% below the by-age ones, so by-stage
amounts come out ~8% above their published values (``Model.stage_scale_factor``).
``SIGNAL`` scales every life-stage effect; at 1.8 the single-row Bayes ceiling is
~0.71 (macro-F1 ~0.71) against ~0.50 for the most common stage per age band x sex.
``SEGMENT_SIGNAL`` scales the segment effects; at 1.5 the single-row segment ceiling
is ~0.69 (ARI ~0.39) and the customer-level one ~0.83 (ARI ~0.63).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import expit

from fipro import config, contract
from fipro.synth.params import (
    AGE_CURVE, AGE_ROW_SHARE, AGES, BASE, CATS, CO_GROUPS, CO_SHIFT, DIGITAL_REG, DIGITAL_USE, FEMALE_SHARE,
    GRADE_LEVEL, GRADE_MIX, GRADE_MIX_WEIGHT, GRADE_PRIOR, INACTIVE, LEVEL_USE_SLOPE, LS_EFFECTS, LS_FEMALE_TILT,
    LS_PRIOR, MEAN_CNF_CRDSL_BY_STAGE, MEAN_TOT_BY_AGE, N_AGE, N_CAT, N_GRADE, N_LS, N_Q, N_REG, N_SEG, N_SEX,
    N_SUB, PERSONAL_CARD_APPROVALS, QUARTER_SHIFT, REGION_EXTRA, REGION_GROUP_EFFECTS, REGION_SHARE, REGIONS, SEASON,
    SEGMENT_SIGNAL, SEGMENTS, SEX_EFFECTS, SEX_TOTAL_PER_USER, SEXES, SHARE_CONC, SHARE_GRID, SIGNAL, STAGES,
    SUB_LEVELS, TRANSITIONS, region_level_table,
)


def _vec(d: dict, default: float = 0.0, index=CATS) -> np.ndarray:
    return np.array([d.get(c, default) for c in index], dtype=float)


def region_effects(region: str, part: int) -> dict:
    """Category -> shift for one region: its group's effects (``contract.SIDO_GROUP``)
    plus its own (part 0 use, 1 amount)."""
    out = {c: v[part] for c, v in REGION_GROUP_EFFECTS[contract.SIDO_GROUP[region]].items()}
    for c, v in REGION_EXTRA.get(region, {}).items():
        out[c] = out.get(c, 0.0) + v[part]
    return out


class Model:
    """All parameter arrays of the generator, derived once from the tables in :mod:`fipro.synth.params`.

    Index order: age (AGES), sex (SEXES), grade (GRADES), region (REGIONS),
    life stage (STAGES), segment, sub-level, quarter (config.QUARTERS),
    category (CATS = 32 details + REST).
    """

    def __init__(self, signal: float = SIGNAL, segment_signal: float = SEGMENT_SIGNAL):
        nums = np.arange(N_AGE - 1)
        self.age_p = np.array([AGE_ROW_SHARE[a] for a in AGES]) / sum(AGE_ROW_SHARE.values())
        self.female_p = FEMALE_SHARE
        self.region_p = np.array([REGION_SHARE[r] for r in REGIONS])
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
        p1 = np.array([LS_PRIOR[a] for a in AGES], dtype=float)
        fem = _vec(LS_FEMALE_TILT, 1.0, STAGES)
        p1 = np.stack([p1, p1 * fem], axis=1)
        self.ls_p1 = p1 / p1.sum(2, keepdims=True)
        T = np.tile(np.eye(N_LS), (N_AGE, 1, 1))
        for src, dst, p, youngest in TRANSITIONS:
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
        base_use, base_mean, base_r = (np.array([BASE[c][k] for c in CATS]) for k in range(3))
        self.r0 = base_r
        curve = np.zeros((N_AGE, N_CAT))
        for c, v in AGE_CURVE.items():
            curve[:-1, CATS.index(c)] = v
        ls_use = np.zeros((N_LS, N_CAT))
        ls_amt = np.zeros((N_LS, N_CAT))
        for s, eff in LS_EFFECTS.items():
            for c, (u, m) in eff.items():
                ls_use[STAGES.index(s), CATS.index(c)] = signal * u
                ls_amt[STAGES.index(s), CATS.index(c)] = signal * m
        seg_use = np.zeros((N_SEG, N_CAT))
        seg_amt = np.zeros((N_SEG, N_CAT))
        for k, (_, _, eff) in enumerate(SEGMENTS):
            for c, (u, m) in eff.items():
                seg_use[k, CATS.index(c)], seg_amt[k, CATS.index(c)] = segment_signal * u, segment_signal * m
        season = np.zeros((N_Q, N_CAT))
        for c, v in SEASON.items():
            season[:, CATS.index(c)] = np.tile(v, N_Q // 4)
        for c, v in QUARTER_SHIFT.items():
            season[:, CATS.index(c)] += v
        half = np.array([-.5, .5])[:, None]  # female minus male, half each way
        sex_use = half * _vec({c: u for c, (u, _) in SEX_EFFECTS.items()})
        grade_mix = np.outer(GRADE_MIX_WEIGHT, _vec(GRADE_MIX))
        # "used" logit = base + age + stage + sex + segment + level + season + region
        self.use_base = np.log(base_use / (1 - base_use))
        self.use_age, self.use_ls, self.use_sex, self.use_seg = curve, ls_use, sex_use, seg_use
        self.use_grade = LEVEL_USE_SLOPE * GRADE_LEVEL[:, None] + 0.5 * grade_mix
        self.use_sub = LEVEL_USE_SLOPE * self.sub_levels
        self.use_q = season
        # log odds of the NegBin (mean when used = 1 + r * odds)
        self.odds_base = np.log((base_mean - 1) / base_r)
        self.odds_age, self.odds_ls, self.odds_seg = .5 * curve, ls_amt, seg_amt
        self.odds_sex = half * _vec({c: m for c, (_, m) in SEX_EFFECTS.items()})
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
        self.r_profile = self.r0 * np.exp(profiles[:, N_CAT:])  # (profile, cat), before the region's level
        # co-movement groups: member categories and the low/high log shift of their odds
        self.group_of = np.full(N_CAT, -1)
        for j, members in enumerate(CO_GROUPS):
            self.group_of[[CATS.index(c) for c in members]] = j
        self.co_shift = np.array([-CO_SHIFT, CO_SHIFT]) - np.log(np.cosh(CO_SHIFT))
        self.inactive = INACTIVE
        self.digital_reg, self.digital_use = DIGITAL_REG, DIGITAL_USE
        # check-card share: P(s | LS) on the grid, tilted to the published mean share
        self.share_p = np.array([_share_weights(c / (c + k)) for c, k in
                                 (MEAN_CNF_CRDSL_BY_STAGE[s] for s in STAGES)])
        # raked log levels: age and stage (published means), sex, quarter and region
        # (published levels, issue 27); a region's level scales its NegBin shapes, so it
        # stays in the row's own terms of the likelihood (see fipro.synth.posterior)
        self.scale_age, self.scale_ls = np.zeros(N_AGE), np.zeros(N_LS)
        self.scale_sex, self.scale_q, self.scale_region = np.zeros(N_SEX), np.zeros(N_Q), np.zeros(N_REG)
        self._calibrate()
        self.r = self.r_profile[self.region_profile] * np.exp(self.scale_region)[:, None]  # (region, cat)

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
                + self.scale_age[age] + self.scale_ls[ls] + self.scale_sex[sex] + self.scale_q[q])

    def use_logit(self, age, ls, sex, seg, sub, grade, q, profile=None):
        """logit of P(category used) per category; arguments broadcast.

        ``profile`` is the region profile (``region_profile[region]``); without it the
        region shift is left out (the posterior adds it separately).
        """
        eta = (self.use_base + self.use_age[age] + self.use_ls[ls] + self.use_sex[sex] + self.use_seg[seg]
               + self.use_sub[sub][..., None] + self.use_grade[grade] + self.use_q[q])
        return eta if profile is None else eta + self.use_region[profile]

    def _expected_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """E[TOT] = (A0 + A1 * exp(sum of the raked levels)) * (1 - inactive), by (age, sex,
        q, LS, region profile), every raked level at zero.

        The use probabilities do not depend on the raked levels, so one pass (looped over
        age to keep memory small) gives both parts.
        """
        n_prof = len(self.profile_p)
        a0 = np.empty((N_AGE, N_SEX, N_Q, N_LS, n_prof))
        a1 = np.empty_like(a0)
        s, g, q, ls, k, l = np.ix_(*(np.arange(n) for n in (N_SEX, N_GRADE, N_Q, N_LS, N_SEG, N_SUB)))
        for a in range(N_AGE):
            w = (self.grade_p[a][:, None, None, None, None] * self.seg_p[a][:, None, None, None, :, None] / N_SUB)
            eta = self.use_logit(a, ls, s, k, l, g, q)
            odds = np.exp(self.log_odds(a, ls, s, k, l, g, q))
            for p in range(n_prof):
                pi = expit(eta + self.use_region[p])
                a0[a, ..., p] = (pi.sum(-1) * w).sum((1, 4, 5))
                a1[a, ..., p] = ((pi * self.r_profile[p] * odds).sum(-1) * w).sum((1, 4, 5))
        return a0, a1

    def expected_means(self) -> dict[str, np.ndarray]:
        """The model's expected mean TOT of a clean row by age, sex, quarter, region and stage
        (arrays in AGES, SEXES, config.QUARTERS, REGIONS, STAGES order), with the raked levels."""
        e, w = self._expected_cells(*self._parts)
        return {name: (e * w).sum(other) / w.sum(other)
                for name, other in (("age", (1, 2, 3, 4)), ("sex", (0, 2, 3, 4)), ("quarter", (0, 1, 3, 4)),
                                    ("region", (0, 1, 2, 3)), ("stage", (0, 1, 2, 4)))} | {"all": (e * w).sum() / w.sum()}

    def _cell_weights(self) -> np.ndarray:
        """Row weight of each (age, sex, quarter, stage, region) cell."""
        w = self.ls_prior * (self.age_p[:, None] * np.c_[1 - self.female_p, self.female_p])[:, :, None, None]
        return w[..., None] * self.region_p

    def _expected_cells(self, a0, a1) -> tuple[np.ndarray, np.ndarray]:
        """Expected TOT per (age, sex, quarter, stage, region) cell and the cells' weights."""
        level = (self.scale_age[:, None, None, None, None] + self.scale_sex[None, :, None, None, None]
                 + self.scale_q[None, None, :, None, None] + self.scale_ls[None, None, None, :, None]
                 + self.scale_region)
        prof = self.region_profile
        keep = (1 - self.inactive)[:, None, None, None, None]
        return (a0[..., prof] + a1[..., prof] * np.exp(level)) * keep, self._cell_weights()

    def level_targets(self) -> dict[str, np.ndarray]:
        """The published levels as ratios to the model's mean row (weighted mean 1): by sex
        (``SEX_TOTAL_PER_USER``), quarter (``PERSONAL_CARD_APPROVALS``) and region
        (:func:`~fipro.synth.params.region_level_table`)."""
        w = self._cell_weights()
        out = {}
        for name, table, keys, other in (("sex", SEX_TOTAL_PER_USER, SEXES, (0, 2, 3, 4)),
                                         ("quarter", PERSONAL_CARD_APPROVALS, config.QUARTERS, (0, 1, 3, 4)),
                                         ("region", region_level_table(), REGIONS, (0, 1, 2, 3))):
            level, weight = np.array([table[k] for k in keys], float), w.sum(other)
            out[name] = level / ((level * weight).sum() / weight.sum())
        return out

    def _calibrate(self, iterations: int = 100) -> None:
        # Rake log levels so the model's expected mean TOT matches the published means by
        # age exactly, by stage up to one common factor (the two published margins imply
        # slightly different grand means), and the published relative levels by sex,
        # quarter and region (each with weighted mean 1, so they leave the grand mean to age).
        self._parts = self._expected_parts()
        w = self._cell_weights()
        t_age = np.array([MEAN_TOT_BY_AGE[a] for a in AGES], float)
        t_ls = np.array([sum(MEAN_CNF_CRDSL_BY_STAGE[s]) for s in STAGES], float)
        w_ls = w.sum((0, 1, 2, 4))
        published_grand = (t_ls * w_ls).sum() / w.sum()
        relative = self.level_targets()

        def margin(axes):
            e, _ = self._expected_cells(*self._parts)
            return (e * w).sum(axes) / w.sum(axes), (e * w).sum() / w.sum()

        for _ in range(iterations):
            by_age, _ = margin((1, 2, 3, 4))
            self.scale_age += np.log(t_age / by_age)
            for name, scale, axes in (("sex", self.scale_sex, (0, 2, 3, 4)), ("quarter", self.scale_q, (0, 1, 3, 4)),
                                      ("region", self.scale_region, (0, 1, 2, 3))):
                by, grand = margin(axes)
                scale += np.log(relative[name] * grand / by)
            by_ls, grand = margin((0, 1, 2, 4))
            self.scale_ls += np.log(t_ls * grand / published_grand / by_ls)
        self.stage_scale_factor = float(grand / published_grand)


def _share_weights(mean: float) -> np.ndarray:
    """P(s) on SHARE_GRID: a Beta-like shape tilted (on the logit) to the given mean."""
    s = SHARE_GRID
    logit = np.log(s / (1 - s))
    base = SHARE_CONC * (mean * np.log(s) + (1 - mean) * np.log(1 - s))
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

