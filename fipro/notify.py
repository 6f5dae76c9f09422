"""Customer notifications of a quarter, from the quarter's (and the previous quarter's) saved outputs.

The seed's notification store (alerts kept for customers) in research form: one row per
notification in ``outputs/<quarter>/notifications.parquet``, keyed by the hand-off's
``CUSTOMER_KEY`` (:func:`fipro.handoff.customer_keys`, never ``SEQ``), handed to the serving
team as ``data/db_seed/notification.csv`` (:func:`fipro.handoff.export_notifications`).

Kinds, in priority order (:data:`KINDS`; 1 is shown first)
------------------------------------------------------------
1. ``이상 소비``: the anomaly model flagged the customer this quarter; the message is its reason
   (amounts and the rule that fired).
2. ``위험 등급 상승``: the spending-based risk grade rose by at least :data:`RISK_RISE` grades
   since the previous quarter and is now at least :data:`RISK_GRADE_MIN` (of 5).
3. ``건강 등급 하락``: the health tier fell (건강 → 보통 → 취약) since the previous quarter and the
   score by at least :data:`HEALTH_DROP_MIN` points; the message gives both scores and the
   health model's reason.
4. ``라이프스테이지 변화``: the predicted life stage differs from the previous quarter's and both
   predictions have a probability of at least :data:`LIFESTAGE_MIN_PROBABILITY`.
5. ``더 나은 카드``: the first-ranked card is not last quarter's first card (or the customer had
   none) and its expected monthly net benefit is at least :data:`CARD_MIN_BENEFIT_WON` 원.

Each rule fires only on something *new* this quarter (a change against the previous quarter, or
this quarter's flag); a customer with nothing new gets no row. At most
:data:`MAX_PER_CUSTOMER` notifications per customer per quarter, the highest priorities kept:
a customer reads the unusual spending and the risk first, the offer last.
"""

from __future__ import annotations

import time
from typing import Mapping, Optional

import numpy as np
import pandas as pd

from fipro import contract, datasets, privacy
from fipro.export import write_parquet_atomic
from fipro.handoff import customer_keys
from fipro.products import load_catalogue
from fipro.text_ko import particle

KINDS: tuple[str, ...] = ("이상 소비", "위험 등급 상승", "건강 등급 하락", "라이프스테이지 변화", "더 나은 카드")
PRIORITY: dict[str, int] = {k: i + 1 for i, k in enumerate(KINDS)}
SOURCE_MODEL = {"이상 소비": "anomaly", "위험 등급 상승": "health", "건강 등급 하락": "health",
                "라이프스테이지 변화": "lifestage", "더 나은 카드": "recommend"}
MAX_PER_CUSTOMER = 3
RISK_RISE = 2
RISK_GRADE_MIN = 5
# a tier boundary crossed by a few points is the score's own noise (its quarter-to-quarter
# spread is several points): a drop must also be this many points
HEALTH_DROP_MIN = 10.0
LIFESTAGE_MIN_PROBABILITY = 0.6
CARD_MIN_BENEFIT_WON = 10_000
TIER_ORDER = {"취약": 0, "보통": 1, "건강": 2}
NOTIFICATION_COLUMNS = ("CUSTOMER_KEY", "BAS_YH", "rank", "priority", "kind", "message", "source")


def repr_ko(word: str) -> str:
    """A quoted name in a message: ``'보통'``."""
    return f"'{word}'"


def _aligned(frame: Optional[pd.DataFrame], seq: pd.Index, columns) -> pd.DataFrame:
    """``frame``'s ``columns`` for the customers ``seq`` (NaN where absent or no frame)."""
    if frame is None:
        return pd.DataFrame({c: pd.Series([np.nan] * len(seq), dtype=object) for c in columns})
    f = frame.assign(SEQ=frame["SEQ"].astype(str)).drop_duplicates("SEQ").set_index("SEQ")
    return f.reindex(seq)[[c for c in columns if c in f]].reindex(columns=list(columns)).reset_index(drop=True)


def _anomaly(cur: Optional[pd.DataFrame]) -> pd.DataFrame:
    if cur is None or "flagged" not in cur:
        return pd.DataFrame(columns=["SEQ", "kind", "message"])
    hit = cur[cur["flagged"].fillna(False).astype(bool)]
    reason = hit["reason"].fillna("").astype(str).str.strip() if "reason" in hit else pd.Series("", index=hit.index)
    msg = "이번 분기 소비에 평소와 다른 점이 있어 알려 드립니다. " + reason
    return pd.DataFrame({"SEQ": hit["SEQ"].astype(str), "kind": KINDS[0], "message": msg.str.strip()})


def _health(cur: Optional[pd.DataFrame], prev: Optional[pd.DataFrame]) -> list[pd.DataFrame]:
    if cur is None or prev is None:
        return []
    seq = pd.Index(cur["SEQ"].astype(str))
    now = cur.reset_index(drop=True)
    before = _aligned(prev, seq, ["tier", "health_score", "risk_grade"])
    out = []
    if "risk_grade" in now:
        g_now = pd.to_numeric(now["risk_grade"], errors="coerce").to_numpy()
        g_before = pd.to_numeric(before["risk_grade"], errors="coerce").to_numpy()
        with np.errstate(invalid="ignore"):
            rose = (g_now - g_before >= RISK_RISE) & (g_now >= RISK_GRADE_MIN)
        if rose.any():
            prob = pd.to_numeric(now.get("risk_probability"), errors="coerce") if "risk_probability" in now else None
            msg = [f"소비 기반 위험 등급이 {int(b)}등급에서 {int(a)}등급(5등급이 가장 높음)으로 올랐습니다"
                   + (f" (다음 분기 악화 가능성 {100 * p:.0f}%)" if p is not None and np.isfinite(p) else "") + ". "
                   + str(r) for a, b, p, r in zip(g_now[rose], g_before[rose],
                                                   (prob[rose] if prob is not None else [None] * int(rose.sum())),
                                                   now.loc[rose, "reason"] if "reason" in now else [""] * int(rose.sum()))]
            out.append(pd.DataFrame({"SEQ": seq[rose], "kind": KINDS[1], "message": [m.strip() for m in msg]}))
    if "tier" in now:
        t_now = now["tier"].map(TIER_ORDER).to_numpy(dtype=np.float64)
        t_before = before["tier"].map(TIER_ORDER).to_numpy(dtype=np.float64)
        score_now = pd.to_numeric(now["health_score"], errors="coerce").to_numpy()
        score_before = pd.to_numeric(before["health_score"], errors="coerce").to_numpy()
        with np.errstate(invalid="ignore"):
            fell = (t_now < t_before) & (score_before - score_now >= HEALTH_DROP_MIN)
        if fell.any():
            s_now, s_before = score_now[fell], score_before[fell]
            reasons = now.loc[fell, "reason"] if "reason" in now else [""] * int(fell.sum())
            msg = [f"소비 건강 등급이 '{tb}'에서 {particle(repr_ko(tn), '으로/로')} 내려갔습니다 (점수 {sb:.0f}점 → {sn:.0f}점). {r}".strip()
                   for tb, tn, sb, sn, r in zip(before["tier"][fell], now["tier"][fell], s_before, s_now, reasons)]
            out.append(pd.DataFrame({"SEQ": seq[fell], "kind": KINDS[2], "message": msg}))
    return out


def _lifestage(cur: Optional[pd.DataFrame], prev: Optional[pd.DataFrame]) -> pd.DataFrame:
    if cur is None or prev is None or "predicted" not in cur:
        return pd.DataFrame(columns=["SEQ", "kind", "message"])
    seq = pd.Index(cur["SEQ"].astype(str))
    now = cur.reset_index(drop=True)
    before = _aligned(prev, seq, ["predicted", "probability"])
    p_now = pd.to_numeric(now["probability"], errors="coerce").to_numpy()
    p_before = pd.to_numeric(before["probability"], errors="coerce").to_numpy()
    with np.errstate(invalid="ignore"):
        changed = (before["predicted"].notna().to_numpy() & (now["predicted"].astype(str).to_numpy()
                                                             != before["predicted"].astype(str).to_numpy())
                   & (p_now >= LIFESTAGE_MIN_PROBABILITY) & (p_before >= LIFESTAGE_MIN_PROBABILITY))
    label = lambda code: contract.LIFE_STAGE_CODES.get(str(code), str(code))  # noqa: E731
    msg = [f"소비 패턴으로 본 라이프스테이지가 '{label(b)}'에서 {particle(repr_ko(label(a)), '으로/로')} 바뀐 것으로 보입니다 "
           f"(확률 {100 * p:.0f}%). 맞춤 혜택과 비교 대상이 새 단계에 맞게 바뀝니다."
           for a, b, p in zip(now["predicted"][changed], before["predicted"][changed], p_now[changed])]
    return pd.DataFrame({"SEQ": seq[changed], "kind": KINDS[3], "message": msg})


def _first_card(log: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    if log is None or "product_id" not in log:
        return None
    rule = log["recommender"] if "recommender" in log else pd.Series("", index=log.index)
    return log[(log["rank"] == 1) & (rule != "life_stage_rule")].drop_duplicates("SEQ")


def _card(cur: Optional[pd.DataFrame], prev: Optional[pd.DataFrame], names: Mapping[str, str]) -> pd.DataFrame:
    first = _first_card(cur)
    if first is None or prev is None:  # no previous quarter's log: nothing can be told apart as new
        return pd.DataFrame(columns=["SEQ", "kind", "message"])
    seq = pd.Index(first["SEQ"].astype(str))
    first = first.reset_index(drop=True)
    before = _aligned(_first_card(prev), seq, ["product_id"])["product_id"]
    benefit = pd.to_numeric(first["expected_monthly_benefit_won"], errors="coerce").to_numpy()
    with np.errstate(invalid="ignore"):
        new = (before.astype(str).to_numpy() != first["product_id"].astype(str).to_numpy()) & (
            benefit >= CARD_MIN_BENEFIT_WON)
    reasons = first.loc[new, "reason"] if "reason" in first else [""] * int(new.sum())
    msg = [f"{particle(repr_ko(names.get(pid, pid)), '으로/로')} 월 {contract.format_amount(b / contract.AMOUNT_UNIT_WON)}의 혜택을 "
           f"기대할 수 있습니다. {r}".strip() for pid, b, r in zip(first["product_id"][new], benefit[new], reasons)]
    return pd.DataFrame({"SEQ": seq[new], "kind": KINDS[4], "message": msg})


def notifications_from(current: Mapping[str, Optional[pd.DataFrame]], previous: Mapping[str, Optional[pd.DataFrame]],
                       *, names: Optional[Mapping[str, str]] = None, cap: int = MAX_PER_CUSTOMER) -> pd.DataFrame:
    """Every notification of one quarter, by ``SEQ`` (the file-free core the tests drive).

    Parameters
    ----------
    current, previous : mapping
        The saved tables of this and the previous quarter by model (``anomaly``, ``health``,
        ``lifestage``, ``recommend``; see :func:`fipro.drift.saved_outputs`); a missing one
        (``None``) fires none of its kinds.
    names : mapping, optional
        Card id → Korean name.
    cap : int
        At most this many per customer, highest priority first.

    Returns
    -------
    DataFrame
        ``SEQ``, ``rank`` (1 … cap within the customer), ``priority``, ``kind``, ``message``,
        ``source`` (the model), sorted by ``SEQ`` and rank.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    parts = [_anomaly(current.get("anomaly")), *_health(current.get("health"), previous.get("health")),
             _lifestage(current.get("lifestage"), previous.get("lifestage")),
             _card(current.get("recommend"), previous.get("recommend"), names or {})]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["SEQ", "rank", "priority", "kind", "message", "source"])
    out = pd.concat(parts, ignore_index=True)
    out["priority"] = out["kind"].map(PRIORITY).astype(int)
    out = out.sort_values(["SEQ", "priority"], kind="stable")
    out["rank"] = out.groupby("SEQ").cumcount() + 1
    out = out[out["rank"] <= cap]
    out["source"] = out["kind"].map(SOURCE_MODEL)
    return out[["SEQ", "rank", "priority", "kind", "message", "source"]].reset_index(drop=True)


def keyed(notes: pd.DataFrame, quarter: str, salt: str) -> pd.DataFrame:
    """``notes`` with ``SEQ`` replaced by the hand-off's ``CUSTOMER_KEY`` (:data:`NOTIFICATION_COLUMNS`)."""
    out = notes.copy()
    out.insert(0, "CUSTOMER_KEY", customer_keys(out["SEQ"].astype(str), salt) if len(out) else [])
    out.insert(1, "BAS_YH", quarter)
    return out.drop(columns="SEQ")[list(NOTIFICATION_COLUMNS)].astype({"rank": "int64", "priority": "int64"})


def notifications_path(quarter: str):
    """``outputs/<quarter>/notifications.parquet`` (:func:`fipro.datasets.notifications_path`)."""
    return datasets.notifications_path(quarter)


def load_notifications(quarter: str) -> Optional[pd.DataFrame]:
    path = notifications_path(quarter)
    return pd.read_parquet(path) if path.exists() else None


def card_names() -> dict:
    """Card id → Korean name from the catalogue (``{}`` when it cannot be read)."""
    try:
        cat = load_catalogue()
        return {c: cat.card_name(c) for c in cat.card_ids}
    except (OSError, ValueError):
        return {}


def salt() -> str:
    """The hand-off salt (``privacy.secret`` creates it under a lock: two quarters' notebooks may
    ask for it at once)."""
    return privacy.secret()


def run_quarter(quarter: str, *, save: bool = True, cap: int = MAX_PER_CUSTOMER) -> tuple[pd.DataFrame, dict]:
    """The quarter's notifications keyed by ``CUSTOMER_KEY`` (written when ``save``) and their
    counts per kind."""
    # the saved outputs through drift (scipy, the decay models) only when a quarter is built:
    # notifications_from runs on frames alone
    from fipro import drift, history

    start = time.perf_counter()
    previous = history.previous_quarter(quarter, datasets.available_quarters())
    current = drift.saved_outputs(quarter)
    before = drift.saved_outputs(previous) if previous is not None else {}
    notes = keyed(notifications_from(current, before, names=card_names(), cap=cap), quarter, salt())
    if save:
        write_parquet_atomic(notes, notifications_path(quarter))
    counts = {k: int((notes["kind"] == k).sum()) for k in KINDS}
    return notes, {"counts": counts, "n_notifications": int(len(notes)),
                   "n_customers": int(notes["CUSTOMER_KEY"].nunique()), "cap": cap,
                   "seconds": round(time.perf_counter() - start, 2)}


def counts_table(counts: Mapping[str, int]) -> pd.DataFrame:
    """Counts per kind in priority order, with Korean headings."""
    return pd.DataFrame({"우선순위": [PRIORITY[k] for k in KINDS], "종류": list(KINDS),
                         "알림 수": [int(counts.get(k, 0)) for k in KINDS]}).set_index("우선순위")
