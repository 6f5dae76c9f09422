"""Synthetic stand-in for EDU_DATA_F, with a planted truth to measure models against.

When the licensed raw file is absent, ``ensure_synthetic`` writes
``data/raw/edu_data_F.csv`` in the real file's exact format (header, column order,
CRLF, UTF-8, no quoting, whole 천원 amounts, the real code spellings) plus
``edu_data_F.truth.parquet`` (never a model input) and a sidecar
``edu_data_F.csv.synth.json``. The parameters are tuned to every published fact in
``shared/spec/data-contract.md``; the tests check each one with a stated tolerance.

One job per module:

==============================  ===========================================================
:mod:`~fipro.synth.params`      published facts and the tuned tables (every effect, with its source)
:mod:`~fipro.synth.model`       the analytic model: :class:`Model`, the arrays derived from the tables
:mod:`~fipro.synth.generate`    drawing customers, anomalies and stress; :func:`generate_frame`
:mod:`~fipro.synth.posterior`   the exact posterior of the truth file; :func:`life_stage_posterior`
:mod:`~fipro.synth.files`       the raw CSV, truth and sidecar files; ``python -m fipro synth``
:mod:`~fipro.synth.difficulty`  the planted ceilings every model reports against
:mod:`~fipro.synth.levels`      the published overall levels (sex, region, quarter) as checks on a file
==============================  ===========================================================

The names below are the package's public API (``from fipro import synth``).
"""

from __future__ import annotations

from fipro.synth import difficulty, files, generate, levels, model, params, posterior
from fipro.synth.difficulty import ANOMALY_MAGNITUDE, describe_difficulty, difficulty_report
from fipro.synth.files import (
    GENERATOR_VERSION, ensure_synthetic, is_synthetic, load_truth, main, truth_path, write_synthetic,
)
from fipro.synth.generate import generate_frame
from fipro.synth.model import Model, get_model, region_effects
from fipro.synth.params import (
    AGE_ROW_SHARE, AGES, ANOMALY_RATE, ANOMALY_TYPES, CATS, CO_GROUPS, DETAILS, GRADES, MEAN_CNF_CRDSL_BY_STAGE,
    MEAN_TOT_BY_AGE, N_AGE, N_CAT, N_GRADE, N_LS, N_Q, N_REG, N_SEG, N_SEX, N_SUB, N_Z, REGIONS, ROWS_REAL, SCALES,
    SEGMENT_NAMES, SEGMENT_SIGNAL, SEGMENTS, SEXES, SHARE_GRID, SIGNAL, STAGES,
)
from fipro.synth.posterior import life_stage_posterior

__all__ = [
    "AGE_ROW_SHARE", "AGES", "ANOMALY_MAGNITUDE", "ANOMALY_RATE", "ANOMALY_TYPES", "CATS", "CO_GROUPS", "DETAILS",
    "GENERATOR_VERSION", "GRADES", "MEAN_CNF_CRDSL_BY_STAGE", "MEAN_TOT_BY_AGE", "Model", "N_AGE", "N_CAT",
    "N_GRADE", "N_LS", "N_Q", "N_REG", "N_SEG", "N_SEX", "N_SUB", "N_Z", "REGIONS", "ROWS_REAL", "SCALES",
    "SEGMENT_NAMES", "SEGMENT_SIGNAL", "SEGMENTS", "SEXES", "SHARE_GRID", "SIGNAL", "STAGES", "describe_difficulty",
    "difficulty", "difficulty_report", "ensure_synthetic", "files", "generate", "generate_frame", "get_model",
    "levels",
    "is_synthetic", "life_stage_posterior", "load_truth", "main", "model", "params", "posterior", "region_effects",
    "truth_path", "write_synthetic",
]
