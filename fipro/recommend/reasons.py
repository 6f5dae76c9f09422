"""Reasons step: a Korean sentence per recommendation, naming the categories and the won amounts."""

from __future__ import annotations

import numpy as np

from fipro import contract
from fipro.products import CATEGORIES, BenefitEngine

N_NAMED = 2  # benefits named per card


def benefit_phrase(method: str, value: float) -> str:
    if method == "rate":
        return f"{100 * value:g}% 할인"
    if method == "per_litre":
        return f"리터당 {value:,.0f}원 할인"
    return f"월 {value:,.0f}원 할인"


def _won(x: float) -> str:
    return f"{int(round(x / 100.0) * 100):,}원"


def card_reasons(engine: BenefitEngine, profiles: np.ndarray, cards: np.ndarray, net: np.ndarray,
                 via_segment: np.ndarray, result=None) -> list[str]:
    """One sentence per row: ``cards`` (card positions, −1 for none) recommended on ``profiles``
    (won per month) with expected ``net`` monthly benefit; ``via_segment`` marks rows ranked on
    the segment's profile. ``result``: ``engine.evaluate(profiles)`` when already computed."""
    result = result if result is not None else engine.evaluate(profiles)
    cat = engine.b_cat
    labels = [contract.LABEL_KO[c] for c in CATEGORIES]
    phrases = [benefit_phrase(m, v) for m, v in zip(engine.b_method, engine.b_value)]
    own = engine.b_card[None, :] == cards[:, None]
    amounts = np.where(own, result.by_benefit, 0.0)
    order = np.argsort(-amounts, axis=1, kind="stable")[:, :N_NAMED]
    fee = engine.catalogue.cards["annual_fee_won"].to_numpy()
    base = engine.base_rate
    out = []
    for i, card in enumerate(cards):
        if card < 0:
            out.append("가입할 수 있는 카드가 없습니다(연령·등급 조건).")
            continue
        named = [f"{labels[cat[b]]} {phrases[b]}(월 약 {_won(amounts[i, b])})" for b in order[i] if amounts[i, b] >= 50]
        if not named and base[card] > 0:
            named = [f"모든 가맹점 기본 {100 * base[card]:g}% 적립"]
        head = "비슷한 고객(같은 세그먼트)의 지출 구성으로 보면 " if via_segment[i] else ""
        if net[i] < 50:
            out.append(head + "지출로 받을 혜택이 거의 없어, 연회비 부담이 없는 카드를 골랐습니다.")
            continue
        body = ", ".join(named) if named else "지출 전반의 할인"
        fee_note = f", 연회비 {fee[card]:,}원 반영" if fee[card] else ", 연회비 없음"
        out.append(f"{head}{body} 등으로 분기 약 {_won(3 * net[i])} 절약(월 순혜택 {_won(net[i])}{fee_note}).")
    return out


def product_reason(name: str, reason: str, stage: str, age: str) -> str:
    return (f"{name}: {reason} ({contract.LIFE_STAGE_CODES.get(stage, stage)}, "
            f"{contract.AGE_CODES.get(age, age)})")
