"""Set-up files: pins kept in step, CI entry, ignore rules."""

from __future__ import annotations

import re
import tomllib

from fipro import config

ROOT = config.PROJ_ROOT
# conda-forge names that differ from PyPI's
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _pyproject_pins() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = meta["dependencies"] + [d for group in meta["optional-dependencies"].values() for d in group]
    pins = {}
    for spec in specs:
        name, sep, version = spec.partition("==")
        assert sep, f"{spec!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def _environment_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.-]+)(==|=)([0-9][^\s#]*)", line)
        if m:
            pins[m.group(1).lower()] = m.group(3)
    return pins


def test_every_dependency_is_pinned_exactly_and_conda_agrees():
    pip, conda = _pyproject_pins(), _environment_pins()
    for name, version in pip.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda.get(conda_name) == version, f"{name}: pyproject {version}, environment.yml {conda.get(conda_name)}"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_gitignore_keeps_data_outputs_sites_and_the_venv_out(tmp_path):
    """Asked of git itself, in a fresh repository holding the project's .gitignore, where .venv
    is a symlink (a worktree sharing another's venv): a '.venv/' pattern would miss it."""
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    (tmp_path / "real-venv").mkdir()
    (tmp_path / ".venv").symlink_to(tmp_path / "real-venv")

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=tmp_path).returncode == 0

    for path in (".venv", "data/raw/edu_data_F.csv", "data/processed/manifest.json", "outputs/2023q1/eda.json",
                 "_site/index.html"):
        assert ignored(path), path
    assert not ignored("data/raw/README.md") and not ignored("fipro/__init__.py")


def test_importing_fipro_makes_openmp_threads_wait_passively_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = "import os, fipro; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_the_makefile_exports_the_passive_openmp_wait_policy():
    text = (config.PROJ_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^export OMP_WAIT_POLICY := PASSIVE$", text, re.M)


def test_pytest_runs_on_two_workers_that_keep_shared_runs_and_homes_apart():
    import os
    from types import SimpleNamespace

    import conftest

    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert re.search(r"(^| )-n 2 --dist loadgroup( |$)", addopts)
    # one worker for the tests of the shared model runs, one for the site and the tests that run its notebooks
    groups = conftest.worker_groups()
    model_runs = {"tests/test_health.py", "tests/test_intervals.py", "tests/test_segments.py", "tests/test_views.py"}
    assert {f for f, g in groups.items() if g == groups["tests/test_views.py"]} == model_runs
    assert {f for f, g in groups.items() if g == groups["tests/test_site.py"]} == {
        "tests/test_eda.py", "tests/test_runner.py", "tests/test_site.py"}
    assert conftest.merged_groups([{"a", "b"}, {"c", "d"}, {"d", "b"}, {"e"}]) == {
        "a": "a", "b": "a", "c": "a", "d": "a", "e": "e"}

    def scope(nodeid):
        return conftest.worker_scope(nodeid, groups)

    assert scope("tests/test_intervals.py::test_x[1]") == scope("tests/test_views.py::test_y") == groups["tests/test_views.py"]
    assert scope("tests/test_split.py::test_z") == "tests/test_split.py"
    assert scope("notebooks/05_clustering::ipynb::Cell 2") == scope("notebooks/05_clustering::ipynb::Cell 0")  # one kernel
    assert scope("fipro/split.py::fipro.split.customer_roles") == "fipro/split.py"
    assert conftest.XdistGroups.pytest_xdist_make_scheduler(SimpleNamespace(getvalue={"dist": "load"}.get), None) is None

    # every worker has a test home of its own; gw0 shares the one-process run's
    assert [conftest.worker_home(w).name for w in ("", "gw0", "gw1")] == ["test-home", "test-home", "test-home-gw1"]
    assert conftest.TEST_HOME == conftest.worker_home(os.environ.get("PYTEST_XDIST_WORKER", ""))
    assert os.environ["FIPRO_OUTPUTS_DIR"] == str(conftest.TEST_HOME / "outputs") == str(config.OUTPUTS_DIR)
