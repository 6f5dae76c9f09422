"""House rules every committed notebook keeps (the narrative lives in fipro, not here)."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from fipro import config

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _makefile_notebooks() -> list[str]:
    text = (config.PROJ_ROOT / "Makefile").read_text()
    return re.search(r"^NOTEBOOKS := (.+)$", text, re.M).group(1).split()


def test_makefile_runs_every_numbered_notebook():
    assert _makefile_notebooks() == [p.stem for p in NOTEBOOKS]


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_notebook_is_committed_without_outputs(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_on_the_project_kernel(notebook):
    assert notebook.metadata.kernelspec.name == config.KERNEL_NAME


def test_notebook_opens_with_a_title_then_constant_parameters(notebook):
    first, params = notebook.cells[0], notebook.cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "parameters" in params.metadata.get("tags", [])
    tree = ast.parse(params.source)
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert "quarter" in assigned
    for node in tree.body:
        assert isinstance(node, (ast.Assign, ast.ImportFrom, ast.Import)), ast.dump(node)[:80]
    # each parameter explains itself in a one-line comment
    for line in params.source.splitlines():
        if re.match(r"^\w+\s*=", line):
            assert "#" in line, line


def _code(notebook) -> list[str]:
    # IPython magics are not Python: blank them before parsing
    return ["\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in c.source.splitlines())
            for c in notebook.cells if c.cell_type == "code"]


def test_notebook_defines_nothing_and_never_reassigns_a_parameter(notebook):
    params = {t.id for node in ast.parse(notebook.cells[1].source).body if isinstance(node, ast.Assign)
              for t in node.targets}
    for source in _code(notebook)[1:]:
        for node in ast.walk(ast.parse(source)):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), "logic belongs in fipro"
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                assert not names & params, f"parameter reassigned: {names & params}"


def test_notebook_never_uses_sys_path_tricks(notebook):
    assert not any("sys.path" in source for source in _code(notebook))


def test_notebook_records_its_headline_numbers_last(notebook):
    assert "save_metrics(quarter" in _code(notebook)[-1]
