"""fipro.lifestage: estimator contract, predict(), feedback, baselines, artifacts, notebook 03."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fipro import config, contract, features, lifestage, split
from fipro.evaluation import cards, registry

# --- a tiny stand-in: four life stages that differ in age and in 학원/여행 spending -------------

_STAGES = {  # code: (age bands, academy share, travel share)
    "UNI": (("20", "25"), 0.00, 0.30),
    "NEW_WED": (("25", "30", "35"), 0.00, 0.15),
    "CHILD_TEEN": (("30", "35", "40", "45"), 0.30, 0.05),
    "RETIR": (("60", "65", "70"), 0.00, 0.05),
}


def toy_quarter(n: int = 400, quarter: str = "2023q1", seed: int = 0) -> pd.DataFrame:
    """Contract-shaped raw rows of one quarter with a learnable LIFE_STAGE."""
    rng = np.random.default_rng(seed)
    codes = list(_STAGES)
    stage = rng.choice(codes, size=n, p=[0.2, 0.2, 0.4, 0.2])
    rows = []
    for i, s in enumerate(stage):
        ages, acdm, trvl = _STAGES[s]
        total = int(rng.integers(100, 600))
        a = int(total * max(0.0, acdm + rng.normal(0, 0.05)))
        t = int(total * max(0.0, trvl + rng.normal(0, 0.05)))
        rest = max(total - a - t, 0)
        row = {c: 0 for c in contract.AMOUNT_COLUMNS}
        row.update(BAS_YH=quarter, SEQ=f"{i:06d}", AGE=str(rng.choice(ages)), SEX_CD=str(rng.choice(["1", "2"])),
                   MBR_RK="24", ATT_YM="201801", HOUS_SIDO_NM="서울", DIGT_CHNL_REG_YN="Y",
                   DIGT_CHNL_USE_YN="N", LIFE_STAGE=s, TOT_USE_AM=a + t + rest, CRDSL_USE_AM=(a + t + rest) // 2,
                   CNF_USE_AM=(a + t + rest) - (a + t + rest) // 2, OFFEDU_AM=a, ACDM_AM=a, TRVLEC_AM=t, TRVL_AM=t,
                   FSBZ_AM=rest, RESTRNT_AM=rest)
        rows.append(row)
    return pd.DataFrame(rows)[list(contract.COLUMN_NAMES)]


def toy_data(n: int = 400, quarter: str = "2023q1", seed: int = 0) -> pd.DataFrame:
    """What ``lifestage.load_lifestage_data`` returns, built from :func:`toy_quarter`."""
    feats = features.build_features(toy_quarter(n, quarter, seed))
    out = feats[["BAS_YH", "SEQ", *lifestage.feature_columns()]].copy()
    out["LIFE_STAGE"] = feats["LIFE_STAGE"].astype(str).to_numpy()
    return out


SMALL = dict(max_iter=40, max_leaf_nodes=7, min_samples_leaf=5)


@pytest.fixture(scope="module")
def data():
    return toy_data(400)


@pytest.fixture(scope="module")
def fitted(data):
    train, test = split.train_test_customers(data, test_size=0.25, seed=1)
    model = lifestage.fit_lifestage(train, SMALL, seed=0)
    return model, train, test


# --- estimator contract ------------------------------------------------------------------------


def test_constructor_stores_params_unchanged_and_does_no_work():
    est = lifestage.LifeStageClassifier(max_iter=7, class_weight="balanced", calibration="isotonic")
    assert est.get_params()["max_iter"] == 7 and est.get_params()["calibration"] == "isotonic"
    assert not [k for k in vars(est) if k.endswith("_")]
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est


def test_fit_returns_self_and_learned_attributes_end_with_underscore(data):
    est = lifestage.LifeStageClassifier(**{**SMALL, "max_iter": 10})
    X, y = data[lifestage.feature_columns()], data["LIFE_STAGE"].to_numpy()
    assert est.fit(X, y, groups=data["SEQ"]) is est
    learned = {k for k in vars(est) if k.endswith("_")}
    assert {"classes_", "estimator_", "calibrator_", "feature_names_in_", "feature_reference_"} <= learned
    assert set(vars(est)) - learned == set(est.get_params())  # nothing else is kept (no data)
    assert list(est.classes_) == sorted(_STAGES)
    cl = clone(est)
    assert not hasattr(cl, "estimator_")


def test_refit_ignores_earlier_fit(data):
    est = lifestage.LifeStageClassifier(**{**SMALL, "max_iter": 10})
    X, y = data[lifestage.feature_columns()], data["LIFE_STAGE"].to_numpy()
    p1 = est.fit(X, y, groups=data["SEQ"]).predict_proba(X)
    est.fit(X[y != "UNI"], y[y != "UNI"], groups=data["SEQ"][y != "UNI"])
    assert "UNI" not in est.classes_
    p2 = lifestage.LifeStageClassifier(**{**SMALL, "max_iter": 10}).fit(X, y, groups=data["SEQ"]).predict_proba(X)
    np.testing.assert_allclose(p1, p2)


def test_model_beats_age_rule_on_toy(fitted):
    model, train, test = fitted
    ev = lifestage.evaluate_model(model, lifestage.fit_baselines(train), test)
    c = ev.comparison
    assert c.loc["model", "macro_f1"] > c.loc["age_rule", "macro_f1"] >= c.loc["majority", "macro_f1"]
    assert ev.confusion.index.tolist()[0] in contract.LIFE_STAGE_CODES.values()
    assert "매크로 F1" in ev.describe()


# --- prediction ---------------------------------------------------------------------------------


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
    assert len(one) == 1 and one["reasons"].iloc[0].count("|") <= 1
    assert float(one.filter(like="proba_").sum(axis=1).iloc[0]) == pytest.approx(1.0)


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


# --- baselines ----------------------------------------------------------------------------------


def test_age_rule_picks_most_common_stage_per_age_band_and_sex():
    X = pd.DataFrame({"age_band": [20, 20, 20, 40, 40, np.nan], "sex_female": [1, 1, 1, 0, 0, 1]})
    rule = lifestage.GroupMajorityClassifier().fit(X, ["UNI", "UNI", "NEW_JOB", "CHILD_TEEN", "GOLLIFE", "RETIR"])
    new = pd.DataFrame({"age_band": [20, 40, np.nan, 85], "sex_female": [1, 0, 1, 1]})
    # ties break alphabetically; NaN is its own group; unseen groups get the overall majority
    assert rule.predict(new).tolist() == ["UNI", "CHILD_TEEN", "RETIR", "UNI"]


# --- feedback -----------------------------------------------------------------------------------


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


def test_correction_changes_the_training_set(data):
    train, _ = split.train_test_customers(data, test_size=0.25, seed=1)
    target = train.iloc[0]
    new_code = "RETIR" if target["LIFE_STAGE"] != "RETIR" else "UNI"
    fb = _feedback([[target["SEQ"], "2023q1", new_code, "2024-03-01T09:00:00", "고객 정정"]])
    corrected, _ = lifestage.apply_feedback(data, fb)
    train_fixed, _ = split.train_test_customers(corrected, test_size=0.25, seed=1)
    row = train_fixed[train_fixed["SEQ"] == target["SEQ"]]
    assert row["LIFE_STAGE"].item() == new_code and bool(row["label_corrected"].item())
    assert (train_fixed["LIFE_STAGE"].to_numpy() != train["LIFE_STAGE"].to_numpy()).sum() == 1
    # and the model trained on it sees the new label
    m0 = lifestage.fit_lifestage(train, {**SMALL, "max_iter": 5}, calibration=None)
    m1 = lifestage.fit_lifestage(train_fixed, {**SMALL, "max_iter": 5}, calibration=None)
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


# --- ceiling, temporal, artifacts -------------------------------------------------------------------


def test_bayes_ceiling_from_posterior(data):
    test = data.head(50)
    post = test[["BAS_YH", "SEQ"]].copy()
    for c in contract.LIFE_STAGE_ORDER:
        post[f"posterior_{c}"] = (test["LIFE_STAGE"] == c).astype(float).to_numpy()
    c = lifestage.bayes_ceiling(test, post)
    assert c["accuracy"] == 1.0 and c["macro_f1"] == 1.0
    assert lifestage.bayes_ceiling(test, None) is None
    assert "truth" in lifestage.describe_ceiling({"macro_f1": 0.5}, None, [])


def test_temporal_check_reuses_model_and_refits_for_last_quarter(fitted):
    model, _, _ = fitted
    frames = {"2023q1": toy_data(300, "2023q1", 1), "2023q2": toy_data(300, "2023q2", 2)}
    fwd = lifestage.temporal_check("2023q1", model, SMALL, quarters=list(frames), loader=frames.get)
    assert (fwd["fit_quarter"], fwd["test_quarter"]) == ("2023q1", "2023q2") and fwd["macro_f1"] > 0.5
    back = lifestage.temporal_check("2023q2", model, SMALL, quarters=list(frames), loader=frames.get)
    assert (back["fit_quarter"], back["test_quarter"]) == ("2023q1", "2023q2")
    assert "마지막 분기" in back["note"]


def test_artifacts_written_with_required_fields(fitted, data, tmp_path):
    model, train, test = fitted
    roles = np.where(data["SEQ"].isin(test["SEQ"]), "test", "train")
    ev = lifestage.evaluate_model(model, lifestage.fit_baselines(train), test)
    paths = lifestage.save_artifacts("2023q1", model, data, roles, {"model_macro_f1": 0.9}, evaluation=ev,
                                     directory=tmp_path / "lifestage")
    entry = registry.load_entry(paths["directory"])
    assert entry["name"] == "lifestage" and entry["data_range"]["n_test_rows"] == int((roles == "test").sum())
    assert cards.missing_sections(paths["card"].read_text(encoding="utf-8")) == []
    preds = pd.read_parquet(paths["predictions"])
    assert len(preds) == len(data) and {"SEQ", "predicted", "role"} <= set(preds.columns)
    np.testing.assert_allclose(preds.filter(like="proba_").sum(axis=1), 1.0)
    again = registry.load_model(paths["directory"])
    np.testing.assert_allclose(again.predict_proba(test[lifestage.feature_columns()]),
                               model.predict_proba(test[lifestage.feature_columns()]))


def test_feature_labels_are_korean():
    assert lifestage.feature_label_ko("share_ACDM_AM") == "학원 지출 비중"
    assert lifestage.feature_label_ko("region_seoul") == "서울 거주"
    names = lifestage.feature_columns()
    labels = lifestage.feature_labels_ko(names)
    assert all(labels[n] != n for n in names)


# --- notebook 03 on the sample ------------------------------------------------------------------


def test_notebook_03_on_the_sample_records_headline_numbers(sample_quarters, tmp_path):
    import papermill as pm

    from fipro import export

    quarter = "2023q1" if "2023q1" in sample_quarters else sample_quarters[-1]
    frame = lifestage.load_lifestage_data(quarter)
    train_seq = frame.loc[split.customer_roles(frame["SEQ"], test_size=0.2) != "test", "SEQ"].head(3).tolist()
    fb_path = lifestage.feedback_path()
    assert not fb_path.exists(), "a feedback file is left in the test home"
    fb_path.parent.mkdir(parents=True, exist_ok=True)
    _feedback([[train_seq[0], quarter, "RETIR", "2024-01-02T09:00:00", "고객 정정"],
               [train_seq[1], quarter, "GOLLIFE", "2024-01-02T09:00:00", ""],
               [train_seq[2], quarter, "NOT_A_CODE", "2024-01-02T09:00:00", "무효"]]).to_csv(fb_path, index=False)
    try:
        pm.execute_notebook(str(config.NOTEBOOKS_DIR / "03_lifestage.ipynb"), str(tmp_path / "03.ipynb"),
                            parameters={"quarter": quarter}, kernel_name=config.KERNEL_NAME,
                            cwd=str(config.NOTEBOOKS_DIR), progress_bar=False)
    finally:
        fb_path.unlink()
    m = export.load_metrics(quarter, "lifestage")
    assert m["feedback_applied"] == 2 and m["feedback_invalid"] == 1
    assert m["feedback_macro_f1_before"] is not None
    assert m["model_macro_f1"] > m["age_rule_macro_f1"] > m["majority_macro_f1"]
    assert m["model_accuracy"] > m["age_rule_accuracy"] > m["majority_accuracy"]
    assert 0.0 <= m["ece_after"] < 0.1 and 0.0 <= m["ece_before"] < 0.2
    assert m["temporal_macro_f1"] > m["age_rule_macro_f1"]
    # the sample is synthetic: the ceiling and the gap to it are reported
    assert m["ceiling_macro_f1"] is not None and m["ceiling_gap_macro_f1"] == pytest.approx(
        m["ceiling_macro_f1"] - m["model_macro_f1"])
    assert m["ceiling_gap_macro_f1"] < 0.08
    assert m["fit_seconds"] > 0
    folder = lifestage.model_dir(quarter)
    assert registry.load_entry(folder)["metrics"]["model_macro_f1"] == pytest.approx(m["model_macro_f1"])
    assert cards.missing_sections((folder / cards.CARD_FILE).read_text(encoding="utf-8")) == []
    preds = pd.read_parquet(folder / "predictions.parquet")
    assert len(preds) == len(frame) and preds["SEQ"].is_unique


def test_pooled_history_trains_on_earlier_quarters_and_tests_on_this_one_only():
    from fipro import lifestage, split

    frame = pd.DataFrame({
        "BAS_YH": ["2023q1"] * 4 + ["2023q2"] * 4,
        "SEQ": ["a", "b", "c", "d"] * 2,
        "LIFE_STAGE": ["UNI"] * 8,
    })
    roles = np.where(frame["SEQ"].isin(["b", "d"]), "test", "train")
    train, test = lifestage.train_test_rows(frame, roles, "2023q2")
    assert set(train["BAS_YH"]) == {"2023q1", "2023q2"} and set(train["SEQ"]) == {"a", "c"}
    assert set(test["BAS_YH"]) == {"2023q2"} and sorted(test["SEQ"]) == ["b", "d"]
    split.assert_no_customer_leakage(train, test)
    assert list(lifestage.current_rows(frame, "2023q1")["SEQ"]) == ["a", "b", "c", "d"]


def test_history_pools_only_preceding_quarters(sample_quarters):
    from fipro import lifestage

    quarter = sample_quarters[2]
    pooled = lifestage.load_lifestage_data(quarter, history=2)
    assert pooled.attrs["quarters"] == sample_quarters[:3]
    assert set(pooled["BAS_YH"]) == set(sample_quarters[:3])
    first = lifestage.load_lifestage_data(sample_quarters[0], history=2)
    assert set(first["BAS_YH"]) == {sample_quarters[0]}
