"""Tests for fipro.handoff: the pseudonymous key, the declared columns, export and import."""

from __future__ import annotations

import hashlib
import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from fipro import config, datasets, handoff, privacy


@pytest.fixture
def salt(monkeypatch):
    monkeypatch.setenv(handoff.SALT_VARIABLE, "test-salt")
    return "test-salt"


def test_keys_are_salted_stable_and_never_the_seq():
    keys = handoff.customer_keys(["C1", "C2", " C1 "], "s1")
    assert keys[0] == keys[2] != keys[1]  # the same customer, whatever the padding
    assert all(re.fullmatch(r"K[0-9a-f]{20}", k) for k in keys)
    assert handoff.customer_keys(["C1"], "s2")[0] != keys[0]
    assert "C1" not in keys[0]
    # the schema's key: earlier exports stay joinable with new ones
    assert keys[1] == "K" + hashlib.sha256(b"s1:C2").hexdigest()[:20]


def test_salt_is_created_once_in_dot_env_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(handoff.SALT_VARIABLE, raising=False)
    monkeypatch.setattr(privacy, "env_path", lambda: tmp_path / ".env")  # the one secret lives in privacy
    with pytest.raises(KeyError):
        handoff.key_salt(create=False)
    first = handoff.key_salt()
    assert "솔트" in capsys.readouterr().out and len(first) == 32
    assert handoff.key_salt() == first and capsys.readouterr().out == ""  # read back, no new salt
    assert (tmp_path / ".env").read_text(encoding="utf-8") == f"{handoff.SALT_VARIABLE}={first}\n"
    monkeypatch.setenv(handoff.SALT_VARIABLE, "from-env")
    assert handoff.key_salt() == "from-env"


def test_schema_rejects_a_column_declared_twice_or_an_unknown_type():
    twice = handoff.Source("dup", (handoff.Column("AGE", "TEXT", "연령대"),), lambda q: None)
    with pytest.raises(ValueError, match="declared twice"):
        handoff.schema([handoff.QUARTER_SOURCE, twice])
    odd = handoff.Source("odd", (handoff.Column("X", "BLOB", "?"),), lambda q: None)
    with pytest.raises(ValueError, match="BLOB"):
        handoff.schema([handoff.QUARTER_SOURCE, odd])


def _fake_model(quarters_with_output):
    """A later model's declaration: a score for the customers of the quarters it ran on."""
    def load(quarter):
        if quarter not in quarters_with_output:
            return None
        frame = datasets.load_quarter(quarter, columns=["BAS_YH", "SEQ", "TOT_USE_AM"])
        return pd.DataFrame({"BAS_YH": frame["BAS_YH"], "SEQ": frame["SEQ"],
                             "FAKE_SCORE": frame["TOT_USE_AM"].to_numpy() / 1000.0})
    return handoff.Source("fake", (handoff.Column("FAKE_SCORE", "REAL", "가짜 점수"),), load)


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_export_loads_into_a_database_with_declared_types_and_keys(sample_quarters, tmp_path, salt, engine):
    quarters = sample_quarters[:2]
    sources = [handoff.QUARTER_SOURCE, _fake_model({quarters[0]})]
    result = handoff.export_seed(quarters, out_dir=tmp_path, all_sources=sources)
    expected = {q: len(datasets.load_quarter(q, columns=["SEQ"])) for q in quarters}
    assert result["rows"] == expected
    meta = json.loads(result["schema"].read_text(encoding="utf-8"))
    assert [c["column"] for c in meta["columns"]][:3] == ["CUSTOMER_KEY", "BAS_YH", "AGE"]
    assert all(c["description_ko"] for c in meta["columns"])
    db = tmp_path / f"seed.{engine}"
    assert handoff.import_customer_quarter(db, tmp_path, engine=engine) == sum(expected.values())
    con = duckdb.connect(str(db)) if engine == "duckdb" else __import__("sqlite3").connect(str(db))
    try:
        sql = lambda q: con.execute(q).fetchall()  # noqa: E731
        assert sql("SELECT count(*) FROM (SELECT DISTINCT CUSTOMER_KEY, BAS_YH FROM customer_quarter)")[0][0] \
            == sum(expected.values())
        # declared types: amounts are integers, the score real, missing quarters NULL
        assert sql(f"SELECT sum(TOT_USE_AM) FROM customer_quarter WHERE BAS_YH = '{quarters[0]}'")[0][0] \
            == int(datasets.load_quarter(quarters[0], columns=["TOT_USE_AM"])["TOT_USE_AM"].sum())
        assert sql(f"SELECT count(FAKE_SCORE) FROM customer_quarter WHERE BAS_YH = '{quarters[1]}'")[0][0] == 0
        score = sql(f"SELECT FAKE_SCORE, TOT_USE_AM FROM customer_quarter WHERE BAS_YH = '{quarters[0]}' LIMIT 1")[0]
        assert isinstance(score[0], float) and score[0] == pytest.approx(score[1] / 1000)
    finally:
        con.close()


def test_same_customer_same_key_in_every_quarter_and_no_raw_seq(sample_quarters, tmp_path, salt):
    quarters = sample_quarters[:2]
    result = handoff.export_seed(quarters, out_dir=tmp_path, all_sources=[handoff.QUARTER_SOURCE])
    seed = pd.read_csv(result["csv"], dtype=str)
    raw = pd.concat([datasets.load_quarter(q, columns=["BAS_YH", "SEQ"]) for q in quarters], ignore_index=True)
    raw["CUSTOMER_KEY"] = handoff.customer_keys(raw["SEQ"].astype(str), salt)
    merged = seed.merge(raw.astype(str), on=["CUSTOMER_KEY", "BAS_YH"], how="left", validate="1:1")
    assert merged["SEQ"].notna().all()  # every row is exactly one customer-quarter
    both = raw.groupby("SEQ")["CUSTOMER_KEY"].nunique()
    assert (both == 1).all() and (raw.groupby("SEQ")["BAS_YH"].nunique() == 2).any()
    text = result["csv"].read_text(encoding="utf-8")
    assert not any(s in text for s in raw["SEQ"].astype(str).unique()[:500])


def _whole_export(quarters, sources, salt, path):
    """The export as it was before the parts: one CSVWriter over every quarter (the reference bytes)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = handoff.schema(sources)
    arrow_schema = pa.schema([(c["column"], {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}[c["type"]])
                              for c in columns])
    with pacsv.CSVWriter(str(path), arrow_schema) as writer:
        for q in quarters:
            writer.write_table(pa.Table.from_pandas(handoff.quarter_table(q, salt, sources), schema=arrow_schema,
                                                    preserve_index=False))
    return path.read_bytes()


def test_assembled_parts_are_byte_identical_to_the_whole_export(sample_quarters, tmp_path, salt):
    quarters = sample_quarters[:3]
    sources = [handoff.QUARTER_SOURCE, _fake_model({quarters[0], quarters[2]})]  # empty columns in one quarter
    result = handoff.export_seed(quarters, out_dir=tmp_path / "seed", all_sources=sources)
    assert result["csv"].read_bytes() == _whole_export(quarters, sources, salt, tmp_path / "whole.csv")
    assert all(handoff.part_path(q, tmp_path / "seed").exists() for q in quarters)


def test_a_second_export_keeps_unchanged_parts_and_the_same_bytes(sample_quarters, tmp_path, salt):
    quarters = sample_quarters[:2]
    seed = tmp_path / "seed"
    changing = {"ran": {quarters[0]}}  # the fake model runs on the second quarter only the second time

    def load(quarter):
        return _fake_model(changing["ran"]).load(quarter)

    sources = [handoff.QUARTER_SOURCE, handoff.Source("fake", (handoff.Column("FAKE_SCORE", "REAL", "가짜 점수"),), load)]
    first = handoff.export_seed(quarters, out_dir=seed, all_sources=sources)
    old = {q: handoff.part_path(q, seed).stat().st_mtime_ns for q in quarters}
    csv_time = first["csv"].stat().st_mtime_ns
    again = handoff.export_seed(quarters, out_dir=seed, all_sources=sources)
    assert not again["written"] and again["csv"].stat().st_mtime_ns == csv_time  # nothing changed: nothing rewritten
    changing["ran"] = set(quarters)
    second = handoff.export_seed(quarters, out_dir=seed, all_sources=sources)
    assert handoff.part_path(quarters[0], seed).stat().st_mtime_ns == old[quarters[0]]  # unchanged part kept
    assert handoff.part_path(quarters[1], seed).stat().st_mtime_ns != old[quarters[1]]
    assert second["written"]
    assert second["csv"].read_bytes() == _whole_export(quarters, sources, salt, tmp_path / "whole.csv")


def test_a_quarter_gone_from_the_data_leaves_no_rows_and_no_part(sample_quarters, tmp_path, salt, monkeypatch):
    quarters = sample_quarters[:2]
    seed = tmp_path / "seed"
    sources = [handoff.QUARTER_SOURCE]
    handoff.export_seed(quarters, out_dir=seed, all_sources=sources)
    monkeypatch.setattr(datasets, "available_quarters", lambda *a, **k: quarters[:1])
    result = handoff.export_seed(out_dir=seed, all_sources=sources)  # every quarter of the data: prunes
    assert result["rows"].keys() == {quarters[0]}
    assert not handoff.part_path(quarters[1], seed).exists()
    assert result["csv"].read_bytes() == _whole_export(quarters[:1], sources, salt, tmp_path / "whole.csv")


def test_the_per_quarter_command_writes_one_part_and_assemble_fills_the_rest(sample_quarters, tmp_path, salt, monkeypatch):
    quarters = sample_quarters[:2]
    seed = tmp_path / "seed"
    monkeypatch.setattr(datasets, "available_quarters", lambda *a, **k: quarters)
    monkeypatch.setattr(handoff, "sources", lambda: [handoff.QUARTER_SOURCE])
    monkeypatch.setattr(handoff, "export_notifications", lambda **k: {"csv": seed / "n.csv", "schema": None, "rows": {}})
    assert handoff.main(["--quarter", quarters[1], "--out-dir", str(seed)]) == 0
    assert handoff.part_path(quarters[1], seed).exists() and not handoff.part_path(quarters[0], seed).exists()
    before = handoff.part_path(quarters[1], seed).stat().st_mtime_ns
    assert handoff.main(["--assemble", "--out-dir", str(seed)]) == 0
    assert handoff.part_path(quarters[1], seed).stat().st_mtime_ns == before  # not written again
    assert (seed / "customer_quarter.csv").read_bytes() == _whole_export(quarters, [handoff.QUARTER_SOURCE], salt,
                                                                          tmp_path / "whole.csv")


def test_life_stage_declares_its_columns_from_its_saved_predictions(tmp_path, monkeypatch):
    from fipro.lifestage import artifacts

    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    assert artifacts.HANDOFF.load("2023q1") is None  # not run yet: the columns stay empty
    directory = artifacts.model_dir("2023q1")
    directory.mkdir(parents=True)
    pd.DataFrame({"BAS_YH": ["2023q1"], "SEQ": ["C1"], "predicted": ["RETIR"], "probability": [0.8]}) \
        .to_parquet(directory / artifacts.PREDICTIONS_FILE)
    (directory / "registry.json").write_text(json.dumps({"version": "lifestage-abc", "name": "lifestage",
                                                          "data_hash": "x", "model_file": "m", "model_sha256": "y",
                                                          "parameters": {}, "metrics": {}, "created": "now",
                                                          "estimator": "e", "data_range": {}, "environment": {}}))
    rows = artifacts.HANDOFF.load("2023q1")
    assert rows.to_dict("records") == [{"BAS_YH": "2023q1", "SEQ": "C1", "LIFE_STAGE_PRED": "RETIR",
                                        "LIFE_STAGE_PROB": 0.8, "LIFE_STAGE_MODEL_VERSION": "lifestage-abc"}]
    assert [c.name for c in artifacts.HANDOFF.columns] == list(rows.columns[2:])
    assert artifacts.HANDOFF in handoff.model_sources()
    np.testing.assert_array_equal(rows["LIFE_STAGE_PROB"], [0.8])


def test_a_source_from_a_saved_table_reads_filters_and_converts_its_columns(tmp_path):
    table = tmp_path / "scores.parquet"
    source = handoff.Source.from_table("toy", (
        handoff.Column("TOY_SCORE", "REAL", "점수", "score", handoff.rounded(1)),
        handoff.Column("TOY_FLAG", "INTEGER", "표시", "flagged", handoff.as_int),
        handoff.Column("TOY_VERSION", "TEXT", "버전")),
        lambda quarter: table, where=lambda t: t["rank"] == 1, where_columns=("rank",),
        constants=lambda quarter: {"TOY_VERSION": f"v-{quarter}"})
    assert source.load("2023q1") is None  # not saved yet: the columns stay empty
    pd.DataFrame({"BAS_YH": ["2023q1"] * 3, "SEQ": ["A", "B", "C"], "score": [0.14, 0.26, 0.9],
                  "flagged": [True, False, True], "rank": [1, 1, 2]}).to_parquet(table)
    rows = source.load("2023q1")
    assert rows.to_dict("records") == [
        {"BAS_YH": "2023q1", "SEQ": "A", "TOY_SCORE": 0.1, "TOY_FLAG": 1, "TOY_VERSION": "v-2023q1"},
        {"BAS_YH": "2023q1", "SEQ": "B", "TOY_SCORE": 0.3, "TOY_FLAG": 0, "TOY_VERSION": "v-2023q1"}]


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_notifications_are_a_second_table_keyed_like_the_first(sample_quarters, tmp_path, salt, engine, monkeypatch):
    from fipro import notify

    q = sample_quarters[0]
    seq = datasets.load_quarter(q, columns=["SEQ"])["SEQ"].astype(str).head(3).tolist()
    notes = pd.DataFrame({"SEQ": [seq[0], seq[0], seq[1]], "rank": [1, 2, 1], "priority": [1, 5, 3],
                          "kind": ["이상 소비", "더 나은 카드", "건강 등급 하락"],
                          "message": ["총이용금액이 12.0만원 늘었습니다.", "월 1.5만원", "점수 62점 → 55점"],
                          "source": ["anomaly", "recommend", "health"]})
    monkeypatch.setattr(datasets, "notifications_path", lambda quarter: tmp_path / "out" / quarter / "n.parquet")
    (tmp_path / "out" / q).mkdir(parents=True)
    notify.keyed(notes, q, salt).to_parquet(notify.notifications_path(q), index=False)
    seed_dir = tmp_path / "seed"
    handoff.export_seed([q], out_dir=seed_dir, all_sources=[handoff.QUARTER_SOURCE])
    result = handoff.export_notifications([q, "2099q1"], out_dir=seed_dir)
    assert result["rows"] == {q: 3}
    meta = json.loads(result["schema"].read_text(encoding="utf-8"))
    assert meta["key"] == ["CUSTOMER_KEY", "BAS_YH", "rank"] and all(c["description_ko"] for c in meta["columns"])
    assert not any(s in result["csv"].read_text(encoding="utf-8") for s in seq)  # never a raw SEQ
    db = tmp_path / f"seed.{engine}"
    handoff.import_customer_quarter(db, seed_dir, engine=engine)
    con = duckdb.connect(str(db)) if engine == "duckdb" else __import__("sqlite3").connect(str(db))
    try:
        rows = con.execute("SELECT n.kind, n.rank, n.priority FROM notification n JOIN customer_quarter c "
                           "ON n.CUSTOMER_KEY = c.CUSTOMER_KEY AND n.BAS_YH = c.BAS_YH "
                           "ORDER BY n.CUSTOMER_KEY, n.rank").fetchall()
        assert sorted(rows) == sorted([("이상 소비", 1, 1), ("더 나은 카드", 2, 5), ("건강 등급 하락", 1, 3)])
        assert all(isinstance(r[1], int) for r in rows)
    finally:
        con.close()


def test_notification_parts_assemble_to_the_whole_export_and_follow_their_source(sample_quarters, tmp_path, salt,
                                                                                  monkeypatch):
    from fipro import notify

    quarters = sample_quarters[:2]
    monkeypatch.setattr(datasets, "notifications_path", lambda quarter: tmp_path / "out" / quarter / "n.parquet")
    names = [c.name for c in handoff.NOTIFICATION_SCHEMA]
    for i, q in enumerate(quarters):
        seq = datasets.load_quarter(q, columns=["SEQ"])["SEQ"].astype(str).head(2).tolist()
        notes = pd.DataFrame({"SEQ": seq, "rank": [1, 1], "priority": [1 + i, 3], "kind": ["이상 소비", "건강, \"하락\""],
                              "message": ["총이용금액이 늘었습니다.", "점수 62점 → 55점"], "source": ["anomaly", "health"]})
        (tmp_path / "out" / q).mkdir(parents=True)
        notify.keyed(notes, q, salt).to_parquet(notify.notifications_path(q), index=False)
    seed = tmp_path / "seed"
    first = handoff.export_notifications(quarters, out_dir=seed)
    whole = pd.concat([pd.read_parquet(notify.notifications_path(q))[names] for q in quarters], ignore_index=True)
    assert first["csv"].read_bytes() == whole.to_csv(index=False).encode("utf-8")  # as the whole export wrote it
    kept = handoff.notification_part_path(quarters[0], seed).stat().st_mtime_ns
    again = handoff.export_notifications(quarters, out_dir=seed)
    assert not again["written"] and handoff.notification_part_path(quarters[0], seed).stat().st_mtime_ns == kept
