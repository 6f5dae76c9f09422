"""Executing one notebook for one quarter: papermill with the output named from its parameters.

    python -m fipro run 00_data_check --quarter 2023q1 [-p name value ...] [--output-dir DIR]

``run`` executes ``notebooks/<stem>.ipynb`` on the ``fipro`` kernel with the notebook
folder as working directory and writes ``config.OUTPUTS_DIR/<quarter>/<stem>.ipynb``.
The executed copy is written under a temporary name (``.<stem>.running-<pid>.ipynb``)
and renamed only on success, so nothing half-made looks complete. On failure the copy
is kept as ``<stem>.failed.ipynb``, a previous complete output of the same notebook and
quarter is removed (it no longer matches the code or data that were just run), and the
command exits non-zero naming the notebook and the failing cell (index, first source
line, error).

Parameters: ``quarter`` always; ``seed`` = ``config.RANDOM_SEED`` (make's ``SEED``, via
``FIPRO_SEED``) for every notebook whose parameters cell defines ``seed``, unless the
caller passes one. A parameters cell therefore holds literal constants only.

The kernel draws figures with matplotlib's inline backend (as JupyterLab does), whatever
``MPLBACKEND`` the caller has, and talks to the runner over IPC sockets in a private
temporary folder, not TCP (no unencrypted local ports, and no warning about them).

Under ``make notebooks`` (``FIPRO_PROGRESS`` set) the command reports its start and end
into the run's progress file (:mod:`fipro.runner.progress`).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from traitlets.config import Config

from fipro import config, datasets
from fipro.runner.progress import env_progress_file, progress_step

RUNNING_PREFIX = "."
FAILED_SUFFIX = ".failed.ipynb"

# The backend JupyterLab's kernel uses: open figures are drawn as PNG at the end of a cell.
# ``make`` exports MPLBACKEND=Agg for its scripts; a kernel with Agg would show a figure
# only as the text "<Figure size ...>".
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"

class NotebookFailed(RuntimeError):
    """A notebook raised while executing.

    Attributes
    ----------
    notebook : str
        The notebook's stem.
    quarter : str
    cell_index : int or None
        0-based index of the failing cell in the source notebook (cells papermill adds
        are not counted).
    first_line : str
        First source line of the failing cell.
    error : str
        ``ExceptionName: message``.
    failed_copy : Path
        The executed copy up to the failure (``<stem>.failed.ipynb``).
    """

    def __init__(self, notebook, quarter, cell_index, first_line, error, failed_copy):
        self.notebook, self.quarter, self.cell_index = notebook, quarter, cell_index
        self.first_line, self.error, self.failed_copy = first_line, error, Path(failed_copy)
        where = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        super().__init__(f"notebook {notebook} (quarter {quarter}) failed in {where} "
                         f"[{first_line}]: {error}; executed copy kept as {self.failed_copy}")


def _stem(name: str) -> str:
    return name[:-6] if name.endswith(".ipynb") else name


def output_path(stem: str, quarter: str, output_dir=None) -> Path:
    """Where the executed copy of ``stem`` for ``quarter`` goes."""
    if output_dir is None:
        return datasets.executed_notebook_path(_stem(stem), quarter)
    return Path(output_dir) / f"{_stem(stem)}.ipynb"


_ADDED_BY_PAPERMILL = {"injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(nb_path: Path) -> tuple[int | None, str, str]:
    """(index in the source notebook, first source line, error) of the first failing cell.

    Cells papermill adds (injected parameters, error banners) are not counted, so the
    index points at the cell a person edits in ``notebooks/<stem>.ipynb``.
    """
    import nbformat  # nbformat pulls jsonschema: fipro.runner (jobs, quarters) imports this module without it

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except (OSError, ValueError):  # missing or not JSON (NotJSONError is a ValueError):
        return None, "", ""        # the caller then names the cell from papermill's error
    index = -1
    for cell in nb.cells:
        if _ADDED_BY_PAPERMILL & set(cell.get("metadata", {}).get("tags", [])):
            continue
        index += 1
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return index, first.strip(), f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
    return None, "", ""


def parameter_names(path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (empty without one).

    Only the names are read, so a notebook whose parameters cell still computes a value
    runs; that its values are literal constants is a house rule checked by
    ``tests/test_notebooks.py``. A cell that does not parse gives no names: papermill
    then reports the failing cell itself.
    """
    import nbformat  # nbformat pulls jsonschema: fipro.runner (jobs, quarters) imports this module without it

    nb = nbformat.read(str(path), as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return set()
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return set()
    return {target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}


def run_parameters(source, quarter: str, parameters: dict | None = None) -> dict:
    """What papermill injects: ``quarter``, the project seed where the notebook has a
    ``seed`` parameter, then the caller's parameters (which win)."""
    params = {"quarter": quarter}
    if "seed" in parameter_names(source):
        params["seed"] = config.RANDOM_SEED
    params.update(parameters or {})
    return params


@contextlib.contextmanager
def _kernel_settings():
    """Kernel start-up settings: inline figures and IPC sockets in a private folder.

    Yields the traitlets config for the kernel manager. ``MPLBACKEND`` is read by the
    kernel when it starts, so it is set for the duration of the run only.
    """

    previous = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = KERNEL_MPLBACKEND
    try:
        # an absolute socket path: the kernel runs in the notebook folder, the client here
        with tempfile.TemporaryDirectory(prefix="fipro-kernel-") as sockets:
            yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
    finally:
        if previous is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = previous


def _skip_iri_grammar() -> None:
    """Keep jsonschema from building its optional IRI grammar when papermill imports nbformat.

    jsonschema registers the ``iri`` formats when ``rfc3987_syntax`` imports, and that module
    compiles a Lark grammar at import: 0.8 s of every notebook run (72 per ``make all``), for
    formats the notebook schema never uses. A ``None`` entry in ``sys.modules`` makes that
    optional import fail as if the package were absent, in this process only.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def run_notebook(stem: str, quarter: str, parameters: dict | None = None, output_dir=None,
                 notebooks_dir=None) -> Path:
    """Execute ``notebooks/<stem>.ipynb`` for one quarter and return the executed copy.

    Parameters
    ----------
    stem : str
        Notebook name without ``.ipynb`` (``"00_data_check"``).
    quarter : str
        Passed to the notebook as the ``quarter`` parameter and names the output folder.
    parameters : dict, optional
        Further papermill parameters (override the notebook's defaults). ``seed``
        defaults to ``config.RANDOM_SEED`` where the notebook has that parameter.
    output_dir : path-like, optional
        Default ``config.OUTPUTS_DIR / quarter`` (read at call time).
    notebooks_dir : path-like, optional
        Default ``config.NOTEBOOKS_DIR``; also the working directory of the kernel.

    Raises
    ------
    FileNotFoundError
        No such notebook.
    NotebookFailed
        A cell raised (see the class for what is kept).
    """
    _skip_iri_grammar()
    import papermill as pm  # papermill (~2 s) only to run a notebook: fipro.runner (jobs, quarters) imports this module without it

    stem = _stem(stem)
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else config.NOTEBOOKS_DIR
    source = nb_dir / f"{stem}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"no notebook {source}")
    final = output_path(stem, quarter, output_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    running = final.with_name(f"{RUNNING_PREFIX}{stem}.running-{os.getpid()}.ipynb")
    failed = final.with_name(f"{stem}{FAILED_SUFFIX}")
    params = run_parameters(source, quarter, parameters)
    try:
        with _kernel_settings() as kernel_config:
            pm.execute_notebook(str(source), str(running), parameters=params, kernel_name=config.KERNEL_NAME,
                                cwd=str(nb_dir), progress_bar=False, log_output=False, config=kernel_config)
    except BaseException as exc:
        if running.exists():
            os.replace(running, failed)
        final.unlink(missing_ok=True)
        if isinstance(exc, pm.PapermillExecutionError):
            index, first, error = _failing_cell(failed)
            if index is None:
                first = (exc.source or "").strip().splitlines()[0] if (exc.source or "").strip() else ""
                error = f"{exc.ename}: {exc.evalue}"
            raise NotebookFailed(stem, quarter, index, first, error, failed) from None
        raise
    os.replace(running, final)
    failed.unlink(missing_ok=True)
    return final


def _value(text: str):
    """A ``-p`` value: a Python literal when it parses as one (``3``, ``0.5``, ``True``), else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    """``python -m fipro run <stem> --quarter Q``: execute one notebook (exit 1 naming the failing cell)."""
    parser = argparse.ArgumentParser(prog="python -m fipro run", description="execute one notebook for one quarter")
    parser.add_argument("notebook", help="notebook stem, e.g. 00_data_check")
    parser.add_argument("--quarter", required=True)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    params = {name: _value(value) for name, value in args.parameter}
    progress = env_progress_file()
    stem = _stem(args.notebook)
    if progress:
        print(progress_step(progress, stem, args.quarter, "start"), flush=True)
    started = time.monotonic()
    try:
        path = run_notebook(args.notebook, args.quarter, params, args.output_dir)
    except (NotebookFailed, FileNotFoundError) as exc:
        if progress:
            print(progress_step(progress, stem, args.quarter, "failed", time.monotonic() - started), flush=True)
        print(f"run failed: {exc}", file=sys.stderr)
        return 1
    record_kernel_peak(path)
    if progress:
        print(progress_step(progress, stem, args.quarter, "done", time.monotonic() - started), flush=True)
    else:
        print(path)
    return 0


def record_kernel_peak(path: Path) -> float:
    """Write the peak resident memory of this process's largest finished child into the executed
    notebook (``metadata.fipro.kernel_peak_mb``) and return it.

    ``fipro run`` executes one notebook per process, so that child is the notebook's kernel:
    ``make benchmark`` then shows which notebook holds how much memory (a kernel's command
    line does not name its notebook). Called after :func:`run_notebook` in that process only;
    in a process that ran several kernels it would be the largest of them.
    """
    mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)  # KiB on Linux
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.setdefault("metadata", {}).setdefault("fipro", {})["kernel_peak_mb"] = mb
    tmp = path.with_name(path.name + ".peak")
    tmp.write_text(json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return mb
