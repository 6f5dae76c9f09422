"""fipro.evaluation.registry and cards: artifacts written with the required fields."""

import json
import pickle

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fipro.evaluation import cards, registry


@pytest.fixture()
def fitted():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    return LogisticRegression().fit(X, [0, 0, 1, 1]), X


def test_registry_entry_has_required_fields_and_loads(tmp_path, fitted):
    model, X = fitted
    entry = registry.register_model(model, tmp_path / "m", name="toy", data_hash=registry.data_hash(X),
                                    metrics={"accuracy": 1.0}, data_range={"quarters": ["2023q1"]})
    on_disk = json.loads((tmp_path / "m" / registry.REGISTRY_FILE).read_text(encoding="utf-8"))
    for field in registry.REQUIRED_FIELDS:
        assert field in on_disk
    assert on_disk == entry
    assert entry["parameters"]["C"] == 1.0 and entry["metrics"] == {"accuracy": 1.0}
    loaded = registry.load_model(tmp_path / "m")
    assert (loaded.predict(X) == model.predict(X)).all()


def test_artifact_paths_name_the_registered_files_and_the_extra_ones(tmp_path, fitted):
    model, X = fitted
    entry = registry.register_model(model, tmp_path / "m", name="toy", data_hash=registry.data_hash(X), metrics={})
    paths = registry.artifact_paths(tmp_path / "m", entry, scores=tmp_path / "m" / "scores.parquet")
    assert paths["model"].exists() and paths["registry"].exists() and paths["version"] == entry["version"]
    assert paths["scores"] == tmp_path / "m" / "scores.parquet" and paths["directory"] == tmp_path / "m"


def test_version_depends_on_content_not_on_time(tmp_path, fitted):
    model, X = fitted
    h = registry.data_hash(X)
    a = registry.register_model(model, tmp_path / "a", name="toy", data_hash=h, metrics={})
    b = registry.register_model(model, tmp_path / "b", name="toy", data_hash=h, metrics={})
    c = registry.register_model(model, tmp_path / "c", name="toy", data_hash=registry.data_hash(X.head(2)), metrics={})
    assert a["version"] == b["version"] != c["version"]


def test_data_hash_sees_values_order_and_dtypes():
    a = pd.DataFrame({"x": [1, 2], "y": ["p", "q"]})
    assert registry.data_hash(a) == registry.data_hash(a.copy())
    assert registry.data_hash(a) != registry.data_hash(a.iloc[::-1])
    assert registry.data_hash(a) != registry.data_hash(a.astype({"x": float}))


def test_tampered_model_file_is_refused(tmp_path, fitted):
    model, X = fitted
    registry.register_model(model, tmp_path, name="toy", data_hash="0", metrics={})
    (tmp_path / registry.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(ValueError):
        registry.load_model(tmp_path)
    with pytest.raises(FileNotFoundError):
        registry.load_entry(tmp_path / "missing")


def test_model_card_has_every_section(tmp_path, fitted):
    model, X = fitted
    entry = registry.register_model(model, tmp_path, name="toy", data_hash="abc", metrics={"accuracy": 1.0})
    md = cards.model_card_markdown(
        "toy", purpose="목적", intended_use=["용도"], data_range={"quarters": "2023q1"}, features=["a", "b"],
        metrics=pd.DataFrame({"정확도": [1.0]}, index=pd.Index(["모델"], name="모델")),
        calibration={"ece_after": 0.01}, limitations=["작은 예제"], entry=entry)
    assert cards.missing_sections(md) == []
    assert entry["version"] in md and "| 모델 | 정확도 |" in md
    path = cards.write_model_card(tmp_path, md)
    assert path.name == cards.CARD_FILE and path.read_text(encoding="utf-8") == md
    assert cards.missing_sections("# empty") == [h for _, h in cards.SECTIONS]


def test_a_model_that_cannot_be_saved_leaves_the_previous_one_and_no_temporary_file(tmp_path, fitted):
    model, X = fitted
    registry.register_model(model, tmp_path, name="toy", data_hash="0", metrics={})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    unpicklable = LogisticRegression()
    unpicklable.fit(X, [0, 0, 1, 1])
    unpicklable.callback_ = lambda: None  # pickle cannot save a lambda
    with pytest.raises(pickle.PicklingError):
        registry.register_model(unpicklable, tmp_path, name="toy", data_hash="1", metrics={})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert (registry.load_model(tmp_path).predict(X) == model.predict(X)).all()


def test_model_card_shows_a_metric_with_its_interval_and_folds_the_bounds_in():
    metrics = {"auc": 0.725, "auc_lo": 0.711, "auc_hi": 0.739, "ece": 0.02,
               "intervals": {"auc": {"method": "bootstrap", "customers": 100}}}
    block = cards._block(metrics)
    assert block.splitlines() == ["- **auc**: 0.7250 (0.7110–0.7390)", "- **ece**: 0.0200"]
    assert cards._block({"x_lo": 1.0}) == "- **x_lo**: 1.0000"  # without an intervals record nothing is folded
