"""Customer notifications: each kind fires on a hand-made customer and not on its near miss,
the cap keeps the highest priorities, and the file never carries a raw SEQ."""

from __future__ import annotations

import pandas as pd
import pytest

from fipro import notify


def _anomaly(rows):
    return pd.DataFrame([{"SEQ": s, "score": sc, "flagged": f, "rules": r, "reason": reason}
                         for s, sc, f, r, reason in rows])


def _health(rows):
    return pd.DataFrame([{"SEQ": s, "health_score": hs, "tier": t, "risk_grade": g, "risk_probability": p,
                          "reason": f"건강 점수 {hs:.0f}점({t})입니다."} for s, hs, t, g, p in rows])


def _lifestage(rows):
    return pd.DataFrame([{"SEQ": s, "predicted": p, "probability": pr} for s, p, pr in rows])


def _recs(rows):
    return pd.DataFrame([{"SEQ": s, "product_id": pid, "rank": 1, "expected_monthly_benefit_won": b,
                          "reason": "외식 지출이 많아 할인 혜택이 큽니다.", "recommender": "benefit"}
                         for s, pid, b in rows])


def _kinds(notes: pd.DataFrame, seq: str) -> list[str]:
    return notes.loc[notes["SEQ"] == seq, "kind"].tolist()


def _message(notes: pd.DataFrame, seq: str) -> str:
    return notes.loc[notes["SEQ"] == seq, "message"].iloc[0]


def test_anomaly_fires_on_flag_and_not_on_high_unflagged_score():
    cur = {"anomaly": _anomaly([("a", 9.5, True, "category_burst", "[업종 급증] 학원 지출이 116.9만원 늘었습니다."),
                                ("b", 9.4, False, "", "")])}
    notes = notify.notifications_from(cur, {})
    assert _kinds(notes, "a") == ["이상 소비"]
    assert "116.9만원" in _message(notes, "a")
    assert _kinds(notes, "b") == []


def test_risk_rise_fires_into_the_top_grade_and_not_below_it_or_by_one_grade():
    prev = {"health": _health([("a", 50, "보통", 3, .1), ("b", 50, "보통", 1, .1), ("c", 50, "보통", 4, .1)])}
    cur = {"health": _health([("a", 50, "보통", 5, .3), ("b", 50, "보통", 3, .2), ("c", 50, "보통", 5, .3)])}
    notes = notify.notifications_from(cur, prev)
    assert _kinds(notes, "a") == ["위험 등급 상승"]
    assert "3등급에서 5등급" in _message(notes, "a")
    assert "30%" in _message(notes, "a")
    assert _kinds(notes, "b") == []  # rose by two but stays below the top grade
    assert _kinds(notes, "c") == []  # the top grade but rose by one


def test_health_tier_drop_fires_and_a_small_or_within_tier_drop_does_not():
    prev = {"health": _health([("a", 62, "건강", 1, .1), ("b", 58, "보통", 1, .1), ("c", 61, "건강", 1, .1)])}
    cur = {"health": _health([("a", 48, "보통", 1, .1), ("b", 41, "보통", 1, .1), ("c", 55, "보통", 1, .1)])}
    notes = notify.notifications_from(cur, prev)
    assert _kinds(notes, "a") == ["건강 등급 하락"]
    assert "'건강'에서 '보통'으로 내려갔습니다" in _message(notes, "a")
    assert "62점 → 48점" in _message(notes, "a")
    assert _kinds(notes, "b") == []  # 17 points down, same tier
    assert _kinds(notes, "c") == []  # crossed the tier boundary by 6 points only


def test_lifestage_change_needs_confident_predictions_both_quarters():
    prev = {"lifestage": _lifestage([("a", "NEW_WED", .8), ("b", "NEW_WED", .8), ("c", "NEW_WED", .8)])}
    cur = {"lifestage": _lifestage([("a", "CHILD_BABY", .7), ("b", "CHILD_BABY", .55), ("c", "NEW_WED", .9)])}
    notes = notify.notifications_from(cur, prev)
    assert _kinds(notes, "a") == ["라이프스테이지 변화"]
    assert "'신혼'에서 '자녀 영유아'로 바뀐" in _message(notes, "a")
    assert _kinds(notes, "b") == [] and _kinds(notes, "c") == []


def test_better_card_fires_on_a_new_first_card_with_enough_benefit_only():
    prev = {"recommend": _recs([("a", "C1", 20_000), ("b", "C1", 20_000), ("c", "C1", 20_000)])}
    cur = {"recommend": _recs([("a", "C2", 15_000), ("b", "C1", 25_000), ("c", "C2", 9_000)])}
    notes = notify.notifications_from(cur, prev, names={"C2": "가나카드 외식플러스"})
    assert _kinds(notes, "a") == ["더 나은 카드"]
    assert "'가나카드 외식플러스'로 월 1.5만원" in _message(notes, "a")
    assert "1.5만원" in _message(notes, "a")
    assert _kinds(notes, "b") == []  # same card as last quarter: nothing new
    assert _kinds(notes, "c") == []  # new card, benefit below the minimum


def test_nothing_new_gives_no_row():
    prev = {"health": _health([("a", 50, "보통", 2, .1)]), "lifestage": _lifestage([("a", "UNI", .9)]),
            "recommend": _recs([("a", "C1", 20_000)])}
    cur = {"anomaly": _anomaly([("a", 1.0, False, "", "")]), "health": _health([("a", 52, "보통", 2, .1)]),
           "lifestage": _lifestage([("a", "UNI", .9)]), "recommend": _recs([("a", "C1", 20_000)])}
    assert notify.notifications_from(cur, prev).empty


def _everything():
    prev = {"health": _health([("a", 62, "건강", 2, .1)]), "lifestage": _lifestage([("a", "NEW_WED", .8)]),
            "recommend": _recs([("a", "C1", 20_000)])}
    cur = {"anomaly": _anomaly([("a", 9.5, True, "total_spike", "총이용금액이 늘었습니다.")]),
           "health": _health([("a", 30, "취약", 5, .4)]), "lifestage": _lifestage([("a", "CHILD_BABY", .7)]),
           "recommend": _recs([("a", "C2", 30_000)])}
    return cur, prev


def test_cap_keeps_the_highest_priorities_in_order():
    cur, prev = _everything()
    notes = notify.notifications_from(cur, prev)
    assert notes["kind"].tolist() == list(notify.KINDS[:notify.MAX_PER_CUSTOMER])
    assert notes["rank"].tolist() == list(range(1, notify.MAX_PER_CUSTOMER + 1))
    every = notify.notifications_from(cur, prev, cap=len(notify.KINDS))
    assert every["kind"].tolist() == list(notify.KINDS)
    assert every["priority"].tolist() == [1, 2, 3, 4, 5]
    assert notify.notifications_from(cur, prev, cap=1)["kind"].tolist() == ["이상 소비"]
    with pytest.raises(ValueError):
        notify.notifications_from(cur, prev, cap=0)


def test_keyed_file_has_customer_key_and_no_seq():
    cur, prev = _everything()
    notes = notify.keyed(notify.notifications_from(cur, prev), "2023q1", "salt")
    assert list(notes.columns) == list(notify.NOTIFICATION_COLUMNS)
    assert "SEQ" not in notes
    assert notes["CUSTOMER_KEY"].str.match(r"^K[0-9a-f]{20}$").all()
    assert not notes.astype(str).apply(lambda col: col.str.fullmatch("a")).any().any()


def test_inputs_not_modified():
    cur, prev = _everything()
    before = {k: v.copy() for k, v in cur.items()}
    notify.notifications_from(cur, prev)
    for k, v in cur.items():
        pd.testing.assert_frame_equal(v, before[k])
