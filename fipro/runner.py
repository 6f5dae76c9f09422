"""Per-quarter notebook runner: papermill with outputs named from their parameters.

    python -m fipro quarters                                   # quarters in the processed data
    python -m fipro run 00_data_check --quarter 2023q1 [-p name value ...]

``run`` executes ``notebooks/<stem>.ipynb`` on the ``fipro`` kernel with the notebook
folder as working directory and writes ``config.OUTPUTS_DIR/<quarter>/<stem>.ipynb``.
The executed copy is written under a temporary name (``.<stem>.running-<pid>.ipynb``)
and renamed only on success, so nothing half-made looks complete. On failure the copy
is kept as ``<stem>.failed.ipynb``, a previous complete output of the same notebook and
quarter is removed (it no longer matches the code or data that were just run), and the
command exits non-zero naming the notebook and the failing cell (index, first source
line, error).

Staleness is left to ``make``: one file target per executed notebook, depending on the
notebook, the ``fipro`` sources and ``data/processed/manifest.json`` (which ingest
rewrites only when it re-ingests).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

from fipro import config

RUNNING_PREFIX = "."
FAILED_SUFFIX = ".failed.ipynb"


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
    base = Path(output_dir) if output_dir is not None else config.quarter_dir(quarter)
    return base / f"{_stem(stem)}.ipynb"


_ADDED_BY_PAPERMILL = {"injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(nb_path: Path) -> tuple[int | None, str, str]:
    """(index in the source notebook, first source line, error) of the first failing cell.

    Cells papermill adds (injected parameters, error banners) are not counted, so the
    index points at the cell a person edits in ``notebooks/<stem>.ipynb``.
    """
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable copy still must not hide the failure
        return None, "", ""
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
        Further papermill parameters (override the notebook's defaults).
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
    import papermill as pm

    stem = _stem(stem)
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else config.NOTEBOOKS_DIR
    source = nb_dir / f"{stem}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"no notebook {source}")
    final = output_path(stem, quarter, output_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    running = final.with_name(f"{RUNNING_PREFIX}{stem}.running-{os.getpid()}.ipynb")
    failed = final.with_name(f"{stem}{FAILED_SUFFIX}")
    params = {"quarter": quarter, **(parameters or {})}
    try:
        pm.execute_notebook(str(source), str(running), parameters=params, kernel_name=config.KERNEL_NAME,
                            cwd=str(nb_dir), progress_bar=False, log_output=False)
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("quarters", "run"):
        print(__doc__.strip())
        return 2
    command, rest = argv[0], argv[1:]
    if command == "quarters":
        from fipro import ingest

        parser = argparse.ArgumentParser(prog="python -m fipro quarters")
        parser.add_argument("--processed-dir", type=Path, default=None)
        args = parser.parse_args(rest)
        print(" ".join(ingest.available_quarters(args.processed_dir)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m fipro run")
    parser.add_argument("notebook", help="notebook stem, e.g. 00_data_check")
    parser.add_argument("--quarter", required=True)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(rest)
    params = {name: _value(value) for name, value in args.parameter}
    try:
        path = run_notebook(args.notebook, args.quarter, params, args.output_dir)
    except (NotebookFailed, FileNotFoundError) as exc:
        print(f"run failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
