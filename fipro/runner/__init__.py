"""Per-quarter notebook runner: papermill with outputs named from their parameters.

    python -m fipro quarters                                   # quarters in the processed data
    python -m fipro run 00_data_check --quarter 2023q1 [-p name value ...]
    python -m fipro jobs [--memory-gb 8]                       # parallel notebook jobs for this scale
    python -m fipro progress start --total N --quarters "..."  # (make) open a progress file
    python -m fipro progress end                               # (make) say where the results are
    python -m fipro schedule --jobs 2 -- QUARTERS="..."        # (make) start the stale notebooks

One job per module:

==================================  ======================================================
:mod:`~fipro.runner.execute`        one notebook for one quarter (:func:`run_notebook`):
                                    temporary name, renamed on success, the failing cell
                                    named (:class:`NotebookFailed`); ``run``
:mod:`~fipro.runner.jobs`           how many notebooks side by side and their threads, from
                                    the rows per quarter and ``MEMORY_GB``; ``jobs``,
                                    ``quarters``
:mod:`~fipro.runner.progress`       the progress file of ``make notebooks`` ("notebook n of
                                    N, elapsed, remaining"); ``progress``
:mod:`~fipro.runner.schedule`       which stale target starts next: make's targets and
                                    prerequisites, the longest chain of work first;
                                    ``schedule``
==================================  ======================================================

Staleness is left to ``make``: one file target per executed notebook (see the Makefile);
``schedule`` only chooses the order in which make's stale targets start.
Each command's ``main`` is named in :data:`fipro.cli.COMMANDS`; the names below are the
package's public API (``fipro.runner.run_notebook`` …).
"""

from __future__ import annotations

from fipro.runner import execute, jobs, progress, schedule
from fipro.runner.execute import (FAILED_SUFFIX, KERNEL_MPLBACKEND, RUNNING_PREFIX, NotebookFailed, output_path,
                                  parameter_names, run_notebook, run_parameters)
from fipro.runner.execute import main as run_main
from fipro.runner.jobs import (DEFAULT_MEMORY_GB, JOB_BASE_GB, JOB_GB_PER_ROW, LARGE_QUARTER_ROWS, decide_jobs,
                               is_large, job_peak_gb, manifest_rows, quarters_main, threads_per_job)
from fipro.runner.jobs import main as jobs_main
from fipro.runner.progress import PROGRESS_ENV, env_progress_file, progress_end, progress_start, progress_step
from fipro.runner.progress import main as progress_main
from fipro.runner.schedule import main as schedule_main

__all__ = [
    "DEFAULT_MEMORY_GB", "FAILED_SUFFIX", "JOB_BASE_GB", "JOB_GB_PER_ROW", "KERNEL_MPLBACKEND", "LARGE_QUARTER_ROWS",
    "NotebookFailed", "PROGRESS_ENV", "RUNNING_PREFIX", "decide_jobs", "env_progress_file", "execute", "is_large",
    "job_peak_gb", "jobs", "jobs_main", "manifest_rows", "output_path", "parameter_names", "progress",
    "progress_end", "progress_main", "progress_start", "progress_step", "quarters_main", "run_main", "run_notebook",
    "run_parameters", "schedule", "schedule_main", "threads_per_job",
]
