"""Progress of a ``make notebooks`` run, shared by the parallel ``run`` commands.

    python -m fipro progress start --total N --quarters "..." [--jobs J --stems "..." --serial "..."]
    python -m fipro progress end

``make notebooks`` counts the stale notebook targets, opens a progress file
(``FIPRO_PROGRESS``) with ``progress start``, and every ``python -m fipro run`` reports
"notebook n of N, elapsed, remaining" into it under a lock, so parallel runs count
together (:func:`progress_step`). ``progress end`` says how long it took and where the
executed notebooks and metrics are, and keeps each notebook's mean duration
(``outputs/.notebook-seconds.json``) for the next run's estimate.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

from fipro import config, datasets
from fipro.export import atomic_path, file_lock, write_json_atomic

# Environment variable naming the progress file of a ``make notebooks`` run.
PROGRESS_ENV = "FIPRO_PROGRESS"


@contextlib.contextmanager
def _locked_progress(path: Path):
    """The progress state, read and written back under an exclusive lock (parallel runs)."""
    with file_lock(path):  # parallel `run`s of one `make notebooks` update the same file
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
             "seconds": {}, "history": remembered_seconds()}
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
    metrics = sorted({p.name for q in quarters for p in config.quarter_dir(q).glob("*.json")})
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
    return datasets.notebook_seconds_path()


def remembered_seconds() -> dict[str, float]:
    """Each notebook's last mean seconds in this output tree (``{}`` before any run)."""
    try:
        return {str(k): float(v) for k, v in json.loads(_history_path().read_text(encoding="utf-8")).items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}


def _save_history(state: dict) -> None:
    """Mean duration of each notebook in this run, for the next run's estimate."""
    means = {stem: sum(runs) / len(runs) for stem, runs in state.get("seconds", {}).items() if runs}
    if means:
        write_json_atomic(_history_path(), {**remembered_seconds(), **means})


def env_progress_file() -> Path | None:
    """The progress file ``make notebooks`` opened (``$FIPRO_PROGRESS``), or ``None`` outside it."""
    value = os.environ.get(PROGRESS_ENV)
    return Path(value) if value and Path(value).is_file() else None


def main(argv=None) -> int:
    """``python -m fipro progress start|end``: open the progress file, or close it and say where to look."""
    parser = argparse.ArgumentParser(prog="python -m fipro progress", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "end"))
    parser.add_argument("--file", type=Path, default=None, help=f"default ${PROGRESS_ENV}")
    parser.add_argument("--total", type=int, default=0)
    parser.add_argument("--quarters", default="")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--stems", default="", help="the notebooks to run, one word per run")
    parser.add_argument("--serial", default="", help="notebooks that run one at a time")
    args = parser.parse_args(argv)
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
