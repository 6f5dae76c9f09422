"""Tests of fipro.datasets' output and hand-off paths: each follows config when called."""

from __future__ import annotations

import pytest

from fipro import config, datasets


@pytest.fixture
def trees(tmp_path, monkeypatch):
    """config's folders moved under ``tmp_path``, as FIPRO_DATA_DIR / FIPRO_OUTPUTS_DIR would."""
    moved = {"OUTPUTS_DIR": tmp_path / "outputs", "BENCHMARKS_DIR": tmp_path / "outputs" / "benchmarks",
             "REFERENCE_DIR": tmp_path / "reference", "DB_SEED_DIR": tmp_path / "data" / "db_seed",
             "REPORTS_DIR": tmp_path / "reports"}
    for name, path in moved.items():
        monkeypatch.setattr(config, name, path)
    return tmp_path


def test_quarter_outputs_sit_in_the_quarters_folder(trees):
    q = trees / "outputs" / "2023q1"
    assert datasets.executed_notebook_path("00_data_check", "2023q1") == q / "00_data_check.ipynb"
    assert datasets.summary_path("2023q1") == q / "summary.md"
    assert datasets.recommendations_path("2023q1") == q / "recommendations.parquet"
    assert datasets.views_dir("2023q1") == q / "views"
    assert datasets.view_table_path("2023q1", "customers") == q / "views" / "customers.parquet"


def test_run_wide_outputs_sit_in_the_output_tree(trees):
    assert datasets.reports_dir() == trees / "outputs" / "reports"
    assert datasets.benchmark_path("ingest") == trees / "outputs" / "benchmarks" / "ingest.json"
    assert datasets.notebook_seconds_path() == trees / "outputs" / ".notebook-seconds.json"


def test_reference_hand_off_and_site_folders_follow_config(trees):
    assert datasets.feature_schema_path() == trees / "reference" / "feature_schema.json"
    assert datasets.db_seed_dir() == trees / "data" / "db_seed"
    assert datasets.site_source_dir() == trees / "reports" / "site"


def test_every_path_function_is_in_the_modules_table():
    for name in ("feature_schema_path", "db_seed_dir", "executed_notebook_path", "summary_path",
                 "recommendations_path", "views_dir", "view_table_path", "reports_dir", "benchmark_path",
                 "notebook_seconds_path", "site_source_dir"):
        assert f":func:`{name}`" in datasets.__doc__ and name in datasets.__all__, name


def test_callers_use_them(trees):
    from fipro import handoff, model_report, runner, site
    from fipro.features import cache
    from fipro.recommend import artifacts
    from fipro.views import data

    assert handoff.seed_dir() == datasets.db_seed_dir()
    assert site.source_dir() == datasets.site_source_dir()
    assert model_report.report_dir() == datasets.reports_dir()
    assert cache.schema_path() == datasets.feature_schema_path()
    assert artifacts.log_path("2023q1") == datasets.recommendations_path("2023q1")
    assert data.views_dir("2023q1") == datasets.views_dir("2023q1")
    assert runner.output_path("01_eda", "2023q1") == datasets.executed_notebook_path("01_eda", "2023q1")
