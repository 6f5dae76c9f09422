"""Per-quarter notebook runner: papermill with outputs named from their parameters.

    python -m fipro quarters                                   # quarters in the processed data
    python -m fipro run 00_data_check --quarter 2023q1 [-p name value ...]
    python -m fipro jobs [--memory-gb 8]                       # parallel notebook jobs for this scale
    python -m fipro progress start --total N --quarters "..."  # (make) open a progress file
    python -m fipro progress end                               # (make) say where the results are

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

Staleness is left to ``make``: one file target per executed notebook, depending on the
notebook, the ``fipro`` sources and ``data/processed/manifest.json`` (which ingest
rewrites only when it re-ingests). ``make notebooks`` counts the stale targets, opens a
progress file (``FIPRO_PROGRESS``) and every ``run`` reports "notebook n of N, elapsed,
remaining" into it under a lock, so parallel runs count together. ``jobs`` decides how
many notebooks run side by side from the rows per quarter in the manifest and a memory
budget (:func:`decide_jobs`).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from fipro import config
from fipro.export import atomic_path, file_lock, write_json_atomic

RUNNING_PREFIX = "."
FAILED_SUFFIX = ".failed.ipynb"

# The backend JupyterLab's kernel uses: open figures are drawn as PNG at the end of a cell.
# ``make`` exports MPLBACKEND=Agg for its scripts; a kernel with Agg would show a figure
# only as the text "<Figure size ...>".
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"

# Environment variable naming the progress file of a ``make notebooks`` run.
PROGRESS_ENV = "FIPRO_PROGRESS"


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
    import nbformat

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
    from traitlets.config import Config

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


# --- how many notebooks side by side -------------------------------------------------

# Peak memory of one notebook job, linear in the rows of its quarter: a kernel with the
# scientific stack loaded, plus the quarter, its features and the life-stage fit (≈ 4.5 GB
# per job at the real file's 673k rows per quarter, ≈ 0.35 GB at the 10k sample).
# Measured at full scale (673k rows): notebooks 00-02 peak at 1.3-2.0 GB, the life-stage
# notebook (float32 features) at about 3 GB; 3.5 GB leaves a margin.
JOB_BASE_GB = 0.5
JOB_GB_PER_ROW = 3.0 / 673_000
DEFAULT_MEMORY_GB = 8.0


def job_peak_gb(rows_per_quarter: int) -> float:
    """Estimated peak memory (GB) of one notebook job on a quarter of this many rows."""
    return JOB_BASE_GB + JOB_GB_PER_ROW * max(int(rows_per_quarter), 0)


def decide_jobs(rows_per_quarter, memory_gb: float = DEFAULT_MEMORY_GB, cpu_count: int | None = None) -> int:
    """Number of notebook jobs to run in parallel.

    As many as the memory budget holds at the estimated peak of the largest quarter,
    never more than the CPUs and never fewer than one (a quarter larger than the budget
    still runs, alone).

    Parameters
    ----------
    rows_per_quarter : int or iterable of int
        Rows of each quarter (the manifest's ``quarters``); the largest one counts.
    memory_gb : float
        Memory all parallel jobs may use together.
    cpu_count : int, optional
        Default ``os.cpu_count()``.

    Examples
    --------
    >>> decide_jobs([673_000] * 8, memory_gb=8, cpu_count=2)
    2
    >>> decide_jobs([673_000] * 8, memory_gb=6, cpu_count=2)
    1
    >>> decide_jobs([10_000] * 8, memory_gb=8, cpu_count=2)
    2
    """
    rows = [rows_per_quarter] if isinstance(rows_per_quarter, (int, float)) else list(rows_per_quarter)
    if not rows:
        return 1
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    by_memory = math.floor(memory_gb / job_peak_gb(max(rows)))
    return max(1, min(by_memory, cpus))


# From this many rows per quarter a model notebook's booster dominates its time: it runs
# alone with every core (the Makefile's SERIAL_NOTEBOOKS) instead of beside another job.
LARGE_QUARTER_ROWS = 100_000


def is_large(rows_per_quarter) -> bool:
    """Whether the largest quarter has ``LARGE_QUARTER_ROWS`` rows or more.

    Examples
    --------
    >>> is_large([673_000, 670_000]), is_large([10_000]), is_large([])
    (True, False, False)
    """
    return max(list(rows_per_quarter) or [0]) >= LARGE_QUARTER_ROWS


def threads_per_job(jobs: int, cpu_count: int | None = None) -> int:
    """CPU threads one notebook may use when ``jobs`` run side by side (``FIPRO_THREADS``)."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cpus // max(int(jobs), 1))


def manifest_rows(manifest_path=None) -> dict:
    """``{quarter: rows}`` from ``data/processed/manifest.json``.

    Raises
    ------
    FileNotFoundError
        No manifest: nothing is ingested yet (``make ingest``).
    """
    path = Path(manifest_path) if manifest_path is not None else config.PROCESSED_DIR / "manifest.json"
    return {q: int(n) for q, n in json.loads(path.read_text(encoding="utf-8"))["quarters"].items()}


# --- progress of a `make notebooks` run ------------------------------------------------


@contextlib.contextmanager
def _locked_progress(path: Path):
    """The progress state, read and written back under an exclusive lock (parallel runs)."""
    with file_lock(path):
        state = json.loads(path.read_text(encoding="utf-8"))
        yield state
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(state), encoding="utf-8")


def _duration_ko(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}시간 {minutes}분"
    return f"{minutes}분 {secs}초" if minutes else f"{secs}초"


def progress_start(path, total: int, quarters=(), jobs: int | None = None, stems=(), serial=()) -> str:
    """Open a progress file for ``total`` notebook runs and return the line to print
    (empty when nothing is stale).

    ``stems`` lists the notebooks to run (one entry per run) and ``serial`` those that
    run one at a time; with them the estimate of what remains weighs each notebook by
    its own duration (see :func:`progress_step`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pending: dict[str, int] = {}
    for stem in stems:
        pending[stem] = pending.get(stem, 0) + 1
    state = {"total": int(total), "started": 0, "done": 0, "failed": 0, "t0": time.time(),
             "quarters": list(quarters), "jobs": jobs, "pending": pending, "serial": list(serial),
             "seconds": {}, "history": _load_history()}
    path.write_text(json.dumps(state), encoding="utf-8")
    if not total:
        return ""  # progress_end says that everything was up to date
    side = f", 동시에 {jobs}개" if jobs else ""
    return f"노트북 {total}개를 실행합니다 (분기 {len(quarters)}개{side})."


def _estimate_left(state: dict, elapsed: float) -> float:
    """Seconds left: each pending notebook at its own expected duration, divided by how
    many of its kind run side by side.

    Expected duration: the mean of this run's finished runs of that notebook, else the
    last run's (``history``), else the mean of every finished run. Without the pending
    list (an old caller) it is the elapsed time per finished notebook times those left.
    """
    pending = {k: v for k, v in state.get("pending", {}).items() if v > 0}
    done = state["done"]
    if not pending:
        return elapsed / max(done, 1) * max(state["total"] - done, 0)
    finished = [s for runs in state["seconds"].values() for s in runs]
    fallback = sum(finished) / len(finished) if finished else elapsed / max(done, 1)
    jobs = max(int(state.get("jobs") or 1), 1)
    left = 0.0
    for stem, n in pending.items():
        runs = state["seconds"].get(stem)
        expected = sum(runs) / len(runs) if runs else state.get("history", {}).get(stem, fallback)
        left += n * expected / (1 if stem in state.get("serial", []) else jobs)
    return left


def progress_step(path, stem: str, quarter: str, event: str, seconds: float | None = None) -> str:
    """Record that a run started, finished or failed; return "notebook n of N" with the
    elapsed time and, after a finish, an estimate of what remains
    (:func:`_estimate_left`).
    """
    with _locked_progress(Path(path)) as state:
        total = state["total"]
        elapsed = time.time() - state["t0"]
        if event == "start":
            state["started"] += 1
            return f"[시작 {state['started']}/{total}] {stem} · {quarter} (경과 {_duration_ko(elapsed)})"
        state["done"] += 1
        state["failed"] += event == "failed"
        if stem in state.get("pending", {}):
            state["pending"][stem] -= 1
        if seconds is not None and event != "failed":
            state.setdefault("seconds", {}).setdefault(stem, []).append(float(seconds))
        done = state["done"]
        took = f" ({_duration_ko(seconds)})" if seconds is not None else ""
        if event == "failed":
            return f"[실패 {done}/{total}] {stem} · {quarter}{took} · 경과 {_duration_ko(elapsed)}"
        left = max(total - done, 0)
        remaining = f"남은 시간 약 {_duration_ko(_estimate_left(state, elapsed))}" if left else "남은 노트북 없음"
        return f"[완료 {done}/{total}] {stem} · {quarter}{took} · 경과 {_duration_ko(elapsed)} · {remaining}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def progress_end(path) -> str:
    """Summary of the run: how long, and where the executed notebooks and metrics are."""
    path = Path(path)
    with _locked_progress(path) as state:
        pass
    _save_history(state)
    quarters = state["quarters"] or sorted(p.name for p in config.OUTPUTS_DIR.glob("[0-9][0-9][0-9][0-9]q[1-4]"))
    lines = []
    if state["total"]:
        lines.append(f"노트북 {state['done']}/{state['total']}개를 {_duration_ko(time.time() - state['t0'])}에 "
                     "실행했습니다.")
    else:
        lines.append("모든 노트북이 최신이라 다시 실행하지 않았습니다.")
    base = _shown(config.OUTPUTS_DIR)
    metrics = sorted({p.name for q in quarters for p in (config.OUTPUTS_DIR / q).glob("*.json")})
    span = f"{quarters[0]} … {quarters[-1]}" if len(quarters) > 1 else "".join(quarters)
    lines += [
        "결과는 여기에 있습니다:",
        f"  실행된 노트북 (그림 포함)  {base}/<분기>/<노트북>.ipynb   (분기: {span})",
        f"  핵심 수치 JSON           {base}/<분기>/{{{','.join(metrics)}}}" if metrics else
        f"  핵심 수치 JSON           {base}/<분기>/*.json",
    ]
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)
    return "\n".join(lines)


def _history_path() -> Path:
    # per data and output tree: the sample's durations say nothing about the full scale
    return config.OUTPUTS_DIR / ".notebook-seconds.json"


def _load_history() -> dict:
    try:
        return {str(k): float(v) for k, v in json.loads(_history_path().read_text(encoding="utf-8")).items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}


def _save_history(state: dict) -> None:
    """Mean duration of each notebook in this run, for the next run's estimate."""
    means = {stem: sum(runs) / len(runs) for stem, runs in state.get("seconds", {}).items() if runs}
    if means:
        write_json_atomic(_history_path(), {**_load_history(), **means})


def _progress_path() -> Path | None:
    value = os.environ.get(PROGRESS_ENV)
    return Path(value) if value and Path(value).is_file() else None


def _value(text: str):
    """A ``-p`` value: a Python literal when it parses as one (``3``, ``0.5``, ``True``), else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


COMMANDS = ("quarters", "run", "jobs", "progress")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
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
    if command == "jobs":
        parser = argparse.ArgumentParser(prog="python -m fipro jobs",
                                         description="parallel notebook jobs for the ingested scale")
        parser.add_argument("--memory-gb", type=float, default=DEFAULT_MEMORY_GB)
        parser.add_argument("--manifest", type=Path, default=None)
        parser.add_argument("--threads-for", type=int, default=None, metavar="JOBS",
                            help="print FIPRO_THREADS for this many jobs instead")
        parser.add_argument("--large", action="store_true",
                            help="print 1 if a quarter is large enough for model notebooks to run alone, else 0")
        args = parser.parse_args(rest)
        if args.threads_for is not None:
            print(threads_per_job(args.threads_for))
            return 0
        try:
            rows = manifest_rows(args.manifest)
        except FileNotFoundError as exc:
            print(f"jobs: no manifest ({exc.filename}); run `make ingest` first", file=sys.stderr)
            return 1
        if args.large:
            print(int(is_large(rows.values())))
            return 0
        print(decide_jobs(rows.values(), memory_gb=args.memory_gb))
        return 0
    if command == "progress":
        parser = argparse.ArgumentParser(prog="python -m fipro progress")
        parser.add_argument("action", choices=("start", "end"))
        parser.add_argument("--file", type=Path, default=None, help=f"default ${PROGRESS_ENV}")
        parser.add_argument("--total", type=int, default=0)
        parser.add_argument("--quarters", default="")
        parser.add_argument("--jobs", type=int, default=None)
        parser.add_argument("--stems", default="", help="the notebooks to run, one word per run")
        parser.add_argument("--serial", default="", help="notebooks that run one at a time")
        args = parser.parse_args(rest)
        path = args.file or (Path(os.environ[PROGRESS_ENV]) if os.environ.get(PROGRESS_ENV) else None)
        if path is None:
            parser.error(f"--file or ${PROGRESS_ENV} is required")
        if args.action == "start":
            line = progress_start(path, args.total, args.quarters.split(), args.jobs, stems=args.stems.split(),
                                  serial=args.serial.split())
            if line:
                print(line, flush=True)
        else:
            print(progress_end(path))
        return 0
    parser = argparse.ArgumentParser(prog="python -m fipro run")
    parser.add_argument("notebook", help="notebook stem, e.g. 00_data_check")
    parser.add_argument("--quarter", required=True)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(rest)
    params = {name: _value(value) for name, value in args.parameter}
    progress = _progress_path()
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
    if progress:
        print(progress_step(progress, stem, args.quarter, "done", time.monotonic() - started), flush=True)
    else:
        print(path)
    return 0
