"""Metrics JSON and atomic writes; pseudonyms."""

from __future__ import annotations

import json
import math

import numpy as np

from fipro import export
from fipro.privacy import pseudonym


def test_save_metrics_roundtrips_and_nulls_non_finite_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(export.config, "OUTPUTS_DIR", tmp_path)
    path = export.save_metrics("2023q1", "demo", {"acc": np.float64(0.5), "n": np.int64(3), "gap": math.nan, "라벨": "한국어"})
    assert path == tmp_path / "2023q1" / "demo.json"
    assert json.loads(path.read_text(encoding="utf-8")) == {"acc": 0.5, "n": 3, "gap": None, "라벨": "한국어"}
    assert export.load_metrics("2023q1", "demo")["n"] == 3


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    export.write_json_atomic(tmp_path / "a.json", {"x": [1, 2]})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_pseudonym_is_stable_and_hides_the_id():
    label = pseudonym("100023")
    assert label == pseudonym("100023") != pseudonym("100024")
    assert "100023" not in label and label.startswith("고객-")
