"""``fipro`` command line: one entry point, each sub-command a module's ``main(argv)``.

    python -m fipro synth --scale sample     # synthetic raw file + truth (skips if present)
    python -m fipro dictionary               # data dictionary xlsx/csv from the contract
    python -m fipro ingest                   # raw file -> validated per-quarter Parquet
    python -m fipro history                  # customer history states -> data/processed/history/<quarter>
    python -m fipro features --quarter 2023q1   # shared features -> data/processed/features
    python -m fipro stamps                   # what `make` reads to re-run only what changed (outputs/.stamps)
    python -m fipro quarters                 # quarters found in the processed data
    python -m fipro run 00_data_check --quarter 2023q1   # execute one notebook
    python -m fipro jobs                     # parallel notebook jobs for the ingested scale
    python -m fipro progress start|end       # progress of `make notebooks` (used by make)
    python -m fipro benchmark --scale full   # timed full-scale runs -> outputs/benchmarks
    python -m fipro select                   # life-stage tuning + learning curve, once per run
    python -m fipro export-seed              # DB hand-off: data/db_seed/customer_quarter.csv + schema
    python -m fipro model-report             # outputs/reports/model_report.md from the saved models
    python -m fipro summary --quarter 2023q1 # Korean quarter summaries -> outputs/<quarter>/summary.md
    python -m fipro site                     # report site -> _site/ (Quarto if installed, else MkDocs)
    python -m fipro views                    # lookup tables of the Voila views -> outputs/<quarter>/views
"""

from __future__ import annotations

import importlib
import sys

# sub-command -> module holding its ``main(argv) -> int``
COMMANDS = {
    "synth": "fipro.synth",
    "dictionary": "fipro.dictionary",
    "ingest": "fipro.ingest",
    "history": "fipro.history",
    "features": "fipro.features",
    "stamps": "fipro.stamps",
    "quarters": "fipro.runner",
    "run": "fipro.runner",
    "jobs": "fipro.runner",
    "progress": "fipro.runner",
    "benchmark": "fipro.benchmark",
    "select": "fipro.lifestage.selection",
    "export-seed": "fipro.handoff",
    "model-report": "fipro.model_report",
    "summary": "fipro.summary",
    "site": "fipro.site",
    "views": "fipro.views.data",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[command])
    # runner serves several sub-commands and needs to know which
    if module.__name__ == "fipro.runner":
        rest = [command, *rest]
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
