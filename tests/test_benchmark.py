"""The benchmark's result shape and its issue-23 checks (the timings themselves are the benchmark's job)."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fipro import benchmark, config


def _row(quarter, notebook, seconds):
    return {"quarter": quarter, "notebook": notebook, "seconds": seconds}


def test_notebook_budgets_flag_slow_model_notebooks_and_growth_with_earlier_quarters():
    rows = [_row("2022q2", "04_anomaly", 50.0), _row("2023q4", "04_anomaly", 61.0),   # 1.22x: not flat
            _row("2022q2", "06_health_score", 80.0), _row("2023q4", "06_health_score", 91.0),  # over 90 s
            _row("2022q2", "01_eda", 10.0), _row("2023q4", "01_eda", 12.0),            # 1.2x exactly: flat
            _row("2022q1", "05_clustering", 100.0)]                                    # before the reference
    checks = benchmark.notebook_budgets(rows)
    assert [r["notebook"] for r in checks["model_notebooks_over_budget"]] == ["06_health_score", "05_clustering"]
    assert [(r["quarter"], r["notebook"], r["reference_seconds"]) for r in checks["not_flat"]] == [
        ("2023q4", "04_anomaly", 50.0)]
    assert checks["meets_notebook_targets"] is False
    ok = benchmark.notebook_budgets([_row("2022q2", "04_anomaly", 50.0), _row("2023q1", "04_anomaly", 60.0)])
    assert ok["meets_notebook_targets"] is True and ok["not_flat"] == []
    # the quarter that runs the comparison extras is left out of the flatness check, and named
    extras = benchmark.notebook_budgets(rows, extras_quarter="2023q4")
    assert extras["not_flat"] == [] and extras["flat_check_skips_extras_quarter"] == "2023q4"
    assert [r["notebook"] for r in extras["model_notebooks_over_budget"]] == ["06_health_score", "05_clustering"]


def test_write_quarters_gives_a_synthetic_files_sidecar_its_new_size_and_rows(tmp_path):
    from fipro import datasets

    source = tmp_path / "in" / "edu_data_F.csv"
    source.parent.mkdir()
    source.write_bytes(b"BAS_YH,SEQ\r\n2023q3,a\r\n2023Q4,b\r\n2023q3,c\r\n")
    benchmark.write_json_atomic(datasets.sidecar_path(source), {"rows": 3, "file_size": source.stat().st_size, "seed": 1})
    datasets.truth_path(source).write_bytes(b"truth")
    target = tmp_path / "out" / "edu_data_F.csv"
    benchmark._write_quarters(source, target, lambda q: q < "2023q4")
    assert datasets.read_sidecar(target) == {"rows": 2, "file_size": target.stat().st_size, "seed": 1}
    assert datasets.truth_path(target).read_bytes() == b"truth"


def test_write_quarters_keeps_the_header_and_the_chosen_quarters(tmp_path):
    source = tmp_path / "in" / "edu_data_F.csv"
    source.parent.mkdir()
    source.write_bytes(b"BAS_YH,SEQ\r\n2023q3,a\r\n2023Q4,b\r\n2023q3,c\r\n")
    target = tmp_path / "out" / "edu_data_F.csv"
    benchmark._write_quarters(source, target, lambda q: q < "2023q4")
    assert target.read_bytes() == b"BAS_YH,SEQ\r\n2023q3,a\r\n2023q3,c\r\n"
    benchmark._write_quarters(source, target, lambda q: True)
    assert target.read_bytes() == source.read_bytes()


# --- the result shape: measured child processes and the recorded JSON ---------------------------------

def test_run_measured_reports_the_wall_time_and_peak_memory_of_the_child():
    # the child holds 80 MiB of written bytes for half a second
    child = "import time; block = b'x' * (80 * 2**20); time.sleep(0.5)"
    m = benchmark.run_measured([sys.executable, "-c", child])
    assert set(m) == {"wall_seconds", "peak_rss_mb", "peak_pss_mb", "peak_processes"}
    assert m["wall_seconds"] >= 0.5 and m["wall_seconds"] == round(m["wall_seconds"], 2)
    assert 80 <= m["peak_rss_mb"] < 1024 and m["peak_rss_mb"] == round(m["peak_rss_mb"], 1)
    assert 80 <= m["peak_pss_mb"] <= m["peak_rss_mb"]


def test_run_measured_splits_pages_a_fork_shares_and_names_what_held_the_peak():
    # 300 MiB written, then a fork that only reads them: RSS counts them twice, PSS once
    child = ("import os, sys, time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); "
             "pid = os.fork(); time.sleep(1.5); os._exit(0) if pid == 0 else os.waitpid(pid, 0)")
    m = benchmark.run_measured([sys.executable, "-c", child, "holder"])
    assert m["peak_rss_mb"] >= 600 and 300 <= m["peak_pss_mb"] < 450
    # parent and fork share one label (program and first arguments, each cut to 40 characters), PSS summed
    [(label, mb)] = m["peak_processes"].items()
    assert label.startswith("python") and label.endswith(" holder") and 300 <= mb <= m["peak_pss_mb"] + 1


def test_run_measured_gives_the_child_the_extra_environment(tmp_path):
    out = tmp_path / "seen.txt"
    child = "import os, sys; open(sys.argv[1], 'w').write(os.environ['FIPRO_BENCH_PROBE'])"
    benchmark.run_measured([sys.executable, "-c", child, str(out)], env={"FIPRO_BENCH_PROBE": "quarter 2023q1"})
    assert out.read_text() == "quarter 2023q1"


def test_run_measured_raises_when_the_child_fails():
    with pytest.raises(RuntimeError, match=r"benchmark step failed \(exit 3\)"):
        benchmark.run_measured([sys.executable, "-c", "raise SystemExit(3)"])


def test_record_writes_the_step_the_time_the_machine_and_the_payload(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "BENCHMARKS_DIR", tmp_path / "benchmarks")
    path = benchmark._record("features", {"wall_seconds": 12.5, "peak_rss_mb": 640.0, "meets_target": True})
    assert path == tmp_path / "benchmarks" / "features.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert list(saved) == ["step", "measured_at", "machine", "wall_seconds", "peak_rss_mb", "meets_target"]
    assert saved["step"] == "features" and saved["wall_seconds"] == 12.5 and saved["meets_target"] is True
    assert datetime.fromisoformat(saved["measured_at"]).utcoffset() == timedelta(0)
    machine = saved["machine"]
    assert {k: machine[k] for k in ("cpus", "python", "platform")} == {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    assert machine["memory_gb"] > 0
    load = machine["load_average_1_5_15"]
    assert len(load) == 3 and all(x >= 0 for x in load)
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    assert machine["sched_autogroup"] == ((autogroup.read_text().strip() == "1") if autogroup.exists() else None)
    assert json.loads(capsys.readouterr().out) == saved  # also printed for the make log


def test_main_records_each_chosen_step_and_refuses_unknown_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BENCHMARKS_DIR", tmp_path / "benchmarks")
    monkeypatch.setattr(config, "PROJ_ROOT", tmp_path)
    calls = []
    monkeypatch.setitem(benchmark.BENCHES, "features",
                        lambda home, scale, seed: calls.append((home, scale, seed)) or {"wall_seconds": 1.0})
    monkeypatch.setattr(benchmark, "bench_all",
                        lambda home, scale, seed, notebooks=None: {"notebook_subset": notebooks})
    assert benchmark.main(["--scale", "sample", "--seed", "7", "--steps", "features"]) == 0
    assert calls == [(tmp_path / ".cache" / "benchmark" / "sample", "sample", 7)]
    assert json.loads((tmp_path / "benchmarks" / "features.json").read_text())["wall_seconds"] == 1.0
    assert benchmark.main(["--steps", "all", "--notebooks", "03_lifestage 07_recommendation"]) == 0
    subset = json.loads((tmp_path / "benchmarks" / "all_03-07.json").read_text())
    assert subset["step"] == "all_03-07" and subset["notebook_subset"] == ["03_lifestage", "07_recommendation"]
    with pytest.raises(SystemExit) as exit_:
        benchmark.main(["--steps", "features,frobnicate"])
    assert exit_.value.code == 2


# --- the timing targets the tests left to the benchmark: recorded with a verdict on each side -----------

def _measured(result: dict):
    """A stand-in for run_measured: the child's result file (the command's last argument) gets ``result``."""
    def run(cmd, env=None):
        Path(cmd[-1]).write_text(json.dumps(result))
        return {"wall_seconds": 30.0, "peak_rss_mb": 500.0}
    return run


@pytest.mark.parametrize("render, click, meets", [(9.5, 0.9, True), (10.5, 0.9, False), (9.5, 1.2, False)])
def test_views_step_records_render_and_click_times_against_10_s_and_1_s(tmp_path, monkeypatch, render, click, meets):
    (tmp_path / "outputs-all" / "reports").mkdir(parents=True)  # the all step's outputs exist
    views = {"quarter": "2023q4", "customers": 5, "build_seconds": 2.0, "customer_render_seconds": 3.0,
             "segment_render_seconds": render, "customer_clicks": [0.2, click], "segment_clicks": [0.4]}
    monkeypatch.setattr(benchmark, "run_measured", _measured(views))
    r = benchmark.bench_views(tmp_path, "sample", 7, n_clicks=2)
    assert (r["max_render_seconds"], r["max_click_seconds"]) == (render, click)
    assert (r["target_render_seconds"], r["target_click_seconds"], r["meets_target"]) == (10, 1, meets)
    assert r["customer_clicks"] == [0.2, click] and r["wall_seconds"] == 30.0


@pytest.mark.parametrize("p95, seconds, meets", [(49.0, 250.0, True), (51.0, 250.0, False), (49.0, 301.0, False)])
def test_segments_step_records_the_query_p95_against_50_ms(tmp_path, monkeypatch, p95, seconds, meets):
    headline = {"seconds": {"segmenting": seconds, "evaluate": 12.0}, "query_ms_p95": p95}
    monkeypatch.setattr(benchmark, "_model_quarter",
                        lambda home, scale, seed, module, quarter: ({"wall_seconds": 40.0, "peak_rss_mb": 1.0}, headline))
    r = benchmark.bench_segments(tmp_path, "sample", 7)
    assert (r["query_ms_p95"], r["target_query_ms"], r["segmenting_seconds"], r["target_segmenting_seconds"]) == (
        p95, 50, seconds, 300)
    assert r["meets_target"] is meets and r["evaluation_seconds"] == 12.0


@pytest.mark.parametrize("wall, meets", [(59.0, True), (61.0, False)])
def test_features_step_records_one_quarters_build_against_60_s(tmp_path, monkeypatch, wall, meets):
    processed = tmp_path / "data" / "processed"
    (processed / "features").mkdir(parents=True)
    (processed / "manifest.json").write_text("{}")  # ingested already
    pd.DataFrame({"SEQ": ["a", "b", "c"]}).to_parquet(processed / "features" / f"{benchmark.BENCH_QUARTER}.parquet")
    runs = []
    monkeypatch.setattr(benchmark, "run_measured",
                        lambda cmd, env=None: runs.append((cmd, env)) or {"wall_seconds": wall, "peak_rss_mb": 300.0})
    r = benchmark.bench_features(tmp_path, "sample", 7)
    assert (r["quarter"], r["rows"], r["wall_seconds"], r["target_seconds"], r["meets_target"]) == (
        benchmark.BENCH_QUARTER, 3, wall, 60, meets)
    (cmd, env), = runs
    assert cmd[1:] == ["-m", "fipro.features", "--quarter", benchmark.BENCH_QUARTER, "--processed-dir", str(processed)]
    assert env == {"FIPRO_DATA_DIR": str(tmp_path / "data")}


def test_synth_step_records_the_time_and_the_published_levels_of_the_file_it_wrote(tmp_path, monkeypatch):
    from fipro import synth

    def fake_run(cmd, env=None):  # the child's work, done here on 300 customers
        synth.write_synthetic(tmp_path / "data" / "raw" / "edu_data_F.csv", n_customers=300, seed=7)
        return {"wall_seconds": 2.0, "peak_rss_mb": 100.0}

    monkeypatch.setattr(benchmark, "run_measured", fake_run)
    r = benchmark.bench_synth(tmp_path, "sample", 7)
    assert r["rows"] > 2000 and r["meets_target"] is True
    levels = r["published_levels"]
    assert set(levels) == {"sex", "region", "quarter", "insuhos_age"}
    assert levels["quarter"]["groups"] == 8 and isinstance(levels["sex"]["within"], bool)


def test_kernel_peaks_keep_each_notebooks_largest_quarter_largest_first():
    rows = [{"notebook": "02_feature_engineering", "quarter": "2022q1", "kernel_peak_mb": 1500.0},
            {"notebook": "03_lifestage", "quarter": "2022q1", "kernel_peak_mb": 3100.0},
            {"notebook": "03_lifestage", "quarter": "2022q2", "kernel_peak_mb": 3400.5},
            {"notebook": "04_anomaly", "quarter": "2022q1", "kernel_peak_mb": None}]  # run before the peak was recorded
    assert benchmark.kernel_peaks(rows) == {"03_lifestage": 3400.5, "02_feature_engineering": 1500.0}
