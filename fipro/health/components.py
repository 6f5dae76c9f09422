"""The health score's components: four pillars, two components each, every one 0–100 (higher is healthier).

FinHealth-inspired (the Financial Health Network's score averages eight indicators over
spend, save, borrow and plan); only the structure is borrowed. Card data has no income,
savings, debt or credit score, so each component measures the health of a *spending
pattern*, and says so. Peers are the same age band × life stage (never sex).

==================  ======  =====================================================================
component           pillar  formula (0–100)
==================  ======  =====================================================================
care_burden         spend   100 × (1 − min(1, smoothed insurance + hospital share / ``CARE_FULL``))
spend_change        spend   100 × max(0, 1 − d / ``FALL_FULL``), d = max(0, log(prev + 20) − log(now + 20)): a fall
check_share         save    100 × (1 − smoothed credit-card share of card spending)
discretionary_room  save    100 × peer percentile of the smoothed discretionary share
credit_peer         borrow  100 × (1 − peer percentile of the smoothed credit-card share)
credit_growth       borrow  100 × exp(−g), g = max(0, log(credit + 20) − log(prev credit + 20))
stability           plan    100 × exp(−2 × sd of log(total + 20) over the earlier quarters with spending)
life_stage_fit      plan    100 × (1 − ½ Σ |mix − peers' mean mix|) over the 32 detail categories
==================  ======  =====================================================================

Shares are *smoothed*: the exponentially weighted mean over the customer's quarters with
spending up to this one (``ewm_<share>`` of :mod:`fipro.health.data`, the ``health``
history part), so one odd quarter moves them little while a lasting change shows. The two
shares the outcome depends on (credit, care) enter as levels; the peer comparison stays in
``credit_peer``, ``discretionary_room``, ``life_stage_fit`` and the reasons (turning every share
into a peer percentile loses the level the outcome depends on: measured about 0.03 AUC); ``spend_change`` is the one component that compares this
quarter with the last (``TRANSIENT``): the outcome rewards it most, and the weight it is
given (``TRANSIENT_WEIGHT``) is what trades ranking against a steady score.

Missing inputs get a stated neutral value rather than a penalty: no previous quarter or
fewer than two earlier active quarters → ``NO_HISTORY`` (70); no spending this quarter → 50.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fipro.health.data import LOG_OFFSET, PEER_COLUMNS, HealthInputs
from fipro.peers import peer_group_codes

NO_HISTORY = 70.0   # no history is not evidence of strain: upper "보통"
NO_SPENDING = 50.0  # nothing spent this quarter: the middle
CARE_FULL = 0.5     # a smoothed insurance + hospital share at or above this scores 0
FALL_FULL = 3.0     # a fall of log spending by this much (to 1/20) scores 0: linear, as the outcome rises with it
# life stages that usually carry insurance (households with dependants, pre-retirement and retired)
INSURANCE_STAGES = frozenset({"NEW_WED", "CHILD_BABY", "CHILD_TEEN", "CHILD_UNI", "GOLLIFE", "SECLIFE", "RETIR"})
# Lower bounds: FinHealth's own cuts, 40 and 80. When most components were peer percentiles
# their weighted mean gathered around 50 and the 건강 cut had been lowered to 60; on the smoothed
# levels the score spreads over 30-95 (sample mean 67-69), 60 would call about 75% healthy, and
# 40/80 give 2-9% 취약 and 15-33% 건강 (published: US 17% vulnerable / 31% healthy, Korea 17%
# healthy), each tier's adverse rate monotone. The score with the risk outlook, averaged over
# recent quarters (issue 26), keeps the components' spread in a quarter but averaging narrows
# it: 40/80 give 2-4% 취약 and 16-20% 건강 at full scale (2022q2-2023q4), 1-4% and 6-28% on the
# sample, still monotone. ``evaluation.tier_mix_table`` shows the mix in every run.
TIERS = (("취약", 0.0), ("보통", 40.0), ("건강", 80.0))
FINHEALTH_TIERS = (("취약", 0.0), ("보통", 40.0), ("건강", 80.0))


@dataclass(frozen=True)
class Component:
    name: str
    pillar: str
    title_ko: str
    weight: float
    formula: str
    why: str
    low_ko: str  # how a low value reads in a sentence


COMPONENTS: tuple[Component, ...] = (
    Component("care_burden", "spend", "의료·보험 고정 부담", 0.15,
              f"100 × (1 − min(1, 보험+병원 비중(지수 가중 평균) / {CARE_FULL:g}))",
              "보험료와 병원비는 줄이기 어려운 고정 지출이라, 비중이 클수록 다른 곳에 쓸 여유가 줄어듭니다",
              "보험·병원 지출 비중이 꾸준히 높습니다"),
    Component("spend_change", "spend", "지출 급감 없음", 0.05,
              f"100 × max(0, 1 − max(0, log(직전+20) − log(이번+20)) / {FALL_FULL:g})",
              "분기 지출이 갑자기 줄면 소득 충격의 신호일 수 있습니다", "지난 분기보다 지출이 크게 줄었습니다"),
    Component("check_share", "save", "체크카드 비중", 0.15, "100 × (1 − 신용카드 비중(지수 가중 평균))",
              "체크카드는 가진 돈 안에서 쓰는 결제입니다", "체크카드 비중이 낮습니다"),
    Component("discretionary_room", "save", "선택 소비 여력(또래 대비)", 0.15,
              "100 × 또래 안 선택 소비 비중(지수 가중 평균) 백분위",
              "필수 지출 밖에 쓰는 몫이 있다는 것은 줄일 여지(완충)가 있다는 뜻입니다",
              "지출이 필수 소비에 몰려 줄일 여지가 적습니다"),
    Component("credit_peer", "borrow", "신용카드 의존(또래 대비)", 0.15,
              "100 × (1 − 또래 안 신용카드 비중(지수 가중 평균) 백분위)",
              "신용카드 결제는 다음 달로 미루는 지출입니다", "신용카드 비중이 또래보다 높습니다"),
    Component("credit_growth", "borrow", "신용 지출 증가 없음", 0.05, "100 × exp(−max(0, log(신용+20) − log(직전 신용+20)))",
              "신용 지출이 빠르게 늘면 상환 부담이 커집니다", "신용카드 지출이 지난 분기보다 크게 늘었습니다"),
    Component("stability", "plan", "지출 안정성", 0.15, "100 × exp(−2 × 이전 활동 분기 log 지출의 표준편차)",
              "분기마다 지출이 크게 출렁이면 계획하기 어렵습니다", "분기별 지출의 변동이 큽니다"),
    Component("life_stage_fit", "plan", "라이프스테이지 적합", 0.15, "100 × (1 − ½ Σ|업종 비중 − 또래 평균 비중|)",
              "라이프스테이지에 맞는 지출 구성은 필요한 곳에 돈을 쓰고 있다는 뜻입니다",
              "지출 구성이 라이프스테이지의 보통 모습과 많이 다릅니다"),
)
COMPONENT_NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
TRANSIENT = frozenset({"spend_change"})  # this quarter against the last: swings by design
# its weight in the outcome-corrected score, on the smoothed components (sample, 2022q2-2023q3,
# EWM_ALPHA 0.2): 0.25 gives a mean held-out AUC of 0.737 with a mean correlation between quarters
# of 0.84; 0.28 gives 0.742 / 0.82 (0.78-0.86 by quarter); 0.30 gives 0.746 / 0.80; 0.35 gives
# 0.756 / 0.72. EWM_ALPHA 0.3 and 0.5 and the spread with the current quarter lie on the same
# curve (``evaluation.transient_tradeoff`` redraws it in every run)
TRANSIENT_WEIGHT = 0.28
COMPONENT_BY_NAME = {c.name: c for c in COMPONENTS}
PILLAR_KO = {"spend": "지출", "save": "저축", "borrow": "차입", "plan": "계획"}


def peer_codes(frame: pd.DataFrame) -> np.ndarray:
    """The health model's peer group per customer (``PEER_COLUMNS``: life stage × age band)."""
    return peer_group_codes(frame, PEER_COLUMNS)


def peer_percentile(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mid-rank percentile in [0, 1] within each group (ties count half; NaN stays NaN)."""
    s = pd.Series(values)
    g = pd.Series(groups)
    rank = s.groupby(g).rank(method="average")
    n = s.notna().groupby(g).transform("sum")
    return ((rank - 0.5) / n).to_numpy(dtype=np.float64)


def _fall(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.maximum(np.log(before + LOG_OFFSET) - np.log(now + LOG_OFFSET), 0.0)


def compute_components(inputs: HealthInputs) -> pd.DataFrame:
    """Every component (0–100) for every customer of ``inputs``, columns ``COMPONENT_NAMES``."""
    f = inputs.frame
    groups = peer_codes(f)
    paid = (f["credit"] + f["check"]).to_numpy()
    split = (f["essential"] + f["discretionary"]).to_numpy()
    disc = np.where(split > 0, f["discretionary"].to_numpy() / np.maximum(split, 1e-12), np.nan)
    credit_share = np.where(paid > 0, f["credit"].to_numpy() / np.maximum(paid, 1e-12), np.nan)
    out = {}
    hist = {k: f[f"ewm_{k}"].to_numpy() for k in ("credit_share", "care_share", "discretionary_share")}
    none = f["n_active"].to_numpy() == 0
    out["care_burden"] = np.where(none, NO_SPENDING, 100 * (1 - np.minimum(1.0, np.nan_to_num(hist["care_share"]) / CARE_FULL)))
    prev = f["prev_total"].to_numpy()
    fall = _fall(f["total"].to_numpy(), np.nan_to_num(prev))
    out["spend_change"] = np.where(np.isnan(prev), NO_HISTORY, 100 * np.maximum(0.0, 1 - fall / FALL_FULL))
    out["check_share"] = np.where(none, NO_SPENDING, 100 * (1 - np.nan_to_num(hist["credit_share"])))
    out["discretionary_room"] = np.where(none, NO_SPENDING, 100 * peer_percentile(hist["discretionary_share"], groups))
    out["credit_peer"] = np.where(none, NO_SPENDING, 100 * (1 - peer_percentile(hist["credit_share"], groups)))
    prev_credit = f["prev_credit"].to_numpy()
    out["credit_growth"] = np.where(np.isnan(prev_credit), NO_HISTORY,
                                    100 * np.exp(-_fall(np.nan_to_num(prev_credit), f["credit"].to_numpy())))
    sd = f["log_sd_before"].to_numpy()
    out["stability"] = np.where(np.isnan(sd), NO_HISTORY, 100 * np.exp(-2 * np.nan_to_num(sd)))
    mix = inputs.mix.astype(np.float64)
    has_mix = mix.sum(1) > 0
    peer_mean = np.zeros((groups.max() + 1 if len(groups) else 0, mix.shape[1]))
    for j in range(mix.shape[1]):
        peer_mean[:, j] = np.bincount(groups[has_mix], weights=mix[has_mix, j], minlength=len(peer_mean)) / \
            np.maximum(np.bincount(groups[has_mix], minlength=len(peer_mean)), 1)
    tv = 0.5 * np.abs(mix - peer_mean[groups]).sum(1)
    out["life_stage_fit"] = np.where(has_mix, 100 * (1 - tv), NO_SPENDING)
    return pd.DataFrame(out, columns=list(COMPONENT_NAMES)).clip(0, 100)


def rule_weights() -> np.ndarray:
    w = np.array([c.weight for c in COMPONENTS])
    return w / w.sum()


def weighted_score(components: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    """Σ w × component (weights sum to 1), 0–100."""
    return components[list(COMPONENT_NAMES)].to_numpy() @ (np.asarray(weights) / np.sum(weights))


def tier_of(score: np.ndarray, tiers=TIERS) -> np.ndarray:
    """Korean tier names at the ``tiers`` lower bounds (default 0–39 취약, 40–79 보통, 80–100 건강).

    ``pd.cut`` on the whole points (a bound belongs to the tier it starts); a NaN score
    gets no tier (NaN).

    Raises
    ------
    ValueError
        If the bounds do not increase.

    Examples
    --------
    >>> tier_of([39.9, 40.0, 79.99, 80.0]).tolist()
    ['취약', '보통', '보통', '건강']
    """
    bounds = [b for _, b in tiers[1:]]
    tiers_cut = pd.cut(np.floor(np.asarray(score, dtype=float)), [-np.inf, *bounds, np.inf], right=False,
                       labels=[t for t, _ in tiers])
    return np.asarray(tiers_cut.astype(object))
