"""fipro.evaluation.metrics on tiny cases with exact expected values."""

import numpy as np
import pandas as pd
import pytest

from fipro.evaluation import metrics

Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]
# a: P=1, R=2/3, F1=0.8 · b: P=1/2, R=1/2, F1=1/2 · c: P=1/2, R=1, F1=2/3


def test_summary_exact_values():
    s = metrics.classification_summary(Y_TRUE, Y_PRED)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert s["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert s["n"] == 6


def test_macro_f1_ignores_classes_absent_from_truth():
    # "z" is predicted but never true: it does not enter the macro average by default
    s = metrics.classification_summary(["a", "b"], ["a", "z"])
    assert s["macro_f1"] == pytest.approx(0.5)
    s_all = metrics.classification_summary(["a", "b"], ["a", "z"], labels=["a", "b", "z"])
    assert s_all["macro_f1"] == pytest.approx(1 / 3)


def test_per_class_table_exact_values_and_names():
    t = metrics.per_class_table(Y_TRUE, Y_PRED, labels=["a", "b", "c"], label_names={"a": "가"})
    assert t.loc["a", "precision"] == pytest.approx(1.0)
    assert t.loc["a", "recall"] == pytest.approx(2 / 3)
    assert t.loc["c", "f1"] == pytest.approx(2 / 3)
    assert t["support"].tolist() == [3, 2, 1]
    assert t["name"].tolist() == ["가", "b", "c"]


def test_confusion_counts_and_normalised_rows():
    cm = metrics.confusion_frame(Y_TRUE, Y_PRED, labels=["a", "b", "c"], label_names={"a": "가", "b": "나", "c": "다"})
    assert cm.to_numpy().tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert list(cm.index) == ["가", "나", "다"] and cm.index.name == "실제"
    norm = metrics.confusion_frame(Y_TRUE, Y_PRED, labels=["a", "b", "c"], normalize="true")
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)


def test_compare_models_sorted_by_macro_f1():
    table = metrics.compare_models({"weak": (Y_TRUE, ["a"] * 6), "good": (Y_TRUE, Y_PRED)})
    assert list(table.index) == ["good", "weak"]
    assert table.loc["weak", "accuracy"] == pytest.approx(0.5)


def test_most_confused_pairs_and_sentences():
    cm = metrics.confusion_frame(Y_TRUE, Y_PRED, labels=["a", "b", "c"])
    pairs = metrics.most_confused_pairs(cm, top=5)
    assert len(pairs) == 2 and set(pairs["true"]) == {"a", "b"}
    assert "혼동" in metrics.describe_confusion(cm)
    table = metrics.compare_models({"model": (Y_TRUE, Y_PRED), "base": (Y_TRUE, ["a"] * 6)})
    text = metrics.describe_comparison(table, "model", ["base"], {"model": "모델"})
    assert text.startswith("모델의 매크로 F1은")
    assert "'b'" in metrics.describe_per_class(metrics.per_class_table(Y_TRUE, Y_PRED))


def test_errors():
    with pytest.raises(ValueError):
        metrics.classification_summary(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        metrics.classification_summary([], [])
    with pytest.raises(ValueError):
        metrics.compare_models({})


def test_inputs_not_modified():
    y = pd.Series(Y_TRUE)
    before = y.copy()
    metrics.per_class_table(y, Y_PRED)
    pd.testing.assert_series_equal(y, before)
