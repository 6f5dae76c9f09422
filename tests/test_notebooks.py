"""House rules every committed notebook keeps (the narrative lives in fipro, not here),
and :func:`figure_problems`, the check that an executed notebook drew every figure.

Tests that execute a notebook apply it to the executed copy::

    from test_notebooks import figure_problems
    assert figure_problems(runner.run_notebook("03_lifestage", quarter)) == []
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOK_TESTS
from nbformat.v4 import new_code_cell, new_notebook, new_output

from fipro import config, runner

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _makefile_notebooks() -> list[str]:
    """``$(NOTEBOOKS)`` as make itself evaluates it."""
    import subprocess

    out = subprocess.run(["make", "-s", "--no-print-directory", "--eval=print-notebooks: ; @echo $(NOTEBOOKS)",
                          "print-notebooks"], cwd=config.PROJ_ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_makefile_runs_every_numbered_notebook_and_the_site_shows_the_same():
    from fipro import site

    assert _makefile_notebooks() == [p.stem for p in NOTEBOOKS] == site.notebook_stems()


@pytest.mark.parametrize("stem", sorted(NOTEBOOK_TESTS))
def test_a_notebook_nbval_leaves_to_a_test_is_run_by_that_test_as_committed(stem):
    # conftest deselects nbval's run of these notebooks when the named test runs: it must run the same thing
    path, name = NOTEBOOK_TESTS[stem].split("::")
    source = inspect.getsource(getattr(importlib.import_module(Path(path).stem), name))
    assert f'runner.run_notebook("{stem}", quarter' in source and f'committed_quarter("{stem}")' in source
    assert f"{stem}.ipynb" in {p.name for p in NOTEBOOKS}


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
    # constants only: no import, no `config.…`; the runner injects what the run decides (seed)
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), \
            f"not `name = <constant>`: {ast.get_source_segment(params.source, node)}"
        try:
            ast.literal_eval(node.value)
        except ValueError:
            pytest.fail(f"parameter {node.targets[0].id} is not a literal constant: "
                        f"{ast.get_source_segment(params.source, node.value)}")
    # each parameter explains itself in a one-line comment
    for line in params.source.splitlines():
        if re.match(r"^\w+\s*=", line):
            assert "#" in line, line


def test_a_seed_parameter_shows_the_default_seed(notebook):
    # the runner injects config.RANDOM_SEED (make SEED); opened in JupyterLab without it, the
    # notebook must run with the same default seed as `make` does
    tree = ast.parse(notebook.cells[1].source)
    seeds = [ast.get_source_segment(notebook.cells[1].source, n.value) for n in tree.body
             if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "seed" for t in n.targets)]
    assert seeds in ([], ["20231"])


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


# --- every figure drawn ------------------------------------------------------------------

FIGURE_TEXT = re.compile(r"^<Figure size [^>]*>$")
PLOT_CALL = re.compile(r"\bplot_\w+\(")


def figure_problems(executed) -> list[str]:
    """What is wrong with the figures of an executed notebook; empty when all is well.

    Parameters
    ----------
    executed : path-like or NotebookNode
        An executed notebook (``runner.run_notebook``'s result).

    Returns
    -------
    list of str
        One line per problem: an output that is only the text ``<Figure size …>``
        (a figure not drawn: no ``image/png`` beside it), and a cell that calls a
        ``plot_*`` function of ``fipro.figures`` but shows no image, or shows more
        images than it has calls (a figure drawn twice). Cells are numbered as in the
        executed copy.
    """
    nb = executed if isinstance(executed, nbformat.NotebookNode) else nbformat.read(str(executed), as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = 0
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            images += "image/png" in data
            if FIGURE_TEXT.match(str(data.get("text/plain", "")).strip()) and "image/png" not in data:
                problems.append(f"cell {index}: {data['text/plain'].strip()} without image/png")
        calls = len(PLOT_CALL.findall(cell.source))
        if calls and not images:
            problems.append(f"cell {index}: calls {calls} plot function(s) but shows no image")
        elif calls and images > calls:
            problems.append(f"cell {index}: {images} images for {calls} plot call(s)")
    return problems


def _executed(*cells) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(source, outputs=outputs) for source, outputs in cells])


def _figure_output(*mimes):
    data = {"text/plain": "<Figure size 880x550 with 1 Axes>"}
    data.update({m: "iVBORw0KGgo=" for m in mimes})
    return new_output("execute_result", data=data, execution_count=1)


def test_figure_check_fails_on_a_figure_shown_as_text_only():
    nb = _executed(("eda_fig.plot_population(current)", [_figure_output()]))
    assert figure_problems(nb) == [
        "cell 0: <Figure size 880x550 with 1 Axes> without image/png",
        "cell 0: calls 1 plot function(s) but shows no image",
    ]


def test_figure_check_fails_on_a_figure_not_shown_or_shown_twice():
    nb = _executed(("fig = eda_fig.plot_population(current)", []),
                   ("eda_fig.plot_population(current)", [_figure_output("image/png"), _figure_output("image/png")]))
    assert figure_problems(nb) == ["cell 0: calls 1 plot function(s) but shows no image",
                                   "cell 1: 2 images for 1 plot call(s)"]


def test_figure_check_passes_a_drawn_figure():
    assert figure_problems(_executed(("eda_fig.plot_population(current)", [_figure_output("image/png")]),
                                     ("x = 1", []))) == []


def test_runner_draws_every_figure_once_as_png(tmp_path, monkeypatch):
    # make exports MPLBACKEND=Agg; the kernel must still draw figures, fipro's and plain pyplot's
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = [new_code_cell('quarter = "2000q1"', metadata={"tags": ["parameters"]}),
             new_code_cell("from fipro import figures\nfig, ax = figures.plt.subplots()\nax.plot([0, 1])\n"
                           "figures.finish(fig)"),
             new_code_cell("fig, ax = figures.plt.subplots()\n_ = ax.plot([1, 0])"),
             new_code_cell("import matplotlib\nmatplotlib.get_backend()")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "display_name": "Python (fipro)", "language": "python", "name": config.KERNEL_NAME}}),
        str(tmp_path / "figs.ipynb"))
    path = runner.run_notebook("figs", "2023q1", output_dir=tmp_path / "out", notebooks_dir=tmp_path)
    nb = nbformat.read(str(path), as_version=4)
    assert figure_problems(nb) == []
    pngs = [sum("image/png" in o.get("data", {}) for o in c.outputs) for c in nb.cells if c.cell_type == "code"]
    assert pngs[-3:] == [1, 1, 0]  # finish(fig) as the value; an open pyplot figure; no figure
    assert "backend_inline" in nb.cells[-1].outputs[0]["data"]["text/plain"]
    assert "Agg" == __import__("os").environ["MPLBACKEND"]  # the caller's setting is restored
