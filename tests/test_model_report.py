"""Tests for fipro.model_report: read what models saved, one figure per headline metric."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from fipro import config, datasets, model_report
from fipro.evaluation import cards, registry

REPORT = model_report.ModelReport("toy", "장난감 모델", (
    model_report.Metric("model_macro_f1", "매크로 F1", ceiling="ceiling_macro_f1"),
    model_report.Metric("ece_after", "ECE", higher_is_better=False)))


def _register(quarter: str, f1: float, ceiling: float) -> None:
    model = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), [0, 1, 1, 1])
    directory = datasets.model_dir(quarter, "toy")
    registry.register_model(model, directory, name="toy", data_hash=f"h-{quarter}",
                            metrics={"model_macro_f1": f1, "ceiling_macro_f1": ceiling, "ece_after": 0.01})
    cards.write_model_card(directory, f"# 모델 카드: toy {quarter}\n\n내용")


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    return tmp_path


def test_metric_table_reads_every_quarter_with_an_entry(outputs):
    _register("2022q1", 0.70, 0.72)
    _register("2022q3", 0.71, 0.73)
    table = model_report.metric_table(REPORT)
    assert list(table["quarter"]) == ["2022q1", "2022q3"]  # quarters without a model are skipped
    assert table["model_macro_f1"].tolist() == [0.70, 0.71] and table["ceiling_macro_f1"].tolist() == [0.72, 0.73]
    assert table["version"].nunique() == 2  # one registry entry per quarter, each its own version


def test_report_has_a_figure_per_metric_the_table_and_the_latest_card(outputs):
    _register("2022q1", 0.70, 0.72)
    _register("2022q2", 0.71, 0.73)
    missing = model_report.ModelReport("later", "나중 모델", (model_report.Metric("x", "X"),))
    path = model_report.write_model_report(reports=[REPORT, missing])
    text = path.read_text(encoding="utf-8")
    assert path == outputs / "reports" / "model_report.md"
    for metric in REPORT.metrics:
        figure = path.parent / f"toy_{metric.key}.png"
        assert figure.stat().st_size > 1000 and f"]({figure.name})" in text
    assert "| 2022q2 |" in text and "0.7100" in text
    assert "최근 분기(2022q2) 모델 카드" in text and "toy 2022q2" in text
    assert "## 나중 모델 (`later`)\n\n등록된 모델이 아직 없습니다" in text


def test_life_stage_declares_its_headline_metrics():
    declared = {r.name: r for r in model_report.declared_reports()}
    keys = [m.key for m in declared["lifestage"].metrics]
    assert "model_macro_f1" in keys and declared["lifestage"].metrics[0].ceiling == "ceiling_macro_f1"


def test_an_observable_ceiling_is_read_named_and_drawn_beside_the_latent_one(outputs):
    report = model_report.ModelReport("toy", "장난감 모델", (
        model_report.Metric("model_macro_f1", "매크로 F1", ceiling="ceiling_macro_f1", observable="ece_after"),))
    _register("2022q1", 0.70, 0.72)
    table = model_report.metric_table(report)
    assert table["ece_after"].tolist() == [0.01] and table["ceiling_macro_f1"].tolist() == [0.72]
    shown = model_report.display_table(report, table)
    assert {"매크로 F1 상한", "매크로 F1 관측 상한"} <= set(shown.columns)
    fig = model_report.plot_metric(table, report.metrics[0], report.title_ko)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("관측 상한") for label in labels) and any(label.startswith("이론적 상한") for label in labels)


def test_health_declares_both_ceilings():
    declared = {r.name: r for r in model_report.declared_reports()}
    risk = {m.key: m for m in declared["health"].metrics}["risk_auc"]
    assert (risk.ceiling, risk.observable) == ("ceiling_auc", "observable_ceiling_auc")


def _register_with_interval(quarter: str, f1: float, low: float, high: float) -> None:
    model = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), [0, 1, 1, 1])
    registry.register_model(model, datasets.model_dir(quarter, "toy"), name="toy", data_hash=f"h-{quarter}",
                            metrics={"model_macro_f1": f1, "model_macro_f1_lo": low, "model_macro_f1_hi": high,
                                     "ceiling_macro_f1": 0.9, "ece_after": 0.01,
                                     "intervals": {"model_macro_f1": {"method": "bootstrap", "customers": 500}}})


def test_a_saved_interval_is_shown_banded_and_judges_the_change(outputs):
    _register_with_interval("2022q1", 0.700, 0.690, 0.710)
    _register_with_interval("2022q2", 0.705, 0.695, 0.715)   # overlaps 2022q1
    table = model_report.metric_table(REPORT)
    assert table["model_macro_f1_lo"].tolist() == [0.690, 0.695]
    shown = model_report.display_table(REPORT, table)
    assert shown.loc["2022q2", "매크로 F1"] == "0.705 (0.695–0.715)"
    assert not any(c.endswith(("_lo", "_hi")) for c in shown.columns)
    fig = model_report.plot_metric(table, REPORT.metrics[0], REPORT.title_ko)
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.690) and band.max() == pytest.approx(0.715)
    inside = model_report.change_lines(REPORT, table)
    assert any("매크로 F1" in line and "구간 안" in line for line in inside)
    _register_with_interval("2022q3", 0.760, 0.750, 0.770)   # apart from 2022q2
    apart = model_report.change_lines(REPORT, model_report.metric_table(REPORT))
    line = next(line for line in apart if "매크로 F1" in line)
    assert "+0.055 높아졌습니다" in line and "구간 안" not in line
    text = model_report.write_model_report(reports=[REPORT]).read_text(encoding="utf-8")
    assert "0.760 (0.750–0.770)" in text and "+0.055 높아졌습니다" in text


def from_elsewhere(quarter: str) -> dict:
    """A metric source (``Metric(source=...)``) as another step would give it."""
    return {"temporal_macro_f1": {"2022q1": 0.61, "2022q2": 0.62}[quarter], "temporal_macro_f1_lo": 0.5,
            "temporal_macro_f1_hi": 0.7}


def test_a_metric_from_another_step_joins_its_models_row(outputs):
    _register("2022q1", 0.70, 0.72)
    _register("2022q2", 0.71, 0.73)
    report = model_report.ModelReport("toy", "장난감 모델", (
        model_report.Metric("model_macro_f1", "매크로 F1"),
        model_report.Metric("temporal_macro_f1", "시간 검증", source="test_model_report:from_elsewhere")))
    table = model_report.metric_table(report)
    assert table["temporal_macro_f1"].tolist() == [0.61, 0.62] and table["model_macro_f1"].tolist() == [0.70, 0.71]
    assert model_report.interval_of(table, "temporal_macro_f1", 1).low == 0.5
    declared = {r.name: r for r in model_report.declared_reports()}
    assert {m.source for m in declared["lifestage"].metrics if m.key == "temporal_macro_f1"} == {
        "fipro.drift:decay_metrics_of"}
