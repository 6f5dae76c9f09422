"""Shared test set-up (at the root so nbval runs of notebooks/ alone get it too).

The tests never touch a user's ``data/``, ``outputs/`` or ``.env``: before ``fipro`` is
imported, the data and output trees are pointed at ``.cache/test-home`` (kept
between runs so the sample is generated and ingested once) and ``FIPRO_KEY_SALT`` is a
fixed test secret. Notebooks executed by nbval or papermill inherit these variables, so
they read the same private sample and show the same labels.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
TEST_HOME = _ROOT / ".cache" / "test-home"
os.environ["FIPRO_DATA_DIR"] = str(TEST_HOME / "data")
os.environ["FIPRO_OUTPUTS_DIR"] = str(TEST_HOME / "outputs")
# the installation's secret (fipro.privacy: the labels and the hand-off key): a fixed test value,
# so tests never create or read the project's .env and a label is the same in every run
TEST_SECRET = "fipro-test-home-secret"
os.environ["FIPRO_KEY_SALT"] = TEST_SECRET
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NUMBA_CACHE_DIR", str(_ROOT / ".cache" / "numba"))

import pytest  # noqa: E402

from fipro import config  # noqa: E402

SAMPLE_SEED = config.RANDOM_SEED
_prepared = False


def prepare_sample() -> list[str]:
    """Generate (once) and ingest (once) the sample into the private test home."""
    global _prepared
    from fipro import ingest, synth

    if not _prepared:
        synth.ensure_synthetic(scale="sample", seed=SAMPLE_SEED)
        ingest.ingest_raw()
        _prepared = True
    return ingest.available_quarters()


# Notebooks that a test already executes with their committed parameters (and asserts on):
# when that test is collected too, nbval does not run the same notebook a second time.
NOTEBOOK_TESTS = {
    "00_data_check": "tests/test_runner.py::test_data_check_notebook_records_its_numbers_and_draws_its_figures",
    "01_eda": "tests/test_eda.py::test_notebook_01_records_the_eda_headlines",
    "02_feature_engineering": "tests/test_features.py::test_notebook_02_builds_and_records_the_features",
    "03_lifestage": "tests/test_lifestage.py::test_notebook_03_on_the_sample_records_headline_numbers",
    "04_anomaly": "tests/test_anomaly.py::test_notebook_04_on_the_sample_saves_the_interface",
}


def committed_quarter(stem: str) -> str:
    """The ``quarter`` of a notebook's committed parameters cell (the quarter nbval runs)."""
    import ast

    import nbformat

    cell = nbformat.read(_ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells[1]
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["quarter"]:
            return ast.literal_eval(node.value)
    raise KeyError(f"{stem} has no quarter parameter")


def pytest_collection_modifyitems(session, config, items):
    nbval = [item for item in items if type(item).__module__.startswith("nbval")]
    ids = {item.nodeid for item in items}
    covered = [item for item in nbval if NOTEBOOK_TESTS.get(Path(str(item.fspath)).stem) in ids]
    if covered:
        config.hook.pytest_deselected(items=covered)
        skipped = set(covered)
        items[:] = [item for item in items if item not in skipped]
    # nbval's notebook items cannot take fixtures: prepare the sample up front for them
    if len(nbval) > len(covered):
        prepare_sample()


@pytest.fixture(scope="session")
def sample_quarters() -> list[str]:
    """Quarters of the ingested sample (generating and ingesting it on first use)."""
    return prepare_sample()


# --- model runs on the sample, each run once for the tests that read them ------------------------

@pytest.fixture(scope="session")
def segments_last_run(sample_quarters):
    """``segments.run_quarter`` on the last sample quarter, saved (its model tests and the views')."""
    from fipro import segments

    return segments.run_quarter(sample_quarters[-1])


@pytest.fixture(scope="session")
def health_last_run(sample_quarters):
    """``health.run_quarter`` on the last sample quarter, saved (its model tests and the views')."""
    from fipro import health

    return health.run_quarter(sample_quarters[-1])


def assert_intervals_bracket(metrics, expected) -> None:
    """A saved headline (``outputs/<q>/<model>.json`` or a registry entry's ``metrics``) carries the
    ``expected`` intervals, and every interval it declares brackets its metric: lo ≤ metric ≤ hi, lo < hi."""
    from fipro.evaluation.intervals import nested_value

    declared = set(metrics.get("intervals") or {})
    assert set(expected) <= declared, f"missing intervals: {set(expected) - declared}"
    for key in declared:
        # a dotted key (a per-type number, recall_upper_half.total_spike) reads the nested value
        low, value, high = metrics[f"{key}_lo"], nested_value(metrics, key), metrics[f"{key}_hi"]
        assert low <= value <= high and low < high, (key, low, value, high)
        how = metrics["intervals"][key]
        assert how["method"] in {"bootstrap", "wilson"} and how["customers"] > 0 and how["level"] == 0.95, (key, how)


# --- hand-made rows shared by the tests ---------------------------------------------------
# One builder of contract-shaped raw rows, imported by the test modules
# (``from conftest import raw_row, raw_frame``).

def raw_row(seq: str = "1", quarter: str = "2023q1", **values) -> dict:
    """One raw row in contract order: every amount 0 and plain codes unless given.

    Defaults: a 30–34-year-old woman, 신혼 (NEW_WED), 골드, 서울, digital registered
    but not active, joined 2020-01.
    """
    from fipro import contract

    row = {c: 0 for c in contract.AMOUNT_COLUMNS}
    row.update(BAS_YH=quarter, SEQ=str(seq), AGE="30", SEX_CD="2", MBR_RK="24", ATT_YM="202001",
               HOUS_SIDO_NM="서울", DIGT_CHNL_REG_YN="Y", DIGT_CHNL_USE_YN="N", LIFE_STAGE="NEW_WED")
    row.update(values)
    return row


def raw_frame(rows, categorical: bool = False):
    """Rows from :func:`raw_row` as a frame in contract column order, amounts int64.

    ``categorical=True`` gives code columns as ``ingest.load_quarter`` returns them.
    """
    import pandas as pd

    from fipro import contract

    df = pd.DataFrame(list(rows))[list(contract.COLUMN_NAMES)]
    for c in contract.AMOUNT_COLUMNS:
        df[c] = df[c].astype("int64")
    if categorical:
        for c, table in contract.CODE_TABLES.items():
            df[c] = pd.Categorical(df[c], categories=list(table))
    return df


@pytest.fixture
def peers_of_ten():
    """Hand-made peers shared by the peer-comparison and EDA tests."""
    # customer "C" (total 55, all 요식업) among ten peers with totals 10…100 (all 유통)
    rows = [raw_row("C", TOT_USE_AM=55, FSBZ_AM=55)]
    rows += [raw_row(f"p{i}", TOT_USE_AM=10 * i, DIST_AM=10 * i) for i in range(1, 11)]
    rows += [raw_row(f"m{i}", SEX_CD="1", TOT_USE_AM=999) for i in range(5)]  # other sex: not peers
    return raw_frame(rows, categorical=True)
