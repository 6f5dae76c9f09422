"""fipro.runner.schedule: make's stale targets started longest chain first, with a real make."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fipro.runner import schedule

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")

# a, the longest job, and c's prerequisite b start first; c becomes ready after 1 s. make -j2
# passes over c while b runs and starts it only after d..h (checked below), the scheduler at once.
TOY = """\
LOG := {log}
all: a c d e f g h
a: ; @echo "start a" >> $(LOG); sleep 2.4; touch $@
b: ; @echo "start b" >> $(LOG); sleep 0.6; touch $@
c: b ; @echo "start c" >> $(LOG); sleep 0.3; touch $@
d e f g h: ; @echo "start $@" >> $(LOG); sleep 0.8; touch $@
broken: ; @echo "start broken" >> $(LOG); exit 3
after: broken ; @echo "start after" >> $(LOG); touch $@
late: ; @echo "start late" >> $(LOG); sleep 0.5; touch $@
failing: broken late after
"""


def _toy(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(TOY.format(log=tmp_path / "log.txt"))
    return tmp_path


def _starts(folder: Path) -> list[str]:
    return [line.split()[1] for line in (folder / "log.txt").read_text().splitlines()]


def _schedule(folder: Path, goal: str, jobs: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fipro", "schedule", "--jobs", str(jobs), "--goal", goal],
                          cwd=folder, capture_output=True, text=True, timeout=120)


def test_make_alone_leaves_a_ready_chain_for_the_end_and_the_scheduler_does_not(tmp_path):
    folder = _toy(tmp_path)
    subprocess.run(["make", "-s", "-j2", "all"], cwd=folder, check=True, timeout=60)
    assert _starts(folder).index("c") > _starts(folder).index("h")  # the behaviour worked around
    for name in "abcdefgh":
        (folder / name).unlink()
    (folder / "log.txt").unlink()
    done = _schedule(folder, "all")
    assert done.returncode == 0, done.stderr
    starts = _starts(folder)
    assert sorted(starts) == list("abcdefgh")  # every stale target once
    # with no timings remembered every target counts alike: b (c waits for it) and a first
    assert set(starts[:2]) == {"a", "b"}
    assert starts.index("c") < starts.index("f")  # c starts as soon as b has finished


def test_only_stale_targets_run(tmp_path):
    folder = _toy(tmp_path)
    for name in "abcdefg":
        (folder / name).touch()
    done = _schedule(folder, "all")
    assert done.returncode == 0, done.stderr
    assert _starts(folder) == ["h"]


def test_a_failure_stops_new_starts_lets_running_ones_finish_and_names_the_target(tmp_path):
    folder = _toy(tmp_path)
    done = _schedule(folder, "failing")
    assert done.returncode == 1
    assert "broken" in done.stderr and "failed" in done.stderr
    starts = _starts(folder)
    assert "after" not in starts  # needs the failed target
    assert "late" in starts and (folder / "late").exists()  # started beside it and finished


def test_stale_targets_come_from_makes_debug_lines():
    text = """Updating goal targets....
 File 'run-notebooks' does not exist.
   Prerequisite 'x.txt' is newer than target 'out/a.ipynb'.
  Must remake target 'out/a.ipynb'.
  Successfully remade target file 'out/a.ipynb'.
  Must remake target 'out/b.ipynb'.
  Must remake target 'run-notebooks'.
"""
    assert schedule.stale_targets(text, "run-notebooks") == ["out/a.ipynb", "out/b.ipynb"]


def test_prerequisites_include_order_only_ones_and_add_up_lines():
    database = """# Files
out/b.ipynb: nb/b.ipynb out/a.ipynb | out/z.ipynb
# Not a target:
out/a.ipynb: nb/a.ipynb
\t@run a
out/b.ipynb: extra.json
QUARTERS := 2022q1 2022q2
"""
    deps = schedule.prerequisites(database, ["out/a.ipynb", "out/b.ipynb"])
    assert deps == {"out/a.ipynb": {"nb/a.ipynb"},
                    "out/b.ipynb": {"nb/b.ipynb", "out/a.ipynb", "out/z.ipynb", "extra.json"}}


def test_chain_is_own_seconds_plus_the_longest_chain_behind():
    deps = {"f": set(), "s": {"f"}, "m1": {"s"}, "m2": {"s"}, "e": {"f"}, "d": {"m1", "m2", "e"}}
    seconds = {"f": 5, "s": 40, "m1": 100, "m2": 10, "e": 3, "d": 7}
    chain = schedule.chain_seconds(deps, seconds)
    assert chain == {"d": 7, "m1": 107, "m2": 17, "e": 10, "s": 147, "f": 152}
    assert schedule.order(["e", "m2", "m1"], chain, {"e": 0, "m1": 1, "m2": 2}) == ["m1", "m2", "e"]
    # equal chains keep make's order
    assert schedule.order(["b", "a"], {"a": 1.0, "b": 1.0}, {"a": 1, "b": 0}) == ["b", "a"]


def test_expected_seconds_by_stem_and_the_mean_for_a_notebook_never_timed():
    known = {"03_lifestage": 13.0, "01_eda": 9.0}
    got = schedule.expected_seconds(["o/2022q1/03_lifestage.ipynb", "o/models/lifestage/selection.json"], known)
    assert got == {"o/2022q1/03_lifestage.ipynb": 13.0, "o/models/lifestage/selection.json": 11.0}
    # nothing remembered: the full-scale defaults, the selection first of all
    fresh = schedule.expected_seconds(["o/q/03_lifestage.ipynb", "o/m/selection.json", "o/q/00_data_check.ipynb"], {})
    assert fresh["o/m/selection.json"] > fresh["o/q/03_lifestage.ipynb"] > 10 * fresh["o/q/00_data_check.ipynb"]
    assert schedule.expected_seconds(["x.ipynb"], {}, defaults={}) == {"x.ipynb": 1.0}


def test_defaults_follow_the_scale_of_the_ingested_quarters(tmp_path, monkeypatch):
    from fipro import datasets

    manifest = tmp_path / "manifest.json"
    monkeypatch.setattr(datasets, "manifest_path", lambda *a, **k: manifest)
    assert schedule._defaults() is schedule.SAMPLE_DEFAULT_SECONDS  # nothing ingested yet
    manifest.write_text('{"quarters": {"2022q1": 9625, "2022q2": 9664}}')
    assert schedule._defaults() is schedule.SAMPLE_DEFAULT_SECONDS
    manifest.write_text('{"quarters": {"2022q1": 673903, "2022q2": 677945}}')
    assert schedule._defaults() is schedule.DEFAULT_SECONDS


def test_sub_makes_drop_the_parents_job_options_and_keep_its_variables():
    env = {"MAKEFLAGS": "s -j2 --jobserver-auth=3,4 -- SCALE=full OUT=/tmp/a\\ b", "PATH": "/bin"}
    assert schedule.sub_make_env(env) == {"MAKEFLAGS": "s -- SCALE=full OUT=/tmp/a\\ b", "PATH": "/bin"}
    assert schedule.sub_make_env({"MAKEFLAGS": " -j2 --jobserver-auth=fifo:/tmp/x"})["MAKEFLAGS"] == ""
    assert "MAKEFLAGS" not in schedule.sub_make_env({"PATH": "/bin"})
