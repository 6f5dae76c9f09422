"""``fipro`` command line: one ``argparse`` parser, a sub-command per job, each a module's ``main(argv)``.

    python -m fipro --help                               # the commands, one line each (COMMANDS)
    python -m fipro run --help                           # one command's options
    python -m fipro run 00_data_check --quarter 2023q1   # execute one notebook

:data:`COMMANDS` is the one list: each command's function (``"module:function"``) and its
help line. The top-level parser only chooses the sub-command: everything after its name
goes, as it was given, to that function, which parses its own options. The module is
imported only when its command runs, so ``python -m fipro quarters`` does not load the
models.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, NamedTuple, Optional


class Command(NamedTuple):
    """A sub-command: ``"module:function"`` taking ``argv`` and returning the exit code, and its help line."""

    target: str
    help: str


COMMANDS: dict[str, Command] = {
    "synth": Command("fipro.synth:main", "synthetic raw file + planted truth (skips if present)"),
    "synth-levels": Command("fipro.synth.levels:main", "published levels (sex, region, quarter) checked on a raw file"),
    "dictionary": Command("fipro.dictionary:main", "data dictionary xlsx/csv from the contract"),
    "ingest": Command("fipro.ingest:main", "raw file -> validated per-quarter Parquet"),
    "history": Command("fipro.history:main", "customer history states -> data/processed/history/<quarter>"),
    "features": Command("fipro.features:main", "shared features -> data/processed/features"),
    "stamps": Command("fipro.stamps:main", "what make reads to re-run only what changed (outputs/.stamps)"),
    "quarters": Command("fipro.runner:quarters_main", "quarters found in the processed data"),
    "run": Command("fipro.runner:run_main", "execute one notebook for one quarter"),
    "jobs": Command("fipro.runner:jobs_main", "parallel notebook jobs (and their threads) for the ingested scale"),
    "progress": Command("fipro.runner:progress_main", "progress of `make notebooks` (start|end, used by make)"),
    "schedule": Command("fipro.runner:schedule_main", "start make's stale targets, the longest chain of work first"),
    "benchmark": Command("fipro.benchmark:main", "timed runs -> outputs/benchmarks/*.json"),
    "select": Command("fipro.lifestage.selection:main", "life-stage tuning + learning curve, once per run"),
    "export-seed": Command("fipro.handoff:main", "DB hand-off: data/db_seed/customer_quarter.csv + schema"),
    "model-report": Command("fipro.model_report:main", "outputs/reports/model_report.md from the saved models"),
    "summary": Command("fipro.summary:main", "Korean quarter summaries -> outputs/<quarter>/summary.md"),
    "site": Command("fipro.site:main", "report site -> _site/ (Quarto if installed, else MkDocs)"),
    "views": Command("fipro.views.data:main", "lookup tables of the Voila views -> outputs/<quarter>/views"),
    "warm-jit": Command("fipro.jit:main", "compile the numba functions (UMAP, the life-stage tree walk) into the cache (make install)"),
}


def command_function(name: str) -> Callable[[list[str]], Optional[int]]:
    """The ``main`` of sub-command ``name`` (its module imported now)."""
    module, function = COMMANDS[name].target.split(":")
    return getattr(importlib.import_module(module), function)


def build_parser() -> argparse.ArgumentParser:
    """``python -m fipro`` with one sub-parser per entry of :data:`COMMANDS`.

    The sub-parsers declare no options of their own (``add_help=False``): what follows
    the command's name is left for its ``main``, ``--help`` included.
    """
    parser = argparse.ArgumentParser(prog="python -m fipro", description="FI_PRO: one sub-command per job",
                                     epilog="python -m fipro <command> --help shows a command's options")
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.help, description=command.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; its exit code. No command prints the help (exit 0); an unknown
    one exits 2 with argparse's message."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    args, rest = parser.parse_known_args(argv)
    return int(command_function(args.command)(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
