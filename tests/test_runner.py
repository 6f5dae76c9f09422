"""Tests of fipro.runner (execute, jobs, progress): failure behaviour, naming, parameters, parallel jobs, progress,
make staleness, notebook 00 on the sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import committed_quarter
from nbformat.v4 import new_code_cell, new_notebook

from fipro import config, export, ingest, runner

KERNELSPEC = {"display_name": "Python (fipro)", "language": "python", "name": "fipro"}


def _notebook(folder: Path, stem: str, *sources: str, parameters: str = 'quarter = "2000q1"') -> Path:
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    path = folder / f"{stem}.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), str(path))
    return path


def test_failing_notebook_names_its_cell_and_leaves_no_complete_output(tmp_path):
    _notebook(tmp_path, "broken", "x = 1", "y = 2\nraise ValueError('planted failure')", "z = 3")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "broken.ipynb").write_text("stale")  # an earlier success must not survive a failure
    with pytest.raises(runner.NotebookFailed) as info:
        runner.run_notebook("broken", "2023q1", output_dir=out, notebooks_dir=tmp_path)
    err = info.value
    assert err.notebook == "broken"
    assert err.cell_index == 2  # in the source notebook: parameters, x = 1, the failing cell
    assert err.first_line == "y = 2"
    assert "ValueError: planted failure" in str(err)
    assert sorted(p.name for p in out.iterdir()) == ["broken.failed.ipynb"]


def test_cli_run_exits_non_zero_naming_the_notebook(tmp_path, capsys):
    assert runner.run_main(["no_such_notebook", "--quarter", "2023q1", "--output-dir", str(tmp_path)]) == 1
    assert "no_such_notebook" in capsys.readouterr().err


def test_successful_run_is_named_from_its_parameters(tmp_path):
    _notebook(tmp_path, "tiny", "result = quarter + '-' + str(k)")
    path = runner.run_notebook("tiny", "2023q2", parameters={"k": 3}, output_dir=tmp_path / "out",
                               notebooks_dir=tmp_path)
    assert path == tmp_path / "out" / "tiny.ipynb"
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.ipynb"]
    injected = nbformat.read(str(path), as_version=4).cells[1].source
    assert 'quarter = "2023q2"' in injected and "k = 3" in injected


def _injected(path: Path) -> str:
    cells = nbformat.read(str(path), as_version=4).cells
    return next(c.source for c in cells if "injected-parameters" in c.metadata.get("tags", []))


def test_seed_is_injected_from_the_project_seed_unless_given(tmp_path, monkeypatch):
    _notebook(tmp_path, "seeded", "value = seed", parameters='quarter = "2000q1"\nseed = 1')
    _notebook(tmp_path, "unseeded", "value = 1")
    monkeypatch.setattr(config, "RANDOM_SEED", 777)  # what FIPRO_SEED=777 (make SEED=777) gives
    out = tmp_path / "out"
    assert "seed = 777" in _injected(runner.run_notebook("seeded", "2023q1", output_dir=out, notebooks_dir=tmp_path))
    given = runner.run_notebook("seeded", "2023q1", {"seed": 5}, output_dir=out, notebooks_dir=tmp_path)
    assert "seed = 5" in _injected(given) and "777" not in _injected(given)
    plain = runner.run_notebook("unseeded", "2023q1", output_dir=out, notebooks_dir=tmp_path)
    assert "seed" not in _injected(plain)


def test_parameter_names_come_from_the_tagged_cell(tmp_path):
    path = _notebook(tmp_path, "p", "other = 2", parameters='quarter = "2000q1"\nseed = 3\nn: int = 4')
    assert runner.parameter_names(path) == {"quarter", "seed", "n"}
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")], metadata={"kernelspec": KERNELSPEC}),
                   str(tmp_path / "none.ipynb"))
    assert runner.parameter_names(tmp_path / "none.ipynb") == set()


def test_unreadable_failed_copy_gives_no_cell_instead_of_raising(tmp_path):
    (tmp_path / "garbage.ipynb").write_text("not a notebook")
    assert runner.execute._failing_cell(tmp_path / "garbage.ipynb") == (None, "", "")
    assert runner.execute._failing_cell(tmp_path / "missing.ipynb") == (None, "", "")


def test_jobs_fit_the_memory_budget_at_full_scale_and_fill_the_cpus_on_the_sample():
    full, sample = [673_000] * 8, [9_625, 9_583, 10_000]
    assert runner.decide_jobs(full, memory_gb=8, cpu_count=2) == 2  # ≈ 3.9 GB each
    assert runner.decide_jobs(full, memory_gb=6, cpu_count=2) == 1
    assert runner.decide_jobs(full, memory_gb=16, cpu_count=8) == 4
    assert runner.decide_jobs(sample, memory_gb=8, cpu_count=2) == 2
    assert runner.decide_jobs(sample, memory_gb=8, cpu_count=64) == 14  # 8 / 0.55 GB
    assert runner.decide_jobs(full, memory_gb=2, cpu_count=8) == 1  # over budget still runs, alone
    assert runner.decide_jobs([], cpu_count=8) == 1
    assert runner.job_peak_gb(673_000) == pytest.approx(3.9)


def test_the_largest_quarter_decides():
    assert runner.decide_jobs([10_000, 1_000_000], memory_gb=8, cpu_count=8) == 1


def test_threads_share_the_cpus_between_jobs():
    assert [runner.threads_per_job(j, cpu_count=2) for j in (1, 2, 3)] == [2, 1, 1]
    assert runner.threads_per_job(3, cpu_count=8) == 2


def test_jobs_command_reads_the_manifest(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"quarters": {"2023q1": 673_000, "2023q2": 670_000}, "rows_read": 1}))
    assert runner.manifest_rows(manifest) == {"2023q1": 673_000, "2023q2": 670_000}
    assert runner.jobs_main(["--manifest", str(manifest), "--memory-gb", "8"]) == 0
    assert capsys.readouterr().out.strip() == str(min(2, os.cpu_count() or 1))
    assert runner.jobs_main(["--manifest", str(manifest), "--memory-gb", "4"]) == 0
    assert capsys.readouterr().out.strip() == "1"
    assert runner.jobs_main(["--threads-for", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(runner.threads_per_job(1))
    assert runner.jobs_main(["--manifest", str(tmp_path / "none.json")]) == 1
    assert "make ingest" in capsys.readouterr().err


def test_progress_counts_parallel_runs_and_says_where_to_look(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    (tmp_path / "outputs" / "2023q1").mkdir(parents=True)
    (tmp_path / "outputs" / "2023q1" / "eda.json").write_text("{}")
    progress = tmp_path / "outputs" / ".progress.json"
    assert "3개" in runner.progress_start(progress, 3, ["2023q1", "2023q2"], jobs=2)
    first = runner.progress_step(progress, "00_data_check", "2023q1", "start")
    assert first.startswith("[시작 1/3] 00_data_check · 2023q1")
    assert runner.progress_step(progress, "01_eda", "2023q1", "start").startswith("[시작 2/3] 01_eda · 2023q1")
    done = runner.progress_step(progress, "00_data_check", "2023q1", "done", seconds=12)
    assert done.startswith("[완료 1/3] 00_data_check · 2023q1 (12초)")
    assert "경과" in done and "남은 시간 약" in done
    assert runner.progress_step(progress, "01_eda", "2023q1", "failed").startswith("[실패 2/3] 01_eda")
    assert "남은 시간" not in runner.progress_step(progress, "02_x", "2023q2", "done")  # the last one
    summary = runner.progress_end(progress)
    assert "3/3" in summary and "<분기>/<노트북>.ipynb" in summary and "eda.json" in summary
    assert str(tmp_path / "outputs") in summary
    assert not progress.exists()


def test_estimate_weighs_each_notebook_by_its_own_duration_and_remembers_them(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    stems = ["00_a", "00_a", "03_model", "03_model"]
    progress = tmp_path / "p.json"
    runner.progress_start(progress, 4, ["2023q1", "2023q2"], jobs=2, stems=stems, serial=["03_model"])
    state = json.loads(progress.read_text())
    # one light notebook done (10 s): the model notebooks have no duration yet, so they
    # count at the mean of what finished; the other light one runs two at a time
    assert runner.progress._estimate_left({**state, "done": 1, "pending": {"00_a": 1, "03_model": 2},
                                  "seconds": {"00_a": [10.0]}}, elapsed=10) == pytest.approx(10 / 2 + 2 * 10)
    runner.progress_step(progress, "00_a", "2023q1", "done", seconds=10)
    runner.progress_step(progress, "00_a", "2023q2", "done", seconds=10)
    line = runner.progress_step(progress, "03_model", "2023q1", "done", seconds=150)
    assert line.endswith("남은 시간 약 2분 30초")  # one serial model notebook at its own 150 s
    runner.progress_step(progress, "03_model", "2023q2", "done", seconds=170)
    runner.progress_end(progress)
    assert json.loads((tmp_path / ".notebook-seconds.json").read_text()) == {"00_a": 10.0, "03_model": 160.0}
    # the next run starts from the remembered durations
    runner.progress_start(progress, 2, ["2023q1"], jobs=2, stems=["03_model", "00_a"], serial=["03_model"])
    state = json.loads(progress.read_text())
    assert runner.progress._estimate_left({**state, "done": 0}, elapsed=0) == pytest.approx(160 + 10 / 2)


def test_nothing_stale_still_says_where_to_look(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    progress = tmp_path / "p.json"
    assert runner.progress_start(progress, 0, ["2023q1"]) == ""
    summary = runner.progress_end(progress)
    assert "최신" in summary and "결과는 여기에" in summary


def test_cli_run_reports_progress_when_make_asks(tmp_path, monkeypatch, capsys):
    _notebook(tmp_path, "tiny", "x = 1")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path)
    progress = tmp_path / "progress.json"
    runner.progress_start(progress, 1, ["2023q1"])
    monkeypatch.setenv(runner.PROGRESS_ENV, str(progress))
    assert runner.run_main(["tiny", "--quarter", "2023q1", "--output-dir", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[시작 1/1] tiny · 2023q1") and lines[1].startswith("[완료 1/1] tiny · 2023q1")


def test_cli_run_records_the_kernels_peak_memory_in_the_executed_notebook(tmp_path, monkeypatch):
    # the kernel writes 300 MiB: its peak is in the executed copy, which stays a valid notebook
    _notebook(tmp_path, "heavy", "block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096])", "len(block)")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.delenv(runner.PROGRESS_ENV, raising=False)
    assert runner.run_main(["heavy", "--quarter", "2023q1", "--output-dir", str(tmp_path / "out")]) == 0
    nb = nbformat.read(str(tmp_path / "out" / "heavy.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert 300 <= nb.metadata["fipro"]["kernel_peak_mb"] < 4096
    assert nb.cells[-1].outputs[0]["data"]["text/plain"] == str(300 * 2**20)


def test_papermill_runs_without_the_iri_grammar_and_still_validates_notebooks(tmp_path):
    # in a fresh interpreter: the skip must come before anything imports jsonschema
    _notebook(tmp_path, "plain", "1 + 1")
    code = (
        "import sys\n"
        "from fipro.runner import execute\n"
        "execute._skip_iri_grammar()\n"
        "import nbformat, papermill\n"
        "from jsonschema import FormatChecker\n"
        "assert 'iri' not in FormatChecker.checkers, 'iri grammar loaded'\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
        f"out = execute.run_notebook('plain', '2023q1', output_dir={str(tmp_path / 'out')!r}, notebooks_dir={str(tmp_path)!r})\n"
        "nbformat.validate(nbformat.read(str(out), as_version=4))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(str(tmp_path / "out" / "plain.ipynb"), as_version=4)
    assert nb.cells[-1].outputs[0]["data"]["text/plain"] == "2"


def test_cli_parameter_values_are_literals_when_they_parse():
    assert runner.execute._value("3") == 3 and runner.execute._value("0.5") == 0.5 and runner.execute._value("abc") == "abc"


def test_quarters_command_prints_them_space_separated(sample_quarters, capsys):
    assert runner.quarters_main([]) == 0
    assert capsys.readouterr().out.split() == sample_quarters


def _make(target_args, env, *flags):
    return subprocess.run(["make", "--no-print-directory", *flags, *target_args], cwd=config.PROJ_ROOT,
                          env=env, capture_output=True, text=True)


def test_make_reruns_a_notebook_when_its_history_state_changes_not_the_manifest(tmp_path, sample_quarters):
    data, outputs = tmp_path / "data", tmp_path / "outputs"
    quarter = sample_quarters[0]
    manifest = data / "processed" / "manifest.json"
    states = [data / "processed" / "history" / quarter / f"{part}.json" for part in ("core", "style", "benefit", "health")]
    stamp = outputs / ".stamps" / "code-00_data_check.txt"
    target = outputs / quarter / "00_data_check.ipynb"
    for path in (manifest, *states, stamp, target):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    env = {**os.environ, "FIPRO_DATA_DIR": str(data), "FIPRO_OUTPUTS_DIR": str(outputs)}
    args = [f"QUARTERS={quarter}", str(target)]
    future = time.time() + 3600  # newer than any source another engineer may be saving now
    for path in (*states, stamp):
        os.utime(path, (future - 10, future - 10))
    os.utime(target, (future, future))
    assert _make(args, env, "-q").returncode == 0  # up to date
    os.utime(manifest, (future + 10, future + 10))  # a re-ingest that changed another quarter
    assert _make(args, env, "-q").returncode == 0
    os.utime(states[0], (future + 10, future + 10))  # this quarter's history was rebuilt
    assert _make(args, env, "-q").returncode == 1
    dry = _make(args, env, "-n")
    assert f"-m fipro run 00_data_check --quarter {quarter}" in dry.stdout
    os.utime(target, (future + 20, future + 20))
    os.utime(stamp, (future + 30, future + 30))  # a module the notebook imports changed
    assert _make(args, env, "-q").returncode == 1


def test_unchanged_reingest_keeps_make_targets_fresh(tmp_path, sample_quarters):
    processed = tmp_path / "processed"
    raw = ingest.find_raw_file()
    ingest.ingest_raw(raw, processed_dir=processed, progress=False)
    before = (processed / "manifest.json").stat().st_mtime_ns
    assert ingest.ingest_raw(raw, processed_dir=processed, progress=False).skipped
    assert (processed / "manifest.json").stat().st_mtime_ns == before


def test_data_check_notebook_records_its_numbers_and_draws_its_figures(sample_quarters):
    from test_notebooks import figure_problems

    quarter = committed_quarter("00_data_check")  # nbval's run of the notebook: this one stands in for it
    assert quarter in sample_quarters
    # into the test outputs (not tmp_path): tests/test_site.py publishes this executed notebook
    # instead of running it a second time
    path = runner.run_notebook("00_data_check", quarter)
    assert path == runner.output_path("00_data_check", quarter)
    assert figure_problems(path) == []
    report = export.load_metrics(quarter, "data_quality")
    manifest = ingest.read_manifest()
    assert report["quarter"] == quarter
    assert report["rows"] == manifest["quarters"][quarter]
    assert report["customers"] == report["rows"]
    assert report["source"]["rows_accepted"] + report["source"]["rows_rejected"] == report["source"]["rows_read"]
    assert 0.5 < report["coverage"]["share_in_all_quarters"] <= 1.0
    assert 0.0 <= report["missing_share_max"] <= 0.05
    assert report["identities"]["total"]["share_within_tolerance"] > 0.9
    text = path.read_text(encoding="utf-8")
    assert "판정" in text


def test_large_quarters_make_model_notebooks_run_alone(tmp_path, capsys):
    assert runner.is_large([runner.LARGE_QUARTER_ROWS]) and not runner.is_large([runner.LARGE_QUARTER_ROWS - 1])
    manifest = tmp_path / "manifest.json"
    for rows, expected in ((673_000, "1"), (10_000, "0")):
        manifest.write_text(json.dumps({"quarters": {"2023q1": rows}}))
        assert runner.jobs_main(["--manifest", str(manifest), "--large"]) == 0
        assert capsys.readouterr().out.strip() == expected
