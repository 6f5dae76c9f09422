"""The customer history: state(q) = advance(state(q-1), table(q)), built once per quarter."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from conftest import raw_frame, raw_row
from fipro import config, datasets, history


def _tables(spec):
    """{quarter: table} from {quarter: [(seq, TOT, GROCERY, CRDSL)]}; the rest of the total is unclassified."""
    return {q: raw_frame([raw_row(s, q, TOT_USE_AM=tot, GROCERY_AM=g, CRDSL_USE_AM=c) for s, tot, g, c in rows])
            for q, rows in spec.items()}


SPEC = {
    "2023q1": [("a", 100, 60, 80), ("b", 0, 0, 0), ("c", 50, 50, 0)],
    "2023q2": [("a", 300, 100, 200), ("b", 0, 0, 0)],
    "2023q3": [("b", 0, 0, 0), ("c", 20, 0, 20), ("d", 10, 10, 10)],
}


def test_core_state_counts_presence_activity_and_quiet_runs():
    state = history.MemoryHistory(_tables(SPEC)).state("2023q3", "core").set_index("SEQ")
    assert list(state.index) == ["a", "b", "c", "d"]
    assert state.loc["a", ["n_present", "n_active", "quiet_run"]].tolist() == [2, 2, 0]
    assert state.loc["b", ["n_present", "n_active", "quiet_run"]].tolist() == [3, 0, 3]  # present, never spending
    assert state.loc["c", ["first_quarter", "last_quarter", "last_active_quarter"]].tolist() == ["2023q1", "2023q3",
                                                                                              "2023q3"]
    assert state.loc["a", "last_quarter"] == "2023q2" and state.loc["a", "last_TOT_USE_AM"] == 300
    assert state.loc["a", "total_sum"] == 400
    assert state.loc["a", "log1p_sum"] == pytest.approx(np.log1p(100) + np.log1p(300))
    assert state.loc["a", "log1p_sq"] == pytest.approx(np.log1p(100) ** 2 + np.log1p(300) ** 2)
    assert state.loc["a", "stable_log_sum"] == pytest.approx(np.log(120) + np.log(320))
    assert state.loc["a", "category_sum_GROCERY_AM"] == 160
    assert state.loc["a", "category_sum_REST"] == 240  # the total the details do not cover
    assert state.loc["a", "share_sum_credit_share"] == pytest.approx(2.0)  # no check-card use: 1 + 1
    assert state.loc["c", "n_detail_active"] == 1  # 2023q3: a total with no detail category
    # the habit: in how many active quarters each category was used
    assert state.loc["a", ["category_n_GROCERY_AM", "category_n_REST", "category_n_HOTEL_AM"]].tolist() == [2, 2, 0]
    assert state.loc["c", ["category_n_GROCERY_AM", "category_n_REST"]].tolist() == [1, 1]
    assert state.loc["b", "category_n_REST"] == 0  # present, never spending


def test_quiet_run_ends_when_the_customer_is_absent_or_spends():
    spec = {"2023q1": [("a", 0, 0, 0)], "2023q2": [("b", 5, 5, 0)], "2023q3": [("a", 0, 0, 0)]}
    src = history.MemoryHistory(_tables(spec))
    assert src.state("2023q2", "core").set_index("SEQ").loc["a", "quiet_run"] == 0  # absent in 2023q2
    assert src.state("2023q3", "core").set_index("SEQ").loc["a", "quiet_run"] == 1


def test_aligned_gives_starting_values_to_unseen_customers_in_the_given_order():
    src = history.MemoryHistory(_tables(SPEC))
    out = history.aligned(src, "2023q1", ["z", "c", "a"], "core", ["n_active", "total_sum", "last_quarter"])
    assert out["n_active"].tolist() == [0, 1, 1]
    assert out["total_sum"].tolist() == [0.0, 50.0, 100.0]
    assert out["last_quarter"].tolist() == [history.NO_QUARTER, "2023q1", "2023q1"]
    nothing = history.aligned(src, None, ["a"], "core", ["n_present"])
    assert nothing["n_present"].tolist() == [0]


def test_running_sum_part_counts_only_active_quarters():
    part = history.running_sum("toy", ["GROCERY_AM"], ["grocery"],
                               lambda t: t[["GROCERY_AM"]].to_numpy(dtype=float))
    tables = _tables(SPEC)
    state = history.fold(part, history.MemoryHistory(tables), "2023q3").set_index("SEQ")
    assert state.loc["a", ["n", "sum_grocery"]].tolist() == [2, 160.0]
    assert state.loc["b", ["n", "sum_grocery"]].tolist() == [0, 0.0]
    assert state.loc["d", ["n", "sum_grocery"]].tolist() == [1, 10.0]


def test_advance_rejects_a_quarter_with_a_repeated_customer():
    table = raw_frame([raw_row("a", "2023q1", TOT_USE_AM=1), raw_row("a", "2023q1", TOT_USE_AM=2)])
    with pytest.raises(ValueError, match="SEQ is not unique"):
        history.advance(history.CORE, None, table, "2023q1")


def test_advance_does_not_modify_its_inputs():
    tables = _tables(SPEC)
    previous = history.advance(history.CORE, None, tables["2023q1"], "2023q1")
    before_prev, before_table = previous.copy(), tables["2023q2"].copy()
    history.advance(history.CORE, previous, tables["2023q2"], "2023q2")
    pd.testing.assert_frame_equal(previous, before_prev)
    pd.testing.assert_frame_equal(tables["2023q2"], before_table)


# --- on disk ------------------------------------------------------------------------------------

@pytest.fixture
def disk(tmp_path, monkeypatch):
    """A processed tree holding the hand-made tables of SPEC (only the core part is built)."""
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(history, "HISTORY_PARTS", ("fipro.history:CORE",))

    def write(quarter, table):
        path = datasets.quarter_table_path(quarter)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)

    for q, t in _tables(SPEC).items():
        write(q, t)
    return write


def _mtimes(quarters):
    return {q: os.stat(history.state_path(q, "core")).st_mtime_ns for q in quarters}


def test_saved_states_equal_the_states_folded_from_scratch(disk):
    built = history.ensure()
    assert built == [(q, "core") for q in sorted(SPEC)]
    memory = history.MemoryHistory({q: datasets.load_quarter(q) for q in sorted(SPEC)})
    for q in sorted(SPEC):
        pd.testing.assert_frame_equal(history.load_state(q), memory.state(q, "core"), check_dtype=False)
    assert history.ensure() == []  # nothing stale


def test_an_appended_quarter_costs_one_step(disk):
    history.ensure()
    before = _mtimes(sorted(SPEC))
    disk("2023q4", raw_frame([raw_row("a", "2023q4", TOT_USE_AM=7)]))
    assert history.ensure() == [("2023q4", "core")]
    assert _mtimes(sorted(SPEC)) == before
    assert history.load_state("2023q4").set_index("SEQ").loc["a", "n_active"] == 3


def test_a_changed_quarter_rebuilds_it_and_what_follows_only(disk):
    history.ensure()
    disk("2023q2", raw_frame([raw_row("a", "2023q2", TOT_USE_AM=1)]))
    assert history.ensure() == [("2023q2", "core"), ("2023q3", "core")]
    assert history.load_state("2023q3").set_index("SEQ").loc["a", "total_sum"] == 101


def test_changed_part_code_rebuilds_its_states(disk, monkeypatch):
    history.ensure()
    monkeypatch.setattr(history.Part, "version", lambda self: "changed")
    assert history.stale_quarters("core") == sorted(SPEC)
    assert len(history.ensure()) == len(SPEC)


def test_sample_states_equal_the_states_folded_from_scratch(sample_quarters):
    """Every declared part, on the sample: the saved states (built quarter by quarter) equal a
    fold from nothing over the tables."""
    history.ensure()
    last = sample_quarters[-1]
    memory = history.MemoryHistory({q: datasets.load_quarter(q) for q in sample_quarters})
    for p in history.parts():
        pd.testing.assert_frame_equal(history.load_state(last, p.name), memory.state(last, p.name),
                                      check_dtype=False)


def test_quarter_means_kept_with_the_states_equal_the_means_of_the_tables(disk):
    from fipro import contract, eda

    quarters = sorted(SPEC)
    kept = history.quarter_means(quarters)  # builds the states it needs
    direct = eda.quarter_means((q, datasets.load_quarter(q)) for q in quarters)
    pd.testing.assert_frame_equal(kept, direct)
    assert list(kept.columns) == list(contract.DETAIL_COLUMNS) and kept.notna().all().all()
    # a changed quarter changes its means, which are read again without loading any table
    disk("2023q2", raw_frame([raw_row("a", "2023q2", TOT_USE_AM=1, **{contract.DETAIL_COLUMNS[0]: 40})]))
    assert history.quarter_means(["2023q2"]).iloc[0, 0] == 40


def test_parts_built_side_by_side_equal_the_parts_built_in_one_process(sample_quarters, tmp_path):
    """``fipro history --jobs 2`` (each part in its own spawned process) writes the same states
    as the in-process build, for every declared part."""
    import shutil
    import subprocess
    import sys

    history.ensure()
    processed = tmp_path / "processed"
    shutil.copytree(datasets.quarter_table_path(sample_quarters[0]).parent, processed / "customer_quarter")
    shutil.copyfile(datasets.manifest_path(), processed / "manifest.json")
    env = {**os.environ, "FIPRO_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "fipro", "history", "--jobs", "2"], env=env,
                          capture_output=True, text=True, check=True)
    assert f"이력 상태 {len(sample_quarters) * len(history.parts())}개를 만들었습니다" in done.stdout
    last = sample_quarters[-1]
    for p in history.parts():
        pd.testing.assert_frame_equal(pd.read_parquet(processed / "history" / last / f"{p.name}.parquet"),
                                      history.load_state(last, p.name))
