"""Reasons step: a Korean sentence per recommendation, naming the categories and the won amounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fipro import contract
from fipro.modelrun import saved_reasons
from fipro.products import CATEGORIES, BenefitEngine

N_NAMED = 2  # benefits named per card


def benefit_phrase(method: str, value: float) -> str:
    if method == "rate":
        return f"{100 * value:g}% 할인"
    if method == "per_litre":
        return f"리터당 {value:,.0f}원 할인"
    return f"월 {value:,.0f}원 할인"


def _won_array(x: np.ndarray) -> np.ndarray:
    """Each value rounded to 100 won as "1,200원" (object array): each distinct amount formatted once."""
    rounded = (np.round(np.asarray(x, dtype=np.float64) / 100.0) * 100).astype(np.int64)
    distinct, where = np.unique(rounded, return_inverse=True)
    return np.array([f"{v:,}원" for v in distinct.tolist()], dtype=object)[where.reshape(rounded.shape)]


NO_CARD = "가입할 수 있는 카드가 없습니다(연령·등급 조건)."
VIA_SEGMENT = "비슷한 고객(같은 세그먼트)의 지출 구성으로 보면 "
LITTLE_BENEFIT = "지출로 받을 혜택이 거의 없어, 연회비 부담이 없는 카드를 골랐습니다."
NAMED_FROM_WON = 50  # a benefit is named from this many won a month


def card_reasons(engine: BenefitEngine, profiles: np.ndarray, cards: np.ndarray, net: np.ndarray,
                 via_segment: np.ndarray, result=None) -> list[str]:
    """One sentence per row: ``cards`` (card positions, −1 for none) recommended on ``profiles``
    (won per month) with expected ``net`` monthly benefit; ``via_segment`` marks rows ranked on
    the segment's profile. ``result``: ``engine.evaluate(profiles)`` when already computed.

    Built column-wise on object arrays: a Python loop over rows took about 55 s for the 2
    million sentences of a full-scale quarter."""
    result = result if result is not None else engine.evaluate(profiles)
    cards = np.asarray(cards)
    net = np.asarray(net, dtype=np.float64)
    rows = np.arange(len(cards))
    # per benefit: "<category> <phrase>(월 약 "
    prefix = np.array([f"{contract.LABEL_KO[CATEGORIES[c]]} {benefit_phrase(m, v)}(월 약 "
                       for c, m, v in zip(engine.b_cat, engine.b_method, engine.b_value)], dtype=object)
    own = engine.b_card[None, :] == cards[:, None]
    amounts = np.where(own, result.by_benefit, 0.0)
    order = np.argsort(-amounts, axis=1, kind="stable")[:, :N_NAMED]
    body = np.full(len(cards), "", dtype=object)
    named = np.zeros(len(cards), dtype=bool)
    for k in range(order.shape[1]):  # amounts fall along ``order``: once one is too small, so are the rest
        b = order[:, k]
        amount = amounts[rows, b]
        ok = amount >= NAMED_FROM_WON
        part = prefix[b] + _won_array(amount) + ")"
        body = np.where(ok & named, body + ", " + part, np.where(ok, part, body))
        named |= ok
    card = np.where(cards >= 0, cards, 0)
    base = engine.base_rate
    base_text = np.array([f"모든 가맹점 기본 {100 * r:g}% 적립" if r > 0 else "지출 전반의 할인" for r in base],
                         dtype=object)
    body = np.where(named, body, base_text[card])
    fee = engine.catalogue.cards["annual_fee_won"].to_numpy()
    fee_note = np.array([f", 연회비 {f:,}원 반영" if f else ", 연회비 없음" for f in fee], dtype=object)
    head = np.where(np.asarray(via_segment, dtype=bool), VIA_SEGMENT, "").astype(object)
    full = (head + body + " 등으로 분기 약 " + _won_array(3 * net) + " 절약(월 순혜택 " + _won_array(net)
            + fee_note[card] + ").")
    out = np.where(net < NAMED_FROM_WON, head + LITTLE_BENEFIT, full)
    return np.where(cards < 0, NO_CARD, out).tolist()


def product_reason(name: str, reason: str, stage: str, age: str) -> str:
    return (f"{name}: {reason} ({contract.LIFE_STAGE_CODES.get(stage, stage)}, "
            f"{contract.AGE_CODES.get(age, age)})")


def customer_reasons(run, seqs) -> pd.Series:
    """The reason sentence of each customer's first card in ``run`` (index ``SEQ`` in ``seqs``'
    order): the categories and won amounts it saves; NaN for a customer without a card
    recommendation (not in the quarter, or no eligible card)."""
    table = run.table
    return saved_reasons(table[(table["rank"] == 1) & (table["recommender"] != "life_stage_rule")], seqs)
