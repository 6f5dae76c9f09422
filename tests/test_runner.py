"""Tests of fipro.runner: failure behaviour, naming, make staleness, notebook 00 on the sample."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from fipro import config, export, ingest, runner

KERNELSPEC = {"display_name": "Python (fipro)", "language": "python", "name": "fipro"}


def _notebook(folder: Path, stem: str, *sources: str) -> Path:
    cells = [new_code_cell('quarter = "2000q1"', metadata={"tags": ["parameters"]})]
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
    assert runner.main(["run", "no_such_notebook", "--quarter", "2023q1", "--output-dir", str(tmp_path)]) == 1
    assert "no_such_notebook" in capsys.readouterr().err


def test_successful_run_is_named_from_its_parameters(tmp_path):
    _notebook(tmp_path, "tiny", "result = quarter + '-' + str(k)")
    path = runner.run_notebook("tiny", "2023q2", parameters={"k": 3}, output_dir=tmp_path / "out",
                               notebooks_dir=tmp_path)
    assert path == tmp_path / "out" / "tiny.ipynb"
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.ipynb"]
    injected = nbformat.read(str(path), as_version=4).cells[1].source
    assert 'quarter = "2023q2"' in injected and "k = 3" in injected


def test_cli_parameter_values_are_literals_when_they_parse():
    assert runner._value("3") == 3 and runner._value("0.5") == 0.5 and runner._value("abc") == "abc"


def test_quarters_command_prints_them_space_separated(sample_quarters, capsys):
    assert runner.main(["quarters"]) == 0
    assert capsys.readouterr().out.split() == sample_quarters


def _make(target_args, env, *flags):
    return subprocess.run(["make", "--no-print-directory", *flags, *target_args], cwd=config.PROJ_ROOT,
                          env=env, capture_output=True, text=True)


def test_make_reruns_a_notebook_only_when_the_manifest_changes(tmp_path, sample_quarters):
    data, outputs = tmp_path / "data", tmp_path / "outputs"
    (data / "processed").mkdir(parents=True)
    manifest = data / "processed" / "manifest.json"
    manifest.write_text("{}")
    quarter = sample_quarters[0]
    target = outputs / quarter / "00_data_check.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text("{}")
    env = {**os.environ, "FIPRO_DATA_DIR": str(data), "FIPRO_OUTPUTS_DIR": str(outputs)}
    args = [f"QUARTERS={quarter}", str(target)]
    future = time.time() + 3600  # newer than any source another engineer may be saving now
    os.utime(manifest, (future - 10, future - 10))
    os.utime(target, (future, future))
    assert _make(args, env, "-q").returncode == 0  # up to date
    os.utime(manifest, (future + 10, future + 10))  # what a re-ingest does
    assert _make(args, env, "-q").returncode == 1
    dry = _make(args, env, "-n")
    assert f"-m fipro run 00_data_check --quarter {quarter}" in dry.stdout


def test_unchanged_reingest_keeps_make_targets_fresh(tmp_path, sample_quarters):
    processed = tmp_path / "processed"
    raw = ingest.find_raw_file()
    ingest.ingest_raw(raw, processed_dir=processed, progress=False)
    before = (processed / "manifest.json").stat().st_mtime_ns
    assert ingest.ingest_raw(raw, processed_dir=processed, progress=False).skipped
    assert (processed / "manifest.json").stat().st_mtime_ns == before


def test_data_check_notebook_records_its_numbers(sample_quarters, tmp_path):
    quarter = sample_quarters[0]
    path = runner.run_notebook("00_data_check", quarter, output_dir=tmp_path)
    assert path.exists()
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
