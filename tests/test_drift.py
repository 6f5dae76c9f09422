"""fipro.drift, fipro.alerts, fipro.decay: the stability index and its noise, thresholds from the
data, and the alerts on the stand-in's planted changes, a doubled category and a quarter compared
with itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fipro import alerts, contract, datasets, decay, drift, notify
from fipro.features import build_features
from fipro.synth.shifts import planted_category_shifts


def test_psi_is_zero_for_equal_counts_and_grows_with_the_shift():
    a = np.array([100, 100, 100, 100])
    assert drift.psi(a, a) == 0.0
    small, large = drift.psi(a, np.array([110, 90, 100, 100])), drift.psi(a, np.array([200, 50, 100, 50]))
    assert 0 < small < large
    assert np.isfinite(drift.psi(np.array([10, 0]), np.array([0, 10])))  # smoothing keeps empty bins finite


def test_edges_fixed_on_the_reference_make_a_point_mass_one_bin_and_missing_its_own():
    edges = drift.fit_edges(np.r_[np.zeros(60), np.arange(1, 41.0)], 10)
    counts = drift.bin_counts(np.array([0, 0, 5, 39, np.nan]), edges)
    assert counts[0] == 2 and counts[-1] == 1 and counts.sum() == 5
    assert len(drift.fit_edges(np.array([np.nan, np.nan]))) == 0


def test_noise_of_two_samples_matches_simulated_psi():
    rng = np.random.default_rng(0)
    p = np.full(10, 0.1)
    sims = [drift.psi(rng.multinomial(2000, p), rng.multinomial(3000, p)) for _ in range(400)]
    mean, q = drift.noise(np.full(10, 200), np.full(10, 300))
    assert np.mean(sims) == pytest.approx(mean, rel=0.15)
    assert np.mean(np.array(sims) > q) < 0.01


def _table(values, noise_mean=1.0, group="category"):
    return pd.DataFrame({"BAS_YH": "2023q1", "previous": "2022q4", "kind": "input", "group": group,
                         "subject": [f"s{i}" for i in range(len(values))], "subject_ko": "대상",
                         "measure": "psi", "value": values, "noise_mean": noise_mean, "noise_q": 3.0 * noise_mean,
                         "n_previous": 100, "n_current": 100, "detail_ko": ""})


def test_threshold_is_noise_times_the_median_overdispersion_of_the_pool():
    table = alerts.thresholds(_table([1.0, 2.0, 2.0, 3.0, 50.0]))
    assert table["phi"].tolist() == [2.0] * 5  # the one large value does not move the median
    assert table["threshold"].tolist() == [6.0] * 5
    fired = alerts.alerts_of(table)
    assert fired["subject"].tolist() == ["s4"] and fired["severity"].tolist() == ["높음"]
    assert "PSI" in fired["sentence_ko"].iloc[0]
    # earlier quarters' tables join the pool; below-noise pools keep phi = 1
    assert alerts.thresholds(_table([0.1, 0.2]))["phi"].tolist() == [1.0, 1.0]
    pooled = alerts.thresholds(_table([1.0]), [_table([4.0, 4.0])])
    assert pooled["phi"].iloc[0] == 4.0


def test_subjects_that_move_do_not_raise_the_threshold_of_their_pool():
    # four stable subjects, five moved ones (as the seasons move about half the amount columns):
    # the plain median (2.5) sits among the moved ones, the stable median is that of the four
    table = alerts.thresholds(_table([1.0, 1.0, 1.0, 1.0, 2.5, 4.0, 12.0, 30.0, 40.0]))
    assert table["phi"].tolist() == [1.0] * 9
    assert alerts.alerts_of(table)["subject"].tolist() == ["s8", "s7", "s6", "s5"]


def test_weighted_metrics_match_scikit_learn_and_count_bootstrap_weights():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300).astype(str)
    p = np.where(rng.random(300) < 0.7, y, rng.integers(0, 3, 300).astype(str))
    ones = np.ones((1, 300))
    assert decay.weighted_metric("macro_f1", y, p, ones)[0] == pytest.approx(f1_score(y, p, average="macro"))
    yb, score = (rng.random(300) < 0.3).astype(int), np.round(rng.random(300), 1)  # ties
    score = score + 0.3 * yb
    assert decay.weighted_metric("auc", yb, score, ones)[0] == pytest.approx(roc_auc_score(yb, score))
    counts = rng.multinomial(300, np.full(300, 1 / 300), size=3)
    at = np.repeat(np.arange(300), counts[1])
    assert decay.weighted_metric("auc", yb, score, counts)[1] == pytest.approx(roc_auc_score(yb[at], score[at]))
    assert decay.weighted_metric("macro_f1", y, p, counts)[1] == pytest.approx(f1_score(y[at], p[at], average="macro"))
    with pytest.raises(ValueError):
        decay.weighted_metric("brier", yb, score, ones)


def test_paired_gap_is_seeded_and_measures_the_refit_advantage():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    good, bad = np.where(rng.random(500) < 0.9, y, 1 - y), np.where(rng.random(500) < 0.6, y, 1 - y)
    first = decay.paired_gap(y, bad, good, "accuracy", seed=3)
    assert first == decay.paired_gap(y, bad, good, "accuracy", seed=3)
    m_old, m_new, gap, se = first
    assert m_new == pytest.approx(np.mean(good == y)) and gap == pytest.approx(m_new - m_old)
    assert gap > decay.DECAY_Z * se > 0
    assert decay.paired_gap(y, good, good, "accuracy", seed=3)[2:] == (0.0, 0.0)  # same model: no gap
    *same, lo, hi = decay.paired_gap_interval(y, bad, good, "accuracy", seed=3)
    assert tuple(same) == first and lo < first[0] < hi  # the old model's interval from the same resamples


def test_decay_rows_read_back_as_the_model_reports_temporal_metrics():
    rows = [decay.decay_row("lifestage", "라이프스테이지 모델", "매크로 F1", (0.70, 0.72, 0.02, 0.005, 0.69, 0.71), 900),
            decay.decay_row("health", "위험 모델", "AUC", (0.75, 0.76, 0.01, 0.004), 900)]
    table = pd.DataFrame(rows).reindex(columns=list(drift.DRIFT_COLUMNS))
    m = decay.decay_metrics(table)
    assert m == {"temporal_macro_f1": 0.70, "temporal_macro_f1_refit": 0.72, "temporal_macro_f1_lo": 0.69,
                 "temporal_macro_f1_hi": 0.71, "temporal_risk_auc": 0.75, "temporal_risk_auc_refit": 0.76}
    assert decay.decay_metrics(None) == {} and decay.decay_metrics(table[table["kind"] != "decay"]) == {}
    text = alerts.describe_decay(table.assign(previous="2023q1", threshold=[0.01, 0.05]))
    assert "라이프스테이지 모델: 2023q1에 저장된 모델 0.700 (95% 구간 0.690–0.710), 이번 분기 재학습 0.720" in text
    assert text.count("성능 저하 경보") == 1 and "그대로 쓸 수 있습니다" in text  # only the lifestage gap passes
    assert "하지 않았습니다" in alerts.describe_decay(table.iloc[:0])


# --- on the sample ----------------------------------------------------------------------------


def _input_alerts(reference, previous, current, tables, earlier=()):
    rows = pd.DataFrame(drift.input_measures(reference, previous, current, tables))
    rows.insert(0, "previous", "p")
    rows.insert(0, "BAS_YH", "q")
    table = alerts.thresholds(rows, earlier)
    return table, alerts.alerts_of(table)


def double(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """A raw quarter with ``column`` doubled, its upper category, the total and the credit-card
    amount raised by the same amount (the file stays consistent)."""
    out = table.copy()
    extra = out[column].to_numpy()
    for c in (column, contract.COLUMN_BY_NAME[column].parent, "TOT_USE_AM", "CRDSL_USE_AM"):
        if c:
            out[c] = out[c] + extra
    return out


@pytest.fixture(scope="module")
def sample_tables(sample_quarters):
    return {q: datasets.load_quarter(q) for q in sample_quarters}


def test_a_quarter_compared_with_itself_fires_nothing(sample_quarters):
    q = sample_quarters[3]
    table = drift.measure_quarter(q, previous=q, decay=False)
    assert len(table) and (table["value"] == 0).all()
    assert alerts.alerts_of(alerts.thresholds(table)).empty


def test_a_doubled_category_fires_its_alert_and_nothing_unrelated(sample_quarters, sample_tables):
    ref, p, q = sample_quarters[0], sample_quarters[4], sample_quarters[5]
    t = sample_tables
    reference = build_features(t[ref])
    previous = build_features(t[p], t[sample_quarters[3]])
    _, plain = _input_alerts(reference, previous, build_features(t[q], t[p]), (t[p], t[q]))
    doubled = double(t[q], "FUEL_AM")
    table, fired = _input_alerts(reference, previous, build_features(doubled, t[p]), (t[p], doubled))
    new = set(fired["subject"]) - set(plain["subject"])
    assert "FUEL_AM" in new
    assert new <= alerts.related_subjects(["FUEL_AM"])
    fuel = fired[fired["subject"] == "FUEL_AM"].iloc[0]
    assert "연료판매" in fuel["sentence_ko"] and fuel["severity"] == "높음"
    assert not set(fired["group"]) & {"population", "presence"}


def test_planted_quarter_shifts_fire_their_category_alerts(sample_quarters, sample_tables):
    t = sample_tables
    quarters = sample_quarters
    reference = build_features(t[quarters[0]])
    features = {quarters[0]: reference}
    for p, q in zip(quarters, quarters[1:]):
        features[q] = build_features(t[q], t[p])
    earlier, raised = [], []
    for p, q in zip(quarters, quarters[1:]):
        table, fired = _input_alerts(reference, features[p], features[q], (t[p], t[q]), earlier)
        earlier.append(table)
        raised.append(fired.assign(BAS_YH=q))
    scores = alerts.planted_scores(pd.concat(raised), planted_category_shifts(quarters))
    # the fuel-price peak (2022q2), the recovery after distancing and the seasons; measured on the
    # sample (stand-in 3.1): precision 0.99, recall 0.66, the misses planted shifts of 0.10-0.17
    # mostly, within the noise of 10,000 customers
    assert scores["precision"] >= 0.9
    assert scores["recall"] >= 0.6
    fired = set(zip(pd.concat(raised)["BAS_YH"], pd.concat(raised)["subject"]))
    # not the fuel drop into 2022q4 (planted -0.13): every category's level rose about 0.065 that
    # quarter, so fuel users' mean log amount fell only 0.063, PSI 1.9 times its noise mean
    assert {(quarters[1], "FUEL_AM"), (quarters[2], "TRVL_AM"), (quarters[1], "LEISURE_S_AM"),
            (quarters[3], "CLOTH_AM"), (quarters[4], "BOOK_AM")} <= fired


def test_drift_notebook_runs_and_records_its_measures(sample_quarters, monkeypatch):
    from fipro import export, handoff, runner
    from test_notebooks import figure_problems

    monkeypatch.setenv(handoff.SALT_VARIABLE, "notebook-test")
    quarter = sample_quarters[1]
    executed = runner.run_notebook("08_drift", quarter)
    assert figure_problems(executed) == []
    m = export.load_metrics(quarter, "drift")
    assert m["n_measures"] >= 5 + len(contract.AMOUNT_COLUMNS) and m["n_alerts"] == sum(m["alerts_by_kind"].values())
    saved = drift.load_drift(quarter)
    assert len(saved) == m["n_measures"] and saved["threshold"].notna().any()
    assert len(drift.load_alerts(quarter)) == m["n_alerts"]
    assert list(m["notifications"]["counts"]) == list(notify.KINDS)


def test_planted_check_names_the_generator_rows_and_marks_what_fired(sample_quarters):
    q = sample_quarters[1]
    fired = pd.DataFrame({"kind": ["input", "output"], "subject": ["FUEL_AM", "BOOK_AM"]})
    table = alerts.planted_check(q, fired)
    fuel = table[table["업종"] == "연료판매"].iloc[0]
    assert fuel["경보"] == "●" and "QUARTER_SHIFT['FUEL_AM']" in fuel["생성기 행"]
    assert fuel["심어 둔 변화(로그)"] == pytest.approx(0.12)
    assert table.loc[table["업종"] == "서적/문구", "경보"].iloc[0] == "놓침"  # an output alert is no input alert


def test_only_the_drift_notebook_depends_on_the_drift_code():
    from fipro import config, stamps

    stems = sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    texts = stamps.code_stamps([config.NOTEBOOKS_DIR / f"{s}.ipynb" for s in stems])
    drift_code = {"fipro.drift", "fipro.alerts", "fipro.decay", "fipro.notify"}
    using = {s for s in stems if drift_code & set(texts[s].splitlines()[1:])}
    assert using == {"08_drift"}  # the summary, the hand-off and the views read its files, not its code


def test_segments_renamed_between_quarters_are_matched_before_sizes_and_migration():
    prev = pd.DataFrame({"SEQ": [str(i) for i in range(10)], "segment_name": ["외식형"] * 5 + ["자동차형"] * 5})
    cur = pd.DataFrame({"SEQ": [str(i) for i in range(10)],
                        "segment_name": ["외식·여가형"] * 4 + ["차량형"] * 6})  # customer 4 moved
    sizes, migration = drift.segment_measures(prev, cur)
    assert migration["value"] == pytest.approx(0.1)
    assert "외식·여가형→외식형" in migration["detail_ko"] and "차량형→자동차형" in migration["detail_ko"]
    assert sizes["value"] == pytest.approx(drift.psi(np.array([5, 5]), np.array([4, 6])))
    same = drift.segment_measures(prev, prev)
    assert same[0]["value"] == 0.0 and same[1]["value"] == 0.0
