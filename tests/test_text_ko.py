"""fipro.text_ko and the sentences built from the constants they state."""

import numpy as np
import pandas as pd

from fipro import text_ko


def test_korean_numeral_before_a_counter():
    assert [text_ko.korean_numeral(n) for n in (1, 2, 3, 4, 5, 10, 11, 12, 19, 20)] == [
        "한", "두", "세", "네", "다섯", "열", "열한", "열두", "열아홉", "스무"]
    assert text_ko.korean_numeral(21) == "21" and text_ko.korean_numeral(0) == "0"


def test_recommend_sentence_states_top_k_and_n_products(monkeypatch):
    from fipro.recommend import pipeline

    class Run:
        quarter = "2023q1"
        seconds = {"recommending": 1.0}
        headline = {"n_customers": 10, "n_cards": 12, "mean_expected_benefit_won": 5000.0, "rule_share": 0.9,
                    "group_source": "segment"}

    assert "카드 12장 중 세 장과 금융상품 두 개를" in pipeline.describe_run(Run())
    monkeypatch.setattr(pipeline, "TOP_K", 5)
    monkeypatch.setattr(pipeline, "N_PRODUCTS", 1)
    assert "카드 12장 중 다섯 장과 금융상품 한 개를" in pipeline.describe_run(Run())


def test_tier_mix_rows_state_the_tier_cuts(monkeypatch):
    from fipro.health import evaluation

    score = np.array([10.0, 50.0, 70.0, 90.0])
    assert list(evaluation.tier_mix_table(score).index[:2]) == ["이 점수, 경계 40·80점", "이 점수, FinHealth 경계 40·80점"]
    monkeypatch.setattr(evaluation, "TIERS", (("취약", 0.0), ("보통", 35.0), ("건강", 65.0)))
    assert evaluation.tier_mix_table(score).index[0] == "이 점수, 경계 35·65점"


def test_anomaly_by_type_display_puts_korean_on_english_keys():
    from fipro import anomaly

    by_type = pd.DataFrame({"type": ["total_spike", "mix_shift"], "band": ["lower", "upper"], "n": [3, 4],
                            "magnitude_range": ["1.0–2.0", "0.1–0.3"], "recall_combined": [0.5, 0.9]})
    shown = anomaly.display_by_type(by_type)
    assert list(shown.columns) == ["유형", "크기 구간", "n", "크기 범위", "recall_combined"]
    assert list(shown["유형"]) == ["총액 급증", "구성 변화"] and list(shown["크기 구간"]) == ["하위 절반", "상위 절반"]


def test_health_display_ko_renames_keys_to_headers():
    from fipro import health

    table = pd.DataFrame({"learner": ["logistic"], "train_customers": [10], "auc": [0.8], "ece": [0.01],
                          "fit_seconds": [1.0]}).set_index("learner")
    shown = health.display_ko(table)
    assert shown.index.name == "학습기" and list(shown.columns) == ["학습 고객", "AUC", "ECE", "학습 초"]


def test_notes_state_the_prior_and_the_tier_cuts(monkeypatch):
    from fipro.health import evaluation
    from fipro.recommend import estimator

    assert estimator.prior_formula_ko() == "(n × 본인 + 0.5 × 세그먼트) / (n + 0.5)"
    assert estimator.prior_formula_ko(1.0) == "(n × 본인 + 1 × 세그먼트) / (n + 1)"
    assert evaluation.tier_cut_note_ko().startswith("FinHealth는 40점과 80점에서 나누고, 이 점수도 같은 경계를 씁니다.")
    assert "내렸고" not in evaluation.tier_cut_note_ko()
    monkeypatch.setattr(evaluation, "TIERS", (("취약", 0.0), ("보통", 40.0), ("건강", 55.0)))
    assert "건강 경계를 55점으로 내렸고" in evaluation.tier_cut_note_ko()
