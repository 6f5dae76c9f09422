"""Anomaly detection: each rule on a hand-made case and its near miss, first-quarter customers,
determinism and row-order independence, the estimator contract, and notebook 04's outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_intervals_bracket, committed_quarter
from sklearn.utils.estimator_checks import parametrize_with_checks

from fipro import anomaly
from fipro.anomaly import rules
from fipro.anomaly.data import CATEGORIES, AnomalyInputs
from fipro.anomaly.estimator import OneSidedIsolationForest
from fipro.anomaly.pipeline import score_inputs

N_CAT = len(CATEGORIES)
TRAVEL = CATEGORIES.index("TRVL_AM")


def population(n: int = 400, n_prev: int = 4, seed: int = 0) -> dict:
    """A quarter of ordinary customers: usual amounts per category, this quarter ±20%."""
    rng = np.random.default_rng(seed)
    level = rng.lognormal(5.0, 0.6, n)                      # usual total, 천원
    mix = rng.dirichlet(np.full(N_CAT, 0.8), n)
    usual = level[:, None] * mix
    now = usual * rng.lognormal(0.0, 0.2, (n, 1)) * rng.lognormal(0.0, 0.15, (n, N_CAT))
    sd = np.full(n, 0.2)
    return {"usual": usual, "now": now, "n_prev": np.full(n, n_prev), "sd": sd, "quiet": np.zeros(n, int),
            "life": np.where(np.arange(n) % 2, "WORKER", "NEWLYWED"), "age": np.where(np.arange(n) % 3, "30", "35")}


def inputs_of(p: dict, quarter: str = "2023q2") -> AnomalyInputs:
    n = len(p["now"])
    active = p["n_prev"] > 0
    prev_total = p["usual"].sum(1)
    frame = pd.DataFrame({"BAS_YH": quarter, "SEQ": [f"C{i:05d}" for i in range(n)], "LIFE_STAGE": p["life"],
                          "AGE": p["age"], "total": p["now"].sum(1), "n_prev": p["n_prev"].astype(np.int16),
                          "n_prev_active": p["n_prev"].astype(np.int16),
                          "prev_log_mean": np.where(active, np.log1p(prev_total), np.nan),
                          "prev_log_sd": np.where(p["n_prev"] > 1, p["sd"], np.nan),
                          "prev_mean_total": np.where(active, prev_total, np.nan), "quiet_run": p["quiet"].astype(np.int16)})
    prev = np.where(active[:, None], p["usual"], np.nan)
    # the habit: every category of the usual amounts used in every earlier quarter, unless given
    habit = p.get("habit", np.where(p["usual"] > 0, p["n_prev"][:, None], 0)).astype(np.int16)
    return AnomalyInputs(quarter=quarter, frame=frame, amounts=p["now"].copy(), prev_amounts=prev, habit=habit)


def fired_for(p: dict, i: int) -> dict:
    stats = rules.rule_statistics(inputs_of(p))
    flags = rules.fired(stats)
    return {"flags": flags.iloc[i].to_dict(), "stats": stats.iloc[i]}


# --- each rule fires on its case and not on the near miss --------------------------------------


def test_total_spike_fires_on_a_broad_rise_and_not_on_a_modest_one():
    p = population()
    p["now"][0] = p["usual"][0] * 5.0
    assert fired_for(p, 0)["flags"]["total_spike"]
    p["now"][0] = p["usual"][0] * 1.3
    assert not fired_for(p, 0)["flags"]["total_spike"]


def test_broad_rise_scores_a_rise_across_the_usual_categories_above_one_lumpy_category():
    p = population()
    usual = p["usual"]
    broad = usual[6] * 2.0                       # every usual category doubles
    lumpy = usual[6].copy()
    lumpy[TRAVEL] += usual[6].sum()              # the same total rise, in one category
    now = p["now"].copy()
    now[6], now[7] = broad, lumpy
    before = usual.copy()
    before[7] = usual[6]
    z = rules.precision_rise(now, before)
    ordinary = np.delete(z, [6, 7])
    assert z[6] > np.quantile(ordinary, 0.99) and z[6] > 2 * z[7]


def test_broad_rise_needs_a_category_in_common_and_ignores_row_order():
    rng = np.random.default_rng(1)
    before = rng.lognormal(3, 1, (300, N_CAT)) * (rng.random((300, N_CAT)) < 0.6)
    now = before * rng.lognormal(0, 0.3, (300, N_CAT)) * (rng.random((300, N_CAT)) < 0.9)
    before[0], now[1] = np.nan, 0.0              # no history; no spending now
    z = rules.precision_rise(now, before)
    assert np.isnan(z[0]) and np.isnan(z[1]) and np.isfinite(z[2:]).all()
    order = rng.permutation(300)
    np.testing.assert_allclose(rules.precision_rise(now[order], before[order]), z[order])


def test_category_burst_fires_on_one_category_and_not_on_a_small_rise():
    p = population()
    p["now"][1] = p["usual"][1].copy()
    p["now"][1, TRAVEL] += 3.0 * p["usual"][1].sum()
    hit = fired_for(p, 1)
    assert hit["flags"]["category_burst"] and hit["stats"]["burst_category"] == "TRVL_AM"
    assert "여행" in rules.rule_sentence("category_burst", hit["stats"])
    p["now"][1] = p["usual"][1].copy()
    p["now"][1, TRAVEL] = 4.0 * max(p["usual"][1, TRAVEL], np.median(p["now"][:, TRAVEL]))  # a big but ordinary trip
    assert not fired_for(p, 1)["flags"]["category_burst"]


def test_mix_shift_fires_on_a_moved_mix_and_not_on_a_nudge():
    p = population()
    total = p["usual"][2].sum()
    other = np.zeros(N_CAT)
    low = np.argsort(p["usual"][2])[:3]  # the customer's least used categories take everything
    other[low] = total / 3
    p["now"][2] = other
    assert fired_for(p, 2)["flags"]["mix_shift"]
    p["now"][2] = 0.95 * p["usual"][2] + 0.05 * other  # within the ordinary quarter-to-quarter wobble
    assert not fired_for(p, 2)["flags"]["mix_shift"]


def sparse_population(n: int = 400, seed: int = 0) -> dict:
    """As :func:`population`, but each customer uses about 60% of the categories (the rest never)."""
    p = population(n=n, seed=seed)
    keep = np.random.default_rng(seed + 1).random(p["usual"].shape) < 0.6
    p["usual"], p["now"] = p["usual"] * keep, p["now"] * keep
    return p


def test_habit_shift_fires_on_categories_beyond_the_habit_and_not_on_a_shift_within_it():
    p = sparse_population()
    i, total = 2, p["usual"][2].sum()
    never = np.flatnonzero(p["usual"][i] == 0)[:4]
    usual = np.flatnonzero(p["usual"][i] > 0)
    # a mix shift: half the total moves to four categories the customer never used, total kept
    p["now"][i] = 0.5 * p["usual"][i]
    p["now"][i, never] = 0.5 * total / len(never)
    hit = fired_for(p, i)
    assert hit["flags"]["habit_shift"] and hit["stats"]["n_unusual"] == 4
    assert hit["stats"]["unusual_share"] == pytest.approx(0.5)
    sentence = rules.rule_sentence("habit_shift", hit["stats"])
    assert "거의 쓰지 않던 업종 4개" in sentence and "50%" in sentence
    assert rules.CATEGORY_LABEL_KO[hit["stats"]["unusual_1"]] in sentence
    # the near miss: the same half of the total moves, but among the customer's usual categories
    shifted = 0.5 * p["usual"][i]
    shifted[usual[:4]] += 0.5 * total / 4
    p["now"][i] = shifted
    near = fired_for(p, i)
    assert not near["flags"]["habit_shift"] and near["stats"]["n_unusual"] == 0
    assert near["stats"]["stat_habit_shift"] < hit["stats"]["stat_habit_shift"] - 3


def test_habit_shift_needs_own_history():
    p = sparse_population()
    p["n_prev"][2] = 0
    p["now"][2] = p["usual"][2].sum() / N_CAT  # every category at once
    hit = fired_for(p, 2)
    assert np.isnan(hit["stats"]["stat_habit_shift"]) and not hit["flags"]["habit_shift"]


def test_category_rise_is_one_category_against_the_usual_total():
    p = population()
    i = 1
    p["now"][i] = p["usual"][i].copy()
    p["now"][i, TRAVEL] += 3.0 * p["usual"][i].sum()
    hit = fired_for(p, i)
    assert hit["flags"]["category_rise"] and hit["stats"]["rise_category"] == "TRVL_AM"
    assert hit["stats"]["stat_category_rise"] == pytest.approx(3.0, rel=0.05)
    assert "여행" in rules.rule_sentence("category_rise", hit["stats"])
    # beside a category burst on the same category, only the size against the usual total is added
    assert hit["flags"]["category_burst"] and hit["stats"]["burst_category"] == "TRVL_AM"
    text = anomaly.reasons.reason_text(hit["stats"], ["category_burst", "category_rise"], [])
    assert text.count("여행") == 1 and "평소 분기 총액" in text and "3.0배" in text
    p["now"][i, TRAVEL] = p["usual"][i, TRAVEL] + 0.5 * p["usual"][i].sum()  # half the usual total: ordinary
    assert not fired_for(p, i)["flags"]["category_rise"]


def test_category_change_counts_in_the_spread_of_its_own_category():
    rng = np.random.default_rng(4)
    n = 2000
    before = np.column_stack([rng.lognormal(4, 0.5, n), rng.lognormal(4, 0.5, n)])
    # category 0 is steady (±5%), category 1 lumpy (a factor of e either way is common)
    now = before * np.column_stack([rng.lognormal(0, 0.05, n), rng.lognormal(0, 1.0, n)])
    now[0, 0] = before[0, 0] * 2.0   # a steady category doubles
    now[1, 1] = before[1, 1] * 2.0   # a lumpy one doubles
    before[2] = np.nan               # no history
    z = rules.category_change_z(now, before, seed=0)
    assert z[0, 0] > 5 and abs(z[1, 1]) < 2 and np.isnan(z[2]).all()
    # the cells come from a bounded seeded sample: the same answer again, close with another sample
    np.testing.assert_array_equal(z, rules.category_change_z(now, before, seed=0))
    assert rules.category_change_z(now, before, seed=1, cell_rows=1000)[0, 0] > 5


def test_category_tail_weighs_a_rise_against_like_customers():
    rng = np.random.default_rng(5)
    n = 3000
    usual_total = rng.lognormal(5, 0.5, n)
    # category 0 steady (±10%), category 1 lumpy (a factor of e either way is common), category 2 never used
    before = np.column_stack([0.7 * usual_total, 0.3 * usual_total, np.zeros(n)])
    now = before * np.column_stack([rng.lognormal(0, 0.1, n), rng.lognormal(0, 1.0, n), np.ones(n)])
    now[0, 2] += usual_total[0]            # a burst of one usual total where the customer never spent
    now[1, 1] += usual_total[1]            # the same rise in the lumpy category: an ordinary big purchase
    now[2, 2] += 0.1 * usual_total[2]      # the near miss: a tenth of it where the customer never spent
    n_active = np.full(n, 4)
    habit = np.where(before > 0, 4, 0)
    before[3] = np.nan                     # no earlier active quarter
    n_active[3], habit[3] = 0, 0
    peers = np.tile([0.7, 0.3, 0.0], (n, 1))
    t = rules.category_tail(now, before, usual_total, habit, n_active, peers, seed=0)
    best = np.max(np.nan_to_num(t, nan=-np.inf), axis=1)
    ordinary = np.delete(best, [0, 1, 2, 3])
    assert t[0, 2] > np.quantile(ordinary, 0.999) and t[0, 2] > t[1, 1] + 5
    assert t[1, 1] < np.quantile(ordinary, 0.995)
    assert t[2, 2] < t[0, 2] and np.isnan(t[3]).all()
    np.testing.assert_array_equal(t, rules.category_tail(now, before, usual_total, habit, n_active, peers, seed=0))


def test_category_tail_shrinks_a_short_history_toward_the_peers():
    rng = np.random.default_rng(6)
    n = 2000
    usual_total = rng.lognormal(5, 0.5, n)
    before = np.column_stack([usual_total, np.zeros(n)])
    now = before * np.column_stack([rng.lognormal(0, 0.2, n), np.ones(n)])
    now[:2, 1] = 0.5 * usual_total[:2]      # two customers spend half a usual total in a category they never used
    n_active = np.where(np.arange(n) % 2, 30, 3)  # customer 0 has 3 earlier quarters, customer 1 has 30 (one bin: 3+)
    habit = np.where(before > 0, n_active[:, None], 0)
    quiet, busy = np.tile([1.0, 0.0], (n, 1)), np.tile([0.6, 0.4], (n, 1))  # the peers never / often use it
    low = rules.category_tail(now, before, usual_total, habit, n_active, quiet, seed=0)
    high = rules.category_tail(now, before, usual_total, habit, n_active, busy, seed=0)
    # the peers' habit raises the expected amount of the short history (weight 1 of 4 quarters): its rise
    # counts less; the long history's hardly moves (1 of 31, and its like customers move with it)
    assert low[0, 1] - high[0, 1] > 0.5 and abs(low[1, 1] - high[1, 1]) < 0.2 * (low[0, 1] - high[0, 1])


def test_a_category_burst_ranks_above_its_near_miss():
    p = sparse_population(n=600)
    i, j = 8, 9
    for who, share in ((i, 1.0), (j, 0.15)):  # a burst of one usual total; the near miss, 15% of it
        never = np.flatnonzero(p["usual"][who] == 0)[0]
        p["now"][who] = p["usual"][who].copy()
        p["now"][who, never] += share * p["usual"][who].sum()
    stats = rules.rule_statistics(inputs_of(p))
    assert stats.loc[i, "category_tail"] > stats.loc[j, "category_tail"]
    evidence = rules.category_evidence(stats)
    assert evidence[i] == evidence.max() and evidence[i] > evidence[j]
    table = _scored(inputs_of(p))
    hit, near = table.loc[f"C{i:05d}"], table.loc[f"C{j:05d}"]
    assert hit["flagged"] and hit["rank"] < near["rank"] and "업종 급증" in hit["reason"]


def test_dormant_burst_needs_the_quiet_spell_and_a_rise():
    p = population()
    p["quiet"][3] = 1
    p["now"][3] = p["usual"][3] * 2.5
    hit = fired_for(p, 3)
    assert hit["flags"]["dormant_burst"]
    assert "직전 1개 분기" in rules.rule_sentence("dormant_burst", hit["stats"])
    p["now"][3] = p["usual"][3] * 1.0  # quiet spell, but back at the usual level
    assert not fired_for(p, 3)["flags"]["dormant_burst"]
    p["quiet"][3] = 0  # the same rise without a quiet spell
    p["now"][3] = p["usual"][3] * 2.5
    assert not fired_for(p, 3)["flags"]["dormant_burst"]


def test_a_first_quarter_customer_is_compared_with_peers():
    p = population()
    p["n_prev"][4] = 0  # no earlier quarter: the documented peer baseline
    p["now"][4] = p["usual"][4] * 40.0
    hit = fired_for(p, 4)
    assert hit["stats"]["baseline"] == "peers"
    assert hit["flags"]["total_spike"]
    assert "또래" in rules.rule_sentence("total_spike", hit["stats"])
    p["now"][4] = p["usual"][4]
    hit = fired_for(p, 4)
    assert hit["stats"]["baseline"] == "peers" and not any(hit["flags"].values())


def test_a_customer_with_no_spending_fires_nothing():
    p = population()
    p["now"][5] = 0.0
    hit = fired_for(p, 5)
    assert not any(hit["flags"].values())


def test_thresholds_move_the_flags():
    stats = rules.rule_statistics(inputs_of(population()))
    loose = rules.fired(stats, {"total_spike": -100.0})
    assert loose["total_spike"].all() and not rules.fired(stats, {"total_spike": 100.0})["total_spike"].any()


# --- the combined ranking ----------------------------------------------------------------------


def _scored(inputs: AnomalyInputs) -> pd.DataFrame:
    out = score_inputs(inputs, thresholds=rules.DEFAULT_THRESHOLDS, flag_share=0.02, seed=7)
    return out["table"].set_index("SEQ")


def test_scoring_is_deterministic_and_ignores_row_order():
    p = population(n=600)
    p["now"][0] = p["usual"][0] * 6.0
    first = _scored(inputs_of(p))
    again = _scored(inputs_of(p))
    pd.testing.assert_frame_equal(first, again)

    order = np.random.default_rng(3).permutation(len(p["now"]))
    shuffled = {k: (v[order] if isinstance(v, np.ndarray) else v) for k, v in p.items()}
    inp = inputs_of(shuffled)
    inp.frame["SEQ"] = np.asarray([f"C{i:05d}" for i in range(len(order))])[order]
    moved = _scored(inp).loc[first.index]
    pd.testing.assert_series_equal(moved["rank"], first["rank"])
    np.testing.assert_allclose(moved["score"].to_numpy(), first["score"].to_numpy())
    assert first.loc["C00000", "rank"] <= 3 and first.loc["C00000", "flagged"]
    assert "총액 급증" in first.loc["C00000", "reason"]


def test_flags_are_the_top_share_and_only_the_explained_rows_carry_reasons():
    table = _scored(inputs_of(population(n=500)))
    assert table["flagged"].sum() == 10 and set(table.loc[table["flagged"], "rank"]) == set(range(1, 11))
    assert (table.loc[table["flagged"], "reason"] != "").all()
    assert (table.loc[table["rank"] > anomaly.REVIEW_N, "reason"] == "").all()


def test_combined_score_rewards_agreement():
    rules_part = np.array([5.0, 5.0, 0.0, 1.0])
    model_part = np.array([5.0, 0.0, 5.0, 1.0])
    s = anomaly.combined_score(rules_part, model_part)
    assert s[0] > s[1] and s[0] > s[2] and s[1] == pytest.approx(s[2])


def test_tail_share_ties_and_missing_values():
    assert rules.tail_share(np.array([2.0, 2.0, 1.0, np.nan])).tolist() == [0.5, 0.5, 0.75, 1.0]


# --- the estimator ------------------------------------------------------------------------------


@parametrize_with_checks([OneSidedIsolationForest(n_estimators=20, max_samples=64, random_state=0)])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def test_one_sided_forest_ignores_drops():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (2000, 2))
    m = OneSidedIsolationForest(n_estimators=50, random_state=0).fit(X)
    rise, drop = m.anomaly_score(np.array([[8.0, 0.0], [-8.0, 0.0]]))
    assert rise > drop
    shares = m.feature_tail_shares(np.array([[8.0, 0.0]]))
    assert shares[0, 0] < 0.01 and shares[0, 1] > 0.3


def test_invalid_parameters_are_refused_before_work():
    with pytest.raises(ValueError, match="max_samples"):
        OneSidedIsolationForest(max_samples=0).fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="contamination"):
        OneSidedIsolationForest(contamination=0.9).fit(np.zeros((5, 2)))


# --- on the sample: the saved table and the declarations -----------------------------------------


def test_notebook_04_on_the_sample_saves_the_interface(sample_quarters):
    from test_notebooks import figure_problems

    from fipro import export, handoff, runner, summary
    from fipro.anomaly.artifacts import SCORES_FILE

    quarter = committed_quarter("04_anomaly")  # nbval's run of the notebook: this one stands in for it
    assert quarter in sample_quarters
    executed = runner.run_notebook("04_anomaly", quarter)  # run_quarter, then its metrics saved
    assert figure_problems(executed) == []
    table = pd.read_parquet(anomaly.model_dir(quarter) / SCORES_FILE)
    assert list(table.columns) == ["BAS_YH", "SEQ", "score", "rank", "flagged", "rules", "reason"]
    assert table["SEQ"].is_unique and sorted(table["rank"]) == list(range(1, len(table) + 1))
    assert set(table.loc[table["rules"] != "", "rules"].str.split(",").explode()) <= set(rules.RULE_NAMES)
    # the same scores from a second run
    again = anomaly.run_quarter(quarter, save=False, truth=False)
    np.testing.assert_allclose(again.table["score"].to_numpy(), table["score"].to_numpy())
    # one reason per asked customer, in the asked order: the flagged ones' saved sentences, NaN for a stranger
    flagged = table.loc[table["flagged"], "SEQ"].head(2).tolist()
    calm = table.loc[~table["flagged"], "SEQ"].iloc[0]
    why = anomaly.customer_reasons(again, [flagged[1], "no-such-customer", calm, flagged[0]])
    assert why.index.tolist() == [flagged[1], "no-such-customer", calm, flagged[0]]
    saved = table.set_index("SEQ")["reason"]
    assert why.iloc[0] == saved[flagged[1]] and why.iloc[3] == saved[flagged[0]] and why.iloc[0] != ""
    assert pd.isna(why.iloc[1]) and why.iloc[2] == saved[calm]
    m = export.load_metrics(quarter, "anomaly")
    assert m["n_flagged"] == int(table["flagged"].sum()) and m["has_truth"]
    assert m["combined_average_precision"] > m["n_planted"] / m["n_customers"]  # better than chance
    assert_intervals_bracket(m, {"combined_average_precision", "combined_precision_at_k", "rules_precision_at_k",
                                 "model_precision_at_k"})
    assert m["intervals"]["combined_precision_at_k"]["customers"] == m["n_planted"]  # a share of the k flagged
    # hand-off and summary pick it up by declaration
    rows = anomaly.HANDOFF.load(quarter)
    assert list(rows.columns) == ["BAS_YH", "SEQ", "ANOMALY_SCORE", "ANOMALY_FLAG"]
    assert "anomaly" in [s.name for s in handoff.model_sources()]
    text = summary.portfolio_summary_ko(quarter)
    assert "이상 탐지" in text and f"{int(m['n_flagged']):,}명" in text


def test_every_headline_metric_against_the_truth_carries_its_interval(monkeypatch):
    from fipro import datasets
    from fipro.anomaly.evaluation import Yardstick, evaluate

    # halves split at these rows' own medians (no sidecar), so every type has both halves
    monkeypatch.setattr(datasets, "raw_file", lambda *a, **k: None)

    rng = np.random.default_rng(3)
    n = 3000
    kind = np.array(["none"] * n, dtype=object)
    planted = rng.choice(n, 120, replace=False)
    kind[planted] = np.resize(["total_spike", "category_burst", "mix_shift", "dormant_burst"], 120)
    labels = pd.DataFrame({"anomaly_type": kind, "anomaly_magnitude": np.where(kind == "none", 0.0, rng.uniform(1, 3, n))})
    y = kind != "none"
    scores = {name: rng.normal(y * shift, 1.0) for name, shift in (("rules", 1.5), ("model", 1.8), ("combined", 2.2))}
    rows = np.arange(0, n, 2)
    yard = Yardstick(rows=rows, probability=1 / (1 + np.exp(-rng.normal(y[rows] * 2.5 - 3, 1.0))),
                     n_pooled_rows=len(rows), pooled_quarters=["2023q1"])
    h = evaluate(labels, scores, yard, seed=0).headline
    expected = {f"{name}_{metric}" for name in scores for metric in ("precision_at_k", "recall_at_k", "roc_auc",
                                                                     "average_precision")}
    expected |= {"combined_pk_share_of_yardstick", "yardstick_precision_at_k"}
    expected |= {f"recall_{half}_half.{t}" for half in ("upper", "lower") for t in h["recall_upper_half"]}
    assert_intervals_bracket(h, expected)
    assert h["intervals"]["combined_recall_at_k"] == {"method": "wilson", "level": 0.95, "customers": 120}
    assert h["intervals"]["combined_pk_share_of_yardstick"]["method"] == "bootstrap"
    hit, total = h["upper_half_counts"]["mix_shift"]
    assert h["intervals"]["recall_upper_half.mix_shift"]["customers"] == total > 0


def test_targets_table_sets_each_goal_and_the_yardstick_share_only_with_history():
    from fipro.anomaly.evaluation import UPPER_HALF_RECALL_TARGETS, pooled_upper_half

    head = {"has_truth": True, "has_history_truth": True, "combined_average_precision": 0.4,
            "yardstick_average_precision": 0.5, "combined_precision_at_k": 0.45, "yardstick_precision_at_k": 0.48,
            "combined_pk_share_of_yardstick": 0.45 / 0.48, "combined_beats_parts_ap": True, "flag_share": 0.01,
            "recall_upper_half": {"total_spike": 0.85, "category_burst": 0.4, "mix_shift": 0.2, "dormant_burst": 0.9},
            "yardstick_recall_upper_half": {"total_spike": 0.9, "category_burst": 0.5, "mix_shift": 0.2,
                                            "dormant_burst": 0.95}}
    run = type("Run", (), {"headline": head})()
    table = anomaly.measurement_table(run)
    share = table.loc["결합 점수 정밀도@k ÷ 관측 가능 기준의 정밀도@k"]
    assert share["목표"] == "≥ 0.9" and share["충족"]
    goals = {label.split(":")[0]: (row["목표"], row["충족"], row["상한"]) for label, row in table.iterrows()
             if "상위 절반" in label}
    assert goals["총액 급증"] == ("≥ 0.8", True, 0.9)
    assert goals["업종 급증"][:2] == ("≥ 0.45", False)
    assert goals["구성 변화"][:2] == ("≥ 0.15", True)
    assert UPPER_HALF_RECALL_TARGETS["dormant_burst"] == 0.8
    assert table.loc["결합 점수 정밀도@k", "상한"] == 0.48
    # a first quarter (no earlier quarter): no share goal; a real file: no truth rows at all
    assert "결합 점수 정밀도@k ÷ 관측 가능 기준의 정밀도@k" not in anomaly.measurement_table(
        type("Run", (), {"headline": {**head, "has_history_truth": False}})()).index
    assert list(anomaly.measurement_table(type("Run", (), {"headline": {"has_truth": False, "flag_share": 0.01}})())
                .index) == ["검토 대상 비율"]
    # pooled over quarters: hits over planted rows
    pooled = pooled_upper_half([{"upper_half_counts": {"mix_shift": [1, 10]}},
                                {"upper_half_counts": {"mix_shift": [3, 10], "total_spike": [0, 0]}}])
    assert pooled == {"mix_shift": 0.2, "total_spike": None}


def test_recall_figure_gives_every_scorer_its_own_colour():
    from matplotlib.colors import to_hex

    from fipro.figures import anomaly as an_fig

    by_type = pd.DataFrame({"type": ["total_spike"] * 2, "band": ["lower", "upper"],
                            "recall_rules": [0.2, 0.8], "recall_model": [0.3, 0.7], "recall_combined": [0.3, 0.9],
                            "recall_yardstick": [0.4, 0.9]})
    fig = an_fig.plot_recall_by_magnitude(by_type)
    legend = fig.axes[0].get_legend()
    colours = {t.get_text(): to_hex(h.get_facecolor()) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert set(colours) == {"규칙", "모델", "결합", "지도학습 기준"} and len(set(colours.values())) == 4
    # each type's own goal, over its upper half only
    fig = an_fig.plot_recall_by_magnitude(by_type, targets={"total_spike": 0.45})
    dashes = [c for c in fig.axes[0].collections if c.get_linestyle()[0][1] is not None]
    (segment,) = [seg for c in dashes for seg in c.get_segments()]
    assert segment[0][1] == segment[1][1] == 0.45 and segment[0][0] == pytest.approx(0.55)


# --- library calls: the same numbers as the hand-written versions ----------------------------------


def test_tail_share_is_the_share_of_values_at_or_above():
    from fipro.anomaly.rules import tail_share
    x = np.array([3.0, 1.0, np.nan, 3.0, 7.0])
    # values >= each: 3 → {3, 3, 7} = 3/5; 1 → 4/5; NaN (lowest) → 5/5; 7 → 1/5
    np.testing.assert_array_equal(tail_share(x), [0.6, 0.8, 1.0, 0.6, 0.2])
    rng = np.random.default_rng(0)
    y = np.round(rng.normal(size=1000), 1)
    by_hand = (len(y) - np.searchsorted(np.sort(y), y, side="left")) / len(y)
    np.testing.assert_array_equal(tail_share(y), by_hand)


def test_robust_sd_is_scipys_mad_times_the_rules_constant():
    from fipro.anomaly.rules import MAD_TO_SD, robust_sd
    # median 3, absolute deviations 2 1 0 1 97 → MAD 1
    assert robust_sd(np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan]), empty=0.0) == MAD_TO_SD
    assert robust_sd(np.array([np.nan, np.nan]), empty=1.0) == 1.0
    x = np.random.default_rng(1).standard_t(3, size=2001)
    x[::7] = np.nan
    assert robust_sd(x, empty=0.0) == MAD_TO_SD * float(np.nanmedian(np.abs(x - np.nanmedian(x))))
