"""fipro.lifestage: the model template (data, estimator, selection, evaluation, reasons, feedback, artifacts)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import assert_intervals_bracket, committed_quarter, raw_frame, raw_row
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from fipro import config, contract, datasets, features, lifestage, split
from fipro.evaluation import calibration as calib
from fipro.evaluation import cards, registry
from fipro.evaluation.baselines import GroupMajorityClassifier
from fipro.lifestage import selection as sel

# a toy world: life stage shows in age band, 학원 and 여행 shares
_STAGES = {
    "UNI": (("20",), 0.00, 0.35),
    "NEW_JOB": (("25", "30"), 0.02, 0.15),
    "CHILD_TEEN": (("30", "35", "40", "45"), 0.30, 0.05),
    "RETIR": (("60", "65", "70"), 0.00, 0.05),
}


def toy_quarter(n: int = 400, quarter: str = "2023q1", seed: int = 0) -> pd.DataFrame:
    """Contract-shaped raw rows of one quarter with a learnable LIFE_STAGE."""
    rng = np.random.default_rng(seed)
    stage = rng.choice(list(_STAGES), size=n, p=[0.2, 0.2, 0.4, 0.2])
    rows = []
    for i, s in enumerate(stage):
        ages, acdm, trvl = _STAGES[s]
        total = int(rng.integers(100, 600))
        a = int(total * max(0.0, acdm + rng.normal(0, 0.05)))
        t = int(total * max(0.0, trvl + rng.normal(0, 0.05)))
        rest = max(total - a - t, 0)
        tot = a + t + rest
        rows.append(raw_row(f"{i:06d}", quarter, AGE=str(rng.choice(ages)), SEX_CD=str(rng.choice(["1", "2"])),
                            ATT_YM="201801", LIFE_STAGE=s, TOT_USE_AM=tot, CRDSL_USE_AM=tot // 2,
                            CNF_USE_AM=tot - tot // 2, OFFEDU_AM=a, ACDM_AM=a, TRVLEC_AM=t, TRVL_AM=t,
                            FSBZ_AM=rest, RESTRNT_AM=rest))
    return raw_frame(rows)


def toy_data(n: int = 400, quarter: str = "2023q1", seed: int = 0) -> pd.DataFrame:
    """What ``lifestage.load_inputs`` returns, built from :func:`toy_quarter`."""
    feats = features.build_features(toy_quarter(n, quarter, seed))
    out = feats[["BAS_YH", "SEQ", *lifestage.feature_columns()]].copy()
    out["LIFE_STAGE"] = feats["LIFE_STAGE"].astype(str).to_numpy()
    return out


SMALL = dict(n_estimators=40, num_leaves=7, min_child_samples=5)


@pytest.fixture(scope="module")
def data():
    return toy_data(400)


@pytest.fixture(scope="module")
def fitted(data):
    train, test = split.train_test_customers(data, test_size=0.25, seed=1)
    model = lifestage.fit_lifestage(train, SMALL, seed=0, n_threads=1)
    return model, train, test


# --- estimator contract, checked by scikit-learn itself ------------------------------------------

# With calibration and early stopping the estimator sets customers aside, which the
# checks' tiny data sets (a handful of rows, one per class) cannot spare: these checks
# are run on the uncalibrated instance instead (the first one below).
_TINY_DATA = "needs held-out customers of every class for calibration; checked on the uncalibrated instance"
_CALIBRATED_SKIPS = {name: _TINY_DATA for name in (
    "check_class_weight_classifiers", "check_classifier_data_not_an_array", "check_classifiers_classes",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_predict1d",
    "check_fit_score_takes_y", "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_readonly_memmap_input",
    "check_supervised_y_2d",
)}


def _expected_failures(estimator):
    return _CALIBRATED_SKIPS if getattr(estimator, "calibration", None) is not None else {}


@parametrize_with_checks([
    lifestage.LifeStageClassifier(n_estimators=20, calibration=None, early_stopping_rounds=None, n_threads=1),
    lifestage.LifeStageClassifier(n_estimators=20, n_threads=1),
    GroupMajorityClassifier(),
], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def test_constructor_is_keyword_only_with_one_set_of_defaults():
    with pytest.raises(TypeError):
        lifestage.LifeStageClassifier(0.1)  # noqa - positional on purpose
    defaults = lifestage.LifeStageClassifier().get_params()
    assert {k: defaults[k] for k in lifestage.DEFAULT_PARAMS} == lifestage.DEFAULT_PARAMS
    est = lifestage.LifeStageClassifier(n_estimators=7, class_weight="balanced", calibration="isotonic")
    assert est.get_params()["n_estimators"] == 7 and est.get_params()["calibration"] == "isotonic"
    assert not [k for k in vars(est) if k.endswith("_")]


@pytest.mark.parametrize("bad", [dict(learning_rate=-0.1), dict(n_estimators=0), dict(calibration="vector"),
                                 dict(class_weight="heavy"), dict(calibration_size=0.7), dict(n_threads=0)])
def test_parameters_are_validated_before_any_work(bad):
    est = lifestage.LifeStageClassifier(**bad)
    # the data are nonsense: a parameter error must come first and name the parameter
    with pytest.raises(ValueError, match=next(iter(bad))):
        est.fit(None, None)


def test_labels_keep_their_dtype_ints_in_ints_out(data):
    X = data[lifestage.feature_columns()]
    codes = {c: i for i, c in enumerate(_STAGES)}
    y = data["LIFE_STAGE"].map(codes).to_numpy()
    est = lifestage.LifeStageClassifier(**SMALL, n_threads=1).fit(X, y, groups=data["SEQ"])
    assert est.classes_.dtype.kind == "i" and est.predict(X).dtype.kind == "i"
    assert set(est.predict(X)) <= set(codes.values())


def test_random_state_none_uses_the_project_seed(data):
    X, y, g = data[lifestage.feature_columns()], data["LIFE_STAGE"].to_numpy(), data["SEQ"]
    a = lifestage.LifeStageClassifier(**SMALL, random_state=None, n_threads=1).fit(X, y, groups=g)
    b = lifestage.LifeStageClassifier(**SMALL, random_state=config.RANDOM_SEED, n_threads=1).fit(X, y, groups=g)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X))


def test_refit_forgets_the_earlier_fit(data):
    X, y, g = data[lifestage.feature_columns()], data["LIFE_STAGE"].to_numpy(), data["SEQ"].to_numpy()
    keep = y != "UNI"
    est = lifestage.LifeStageClassifier(**SMALL, n_threads=1)
    est.fit(X, y, groups=g)
    assert "UNI" in est.classes_
    est.fit(X[keep], y[keep], groups=g[keep])  # the same object, refitted on other data
    fresh = lifestage.LifeStageClassifier(**SMALL, n_threads=1).fit(X[keep], y[keep], groups=g[keep])
    assert "UNI" not in est.classes_
    np.testing.assert_allclose(est.predict_proba(X), fresh.predict_proba(X))


def test_fit_keeps_no_data_and_learned_attributes_end_with_underscore(data):
    est = lifestage.LifeStageClassifier(**SMALL, n_threads=1)
    est.fit(data[lifestage.feature_columns()], data["LIFE_STAGE"].to_numpy(), groups=data["SEQ"])
    learned = {k for k in vars(est) if k.endswith("_")}
    assert {"classes_", "estimator_", "calibrator_", "feature_names_in_", "feature_reference_"} <= learned
    assert set(vars(est)) - learned == set(est.get_params())
    assert not hasattr(clone(est), "estimator_")


def test_calibration_is_scikit_learns_on_customers_kept_out_of_the_fit(fitted):
    model, _, _ = fitted
    from sklearn.calibration import CalibratedClassifierCV

    assert isinstance(model.calibrator_, CalibratedClassifierCV) and model.calibrator_.method == "temperature"
    assert 0 < model.n_calibration_ < 300


def test_model_beats_age_rule_on_toy(fitted):
    model, train, test = fitted
    ev = lifestage.evaluate(model, lifestage.fit_baselines(train), test)
    c = ev.comparison
    assert c.loc["model", "macro_f1"] > c.loc["age_rule", "macro_f1"] >= c.loc["majority", "macro_f1"]
    assert ev.confusion.index.tolist()[0] in contract.LIFE_STAGE_CODES.values()
    assert ev.describe().startswith(f"모델(그래디언트 부스팅)의 매크로 F1은 {c.loc['model', 'macro_f1']:.3f}, ")


def test_every_headline_metric_of_the_evaluation_carries_its_interval(fitted):
    from fipro.evaluation.intervals import headline_fields

    model, train, test = fitted
    ev = lifestage.evaluate(model, lifestage.fit_baselines(train), test, seed=0)
    head = {**ev.summary, "ece_after": ev.calibration["ece_after"], **headline_fields(ev.intervals)}
    # the toy is easy (the model can be right on every test row, lo = hi = 1): lo ≤ value ≤ hi only
    for key in ("model_macro_f1", "model_accuracy", "age_rule_macro_f1", "age_rule_accuracy",
                "majority_macro_f1", "majority_accuracy", "ece_after"):
        assert head[f"{key}_lo"] <= head[key] <= head[f"{key}_hi"], key
    assert head["intervals"]["ece_after"]["method"] == "bootstrap" and head["ece_after_lo"] >= 0
    assert head["intervals"]["majority_accuracy"]["method"] == "wilson"


def test_describe_states_the_comparison_the_classes_and_the_confusions():
    # the model behind the age rule (−0.038) and ahead of the majority class (+0.512)
    comparison = pd.DataFrame({"macro_f1": [0.612, 0.650, 0.100], "accuracy": [0.705, 0.700, 0.400]},
                              index=["model", "age_rule", "majority"])
    per_class = pd.DataFrame({"name": ["대학생", "신혼", "은퇴"], "f1": [0.80, 0.35, 0.60]},
                             index=["UNI", "NEW_WED", "RETIR"])
    names = ["대학생", "신혼", "은퇴"]
    confusion = pd.DataFrame([[0.80, 0.15, 0.05], [0.10, 0.35, 0.55], [0.00, 0.40, 0.60]], index=names, columns=names)
    ev = lifestage.evaluation.Evaluation(comparison, per_class, confusion, *[None] * 7)  # the rest: unused here
    assert ev.describe() == (
        "모델(그래디언트 부스팅)의 매크로 F1은 0.612, 정확도는 70.5%입니다. "
        "연령대×성별 규칙(매크로 F1 0.650, 정확도 70.0%)보다 매크로 F1이 -0.038, "
        "최빈 클래스(매크로 F1 0.100, 정확도 40.0%)보다 매크로 F1이 +0.512 차이가 납니다. "
        "가장 잘 맞히는 클래스는 '대학생'(0.80), '은퇴'(0.60), 가장 어려운 클래스는 '신혼'(0.35), '은퇴'(0.60)입니다 (F1 기준). "
        "가장 흔한 혼동은 실제 '신혼'을 '은퇴'로 본 경우(55%), 실제 '은퇴'를 '신혼'으로 본 경우(40%)입니다."
    )


# --- data step -------------------------------------------------------------------------------------


def test_stratified_training_sample_keeps_class_shares_and_whole_customers(data):
    big = pd.concat([data] * 5, ignore_index=True)
    big["SEQ"] = [f"{s}-{i // len(data)}" for i, s in enumerate(big["SEQ"])]
    part = lifestage.sample_training_rows(big, 500, seed=3)
    assert abs(len(part) - 500) <= len(_STAGES)
    shares = big["LIFE_STAGE"].value_counts(normalize=True)
    got = part["LIFE_STAGE"].value_counts(normalize=True).reindex(shares.index)
    assert np.abs(got - shares).max() < 0.01
    assert lifestage.sample_training_rows(big, None) is big
    pd.testing.assert_frame_equal(lifestage.sample_training_rows(big, 500, seed=3), part)  # deterministic


def test_pooled_quarters_precede_except_for_the_first_quarter():
    qs = ["2022q1", "2022q2", "2022q3", "2022q4"]
    assert lifestage.pooled_quarters("2022q4", qs, 2) == ["2022q2", "2022q3"]
    assert lifestage.pooled_quarters("2022q2", qs, 2) == ["2022q1"]
    assert lifestage.pooled_quarters("2022q1", qs, 2) == ["2022q2", "2022q3"]
    assert lifestage.pooled_quarters("2022q1", qs, 0) == []


def test_features_missing_in_the_quarter_are_not_model_inputs(data):
    frame = data.copy()
    frame.loc[:, "qoq_log_TOT_USE_AM"] = np.nan
    later = data.assign(BAS_YH="2023q2", qoq_log_TOT_USE_AM=0.1)
    both = pd.concat([frame, later], ignore_index=True)
    assert "qoq_log_TOT_USE_AM" not in lifestage.available_features(both, "2023q1")
    assert "qoq_log_TOT_USE_AM" in lifestage.available_features(both, "2023q2")


def test_pooled_history_trains_on_other_quarters_and_tests_on_this_one_only():
    frame = pd.DataFrame({"BAS_YH": ["2023q1"] * 4 + ["2023q2"] * 4, "SEQ": ["a", "b", "c", "d"] * 2,
                          "LIFE_STAGE": ["UNI"] * 8})
    roles = np.where(frame["SEQ"].isin(["b", "d"]), "test", "train")
    train, test = lifestage.train_test_rows(frame, roles, "2023q2")
    assert set(train["BAS_YH"]) == {"2023q1", "2023q2"} and set(train["SEQ"]) == {"a", "c"}
    assert set(test["BAS_YH"]) == {"2023q2"} and sorted(test["SEQ"]) == ["b", "d"]
    split.assert_no_customer_leakage(train, test)


def test_history_on_the_sample_records_what_was_pooled(sample_quarters):
    pooled = lifestage.load_inputs(sample_quarters[2], history=2)
    assert pooled.attrs["quarters"] == sample_quarters[:3] and pooled.attrs["pooled"]
    assert set(pooled["BAS_YH"]) == set(sample_quarters[:3])
    first = lifestage.load_inputs(sample_quarters[0], history=2)
    assert first.attrs["quarters"] == [*sample_quarters[1:3], sample_quarters[0]]
    assert "첫 분기" in first.attrs["history_note"]
    alone = lifestage.load_inputs(sample_quarters[0])
    assert not alone.attrs["pooled"] and alone.attrs["n_dropped"] == 0


# --- selection: once per run ----------------------------------------------------------------------


def test_curve_sizes_double_and_end_with_every_row():
    assert sel.curve_sizes(60_000) == [25_000, 50_000, 60_000]
    assert sel.curve_sizes(50_000) == [25_000, 50_000]
    assert sel.curve_sizes(9_000) == [9_000]
    assert sel.curve_sizes(10_000_000)[-1] == sel.MAX_CURVE_ROWS


def test_training_size_is_where_the_curve_stops_improving():
    curve = pd.DataFrame({"n_train": [100, 200, 400, 800], "macro_f1": [0.60, 0.690, 0.6985, 0.700]})
    assert sel.choose_train_rows(curve, 800) == 400
    assert sel.choose_train_rows(curve, 800, tolerance=0.0) is None  # best is every row
    assert sel.choose_train_rows(curve, 1600, tolerance=0.0) == 800  # best is a sample of a larger pool


def test_selection_is_computed_once_and_reused_until_the_data_change(sample_quarters, monkeypatch):
    first = sel.load_or_select(progress=False)
    saved = json.loads(sel.selection_path().read_text(encoding="utf-8"))
    assert saved["key"] == first.key and saved["reference_quarter"] == sample_quarters[-1]
    assert first.learning_curve and first.learning_curve[-1]["n_train"] == first.n_pool

    def boom(*args, **kwargs):
        raise AssertionError("selection recomputed although nothing changed")

    monkeypatch.setattr(sel, "select_model", boom)
    again = sel.load_or_select(progress=False)
    assert again.params == first.params and again.train_rows == first.train_rows
    monkeypatch.setattr(sel, "selection_key", lambda *a, **k: "other-data")
    with pytest.raises(AssertionError, match="recomputed"):
        sel.load_or_select(progress=False)
    text = first.describe()
    assert first.reference_quarter in text and "학습 곡선" in text


def test_tree_size_is_tuned_only_when_the_grid_sees_about_the_rows_the_model_uses(sample_quarters, monkeypatch):
    small = sel.load_or_select(progress=False)  # the sample's pool is below SMALL_POOL_ROWS
    assert small.n_pool <= sel.SMALL_POOL_ROWS
    settings = {r["setting"] for r in small.grid}
    assert len(settings) == 4 and all("num_leaves=" in s for s in settings)
    monkeypatch.setattr(sel, "SMALL_POOL_ROWS", small.n_pool - 1)  # as if the pool were large
    # which grid runs does not depend on the rows fitted: small fits, the curve's one point the winner's
    monkeypatch.setattr(sel, "GRID_ROWS", 3_000)
    monkeypatch.setattr(sel, "curve_sizes", lambda n: [3_000])
    large = sel.select_model(small.reference_quarter, progress=False)
    assert len(large.grid) == 2 and not any("num_leaves" in r["setting"] for r in large.grid)
    assert large.params["num_leaves"] == lifestage.DEFAULT_PARAMS["num_leaves"]


# --- prediction ------------------------------------------------------------------------------------


def test_predict_frame_shape_and_probabilities_sum_to_one(fitted):
    model, _, test = fitted
    out = lifestage.predict(model, test.head(6))
    proba = out[[f"proba_{c}" for c in model.classes_]].to_numpy()
    assert out.shape[0] == 6 and list(out.index) == list(test.head(6).index)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (out["predicted"] == model.classes_[proba.argmax(axis=1)]).all()
    assert out["sentence"].str.contains("가능성이 높습니다").all()
    assert out["predicted_ko"].isin(contract.LIFE_STAGE_CODES.values()).all()


def test_predict_single_customer_series(fitted):
    model, _, test = fitted
    one = lifestage.predict(model, test.iloc[0], k=2)
    assert len(one) == 1 and one["reasons"].iloc[0].count("|") == 1
    assert float(one.filter(like="proba_").sum(axis=1).iloc[0]) == pytest.approx(1.0)


def test_customer_reasons_are_the_predicted_sentences_of_the_asked_customers_of_the_quarter(fitted, data):
    model, _, test = fitted
    other = data.copy()
    other["BAS_YH"] = "2022q4"  # the same customers in another pooled quarter: not this run's
    run = SimpleNamespace(quarter="2023q1", model=model, data=pd.concat([other, data], ignore_index=True))
    ask = [test["SEQ"].iloc[2], "no-such-customer", test["SEQ"].iloc[0]]
    why = lifestage.customer_reasons(run, ask, k=2)
    assert why.index.tolist() == ask and pd.isna(why.iloc[1])
    expected = lifestage.predict(model, test.iloc[[2, 0]], k=2)["sentence"].tolist()
    assert [why.iloc[0], why.iloc[2]] == expected
    nobody = lifestage.customer_reasons(SimpleNamespace(quarter="2024q1", model=model, data=data), ask[:1])
    assert nobody.isna().all() and nobody.index.tolist() == ask[:1]


def test_predict_needs_the_model_features(fitted):
    model, _, test = fitted
    with pytest.raises(KeyError):
        lifestage.predict(model, test.drop(columns=["age_band"]).head(2))


def test_example_reasons_never_show_raw_seq(fitted):
    model, _, test = fitted
    table = lifestage.example_reasons(model, test, n=3, seed=0)
    shown = table.astype(str).to_numpy().ravel().tolist()
    assert not set(test["SEQ"]) & set(shown)
    assert table["고객"].str.startswith("고객-").all()


def test_age_rule_picks_most_common_stage_per_age_band_and_sex():
    X = pd.DataFrame({"age_band": [20, 20, 20, 40, 40, np.nan], "sex_female": [1, 1, 1, 0, 0, 1]})
    rule = GroupMajorityClassifier().fit(X, ["UNI", "UNI", "NEW_JOB", "CHILD_TEEN", "GOLLIFE", "RETIR"])
    new = pd.DataFrame({"age_band": [20, 40, np.nan, 85], "sex_female": [1, 0, 1, 1]})
    # ties break alphabetically; NaN is its own group; unseen groups get the overall majority
    assert rule.predict(new).tolist() == ["UNI", "CHILD_TEEN", "RETIR", "UNI"]


def test_calibration_sentence_gives_the_verdict_against_the_target():
    summary = {"ece_before": 0.05, "ece_after": 0.012, "log_loss_before": 0.9, "log_loss_after": 0.85}
    assert "목표(ECE 0.02 이하)를 달성했습니다" in calib.describe_calibration(summary, "temperature")
    worse = {**summary, "ece_after": 0.031}
    assert "미치지 못했습니다" in calib.describe_calibration(worse, "temperature")


# --- feedback ----------------------------------------------------------------------------------


def _feedback(rows):
    return pd.DataFrame(rows, columns=list(lifestage.FEEDBACK_COLUMNS))


def test_feedback_valid_applied_invalid_reported_and_skipped(data):
    seqs = data["SEQ"].tolist()
    fb = _feedback([
        [seqs[0], "2023q1", "RETIR", "2024-01-05T10:00:00", "ok"],
        [seqs[1], "2023Q1", "자녀 의무교육", "2024-01-05 11:00", "Korean name, upper-case quarter"],
        [seqs[2], "2023q1", "ASTRONAUT", "2024-01-05T10:00:00", "unknown code"],
        ["no-such-customer", "2023q1", "UNI", "2024-01-05T10:00:00", "unknown customer"],
        [seqs[3], "2031q9", "UNI", "2024-01-05T10:00:00", "unknown quarter"],
        [seqs[4], "2023q1", "UNI", "yesterday", "malformed time"],
        [seqs[5], "2023q1", "UNI", "2024-01-01T00:00:00", "older"],
        [seqs[5], "2023q1", "RETIR", "2024-02-01T00:00:00", "newer wins"],
        [seqs[6], "2023q2", "UNI", "2024-02-01T00:00:00", "other quarter"],
    ])
    before = data.copy()
    corrected, report = lifestage.apply_feedback(data, fb, known_quarters=["2023q1", "2023q2"])
    pd.testing.assert_frame_equal(data, before)  # input not modified
    assert report["status"].tolist() == ["applied", "applied", "invalid", "invalid", "invalid", "invalid",
                                         "superseded", "applied", "other_quarter"]
    assert report.loc[2, "reason"].startswith("알 수 없는 라이프스테이지 코드")
    assert report.loc[3, "reason"] == "해당 분기에 없는 고객"
    assert report.loc[4, "reason"].startswith("알 수 없는 분기")
    assert report.loc[5, "reason"].startswith("시간 형식 오류")
    assert corrected.loc[0, "LIFE_STAGE"] == "RETIR"
    assert corrected.loc[1, "LIFE_STAGE"] == "CHILD_TEEN"
    assert corrected.loc[5, "LIFE_STAGE"] == "RETIR"
    assert corrected.loc[2, "LIFE_STAGE"] == data.loc[2, "LIFE_STAGE"]  # invalid: skipped
    assert corrected["label_corrected"].sum() == 3
    s = lifestage.feedback_summary(report, corrected, data)
    assert (s["n_applied"], s["n_invalid"], s["n_superseded"], s["n_other_quarter"]) == (3, 4, 1, 1)
    assert "3건을 반영" in lifestage.describe_feedback(s)
    assert not set(data["SEQ"]) & set(lifestage.feedback_report_table(report)["고객"])


def test_correction_changes_the_training_set_and_the_model(data):
    train, _ = split.train_test_customers(data, test_size=0.25, seed=1)
    target = train.iloc[0]
    new_code = "RETIR" if target["LIFE_STAGE"] != "RETIR" else "UNI"
    fb = _feedback([[target["SEQ"], "2023q1", new_code, "2024-03-01T09:00:00", "고객 정정"]])
    corrected, _ = lifestage.apply_feedback(data, fb)
    train_fixed, _ = split.train_test_customers(corrected, test_size=0.25, seed=1)
    row = train_fixed[train_fixed["SEQ"] == target["SEQ"]]
    assert row["LIFE_STAGE"].item() == new_code and bool(row["label_corrected"].item())
    assert (train_fixed["LIFE_STAGE"].to_numpy() != train["LIFE_STAGE"].to_numpy()).sum() == 1
    m0 = lifestage.fit_lifestage(train, {**SMALL, "n_estimators": 5}, calibration=None, n_threads=1)
    m1 = lifestage.fit_lifestage(train_fixed, {**SMALL, "n_estimators": 5}, calibration=None, n_threads=1)
    assert registry.data_hash(train_fixed[["LIFE_STAGE"]]) != registry.data_hash(train[["LIFE_STAGE"]])
    assert not np.allclose(m0.predict_proba(train[lifestage.feature_columns()]),
                           m1.predict_proba(train[lifestage.feature_columns()]))


def test_read_feedback_file(tmp_path):
    path = tmp_path / "fb.csv"
    assert lifestage.read_feedback(path).empty
    path.write_text("SEQ,quarter,corrected_code,time\n007,2023q1,UNI,2024-01-01\n", encoding="utf-8")
    fb = lifestage.read_feedback(path)
    assert fb.loc[0, "SEQ"] == "007" and fb.loc[0, "note"] == ""  # ids stay strings
    path.write_text("SEQ,code\n1,UNI\n", encoding="utf-8")
    with pytest.raises(ValueError):
        lifestage.read_feedback(path)


# --- ceiling, temporal model, artifacts -------------------------------------------------------------------


def test_bayes_ceiling_from_posterior(data):
    test = data.head(50)
    post = test[["BAS_YH", "SEQ"]].copy()
    for c in contract.LIFE_STAGE_ORDER:
        post[f"posterior_{c}"] = (test["LIFE_STAGE"] == c).astype(float).to_numpy()
    c = lifestage.bayes_ceiling(test, post)
    assert c["accuracy"] == 1.0 and c["macro_f1"] == 1.0
    assert lifestage.bayes_ceiling(test, None) is None
    assert "truth" in lifestage.describe_ceiling(0.5, None, previous_quarter_used=False)
    assert "달성했습니다" in lifestage.describe_ceiling(0.98, c, previous_quarter_used=False)
    assert "미치지 못했습니다" in lifestage.describe_ceiling(0.9, c, previous_quarter_used=False)


def saved_run(model, data, roles, headline, *, selection=None, evaluation=None) -> SimpleNamespace:
    """The parts of a run that ``lifestage.save_artifacts(quarter, run)`` reads."""
    return SimpleNamespace(quarter="2023q1", model=model, labelled=data, roles=roles, headline=headline,
                           selection=selection, evaluation=evaluation, ceiling=None, quarter_proba=None)


def test_temporal_check_uses_the_previous_quarters_model_only_when_it_saw_nothing_of_this_quarter(
        fitted, data, tmp_path, monkeypatch):
    from fipro import decay

    model, train, test = fitted
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    roles = np.where(data["SEQ"].isin(test["SEQ"]), "test", "train")
    assert decay.temporal_model("2023q1") is None  # nothing saved
    lifestage.save_artifacts("2023q1", saved_run(model, data, roles, {"feedback_applied": 0}))
    reused = decay.temporal_model("2023q1")
    assert reused is not None
    np.testing.assert_allclose(reused.predict_proba(test[lifestage.feature_columns()]),
                               model.predict_proba(test[lifestage.feature_columns()]))
    # a model that also learned from the quarter it would be checked on (a first quarter pooled
    # with the next ones) is left out
    later = data.assign(BAS_YH=np.where(np.arange(len(data)) % 2 == 0, "2023q2", data["BAS_YH"]))
    lifestage.save_artifacts("2023q1", saved_run(model, later, roles, {"feedback_applied": 0}))
    assert decay.temporal_model("2023q1") is None


def test_artifacts_written_with_required_fields(fitted, data, tmp_path):
    model, train, test = fitted
    roles = np.where(data["SEQ"].isin(test["SEQ"]), "test", "train")
    ev = lifestage.evaluate(model, lifestage.fit_baselines(train), test)
    paths = lifestage.save_artifacts("2023q1", saved_run(model, data, roles, {"model_macro_f1": 0.9}, evaluation=ev),
                                     directory=tmp_path / "lifestage")
    entry = registry.load_entry(paths["directory"])
    assert entry["name"] == "lifestage" and entry["data_range"]["n_test_rows"] == int((roles == "test").sum())
    assert cards.missing_sections(paths["card"].read_text(encoding="utf-8")) == []
    preds = pd.read_parquet(paths["predictions"])
    assert len(preds) == len(data) and {"BAS_YH", "SEQ", "predicted", "probability", "role"} <= set(preds.columns)
    np.testing.assert_allclose(preds.filter(like="proba_").sum(axis=1), 1.0)
    again = registry.load_model(paths["directory"])
    np.testing.assert_allclose(again.predict_proba(test[lifestage.feature_columns()]),
                               model.predict_proba(test[lifestage.feature_columns()]))
    assert not list(paths["directory"].glob(".*.tmp"))  # atomic writes leave nothing behind


def test_feature_labels_are_korean():
    assert lifestage.feature_label_ko("share_ACDM_AM") == "학원 지출 비중"
    assert lifestage.feature_label_ko("region_seoul") == "서울 거주"
    names = lifestage.feature_columns()
    labels = lifestage.feature_labels_ko(names)
    hangul, latin = re.compile("[가-힣]"), re.compile("[A-Za-z_]")
    assert [n for n in names if not hangul.search(labels[n]) or latin.search(labels[n])] == []
    assert len(set(labels.values())) == len(names)  # no two features share a label in a chart


# --- notebook 03 on the sample ------------------------------------------------------------------


def test_notebook_03_on_the_sample_records_headline_numbers(sample_quarters):
    from test_notebooks import figure_problems

    from fipro import export, runner

    quarter = committed_quarter("03_lifestage")  # nbval's run of the notebook: this one stands in for it
    assert quarter in sample_quarters
    frame = lifestage.load_inputs(quarter)
    train_seq = frame.loc[split.customer_roles(frame["SEQ"], test_size=0.2) != "test", "SEQ"].head(3).tolist()
    fb_path = lifestage.feedback_path()
    assert fb_path == datasets.feedback_path("lifestage") and not fb_path.exists(), "a feedback file is left"
    fb_path.parent.mkdir(parents=True, exist_ok=True)
    _feedback([[train_seq[0], quarter, "RETIR", "2024-01-02T09:00:00", "고객 정정"],
               [train_seq[1], quarter, "GOLLIFE", "2024-01-02T09:00:00", ""],
               [train_seq[2], quarter, "NOT_A_CODE", "2024-01-02T09:00:00", "무효"]]).to_csv(fb_path, index=False)
    try:
        executed = runner.run_notebook("03_lifestage", quarter)
    finally:
        fb_path.unlink()
    assert figure_problems(executed) == []
    m = export.load_metrics(quarter, "lifestage")
    assert m["feedback_applied"] == 2 and m["feedback_invalid"] == 1 and m["feedback_labels_changed"] == 2
    assert m["feedback_macro_f1_before"] is not None
    assert m["model_macro_f1"] > m["age_rule_macro_f1"] > m["majority_macro_f1"]
    assert m["model_accuracy"] > m["age_rule_accuracy"] > m["majority_accuracy"]
    assert m["ece_after"] < 0.05
    assert "temporal_macro_f1" not in m  # notebook 08 measures it (fipro.decay): no wait for the previous quarter
    # 95% intervals beside the headline: lo ≤ metric ≤ hi, the macro-F1s by bootstrap, the accuracies by Wilson
    assert_intervals_bracket(m, {"model_macro_f1", "model_accuracy", "age_rule_macro_f1", "age_rule_accuracy"})
    assert m["intervals"]["model_macro_f1"]["n_boot"] == 1000 and m["intervals"]["model_accuracy"]["method"] == "wilson"
    # the sample is synthetic: the ceiling and the gap to it are reported, and met
    assert m["ceiling_gap_macro_f1"] == pytest.approx(m["ceiling_macro_f1"] - m["model_macro_f1"])
    assert m["ceiling_gap_macro_f1"] < 0.03
    # silent behaviour is recorded
    assert m["pooled"] and m["pooled_quarters"][-1] == quarter and m["n_dropped_rows"] == 0
    assert m["selection_reference_quarter"] == sample_quarters[-1]
    folder = lifestage.model_dir(quarter)
    assert registry.load_entry(folder)["metrics"]["model_macro_f1"] == pytest.approx(m["model_macro_f1"])
    assert cards.missing_sections((folder / cards.CARD_FILE).read_text(encoding="utf-8")) == []
    preds = pd.read_parquet(folder / "predictions.parquet")
    assert len(preds) == len(frame) and preds["SEQ"].is_unique and set(preds["BAS_YH"]) == {quarter}
