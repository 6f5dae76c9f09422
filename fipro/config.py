"""Project paths and the few global constants.

Every path is anchored on this file, never on the working directory: papermill,
Quarto, Voila and pytest each run from their own folder. ``FIPRO_DATA_DIR`` and
``FIPRO_OUTPUTS_DIR`` move the data and output trees (the tests use this to run
on a private sample without touching a user's real data).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[1]

DATA_DIR = Path(os.environ.get("FIPRO_DATA_DIR", PROJ_ROOT / "data")).resolve()
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
DB_SEED_DIR = DATA_DIR / "db_seed"
FEEDBACK_DIR = DATA_DIR / "feedback"
# Small committed tables (data dictionary, catalogue) always live in the repo.
REFERENCE_DIR = PROJ_ROOT / "data" / "reference"

OUTPUTS_DIR = Path(os.environ.get("FIPRO_OUTPUTS_DIR", PROJ_ROOT / "outputs")).resolve()
BENCHMARKS_DIR = OUTPUTS_DIR / "benchmarks"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
REPORTS_DIR = PROJ_ROOT / "reports"

# Name of the synthetic stand-in; the real file may carry this name too.
RAW_FILENAME = "edu_data_F.csv"

# The real file holds exactly these quarters; ingest reports the ones it finds.
QUARTERS = tuple(f"{y}q{q}" for y in (2022, 2023) for q in (1, 2, 3, 4))

RANDOM_SEED = int(os.environ.get("FIPRO_SEED", "20231"))

# CPU threads one notebook may use: the runner sets FIPRO_THREADS to cores / parallel jobs,
# so two quarters side by side do not oversubscribe the two cores.
N_THREADS = max(1, int(os.environ.get("FIPRO_THREADS", os.cpu_count() or 1)))

# Jupyter kernel installed into the project's virtual environment.
KERNEL_NAME = "fipro"


def quarter_dir(quarter: str) -> Path:
    """Folder of one quarter's executed notebooks, figures and metrics."""
    return OUTPUTS_DIR / quarter
