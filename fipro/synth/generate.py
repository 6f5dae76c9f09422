"""Drawing the stand-in: customers block by block, planted anomalies and stress, and the
raw-format and truth tables (:func:`generate_frame` in memory; :mod:`fipro.synth.files`
writes the same tables chunk by chunk).

Accounting identities (one documented way): each upper amount is exactly the sum of
its details (``contract.HIERARCHY``; ``AGRICTR_AM`` and ``MBRSHOP_AM`` have no upper);
``TOT_USE_AM = sum(details) + REST``, so the category sum is <= TOT and the remainder
is uncategorised spend; ``TOT_USE_AM = CRDSL_USE_AM + CNF_USE_AM`` exactly.

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
next-quarter adverse outcome. ``stress_observable`` is its spending part computed from what
the file shows up to the quarter (:mod:`fipro.synth.stress`): the observable ceiling.

Determinism: customers are generated in blocks of ``BLOCK_CUSTOMERS``, block b from
``SeedSequence(seed).spawn`` child b, so the same seed and scale give byte-identical
files whatever the chunk size used for writing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit

from fipro import config, contract
from fipro.synth.model import Model, get_model
from fipro.synth.params import (
    AGES, ANOMALY_RATE, ANOMALY_TYPE_P, ANOMALY_TYPES, BURST_CATS, CATS, CO_GROUPS, DETAILS, GRADES, N_AGE,
    N_CAT, N_Q, N_REG, N_SEG, N_SUB, P_GAP, P_JOIN, P_LEAVE, REGIONS, RHO_CO, RHO_DIGITAL, RHO_GAMMA, RHO_SHARE,
    RHO_USE, SEGMENT_NAMES, SEXES, SHARE_GRID, STAGES,
)
from fipro.synth.posterior import customer_segment_posterior, row_posteriors
from fipro.synth.stress import observable_stress

BLOCK_CUSTOMERS = 5_000
DEFAULT_CHUNK_CUSTOMERS = 20_000  # ~0.8 GB peak; the output does not depend on it


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
    typ = _draw_categorical(rng.random(n_anom), np.broadcast_to(ANOMALY_TYPE_P, (n_anom, 4)))
    u_quarter = rng.random(n_anom)
    m = np.select([typ == 0, typ == 1, typ == 2], [_log_uniform(rng, 1.6, 6, n_anom), _log_uniform(rng, .25, 3, n_anom),
                                                  rng.uniform(.35, 1, n_anom)], _log_uniform(rng, 1.5, 5, n_anom))
    burst_cat = np.array(BURST_CATS)[rng.integers(0, len(BURST_CATS), n_anom)]
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
    b["stress_observable"] = observable_stress(b["observed"], b["cnf_obs"], b["present"])
    ci, qi = np.nonzero(b["present"])
    rows = {"id": first_id + ci, "q": qi, "ls": b["ls"][ci, qi], "use_y": b["use_y"][ci, qi]}
    for k in ("age", "sex", "region", "grade", "seg", "att", "reg_y"):
        rows[k] = b[k][ci]
    for k in ("outcome", "observed", "cnf_out", "cnf_obs", "kind", "magnitude", "stress", "adverse", "stress_observable"):
        rows[k] = b[k][ci, qi]
    return rows


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
    post, seg_post, log_lik_z = row_posteriors(model, rows["age"], rows["sex"], rows["grade"], rows["region"], rows["q"],
                                            rows["outcome"], rows["cnf_out"])
    seg_customer = customer_segment_posterior(model, rows["id"], rows["age"], rows["sex"], log_lik_z)
    truth = {"BAS_YH": cols["BAS_YH"], "SEQ": seq, "segment": rows["seg"], "segment_name": _take(SEGMENT_NAMES, rows["seg"]),
             "anomaly_type": _take(("none",) + ANOMALY_TYPES, rows["kind"]), "anomaly_magnitude": rows["magnitude"],
             "stress_level": rows["stress"], "stress_observable": rows["stress_observable"], "adverse_next": rows["adverse"]}
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


def generate_tables(n_customers: int, seed: int, chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS):
    """Yield (raw, truth) Arrow tables chunk by chunk; output independent of chunk size."""
    model = get_model()
    blocks = _blocks(n_customers, seed)
    per_chunk = max(1, chunk_customers // BLOCK_CUSTOMERS)
    for c in range(0, len(blocks), per_chunk):
        parts = [_block_rows(model, size, ss, first + 1) for first, size, ss in blocks[c:c + per_chunk]]
        rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        yield _chunk_tables(model, rows)


def generate_frame(n_customers: int, seed: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the raw rows and the planted truth in memory (for small sizes).

    Parameters
    ----------
    n_customers : int
        Customers to generate (rows are about 7.7 per customer).
    seed : int, optional
        Seed (``None``: ``config.RANDOM_SEED``, read when called); the same seed gives the
        same frames, and the first customers of a larger run are the same customers.

    Returns
    -------
    raw : DataFrame
        ``contract.COLUMN_NAMES`` in order: codes as strings, amounts as int64.
    truth : DataFrame
        One row per raw row, same order: the posteriors (:mod:`fipro.synth.posterior`),
        the segment, the anomalies and the stress (this module's docstring).

    Examples
    --------
    >>> raw, truth = generate_frame(50, seed=1)
    >>> list(raw.columns) == list(contract.COLUMN_NAMES) and len(raw) == len(truth)
    True
    """
    seed = config.RANDOM_SEED if seed is None else seed
    parts = list(generate_tables(n_customers, seed, chunk_customers=max(n_customers, 1)))
    raw = pa.concat_tables([p[0] for p in parts]).to_pandas()
    truth = pa.concat_tables([p[1] for p in parts]).to_pandas()
    return raw, truth

