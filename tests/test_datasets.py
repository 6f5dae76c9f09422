"""fipro.datasets: every path from config at call time, the one raw-file rule, the loaders."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import raw_frame, raw_row

from fipro import config, contract, datasets, features, ingest, synth


@pytest.fixture
def moved(tmp_path, monkeypatch):
    """config pointed at a private tree (as a test or a user's environment variables do)."""
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "data" / "raw")
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "data" / "processed")
    monkeypatch.setattr(config, "FEEDBACK_DIR", tmp_path / "data" / "feedback")
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    return tmp_path


def _synthetic(raw_dir, name="edu_data_F.csv"):
    return synth.write_synthetic(raw_dir / name, scale="sample", seed=3, n_customers=20, progress=False)


def _write_quarter(processed, quarter, rows):
    path = datasets.quarter_table_path(quarter, processed)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw_frame(rows).to_parquet(path, index=False)
    return path


# --- paths follow config when called -------------------------------------------------------

def test_paths_are_read_from_config_at_call_time(moved):
    processed = moved / "data" / "processed"
    assert datasets.processed_dir() == processed
    assert datasets.manifest_path() == processed / "manifest.json"
    assert datasets.rejects_path() == processed / "rejects.parquet"
    assert datasets.quarter_table_path("2023q1") == processed / "customer_quarter" / "2023q1.parquet"
    assert datasets.features_path("2023Q1") == processed / "features" / "2023q1.parquet"
    assert datasets.model_dir("2023q1", "lifestage") == moved / "outputs" / "2023q1" / "models" / "lifestage"
    assert datasets.run_model_dir("anomaly") == moved / "outputs" / "models" / "anomaly"
    assert datasets.feedback_path("lifestage") == moved / "data" / "feedback" / "lifestage_feedback.csv"
    assert datasets.truth_path() == moved / "data" / "raw" / "edu_data_F.truth.parquet"


def test_an_explicit_processed_folder_wins_over_config(moved, tmp_path):
    other = tmp_path / "elsewhere"
    assert datasets.quarter_table_path("2023q1", other) == other / "customer_quarter" / "2023q1.parquet"
    assert datasets.features_path("2023q1", other) == other / "features" / "2023q1.parquet"
    assert datasets.manifest_path(other) == other / "manifest.json"


def test_features_path_refuses_what_is_not_a_quarter():
    with pytest.raises(ValueError, match="2023-1"):
        datasets.features_path("2023-1")


# --- the one raw-file rule --------------------------------------------------------------------

def test_raw_file_is_none_in_an_empty_or_missing_folder(tmp_path):
    assert datasets.raw_file(tmp_path) is None
    assert datasets.raw_file(tmp_path / "missing") is None


def test_raw_file_accepts_the_delivered_names_in_any_case_and_ignores_other_files(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n")
    (tmp_path / "우리 fisa 3기 정의서.xlsx").write_bytes(b"x")
    assert datasets.raw_file(tmp_path) is None
    for name in ("edu_data_F.csv", "EDU_DATA_F.dat", "EDU_DATA_F.DAT", "Edu_Data_f.CSV"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_text("BAS_YH,SEQ\r\n")
        assert datasets.raw_file(folder) == folder / name


def test_a_real_file_is_preferred_over_the_synthetic_stand_in(tmp_path):
    synthetic = _synthetic(tmp_path)
    assert datasets.raw_file(tmp_path) == synthetic and datasets.is_synthetic(synthetic)
    real = tmp_path / "EDU_DATA_F.dat"
    real.write_text("BAS_YH,SEQ\r\n")  # far smaller: being real matters more than size
    assert datasets.raw_file(tmp_path) == real
    assert ingest.find_raw_file(tmp_path) == real


def test_a_real_file_copied_over_the_synthetic_one_counts_as_real(tmp_path):
    synthetic = _synthetic(tmp_path)
    synthetic.write_text(synthetic.read_text() + "\n")  # the sidecar no longer matches the size
    assert not datasets.is_synthetic(synthetic)
    assert synth.ensure_synthetic(raw_dir=tmp_path) is None  # the generator leaves it alone


# --- truth ---------------------------------------------------------------------------------------

def test_truth_is_none_on_real_data_not_an_error(moved):
    assert datasets.load_truth() is None  # no raw file at all
    config.RAW_DIR.mkdir(parents=True)
    (config.RAW_DIR / "EDU_DATA_F.dat").write_text("BAS_YH,SEQ\r\n")
    assert datasets.load_truth("2023q1") is None


def test_truth_of_the_synthetic_file_by_quarter_and_columns(moved):
    raw = _synthetic(config.RAW_DIR)
    assert datasets.truth_path() == datasets.truth_path(raw) == raw.with_name("edu_data_F.truth.parquet")
    truth = datasets.load_truth("2022Q3", columns=["BAS_YH", "SEQ", "segment"])
    assert list(truth.columns) == ["BAS_YH", "SEQ", "segment"] and set(truth["BAS_YH"]) == {"2022q3"}
    assert len(datasets.load_truth()) == len(pd.read_parquet(datasets.truth_path(raw)))
    real = config.RAW_DIR / "EDU_DATA_F.dat"  # a real file arrives: the old truth no longer applies
    real.write_text("BAS_YH,SEQ\r\n")
    assert datasets.load_truth() is None


# --- processed tables --------------------------------------------------------------------------

def test_quarters_and_loader_on_a_private_folder(tmp_path):
    assert datasets.available_quarters(tmp_path) == []
    _write_quarter(tmp_path, "2023q1", [raw_row("b"), raw_row("a", AGE="35"), raw_row("c")])
    _write_quarter(tmp_path, "2022q4", [raw_row("a", "2022q4")])
    assert datasets.available_quarters(tmp_path) == ["2022q4", "2023q1"]
    frame = datasets.load_quarter("2023q1", processed_dir=tmp_path)
    assert tuple(frame.columns) == contract.COLUMN_NAMES
    assert frame["SEQ"].tolist() == ["a", "b", "c"]  # SEQ order, whatever the file order
    assert isinstance(frame["AGE"].dtype, pd.CategoricalDtype) and frame["AGE"].tolist() == ["35", "30", "30"]
    assert frame["TOT_USE_AM"].dtype == "int64"
    subset = datasets.load_quarter("2023q1", columns=["TOT_USE_AM", "SEQ"], processed_dir=tmp_path)
    assert list(subset.columns) == ["SEQ", "TOT_USE_AM"]


def test_loader_errors_name_what_is_missing(tmp_path):
    _write_quarter(tmp_path, "2023q1", [raw_row("a")])
    with pytest.raises(FileNotFoundError, match=r"2031q1.*2023q1"):
        datasets.load_quarter("2031q1", processed_dir=tmp_path)
    with pytest.raises(KeyError, match="NOPE"):
        datasets.load_quarter("2023q1", columns=["NOPE"], processed_dir=tmp_path)


def test_rejects_and_manifest_before_the_first_ingest(tmp_path):
    assert datasets.read_manifest(tmp_path) == {}
    rejects = datasets.load_rejects(tmp_path)
    assert rejects.empty and list(rejects.columns) == list(datasets.REJECT_COLUMNS)


def test_loaders_follow_config_without_arguments(moved):
    _write_quarter(config.PROCESSED_DIR, "2023q2", [raw_row("z", "2023q2")])
    assert datasets.available_quarters() == ["2023q2"]
    assert datasets.load_quarter("2023q2", columns=["SEQ"])["SEQ"].tolist() == ["z"]


# --- the old names stay --------------------------------------------------------------------------

def test_old_names_are_the_datasets_functions():
    assert ingest.load_quarter is datasets.load_quarter
    assert ingest.available_quarters is datasets.available_quarters
    assert ingest.load_rejects is datasets.load_rejects and ingest.read_manifest is datasets.read_manifest
    assert synth.load_truth is datasets.load_truth and synth.truth_path is datasets.truth_path
    assert synth.is_synthetic is datasets.is_synthetic
    assert features.normalise_quarter is datasets.normalise_quarter
    assert ingest.TABLE_DIR == datasets.TABLE_DIR


def test_features_load_features_uses_the_datasets_cache_path(tmp_path):
    _write_quarter(tmp_path, "2023q1", [raw_row("a", TOT_USE_AM=10)])
    frame = features.load_features("2023q1", tmp_path)
    assert datasets.features_path("2023q1", tmp_path).is_file()
    assert frame["SEQ"].tolist() == ["a"]


def test_quarter_digest_reads_the_manifest(tmp_path, moved):
    assert datasets.quarter_digest("2023q1", tmp_path) is None  # nothing ingested
    datasets.manifest_path(tmp_path).write_text('{"quarters": {"2023q1": 3}}')  # written before the digests
    assert datasets.quarter_digest("2023q1", tmp_path) is None
    datasets.manifest_path(tmp_path).write_text(
        '{"quarters": {"2023q1": 3}, "quarter_digests": {"2023q1": "' + "ab" * 32 + '"}}')
    assert datasets.quarter_digest("2023Q1", tmp_path) == "ab" * 32
    assert datasets.quarter_digest("2023q2", tmp_path) is None
    config.PROCESSED_DIR.mkdir(parents=True)
    datasets.manifest_path().write_text('{"quarter_digests": {"2022q4": "' + "cd" * 32 + '"}}')
    assert datasets.quarter_digest("2022q4") == "cd" * 32  # config's folder when none is given
    with pytest.raises(ValueError, match="2023-1"):
        datasets.quarter_digest("2023-1", tmp_path)
