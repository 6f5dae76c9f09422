"""Tests for fipro.summary: exact sentences from hand-made numbers, and the declarations."""

from __future__ import annotations

from fipro import config, export, summary
from fipro.lifestage import artifacts as lifestage_artifacts

EDA = {"customers": 1234, "mean_total": 372.0, "median_total": 250.0, "zero_total_share": 0.05,
       "credit_share": 0.75, "digital_use_share": 0.5, "top_upper_category": "요식업", "top_upper_share": 0.22,
       "top_detail_category": "일반/휴게음식", "top_detail_share": 0.14, "top_life_stage_by_mean_total": "자녀 의무교육",
       "top_age_by_mean_total": "40~44세", "total_change_pct": 3.25, "total_stayer_change_pct": 2.5,
       "life_stage_shares": {"CHILD_TEEN": 0.3, "RETIR": 0.2, "UNI": 0.1, "NEW_JOB": 0.4}}
EDA_BEFORE = {**EDA, "life_stage_shares": {"CHILD_TEEN": 0.35, "RETIR": 0.2, "UNI": 0.1, "NEW_JOB": 0.35}}
LIFESTAGE = {"model_macro_f1": 0.72, "age_rule_macro_f1": 0.41, "ceiling_macro_f1": 0.71}
QUALITY = {"rows": 1234, "duplicate_keys": 0, "rejects_this_quarter": {"unknown_code": 2}, "missing_share_max": 0.0}


def test_portfolio_sentences_from_hand_made_numbers():
    assert summary.portfolio_lines(EDA) == [
        "고객 1,234명, 1인당 총이용금액 평균 37.2만원 (중앙값 25.0만원, 분기 내 월평균).",
        "이용금액의 75.0%가 신용카드, 나머지가 체크카드이며, 이번 분기 디지털 채널 이용 고객은 50.0%, "
        "이용이 전혀 없는 고객은 5.0%입니다."]
    assert summary.spending_lines(EDA)[0] == "1인당 총이용금액은 전분기보다 3.2% 늘었습니다 (두 분기 모두 있는 고객 기준 +2.5%)."
    assert summary.spending_lines({**EDA, "total_change_pct": float("nan"), "total_stayer_change_pct": None})[0] \
        == "1인당 총이용금액은 비교할 전분기가 없습니다."


def test_the_mean_total_change_is_named_only_when_the_intervals_are_apart():
    now = {**EDA, "mean_total_lo": 360.0, "mean_total_hi": 384.0}
    close = {**EDA, "mean_total": 365.0, "mean_total_lo": 353.0, "mean_total_hi": 377.0}
    far = {**EDA, "mean_total": 340.0, "mean_total_lo": 330.0, "mean_total_hi": 350.0}
    assert summary.spending_lines(now, close)[0] == ("1인당 총이용금액 평균 37.2만원 (36.0만원–38.4만원)은 전분기 "
                                                     "36.5만원 (35.3만원–37.7만원) 대비 구간 안입니다 (두 분기의 95% 구간이 겹침).")
    assert summary.spending_lines(now, far)[0] == ("1인당 총이용금액은 전분기보다 3.2% 늘었습니다 (두 분기 모두 있는 고객 기준 "
                                                   "+2.5%) (두 분기의 95% 구간이 겹치지 않음).")


def test_life_stage_mix_and_its_change_judged_by_the_intervals():
    # 1,234 customers: 40% against 35% lies within the two Wilson intervals, so no change is named
    assert summary.life_stage_mix_lines(EDA, EDA_BEFORE) == [
        "고객이 가장 많은 라이프스테이지는 사회초년생 40.0%, 자녀 의무교육 30.0%, 은퇴 20.0%입니다.",
        "전분기 대비 라이프스테이지별 비중 변화는 모두 95% 구간 안입니다."]
    assert len(summary.life_stage_mix_lines(EDA)) == 1  # no previous quarter: no change sentence
    # 100,000 customers: the same moves are far outside the intervals and the largest is named
    big, big_before = {**EDA, "customers": 100_000}, {**EDA_BEFORE, "customers": 100_000}
    moved = summary.life_stage_mix_lines(big, big_before)[1]
    assert moved == ("전분기 대비 95% 구간을 벗어난 라이프스테이지 비중 변화는 사회초년생 등 2개입니다: 사회초년생 "
                     "40.0% (39.7–40.3%), 전분기 35.0% (34.7–35.3%)보다 +5.0%p 높아졌습니다 (두 분기의 95% 구간이 겹치지 않음).")


def test_share_moves_line_names_only_moves_outside_the_intervals():
    now, before = {"a": 0.54, "b": 0.48, "c": 0.10}, {"a": 0.50, "b": 0.50, "c": 0.10}
    assert "모두 95% 구간 안" in summary.share_moves_line("등급", now, 500, before, 500)
    named = summary.share_moves_line("등급", now, 200_000, before, 200_000)  # a +4%p and b −2%p are apart, c is not
    assert "+4.0%p 높아졌습니다" in named and "a 54.0%" in named and "등 2개" in named
    assert "판단하지 않습니다" in summary.share_moves_line("등급", now, None, before, 1000)


def test_model_and_quality_sentences():
    assert lifestage_artifacts.summary_lines(LIFESTAGE, {"model_macro_f1": 0.70}) == [
        "라이프스테이지 모델의 평가 고객 매크로 F1: 0.720 (연령대 × 성별 규칙 0.410 대비 +0.310).",
        "합성 자료의 이론적 상한(정확한 사후확률) 0.710 대비: +0.010.",
        "전분기 대비 매크로 F1: 전분기 구간이 없어 변화를 판단하지 않습니다."]
    with_interval = {**LIFESTAGE, "model_macro_f1_lo": 0.71, "model_macro_f1_hi": 0.73}
    overlapping = {"model_macro_f1": 0.715, "model_macro_f1_lo": 0.705, "model_macro_f1_hi": 0.725}
    apart = {"model_macro_f1": 0.68, "model_macro_f1_lo": 0.67, "model_macro_f1_hi": 0.69}
    lines = lifestage_artifacts.summary_lines(with_interval, overlapping)
    assert lines[0].startswith("라이프스테이지 모델의 평가 고객 매크로 F1: 0.720 (0.710–0.730) (연령대")
    assert lines[-1] == "전분기 대비 매크로 F1: 전분기 0.715 (0.705–0.725) 대비 구간 안 (두 분기의 95% 구간이 겹침)."
    assert lifestage_artifacts.summary_lines(with_interval, apart)[-1] == (
        "전분기 대비 매크로 F1: 전분기 0.680 (0.670–0.690)보다 +0.040 높아졌습니다 (두 분기의 95% 구간이 겹치지 않음).")
    assert summary.quality_lines(QUALITY) == ["적재된 행 1,234개, 중복 키 0개, 이 분기에서 거부된 행 2개입니다.",
                                              "결측 값은 없습니다."]


def test_summary_reads_saved_metrics_and_a_new_section_joins_by_declaration(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    export.save_metrics("2023q1", "eda", EDA_BEFORE)
    export.save_metrics("2023q2", "eda", EDA)
    export.save_metrics("2023q2", "data_quality", QUALITY)
    later = summary.Section("risk", "위험 점수", "risk", lambda m, prev: [f"고위험 고객 {m['high']:,}명."])
    export.save_metrics("2023q2", "risk", {"high": 12})
    text = summary.portfolio_summary_ko("2023q2", sections=[*summary.all_sections(), later])
    assert text.startswith("## 2023q2 분기 요약")
    assert "### 위험 점수\n- 고위험 고객 12명." in text
    assert "라이프스테이지별 비중 변화는 모두 95% 구간 안" in text  # the change reads the previous quarter's saved mix
    assert "lifestage.json이 아직 없습니다" in text  # a missing notebook is said, not guessed


def test_customer_summary_names_only_the_pseudonym(sample_quarters):
    from fipro import compare, datasets

    current = datasets.load_quarter(sample_quarters[0])
    seq = compare.example_customer(current, min_peers=10)
    peer = compare.peer_comparison(current, seq, min_peers=10)
    text = summary.customer_summary_ko(peer, {"predicted_ko": "은퇴", "probability": 0.81,
                                              "sentence": "의료기관 지출 비중이 높아 은퇴일 가능성이 높습니다."})
    assert peer.customer in text and seq not in text
    assert "추정 라이프스테이지: 은퇴 (확률 81.0%)." in text


def test_summaries_are_written_for_every_quarter(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    export.save_metrics("2023q1", "eda", EDA_BEFORE)
    export.save_metrics("2023q2", "eda", EDA)
    paths = summary.write_summaries(["2023q1", "2023q2"])
    assert paths == [tmp_path / "2023q1" / "summary.md", tmp_path / "2023q2" / "summary.md"]
    first, second = (p.read_text(encoding="utf-8") for p in paths)
    assert first.startswith("## 2023q1 분기 요약") and "구간" not in first  # no earlier quarter: no change
    assert "라이프스테이지별 비중 변화는 모두 95% 구간 안" in second


def test_watch_section_comes_first_only_when_an_alert_fired(tmp_path, monkeypatch):
    import pandas as pd

    from fipro import alerts, drift

    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    export.save_metrics("2023q2", "eda", EDA)
    assert "변화 감시" not in summary.portfolio_summary_ko("2023q2", quarters=["2023q1", "2023q2"])
    alert = {"BAS_YH": "2023q2", "kind": "input", "kind_ko": "입력", "group": "category", "subject": "FUEL_AM",
             "subject_ko": "연료판매 금액", "measure": "psi", "value": 0.05, "threshold": 0.01, "severity": "높음",
             "sentence_ko": "[입력] 연료판매 금액이 전분기(2023q1) 대비 평소보다 크게 바뀌었습니다."}
    drift.alerts_path("2023q2").parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([alert])[list(alerts.ALERT_COLUMNS)].to_parquet(drift.alerts_path("2023q2"), index=False)
    text = summary.portfolio_summary_ko("2023q2", quarters=["2023q1", "2023q2"])
    assert text.startswith("## 2023q2 분기 요약\n\n### 변화 감시\n- 전분기 대비 평소보다 큰 변화 1건이 감지되었습니다 (입력 1건).\n"
                           "- [높음] [입력] 연료판매 금액이")
    assert text.index("변화 감시") < text.index("고객 구성")


def test_notification_counts_per_kind():
    m = {"notifications": {"counts": {"이상 소비": 96, "더 나은 카드": 1200}, "n_notifications": 1296,
                           "n_customers": 1250, "cap": 3}}
    assert summary.notification_lines(m) == [
        "고객 1,250명에게 알림 1,296건을 만들었습니다 (고객당 최대 3건, 우선순위 순): 이상 소비 96건, 더 나은 카드 1,200건."]
    assert summary.notification_lines({}) == ["이번 분기 고객 알림 기록이 없습니다."]
