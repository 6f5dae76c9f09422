"""Recommenders: deterministic ranking and its tie rule, the shrinkage blend, segment profiles,
the mean quarterly benefit, the next-quarter measurement and its baselines, product fit,
reasons, and one quarter of the sample end to end (log, determinism, declarations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_intervals_bracket
from test_products import CAT, spend, write_catalogue

from fipro import contract, handoff, model_report, recommend, summary
from fipro.evaluation import registry
from fipro.products import CATEGORIES, BenefitEngine, load_catalogue
from fipro.recommend import evaluation as ev
from fipro.recommend.estimator import (PRIOR_QUARTERS, BenefitHistory, CardRanker, blend, order_cards, product_fit,
                                       segment_profiles, top_products)
from fipro.recommend.reasons import benefit_phrase, card_reasons


@pytest.fixture()
def ranker(tmp_path) -> CardRanker:
    return CardRanker(BenefitEngine(load_catalogue(write_catalogue(tmp_path / "cat")), litre_price_won=2000))


def test_order_breaks_ties_by_fee_then_card_order_and_skips_ineligible():
    net = np.array([[5.0, 5.0, 5.0, 1.0], [-np.inf, 2.0, 3.0, -np.inf], [-np.inf] * 4])
    fee = np.array([10.0, 0.0, 0.0, 0.0])
    top = order_cards(net, fee, 3)
    assert top.tolist() == [[1, 2, 0], [2, 1, -1], [-1, -1, -1]]


def test_ranking_is_on_net_benefit_and_respects_eligibility(ranker):
    profiles = np.vstack([spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000, FUEL_AM=100000),
                          spend(GROCERY_AM=50000)])
    eligible = np.array([[True, True, True], [True, True, False]])
    r = ranker.rank(profiles, eligible)
    assert r.top[0, 0] == 0 and r.score[0, 0] == pytest.approx(9000)  # X1: 10,000 − 1,000 fee
    assert r.top[1].tolist() == [1, 0, -1]  # X2 1% = 500 beats X1's −1,000; X3 not eligible
    assert np.isnan(r.score[1, 2])


def test_blend_shrinks_own_history_toward_the_segment():
    own = np.array([[100.0, 0.0], [100.0, 0.0], [7.0, 7.0]])
    seg = np.array([[0.0, 100.0], [0.0, 100.0], [0.0, 90.0]])
    mixed, used = blend(own, np.array([1, 4, 0]), seg)
    k = PRIOR_QUARTERS
    np.testing.assert_allclose(mixed[0], [100 / (1 + k), 100 * k / (1 + k)])
    np.testing.assert_allclose(mixed[1], [400 / (4 + k), 100 * k / (4 + k)])
    np.testing.assert_allclose(mixed[2], [0.0, 90.0])  # no spending yet: the segment alone
    assert used.tolist() == ["rule", "rule", "segment"]


def test_segment_profile_is_the_settled_mix_scaled_to_own_total():
    history = np.zeros((4, len(CATEGORIES)))
    history[0, CAT["GROCERY_AM"]], history[0, CAT["FUEL_AM"]] = 300, 100
    history[1, CAT["GROCERY_AM"]], history[1, CAT["FUEL_AM"]] = 100, 300
    history[2, CAT["TRVL_AM"]] = 1000  # not settled: does not shape the mix
    groups = np.array(["a", "a", "a", "a"])
    prof = segment_profiles(history, groups, np.array([True, True, False, False]), history.sum(1))
    assert prof[2, CAT["GROCERY_AM"]] == pytest.approx(500) and prof[2, CAT["FUEL_AM"]] == pytest.approx(500)
    assert prof[3].sum() == pytest.approx(400)  # never spent: the segment's median settled total
    assert prof[2, CAT["TRVL_AM"]] == 0


def test_benefit_history_is_the_mean_over_quarters_with_spending(ranker):
    q1 = np.vstack([spend(RESTRNT_AM=400000), spend()])
    q2 = np.vstack([spend(RESTRNT_AM=100000), spend()])
    net = [ranker.engine.evaluate(q).net for q in (q1, q2)]
    h = BenefitHistory(total=net[0][:1].sum(0, keepdims=True) + net[1][:1], count=np.array([2.0]),
                       fee_month=ranker.engine.fee_month)
    np.testing.assert_allclose(h.mean()[0], (net[0][0] + net[1][0]) / 2)
    never = BenefitHistory(total=np.zeros((1, len(ranker.fee))), count=np.zeros(1), fee_month=ranker.engine.fee_month)
    np.testing.assert_allclose(never.mean()[0], -ranker.engine.fee_month)  # no spending: only the fee


def test_load_inputs_sums_each_quarter_with_spending_once():
    from conftest import raw_frame, raw_row

    tables = {q: raw_frame([raw_row("a", q, GROCERY_AM=g, TOT_USE_AM=g), raw_row("b", q, GROCERY_AM=b, TOT_USE_AM=b)])
              for q, g, b in (("2023q1", 100, 0), ("2023q2", 300, 50))}
    inputs = recommend.load_inputs("2023q2", tables, groups=np.array(["S0", "S0"]))
    assert inputs.frame["n_active"].tolist() == [2, 1]
    assert inputs.history[0, CAT["GROCERY_AM"]] == pytest.approx(200000)
    assert inputs.benefit_count.tolist() == [2, 1]
    net = BenefitEngine(load_catalogue()).evaluate(np.vstack([spend(GROCERY_AM=w) for w in (100000, 300000, 50000)])).net
    np.testing.assert_allclose(inputs.benefit_sum[0], net[0] + net[1], rtol=1e-5)
    np.testing.assert_allclose(inputs.benefit_sum[1], net[2], rtol=1e-5)


def test_measure_against_the_oracle_and_the_baselines(ranker):
    eligible = np.ones((2, 3), bool)
    outcome = np.vstack([spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000, FUEL_AM=100000),
                         spend(TRVL_AM=600000)])
    realised = ranker.net(outcome, eligible)
    top = np.array([[0, 1, 2], [0, 1, 2]])  # card X1 first for both; X3 is the second's oracle
    m = ev.evaluate(ranker, top, eligible, outcome)
    oracle = realised.max(1)
    assert m["oracle_share"] == pytest.approx((realised[0, 0] + realised[1, 0]) / oracle.sum())
    assert m["oracle_in_top3"] == 1.0 and m["oracle_top1"] == 0.5
    assert m["mean_regret_won"] == pytest.approx(np.mean(oracle - realised[:, 0]))
    assert ev.popular_card(np.array([2, 2, 1]), np.array([[True, True, False]] * 3)).tolist() == [1, 1, 1]
    # the random baseline is its exact expected value: the mean over the eligible cards
    expected = ev.random_expected(np.array([[1.0, 4.0, 10.0], [3.0, 3.0, 3.0]]),
                                  np.array([[True, True, False], [False, False, False]]))
    assert expected[0] == pytest.approx(2.5) and np.isnan(expected[1])
    assert m["random_oracle_share"] == pytest.approx(realised.mean(1).sum() / oracle.sum())


def test_hindsight_card_is_the_best_mean_over_the_quarters_up_to_the_measured_one(ranker):
    eligible = np.ones((3, 3), bool)
    outcome = np.vstack([spend(TRVL_AM=600000), spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000,
                                                       FUEL_AM=100000), spend()])
    realised = ranker.net(outcome, eligible)
    # customer 0: two past quarters that favoured X1 strongly; customer 1: none; customer 2: idle next quarter
    past = np.array([[40000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [0.0, 3000.0, 0.0]])
    count = np.array([2.0, 0.0, 1.0])
    cards = ev.hindsight_cards(ranker, past, count, realised, outcome, eligible)
    mean0 = (past[0] + realised[0]) / 3
    assert cards[0] == int(np.argmax(mean0)) == 0  # the past outweighs the next quarter's favourite (X3)
    assert cards[1] == int(np.argmax(realised[1]))  # no past: the next quarter alone
    assert cards[2] == 1  # an idle next quarter adds nothing to the sum nor to the count
    top = np.array([[2, 0, 1], [0, 1, 2], [0, 1, 2]])
    m = ev.evaluate(ranker, top, eligible, outcome, benefit_sum=past, benefit_count=count)
    hindsight = realised[np.arange(3), cards]
    has = realised.max(1) > -np.inf
    assert m["share_of_hindsight_card"] == pytest.approx(realised[np.arange(3), top[:, 0]][has].sum() / hindsight[has].sum())
    assert m["hindsight_card_oracle_share"] == pytest.approx(hindsight.sum() / realised.max(1).sum())
    assert "share_of_hindsight_card" not in ev.evaluate(ranker, top, eligible, outcome)
    with_intervals = ev.evaluate(ranker, top, eligible, outcome, benefit_sum=past, benefit_count=count, intervals=True,
                                 seed=0)
    assert with_intervals["share_of_hindsight_card_lo"] <= m["share_of_hindsight_card"] <= \
        with_intervals["share_of_hindsight_card_hi"]
    assert with_intervals["intervals"]["oracle_in_top3"]["method"] == "wilson" and "intervals" not in m


def test_tier_likelihood_benefit_weighs_the_tiers_the_customer_may_reach(ranker):
    from fipro.recommend.estimator import spending_spread, tier_likelihood_benefit

    eligible = np.ones((2, 3), bool)
    profiles = np.vstack([spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000, FUEL_AM=100000),
                          spend(GROCERY_AM=50000)])
    flat = tier_likelihood_benefit(ranker, profiles, np.zeros(2), eligible)
    np.testing.assert_allclose(flat, ranker.net(profiles, eligible), rtol=1e-6)  # no spread: the benefit at the mean
    spread = tier_likelihood_benefit(ranker, profiles, np.full(2, 0.5), eligible)
    low, high = (ranker.net(profiles * f, eligible) for f in (0.1, 5.0))
    assert ((spread >= low - 1e-3) & (spread <= high + 1e-3)).all()
    # by hand: five spending levels 0.21 … 3.66 × the profile (mean 1), weighed by the normal's quadrature
    z, w = np.polynomial.hermite_e.hermegauss(5)
    levels = [ranker.net(profiles * np.exp(-0.125 + 0.5 * zi), eligible) for zi in z]
    np.testing.assert_allclose(spread, sum(wi * lv for wi, lv in zip(w / w.sum(), levels)), rtol=1e-6)
    # at the 실적 floor of X1 (30만원) half the spending levels fall below it: the expected benefit drops
    floor = spend(RESTRNT_AM=75000, GROCERY_AM=75000, DISTBP_AM=75000, FUEL_AM=75000)[None, :]
    at_floor = tier_likelihood_benefit(ranker, floor, np.array([0.3]), eligible[:1])
    assert at_floor[0, 0] < ranker.net(floor, eligible[:1])[0, 0]
    # the customer's own spread, shrunk toward the prior with the weight of two quarters
    np.testing.assert_allclose(spending_spread(np.array([np.nan, 0.5, 0.1]), np.array([1, 3, 21])),
                               np.sqrt([0.09, (2 * 0.25 + 2 * 0.09) / 4, (20 * 0.01 + 2 * 0.09) / 22]))


def test_coverage_and_diversity():
    c = ev.coverage(np.array([[0, 1, -1], [0, 2, 1]]), 4)
    assert c["catalogue_coverage"] == 0.75 and c["top1_entropy"] == 0.0 and c["top1_largest_share"] == 1.0


def test_product_fit_follows_life_stage_age_and_health_tier():
    products = pd.DataFrame({"product_id": ["P1", "P2", "P3"], "min_age": [20, 20, 60], "max_age": [30, 85, 85],
                             "life_stages": ["NEW_JOB|UNI", "ALL", "RETIR"], "health_tiers": ["ALL", "취약", "ALL"]})
    fit = product_fit(products, np.array(["NEW_JOB", "RETIR", "NEW_JOB"]), np.array(["25", "65", "40"]),
                      np.array(["취약", "건강", "취약"]))
    assert fit[0].tolist() == [1.25, 1.0, -np.inf]
    assert fit[1].tolist() == [-np.inf, 0.5, 1.25]
    assert top_products(fit).tolist() == [[0, 1], [2, 1], [1, -1]]


def test_reasons_name_categories_and_won_amounts(ranker):
    profiles = np.vstack([spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000, FUEL_AM=100000), spend()])
    text = card_reasons(ranker.engine, profiles, np.array([0, -1]), np.array([9000.0, 0.0]), np.array([False, False]))
    assert "일반/휴게음식 10% 할인(월 약 8,000원)" in text[0] and "분기 약 27,000원" in text[0] and "연회비 12,000원" in text[0]
    assert "가입할 수 있는 카드가 없습니다" in text[1]
    assert benefit_phrase("per_litre", 100) == "리터당 100원 할인"


def _reasons_row_by_row(engine, profiles, cards, net, via_segment):
    """The sentences as first written, one row at a time: the oracle of the column-wise build."""
    from fipro.recommend.reasons import N_NAMED

    def _won(x):
        return f"{int(round(x / 100.0) * 100):,}원"

    result = engine.evaluate(profiles)
    labels = [contract.LABEL_KO[c] for c in CATEGORIES]
    phrases = [benefit_phrase(m, v) for m, v in zip(engine.b_method, engine.b_value)]
    amounts = np.where(engine.b_card[None, :] == cards[:, None], result.by_benefit, 0.0)
    order = np.argsort(-amounts, axis=1, kind="stable")[:, :N_NAMED]
    fee = engine.catalogue.cards["annual_fee_won"].to_numpy()
    out = []
    for i, card in enumerate(cards):
        if card < 0:
            out.append("가입할 수 있는 카드가 없습니다(연령·등급 조건).")
            continue
        named = [f"{labels[engine.b_cat[b]]} {phrases[b]}(월 약 {_won(amounts[i, b])})" for b in order[i]
                 if amounts[i, b] >= 50]
        if not named and engine.base_rate[card] > 0:
            named = [f"모든 가맹점 기본 {100 * engine.base_rate[card]:g}% 적립"]
        head = "비슷한 고객(같은 세그먼트)의 지출 구성으로 보면 " if via_segment[i] else ""
        if net[i] < 50:
            out.append(head + "지출로 받을 혜택이 거의 없어, 연회비 부담이 없는 카드를 골랐습니다.")
            continue
        body = ", ".join(named) if named else "지출 전반의 할인"
        fee_note = f", 연회비 {fee[card]:,}원 반영" if fee[card] else ", 연회비 없음"
        out.append(f"{head}{body} 등으로 분기 약 {_won(3 * net[i])} 절약(월 순혜택 {_won(net[i])}{fee_note}).")
    return out


def test_reasons_built_column_wise_equal_the_row_by_row_sentences(ranker):
    engine = ranker.engine
    rng = np.random.default_rng(7)
    n = 400
    # sparse spending: many rows name one benefit or none, some fall under the 50-won line
    profiles = rng.gamma(0.6, 40000.0, size=(n, len(CATEGORIES))) * (rng.random((n, len(CATEGORIES))) < 0.3)
    profiles[:20] = 0.0
    n_cards = len(engine.catalogue.cards)
    cards = rng.integers(-1, n_cards, size=n)
    net = np.concatenate([rng.uniform(-100, 60, 40), rng.gamma(1.0, 8000.0, n - 40)])
    via = rng.random(n) < 0.3
    got = card_reasons(engine, profiles, cards, net, via)
    want = _reasons_row_by_row(engine, profiles, cards, net, via)
    assert got == want
    assert len(set(got)) > n // 2 and any("기본" in t for t in want) and any(" 등으로 분기 약" in t for t in want)


# --- one quarter of the sample ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_run(sample_quarters):
    return recommend.run_quarter(sample_quarters[-2])


def test_run_quarter_writes_the_log(sample_run, sample_quarters):
    log = recommend.load_log(sample_quarters[-2])
    assert list(log.columns) == list(recommend.LOG_COLUMNS)
    cards = log[log["recommender"] != "life_stage_rule"]
    assert cards.groupby("SEQ")["rank"].apply(list).map(lambda r: r == [1, 2, 3]).all()
    assert cards["SEQ"].nunique() == len(sample_run.inputs)
    assert cards.groupby("SEQ")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert (log["model_version"] == log["model_version"].iloc[0]).all()
    assert log["reason"].str.len().gt(10).all()
    # the reasons step's one name: each asked customer's first card's sentence, in the asked order
    first = cards[cards["rank"] == 1].set_index("SEQ")["reason"]
    ask = [first.index[3], "no-such-customer", first.index[0]]
    why = recommend.customer_reasons(sample_run, ask)
    assert why.index.tolist() == ask and pd.isna(why.iloc[1])
    assert [why.iloc[0], why.iloc[2]] == [first.iloc[3], first.iloc[0]]


def test_the_recommenders_and_the_baselines_numbers_carry_their_intervals(ranker):
    rng = np.random.default_rng(4)
    n = 400
    outcome = rng.gamma(0.5, 100000, (n, len(CATEGORIES))) * (rng.random((n, len(CATEGORIES))) < 0.3)
    eligible = np.ones((n, 3), bool)
    realised = ranker.net(outcome, eligible)
    top = np.argsort(-(realised + rng.normal(0, 3000, (n, 3))), axis=1)  # right more often than not
    past = rng.normal(3000, 2000, (n, 3))
    m = ev.evaluate(ranker, top, eligible, outcome, benefit_sum=past, benefit_count=np.full(n, 2.0), intervals=True,
                    seed=0)
    assert_intervals_bracket(m, {"lift_over_popular", "popular_oracle_share", "random_oracle_share",
                                 "popular_share_of_hindsight_card", "random_share_of_hindsight_card",
                                 "popular_mean_regret_won", "random_mean_regret_won", "oracle_top1",
                                 "hindsight_card_top1", "share_of_hindsight_card", "oracle_share"})
    assert m["lift_over_popular"] == pytest.approx(m["oracle_share"] / m["popular_oracle_share"])
    assert m["intervals"]["lift_over_popular"]["method"] == "bootstrap"
    assert m["intervals"]["oracle_top1"]["method"] == "wilson"


def test_robustness_shares_of_customers_carry_wilson_intervals(ranker):
    rng = np.random.default_rng(5)
    profiles = rng.gamma(0.5, 100000, (300, len(CATEGORIES))) * (rng.random((300, len(CATEGORIES))) < 0.3)
    out = ev.robustness(ranker, profiles, np.ones((300, 3), bool), seed=0)
    assert_intervals_bracket(out, {"rank_change_share", "near_floor_share"})
    assert all(how["method"] == "wilson" for how in out["intervals"].values())


def test_sample_quarter_measurement(sample_run):
    h = sample_run.headline
    assert h["has_measurement"] and h["reach"] == 1.0
    assert h["lift_over_popular"] >= 1.3  # the target against the popular baseline
    assert h["oracle_share"] > h["popular_oracle_share"] > h["random_oracle_share"]
    assert h["oracle_share"] < 1 and 0 < h["oracle_in_top3"] <= 1
    # the headline: against the best single card in hindsight, which itself falls short of the per-quarter oracle
    assert h["oracle_share"] < h["share_of_hindsight_card"] < 1 and h["hindsight_card_oracle_share"] < 1
    assert h["share_of_hindsight_card"] > h["popular_share_of_hindsight_card"] > h["random_share_of_hindsight_card"]
    assert recommend.measurement_table(sample_run).index[0].startswith("사후 최선 카드 한 장 대비")
    assert h["catalogue_coverage"] > 0.5
    # the saved headline carries the intervals (registry entry = the notebook's JSON)
    saved = registry.load_entry(recommend.model_dir(sample_run.quarter))["metrics"]
    assert_intervals_bracket(saved, {"share_of_hindsight_card", "oracle_share", "mean_regret_won", "oracle_in_top3",
                                     "rank_change_share"})
    assert saved["intervals"]["oracle_in_top3"]["customers"] == h["n_measured"]


def test_hindsight_card_equals_the_one_read_from_the_measured_quarters_benefit_state(sample_run, sample_quarters):
    """No second engine pass and no later quarter: the hindsight card folded from the recommending
    quarter's history and the measured quarter equals the best mean of the measured quarter's own state."""
    from fipro import history

    measured, recommended = sample_run.quarter, sample_quarters[-3]
    h = sample_run.headline
    assert (h["measured_quarter"], h["recommended_quarter"]) == (measured, recommended)
    ranker = sample_run.ranker
    before = recommend.rank_quarter(recommended, ranker)
    seq = before.inputs.frame["SEQ"].to_numpy()
    now = pd.Index(sample_run.inputs.frame["SEQ"].to_numpy()).get_indexer(seq)
    pos = np.flatnonzero(now >= 0)
    outcome, eligible = sample_run.inputs.now[now[pos]], before.eligible[pos]
    cards = ev.hindsight_cards(ranker, before.inputs.benefit_sum[pos], before.inputs.benefit_count[pos],
                               ranker.net(outcome, eligible), outcome, eligible)
    state = history.aligned(history.source(), measured, seq[pos], "benefit")
    mean = BenefitHistory(history.matrix(state, "benefit", "sum"), state["n"].to_numpy(np.float32),
                          ranker.engine.fee_month).mean()
    from_state = order_cards(np.where(eligible, mean, -np.inf), ranker.fee, 1)[:, 0]
    assert (cards == from_state).mean() > 0.999  # float32 sums: a tie may fall either way
    assert h["n_measured"] <= len(pos)


def test_ranking_a_quarter_again_gives_the_ranking_its_run_saved(sample_run, sample_quarters):
    """What the next quarter's measurement scores (the quarter ranked again from its history) is
    the ranking the quarter's own run saved."""
    before = recommend.rank_quarter(sample_run.quarter, sample_run.ranker)
    log = recommend.load_log(sample_run.quarter)
    first = log[(log["rank"] == 1) & (log["recommender"] != "life_stage_rule")].set_index("SEQ")["product_id"]
    seq = before.inputs.frame["SEQ"].to_numpy()
    card_ids = np.asarray(sample_run.catalogue.card_ids, dtype=object)
    top = before.ranking.top[:, 0]
    ranked = pd.Series(np.where(top >= 0, card_ids[np.maximum(top, 0)], None), index=seq)
    common = first.index.intersection(ranked.index)
    assert len(common) == len(first) > 0
    assert (ranked.loc[common] == first.loc[common]).all()


def test_amount_period_table_reads_rows_as_monthly_or_quarterly(sample_run):
    table = recommend.amount_period_table(sample_run, max_customers=2000)
    assert list(table.index) == ["월평균(계약)", "분기 합계(월 = 1/3)"]
    assert (table["고객 수"] == 2000).all()
    monthly, quarterly = table["1순위 기대 순혜택 평균(원/월)"]
    assert quarterly < monthly  # a third of the spending reaches lower tiers
    assert 0 < table["1순위가 바뀌는 고객 비율"].iloc[0] < 1


def test_run_quarter_is_deterministic(sample_run, sample_quarters):
    again = recommend.run_quarter(sample_quarters[-2], save=False, measure=False)
    cols = [c for c in recommend.LOG_COLUMNS if c != "created_at"]
    pd.testing.assert_frame_equal(again.table[cols], sample_run.table[cols])


def test_the_first_quarter_has_no_measurement(sample_quarters):
    run = recommend.run_quarter(sample_quarters[0], save=False)
    assert run.measurement is None and not run.headline["has_measurement"]


def test_declarations_join_the_handoff_report_and_summary(sample_run, sample_quarters):
    assert "fipro.recommend.artifacts:HANDOFF" in handoff.MODEL_SOURCES
    assert "fipro.recommend.artifacts:REPORT" in model_report.MODEL_REPORTS
    assert "fipro.recommend.artifacts:SUMMARY" in summary.MODEL_SECTIONS
    rows = recommend.HANDOFF.load(sample_quarters[-2])
    assert list(rows.columns) == ["BAS_YH", "SEQ", "TOP_PRODUCT", "TOP_PRODUCT_BENEFIT_WON"]
    assert rows["SEQ"].is_unique and len(rows) == len(sample_run.inputs)
    lines = recommend.artifacts.summary_lines(sample_run.headline)
    assert any("추천" in line for line in lines) and any("사후 최선" in line for line in lines)


def test_measuring_from_the_saved_log_equals_measuring_a_ranking_made_again(sample_run, sample_quarters):
    """The next quarter's headline read from this quarter's saved log (full scale, no second
    ranking) is the headline measured on the quarter ranked again (the sample's path)."""
    measured = sample_quarters[-1]
    ranker = sample_run.ranker
    now = recommend.load_inputs(measured)
    seq, spend = now.frame["SEQ"].to_numpy(), now.now
    saved = recommend.saved_recommended(sample_run.quarter, ranker)
    again = recommend.Recommended.of(recommend.rank_quarter(sample_run.quarter, ranker))
    np.testing.assert_array_equal(saved.seq, again.seq)
    np.testing.assert_array_equal(saved.top, again.top)
    np.testing.assert_array_equal(saved.eligible, again.eligible)
    a = recommend.measure_recommended(measured, saved, seq, spend, ranker)
    b = recommend.measure_recommended(measured, again, seq, spend, ranker)
    assert a.keys() == b.keys() and a["n_measured"] > 0
    for k in a:
        assert a[k] == b[k] or (isinstance(a[k], float) and np.isnan(a[k]) and np.isnan(b[k])), k
    assert recommend.saved_recommended("1999q1", ranker) is None
    # the run itself takes the saved log where it compares nothing (every large quarter but the latest)
    run = recommend.run_quarter(measured, compare=False, save=False)
    assert run.profile_comparison is None
    for k in ("share_of_hindsight_card", "oracle_share", "n_measured", "recommended_quarter"):
        assert run.headline[k] == a[k], k
