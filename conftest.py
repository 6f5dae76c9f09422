"""Shared test set-up (at the root so nbval runs of notebooks/ alone get it too).

The tests never touch a user's ``data/``, ``outputs/`` or ``.env``: before ``fipro`` is
imported, the data and output trees are pointed at ``.cache/test-home`` (kept
between runs so the sample is generated and ingested once; one such home per pytest-xdist
worker, see ``TEST_HOME``) and ``FIPRO_KEY_SALT`` is a
fixed test secret. Notebooks executed by nbval or papermill inherit these variables, so
they read the same private sample and show the same labels.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def worker_home(worker: str) -> Path:
    """The test home of a pytest-xdist worker (``PYTEST_XDIST_WORKER``; ``""`` without workers).

    pytest runs on two workers (``-n 2`` in pyproject.toml's addopts), each with a test home of
    its own, so no two processes write the same data, output or feedback file: worker gw0 and a
    run without workers (``-n 0``) use ``.cache/test-home``, worker gw1 ``.cache/test-home-gw1``.
    """
    return _ROOT / ".cache" / ("test-home" if worker in ("", "gw0") else f"test-home-{worker}")


TEST_HOME = worker_home(os.environ.get("PYTEST_XDIST_WORKER", ""))
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
    from fipro import export, ingest, synth

    if not _prepared:
        # two pytest runs on one test home at once: the first builds the sample, the other waits and reuses it
        with export.file_lock(TEST_HOME / "sample"):
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


# --- pytest-xdist: which tests share a worker ----------------------------------------------------
# ``-n 2 --dist loadgroup`` (pyproject.toml): the scheduler below runs each group of test files on one
# worker, its tests in collection order. A file is a group of its own: a notebook's cells share one
# nbval kernel, and a module's fixtures (and results such as the life-stage selection,
# tests/test_lifestage.py) are computed once. Files are merged where their tests read one
# expensive result: the saved model runs on the sample (the files that use SHARED_RUNS, session
# fixtures below), and the 00 and 01 notebooks the site test publishes (executed by the tests
# NOTEBOOK_TESTS names, which then run before it on the same worker). Each worker has its own
# test home (TEST_HOME): apart from the nbval kernels, the groups save time, no test needs them.
# (pytest-xdist 3.8's own ``xdist_group`` marks do nothing under pytest 9: they rename node ids.)
SHARED_RUNS = ("segments_last_run", "health_last_run")
SITE_NOTEBOOKS = ("00_data_check", "01_eda")
SITE_TESTS = "tests/test_site.py"


def merged_groups(links) -> dict[str, str]:
    """Each file named in ``links`` (sets of files that share a worker, overlapping sets merge)
    mapped to its group's name, the group's first file."""
    group: dict[str, str] = {}

    def root(f: str) -> str:
        while group.setdefault(f, f) != f:
            f = group[f]
        return f

    for names in links:
        roots = sorted({root(f) for f in names})
        for r in roots[1:]:
            group[r] = roots[0]
    return {f: root(f) for f in group}


def worker_groups() -> dict[str, str]:
    """The test files (paths as in node ids) that share a worker with others, to their group."""
    tests = sorted((_ROOT / "tests").glob("test_*.py"))
    shared = {f"tests/{p.name}" for p in tests if any(name in p.read_text(encoding="utf-8") for name in SHARED_RUNS)}
    site = {NOTEBOOK_TESTS[stem].split("::")[0] for stem in SITE_NOTEBOOKS} | {SITE_TESTS}
    return merged_groups([shared, site])


def worker_scope(nodeid: str, groups: dict[str, str]) -> str:
    """The scope pytest-xdist keeps on one worker for a node id: the group of its file (the part
    before ``::``; a notebook's cells: its path without ``.ipynb``, as pytest 9 writes it)."""
    path = nodeid.split("::")[0]
    return groups.get(path, path)


def group_scheduler(config, log):
    """pytest-xdist's scheduler of whole scopes, a test's scope its group from :func:`worker_groups`
    (its file where that names none). Scopes go out largest (most tests) first, one at a time to
    the worker that runs out of work."""
    from xdist.scheduler import LoadScopeScheduling

    groups = worker_groups()

    class FileGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid, groups)

    return FileGroupScheduling(config, log)


class XdistGroups:
    """Hands pytest-xdist the scheduler (registered only where pytest-xdist is: the hook is its own)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        return group_scheduler(config, log) if config.getvalue("dist") == "loadgroup" else None


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistGroups(), "fipro-xdist-groups")


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
