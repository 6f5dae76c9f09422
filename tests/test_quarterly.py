"""A delivery with one more quarter costs one quarter: what `make` would run after appending 2023q4.

The real ingest, history and stamps run on a private copy of the sample; `make -n` then
lists the notebooks the graph would execute. Executing them is the benchmark's job
(`make benchmark BENCH_STEPS=add-quarter`): this test checks the graph, in seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fipro import config, datasets

ROOT = Path(__file__).resolve().parents[1]
LAST = "2023q4"


def _run(args, env):
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def _would_run(env, quarters):
    """(quarter, notebook) pairs `make run-notebooks` would execute, and whether it would select again."""
    _run([sys.executable, "-m", "fipro", "ingest"], env)
    _run([sys.executable, "-m", "fipro", "history"], env)
    _run([sys.executable, "-m", "fipro", "stamps"], env)
    out = _run(["make", "--no-print-directory", "-n", "run-notebooks", f"QUARTERS={' '.join(quarters)}",
                f"PY={sys.executable}"], env)
    runs = {(q, stem) for stem, q in re.findall(r"-m fipro run (\S+) --quarter (\S+)", out)}
    return runs, "-m fipro select" in out


def _touch_outputs(out_dir: Path, quarters, stems):
    """Stand-ins for executed notebooks and the run's selection, written in the order make runs
    them (the life-stage notebooks after the selection, the drift notebooks last, in quarter
    order), newer than every prerequisite."""
    def touch(path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")

    after = ("03_lifestage", "08_drift")  # the life-stage notebooks (after the selection), then the drift notebooks
    for q in quarters:
        for stem in stems:
            if stem not in after:
                touch(out_dir / q / f"{stem}.ipynb")
    touch(out_dir / "models" / "lifestage" / "selection.json")
    for stem in after:  # each quarter after the previous one (08 reads the previous quarter's 03 and 08)
        for q in sorted(quarters):
            touch(out_dir / q / f"{stem}.ipynb")


def _home_without_last(tmp_path):
    """A data home whose raw file is the sample without its last quarter: (home, raw file, the
    last quarter's rows to append later, make's environment, the notebook stems)."""
    home = tmp_path / "home"
    raw = home / "data" / "raw" / config.RAW_FILENAME
    raw.parent.mkdir(parents=True)
    lines = datasets.raw_file().read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    last = [r for r in rows if r.startswith(LAST.encode())]
    raw.write_bytes(header + b"".join(r for r in rows if not r.startswith(LAST.encode())))
    env = {**os.environ, "FIPRO_DATA_DIR": str(home / "data"), "FIPRO_OUTPUTS_DIR": str(home / "outputs")}
    stems = sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    return home, raw, last, env, stems


def test_appending_a_quarter_runs_only_that_quarters_notebooks(
        sample_quarters, tmp_path):
    assert sample_quarters[-1] == LAST
    home, raw, last, env, stems = _home_without_last(tmp_path)
    before = sample_quarters[:-1]

    first, select = _would_run(env, before)
    assert first == {(q, s) for q in before for s in stems} and select  # a first run runs everything
    _touch_outputs(home / "outputs", before, stems)
    assert _would_run(env, before) == (set(), False)  # and then nothing is stale

    tables = home / "data" / "processed" / "customer_quarter"
    kept = {q: os.stat(tables / f"{q}.parquet").st_mtime_ns for q in before}
    raw.write_bytes(raw.read_bytes() + b"".join(last))
    runs, select = _would_run(env, sample_quarters)
    # every measurement across two quarters belongs to the later one: nothing of 2023q3 runs again
    assert runs == {(LAST, s) for s in stems}
    assert not select  # the selection is kept: one quarter since it was chosen
    assert {q: os.stat(tables / f"{q}.parquet").st_mtime_ns for q in before} == kept  # tables reused


def _tail_would_run(env, quarters):
    """Quarters whose views and hand-off parts `make view-tables seed-parts` would build."""
    out = _run(["make", "--no-print-directory", "-n", "view-tables", "seed-parts", f"QUARTERS={' '.join(quarters)}",
                f"PY={sys.executable}"], env)
    return (set(re.findall(r"-m fipro views --quarter (\S+)", out)),
            set(re.findall(r"-m fipro export-seed --quarter (\S+)", out)))


def test_appending_a_quarter_builds_only_that_quarters_views_and_hand_off_part(sample_quarters, tmp_path):
    home, raw, last, env, stems = _home_without_last(tmp_path)
    before = sample_quarters[:-1]
    _would_run(env, before)
    _touch_outputs(home / "outputs", before, stems)
    assert _tail_would_run(env, before) == (set(before), set(before))  # a first run builds every quarter
    for q in before:  # stand-ins for what the recipes write, newer than the notebooks
        for path in (home / "outputs" / q / "views" / "customers.parquet",
                     home / "data" / "db_seed" / "parts" / f"customer_quarter-{q}.csv"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    assert _tail_would_run(env, before) == (set(), set())

    raw.write_bytes(raw.read_bytes() + b"".join(last))
    _would_run(env, sample_quarters)
    for stem in stems:  # the new quarter's notebooks run (the selection is kept)
        (home / "outputs" / LAST / f"{stem}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (home / "outputs" / LAST / f"{stem}.ipynb").write_text("{}")
    assert _tail_would_run(env, sample_quarters) == ({LAST}, {LAST})


def test_a_change_to_one_model_package_runs_only_its_notebooks(sample_quarters, tmp_path):
    from fipro import stamps

    stems = sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    texts = stamps.code_stamps([config.NOTEBOOKS_DIR / f"{s}.ipynb" for s in stems])
    using = {s for s in stems if "fipro.health.components" in texts[s].splitlines()[1:]}
    assert "06_health_score" in using and "00_data_check" not in using and "03_lifestage" not in using
    for s in stems:
        assert "fipro.site" not in texts[s].splitlines()[1:]  # the site never re-runs a notebook


def test_the_selection_is_kept_until_a_documented_trigger(monkeypatch):
    from fipro.lifestage import selection as sel

    monkeypatch.setattr(sel, "table_digest", lambda q: f"digest-{q}")
    quarters = ["2022q1", "2022q2", "2022q3", "2022q4", "2023q1"]
    saved = {"key": "k", "reference_quarter": "2022q2", "reference_digest": "digest-2022q2"}
    assert sel.reselect_reason(saved, "k", quarters[:4]) is None  # two quarters since: kept
    assert sel.RESELECT_AFTER_QUARTERS == 4
    assert sel.reselect_reason(saved, "k", [*quarters, "2023q2"]) == "4 quarters since 2022q2 (reselect after 4)"
    assert sel.reselect_reason(saved, "other", quarters[:4]) == "code or settings changed"
    assert "no longer in the data" in sel.reselect_reason(saved, "k", ["2022q3", "2022q4"])
    assert sel.reselect_reason({**saved, "reference_digest": "old"}, "k", quarters[:4]) == "reference quarter 2022q2 changed"


def test_extras_run_every_small_quarter_and_only_the_latest_large_one(tmp_path, monkeypatch):
    import json

    processed = tmp_path / "processed"
    tables = processed / datasets.TABLE_DIR
    tables.mkdir(parents=True)
    for q in ("2023q1", "2023q2"):
        (tables / f"{q}.parquet").write_bytes(b"")
    small = datasets.EXTRAS_EVERY_QUARTER_BELOW_ROWS - 1
    (processed / datasets.MANIFEST_FILE).write_text(json.dumps({"quarters": {"2023q1": small, "2023q2": small}}))
    assert datasets.runs_extras("2023q1", processed) and datasets.runs_extras("2023q2", processed)
    assert "분기마다" in datasets.extras_note_ko("2023q1", processed)
    large = datasets.EXTRAS_EVERY_QUARTER_BELOW_ROWS
    (processed / datasets.MANIFEST_FILE).write_text(json.dumps({"quarters": {"2023q1": large, "2023q2": large}}))
    assert not datasets.runs_extras("2023q1", processed) and datasets.runs_extras("2023q2", processed)
    assert "2023q2" in datasets.extras_note_ko("2023q1", processed)
    assert "이 분기가 그 분기" in datasets.extras_note_ko("2023q2", processed)
