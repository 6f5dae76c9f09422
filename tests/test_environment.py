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
