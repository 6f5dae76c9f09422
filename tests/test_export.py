"""Metrics JSON and atomic writes."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest

from fipro import export


def test_save_metrics_roundtrips_and_nulls_non_finite_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(export.config, "OUTPUTS_DIR", tmp_path)
    path = export.save_metrics("2023q1", "demo", {"acc": np.float64(0.5), "n": np.int64(3), "gap": math.nan, "라벨": "한국어"})
    assert path == tmp_path / "2023q1" / "demo.json"
    assert json.loads(path.read_text(encoding="utf-8")) == {"acc": 0.5, "n": 3, "gap": None, "라벨": "한국어"}
    assert export.load_metrics("2023q1", "demo")["n"] == 3


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    export.write_json_atomic(tmp_path / "a.json", {"x": [1, 2]})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_parquet_write_roundtrips_without_the_index_and_leaves_no_temporary_files(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"SEQ": ["b", "a"], "x": [1.5, 2.5]}, index=[7, 3])
    path = export.write_parquet_atomic(frame, tmp_path / "t.parquet")
    assert path == tmp_path / "t.parquet" and [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame.reset_index(drop=True))


def test_overlapping_writers_get_their_own_temporary_names(tmp_path):
    target = tmp_path / "shared.json"
    with export.atomic_path(target) as first, export.atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        for tmp in (first, second):
            assert tmp.name.startswith(f".shared.json.{os.getpid()}.") and tmp.name.endswith(".tmp")
        first.write_text("first")
        second.write_text("second")
        assert not target.exists()  # nothing is visible before the block ends
    assert target.read_text() == "first"  # the outer block ended last
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.json"
    export.write_json_atomic(target, {"version": 1})
    with pytest.raises(RuntimeError, match="half way"):
        with export.atomic_path(target) as tmp:
            tmp.write_text('{"version": ')
            raise RuntimeError("half way")
    assert json.loads(target.read_text(encoding="utf-8")) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_payload_that_is_not_json_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    export.write_json_atomic(target, {"version": 1})
    with pytest.raises(TypeError):
        export.write_json_atomic(target, {"version": object()})
    assert json.loads(target.read_text(encoding="utf-8")) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_files_get_the_mode_a_plain_open_would_give(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    with export.atomic_path(tmp_path / "sub" / "x.txt") as tmp:
        tmp.write_text("x")
    (tmp_path / "plain.txt").write_text("x")
    assert stat.S_IMODE((tmp_path / "sub" / "x.txt").stat().st_mode) == \
        stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask


def _try_lock(lock_path) -> bool:
    """Whether another open file could take the lock now (flock locks per open file)."""
    import fcntl

    with open(lock_path, "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


def test_file_lock_excludes_others_while_held_and_releases_after(tmp_path):
    target = tmp_path / "new" / "state.json"
    with export.file_lock(target) as lock_path:
        assert lock_path == tmp_path / "new" / "state.json.lock" and lock_path.exists()
        assert not _try_lock(lock_path)
        target.write_text("{}", encoding="utf-8")  # the locked file itself stays free to replace
    assert _try_lock(lock_path)
    assert target.read_text(encoding="utf-8") == "{}"


def test_file_lock_is_released_when_the_block_raises(tmp_path):
    target = tmp_path / "state.json"
    with pytest.raises(RuntimeError):
        with export.file_lock(target) as lock_path:
            raise RuntimeError("boom")
    assert _try_lock(lock_path)
