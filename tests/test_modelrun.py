"""Tests for fipro.modelrun: the run base's save-and-time tail, the measurement targets, the model folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from fipro import config, modelrun
from fipro.modelrun import ModelRun, Target, targets_frame
from fipro.timing import Laps


@dataclass(kw_only=True)
class ToyRun(ModelRun):
    model_name: ClassVar[str] = "toy"

    value: int


def test_finish_saves_then_records_the_seconds():
    saved = []

    def save(quarter, run):
        saved.append((quarter, run.value, "seconds" in run.headline))
        return {"directory": "somewhere"}

    laps = Laps()
    laps.lap("fit")
    run = ToyRun(quarter="2023q1", value=3, headline={"n": 1}).finish(laps, save)
    assert saved == [("2023q1", 3, False)]  # saved before the seconds go into the headline
    assert run.artifacts == {"directory": "somewhere"}
    assert list(run.seconds) == ["fit", "save", "total"] and run.headline["seconds"] == run.seconds
    unsaved = ToyRun(quarter="2023q1", value=3, headline={}).finish(Laps())
    assert unsaved.artifacts == {} and list(unsaved.seconds) == ["total"]
    assert ToyRun.model_name == "toy"


def test_targets_state_their_goal_and_whether_it_is_met():
    h = {"has_truth": True, "auc": 0.8, "ece": 0.03, "ceiling": 0.85, "mono": False, "missing": None,
         "by_type": {"a": 0.9}}
    table = targets_frame(h, [
        Target("auc", "AUC", at_least=0.75, ceiling="ceiling"),
        Target("auc", "AUC near the ceiling", below_ceiling=0.03, ceiling="ceiling"),
        Target("ece", "ECE", at_most=0.02),
        Target("mono", "monotone", holds="단조", needs="has_truth"),
        Target("by_type.a", "type a"),
        Target("missing", "left out without a value"),
        Target("missing", "shown because the truth is there", needs="has_truth"),
    ])
    assert list(table.columns) == ["값", "상한", "목표", "충족"]
    assert table.loc["AUC", "목표"] == "≥ 0.75" and table.loc["AUC", "충족"]
    assert table.loc["AUC near the ceiling", "목표"] == "≥ 상한 − 0.03 = 0.820"
    assert not table.loc["AUC near the ceiling", "충족"]
    assert table.loc["ECE", "목표"] == "≤ 0.02" and not table.loc["ECE", "충족"]
    assert table.loc["monotone", "목표"] == "단조" and not table.loc["monotone", "충족"]
    assert table.loc["type a", "값"] == pytest.approx(0.9) and table.loc["type a", "충족"] is None
    assert "left out without a value" not in table.index
    assert table.loc["shown because the truth is there", "충족"] is None


def test_a_value_saved_with_its_interval_is_shown_beside_it():
    h = {"auc": 0.8, "auc_lo": 0.78, "auc_hi": 0.82, "ece": 0.03}
    table = targets_frame(h, [Target("auc", "AUC", at_least=0.75), Target("ece", "ECE", at_most=0.02)])
    assert list(table.columns) == ["값", "값 (95% 구간)", "목표", "충족"]
    assert table.loc["AUC", "값 (95% 구간)"] == "0.800 (0.780–0.820)" and table.loc["ECE", "값 (95% 구간)"] == ""
    assert table.loc["AUC", "값"] == 0.8 and table.loc["AUC", "충족"]


def test_truth_rows_are_left_out_on_real_data():
    targets = [Target("auc", "AUC", at_least=0.75, ceiling="ceiling", needs="has_truth")]
    empty = targets_frame({"has_truth": False}, targets)
    assert empty.empty and list(empty.columns) == ["값", "상한", "목표", "충족"]


def test_model_dir_follows_the_outputs_folder_when_called(tmp_path, monkeypatch):
    model_dir = modelrun.model_dir_of("toy")
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    assert model_dir("2023q1") == tmp_path / "2023q1" / "models" / "toy"
    assert model_dir.__name__ == "model_dir" and "toy" in model_dir.__doc__
