"""fipro.evaluation.explainability: SHAP values, importance and Korean reason sentences."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from fipro.evaluation import explainability as ex


@pytest.fixture(scope="module")
def toy():
    X, y = make_classification(600, 5, n_informative=3, n_redundant=0, n_classes=3, n_clusters_per_class=1,
                               random_state=0)
    X = pd.DataFrame(X, columns=["f0", "f1", "f2", "f3", "f4"])
    return X, np.array(["a", "b", "c"])[y]


def test_tree_shap_values_add_up_to_raw_scores(toy):
    X, y = toy
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    e = ex.shap_values(model, X.head(20))
    assert e.method == "tree" and e.values.shape == (20, 5, 3) and e.classes == ["a", "b", "c"]
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_values, model.decision_function(X.head(20)), atol=1e-6)
    assert e.for_class("b").shape == (20, 5)


def test_binary_tree_model_gets_two_class_axis(toy):
    X, y = toy
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y == "a")
    e = ex.shap_values(model, X.head(5))
    assert e.values.shape == (5, 5, 2)
    np.testing.assert_allclose(e.values[:, :, 0], -e.values[:, :, 1])


def test_permutation_path_for_non_tree_models(toy):
    X, y = toy
    model = LogisticRegression(max_iter=300).fit(X, y)
    e = ex.shap_values(model, X.head(8), max_background=30)
    assert e.method == "permutation" and e.values.shape == (8, 5, 3)


def test_global_importance_ranks_informative_features(toy):
    X, y = toy
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    imp = ex.global_importance(ex.shap_values(model, X.head(100)), {"f0": "특성0"}, {"a": "가"})
    assert imp["share"].sum() == pytest.approx(1.0)
    assert imp["importance"].is_monotonic_decreasing
    assert "가" in imp.columns and imp.loc["f0", "label"] == "특성0"


def test_josa_picks_the_right_particle():
    assert ex.josa("학원 지출 비중", "이/가") == "학원 지출 비중이"
    assert ex.josa("연령대", "이/가") == "연령대가"
    assert ex.josa("서울", "으로/로") == "서울로"
    assert ex.josa("부산", "으로/로") == "부산으로"
    assert ex.josa("여성", "이어서/여서") == "여성이어서"
    assert ex.josa("20~24세", "이고/고") == "20~24세고"
    assert ex.josa("비중(%)", "은/는") == "비중(%)은"


def test_top_reasons_and_sentence():
    contrib = pd.Series({"acdm": 1.2, "age": 0.4, "travel": -0.8, "book": 0.1})
    values = pd.Series({"acdm": 0.3, "age": 45.0, "travel": 0.0, "book": 0.0})
    ref = pd.Series({"acdm": 0.0, "age": 40.0, "travel": 0.1, "book": 0.02})
    r = ex.top_reasons(contrib, values, ref, k=3, feature_labels={"acdm": "학원 지출 비중", "book": "서적 지출 비중"})
    assert r["feature"].tolist() == ["acdm", "age", "book"]  # positive contributions only, strongest first
    assert r["direction"].tolist() == ["high", "high", "zero"]
    text = ex.reason_sentence(r.head(1), "자녀 의무교육")
    assert text == "학원 지출 비중이 높아 '자녀 의무교육'일 가능성이 높습니다."
    text3 = ex.reason_sentence(r, "자녀 의무교육", probability=0.87, phrases={"age": lambda v: "45~49세"})
    assert text3 == ("학원 지출 비중이 높고 45~49세이고 서적 지출 비중이 없어 "
                     "'자녀 의무교육'일 가능성이 높습니다 (확률 87%).")
    assert "뚜렷한 단서" in ex.reason_sentence(r.iloc[0:0], "신혼")


def test_explain_rows_one_sentence_per_row(toy):
    X, y = toy
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    e = ex.shap_values(model, X.head(4))
    out = ex.explain_rows(e, model.predict(X.head(4)), X.median(), k=2, class_names={"a": "가"})
    assert len(out) == 4 and out["sentence"].str.endswith("가능성이 높습니다.").all()
    with pytest.raises(ValueError):
        ex.explain_rows(e, ["a"], X.median())


def test_errors(toy):
    X, y = toy
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    with pytest.raises(TypeError):
        ex.shap_values(model, X.to_numpy())
    with pytest.raises(ValueError):
        ex.shap_values(HistGradientBoostingClassifier(), X)
