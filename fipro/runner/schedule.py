"""Start make's stale targets in the order of the work still behind them.

    python -m fipro schedule --jobs 2 [--goal run-notebooks] [-- VAR=value ...]

GNU make ``-j`` goes through its goal's prerequisites once per pass: a target whose
prerequisites are still running when make reaches it waits until make has started every
target after it in the list. On the sample that left one core idle for the last minute of
``make notebooks``: the recommendation notebooks form a chain (each quarter reads the
previous quarter's log), and its first link was passed over while the segment notebook it
needs was running, so the whole chain ran alone at the end.

Staleness and the recipes stay with make; only the order is chosen here:

1. ``make -n --debug=b <goal>``: the targets make would remake ("Must remake target 'X'.").
2. ``make -p -q -r <goal>``: make's database, each target's prerequisites (order-only too).
3. Each stale target's *chain*: its expected seconds plus the longest chain among the stale
   targets that need it (:func:`chain_seconds`). Expected seconds per notebook come from
   ``outputs/.notebook-seconds.json`` (the runner keeps each notebook's last mean), before
   any run from :data:`DEFAULT_SECONDS` (full scale) or :data:`SAMPLE_DEFAULT_SECONDS`; a
   target never timed counts as the mean of the known ones.
4. Up to ``--jobs`` targets at once, each by ``make <target>`` (make checks it again and
   runs its recipe): a target starts when every stale prerequisite has finished, the ready
   target with the longest chain first (:func:`order`).

A failed target stops new starts; the running ones finish; exit status 1 names it.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from fipro.runner import jobs, progress

MUST_REMAKE = re.compile(r"Must remake target '(.+)'\.$")
# Seconds per target stem before this output tree has timed any (a fresh clone, the
# benchmark's rebuild), by scale (`jobs.is_large`): the full-scale rebuild's mean per
# quarter at 087381a and the sample's at 9dcc710, each with the life-stage selection
# (selection.json). Only their ratios matter: they order the start.
DEFAULT_SECONDS: dict[str, float] = {
    "00_data_check": 8.5, "01_eda": 20.0, "02_feature_engineering": 12.0, "03_lifestage": 195.0,
    "04_anomaly": 41.0, "05_clustering": 42.0, "06_health_score": 33.0, "07_recommendation": 62.0,
    "08_drift": 39.0, "selection": 283.0,
}
SAMPLE_DEFAULT_SECONDS: dict[str, float] = {
    "00_data_check": 6.4, "01_eda": 8.5, "02_feature_engineering": 6.0, "03_lifestage": 14.1,
    "04_anomaly": 9.8, "05_clustering": 12.8, "06_health_score": 7.1, "07_recommendation": 7.4,
    "08_drift": 4.9, "selection": 40.0,
}


def stale_targets(dry_run_debug: str, goal: str) -> list[str]:
    """Targets of ``make -n --debug=b`` output that make would remake, in make's order (the goal left out)."""
    seen: dict[str, None] = {}
    for line in dry_run_debug.splitlines():
        m = MUST_REMAKE.search(line.strip())
        if m and m.group(1) != goal:
            seen.setdefault(m.group(1), None)
    return list(seen)


def prerequisites(database: str, targets: Sequence[str]) -> dict[str, set[str]]:
    """Each of ``targets``' prerequisites (normal and order-only) from ``make -p`` output.

    make prints a target's rule as ``target: prereqs | order-only`` (one line after its
    pattern and variable expansion); several lines for one target add up.
    """
    wanted = set(targets)
    deps: dict[str, set[str]] = {t: set() for t in targets}
    for line in database.splitlines():
        if not line or line[0] in "#\t ":
            continue
        target, sep, rest = line.partition(": ")
        if not sep and line.endswith(":"):
            target, rest = line[:-1], ""
        if target in wanted and not target.endswith(":"):
            deps[target].update(w for w in rest.split() if w != "|")
    return deps


def chain_seconds(deps: Mapping[str, set[str]], seconds: Mapping[str, float]) -> dict[str, float]:
    """Each target's expected seconds plus the longest chain of stale targets that need it."""
    needed_by: dict[str, list[str]] = {t: [] for t in deps}
    for target, pre in deps.items():
        for p in pre:
            if p in needed_by:
                needed_by[p].append(target)
    chain: dict[str, float] = {}

    def visit(t: str) -> float:
        if t not in chain:
            chain[t] = 0.0  # a cycle cannot occur (make rejects one); guards the recursion anyway
            chain[t] = seconds[t] + max((visit(u) for u in needed_by[t]), default=0.0)
        return chain[t]

    for t in deps:
        visit(t)
    return chain


def expected_seconds(targets: Sequence[str], known: Mapping[str, float],
                     defaults: Mapping[str, float] = DEFAULT_SECONDS) -> dict[str, float]:
    """Seconds per target: the notebook's remembered mean (by file stem), else its default,
    else the mean of the known ones (1 when none is known).

    Remembered seconds replace all the defaults at once, not stem by stem: the defaults are
    full-scale seconds and the remembered ones may be the sample's.
    """
    table = dict(known) if known else dict(defaults)
    fallback = sum(table.values()) / len(table) if table else 1.0
    return {t: float(table.get(Path(t).stem, fallback)) for t in targets}


def order(ready: Sequence[str], chain: Mapping[str, float], position: Mapping[str, int]) -> list[str]:
    """Ready targets, the longest chain first; make's own order breaks ties."""
    return sorted(ready, key=lambda t: (-chain[t], position[t]))


def sub_make_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a sub-make started from here: ``MAKEFLAGS`` without job options.

    The parent's jobserver descriptors are not inherited by our children, so a sub-make
    that read them would warn and fall back; command-line variables (after ``--``) stay.
    """
    out = dict(env)
    flags = out.get("MAKEFLAGS")
    if flags:
        head, sep, tail = flags.partition(" -- ")
        words = [w for w in head.split() if not (w.startswith("-j") or w.startswith("--jobserver"))]
        head = " ".join(words)
        out["MAKEFLAGS"] = f"{head}{sep}{tail}".strip() if sep else head
    return out


def _make_output(make: Sequence[str], args: Sequence[str], env: Mapping[str, str]) -> str:
    done = subprocess.run([*make, *args], capture_output=True, text=True, env=dict(env))
    if done.returncode not in (0, 1):  # -q exits 1 when something is stale
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"{' '.join([*make, *args])} failed ({done.returncode})")
    return done.stdout


def plan(make: Sequence[str], goal: str, variables: Sequence[str], env: Mapping[str, str]):
    """``(targets in make's order, their stale prerequisites, their chains)`` for ``goal``."""
    base = ["--no-print-directory", *variables]
    targets = stale_targets(_make_output(make, ["-n", "--debug=b", goal, *base], env), goal)
    database = _make_output(make, ["-p", "-q", "-r", goal, *base], env)
    stale = set(targets)
    deps = {t: pre & stale for t, pre in prerequisites(database, targets).items()}
    seconds = expected_seconds(targets, progress.remembered_seconds(), _defaults())
    return targets, deps, chain_seconds(deps, seconds)


def _defaults() -> dict[str, float]:
    """:data:`DEFAULT_SECONDS` for large quarters, :data:`SAMPLE_DEFAULT_SECONDS` otherwise
    (or when nothing is ingested yet)."""
    try:
        large = jobs.is_large(jobs.manifest_rows().values())
    except (FileNotFoundError, ValueError, KeyError):
        large = False
    return DEFAULT_SECONDS if large else SAMPLE_DEFAULT_SECONDS


def run(make: Sequence[str], targets: Sequence[str], deps: Mapping[str, set[str]], chain: Mapping[str, float],
        jobs: int, variables: Sequence[str] = (), env: Mapping[str, str] | None = None) -> int:
    """Build ``targets`` with ``jobs`` sub-makes at once; 0, or 1 after a failure (named on stderr).

    ``env``: the sub-makes' environment, already through :func:`sub_make_env` (default: ours, cleaned)."""
    env = sub_make_env(os.environ) if env is None else dict(env)
    position = {t: i for i, t in enumerate(targets)}
    waiting = {t: set(deps[t]) for t in targets}
    running: dict[int, tuple[str, subprocess.Popen]] = {}
    failed: list[str] = []
    while waiting or running:
        if not failed:
            ready = [t for t, pre in waiting.items() if not pre]
            for t in order(ready, chain, position)[:max(jobs - len(running), 0)]:
                del waiting[t]
                proc = subprocess.Popen([*make, "--no-print-directory", t, *variables], env=env)
                running[proc.pid] = (t, proc)
        if not running:
            break  # after a failure: nothing left that may start
        pid, status = os.wait()
        if pid not in running:
            continue
        target, proc = running.pop(pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            failed.append(target)
            print(f"schedule: {target} failed (exit {proc.returncode}); no new targets start", file=sys.stderr,
                  flush=True)
        for pre in waiting.values():
            pre.discard(target)
    if failed:
        left = len(waiting)
        print(f"schedule: failed: {', '.join(failed)}" + (f"; {left} not started" if left else ""), file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    """``python -m fipro schedule --jobs N [--goal G] [-- VAR=value ...]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro schedule", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--goal", default="run-notebooks")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"), help="the make command (default $MAKE)")
    parser.add_argument("variables", nargs="*", help="VAR=value passed to every make call")
    args = parser.parse_args(argv)
    make = shlex.split(args.make)
    env = sub_make_env(os.environ)
    targets, deps, chain = plan(make, args.goal, args.variables, env)
    if not targets:
        return 0
    return run(make, targets, deps, chain, max(args.jobs, 1), args.variables, env)
