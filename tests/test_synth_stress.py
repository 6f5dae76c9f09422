"""The observable part of the planted stress (fipro.synth.stress) and its place in the truth file."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fipro.synth import difficulty, generate
from fipro.synth.model import get_model
from fipro.config import QUARTERS
from fipro.synth.params import CATS, DETAILS, N_Q
from fipro.synth.stress import VOLATILITY_CENTRE, observable_stress, stress_index

INSU, HOS, FOOD = CATS.index("INSU_AM"), CATS.index("HOS_AM"), CATS.index("REST")


def _rows(totals, care=0.0):
    """One customer: FOOD_AM carries the total, INSU_AM a share ``care`` of it."""
    a = np.zeros((1, len(totals), len(CATS)))
    a[0, :, FOOD] = np.asarray(totals, float) * (1 - care)
    a[0, :, INSU] = np.asarray(totals, float) * care
    return a


def test_hand_made_customer_matches_the_formula_quarter_by_quarter():
    totals = np.array([100.0, 300.0, 80.0])
    check = np.array([[50.0, 30.0, 80.0]])
    present = np.ones((1, 3), bool)
    s = observable_stress(_rows(totals, care=0.25), check, present)[0]
    lt = np.log(totals + 20)
    credit = (totals - check[0]) / totals
    fall = np.r_[0.0, max(lt[0] - lt[1], 0), max(lt[1] - lt[2], 0)]
    vol = np.r_[VOLATILITY_CENTRE, lt[:2].std(), lt.std()]
    expected = 1.5 * (credit - .6) + fall + .8 * (vol - .35) + 3.0 * (.25 - .12)
    np.testing.assert_allclose(s, expected)


def test_no_look_ahead_a_later_quarter_never_moves_an_earlier_one():
    present = np.ones((1, 4), bool)
    check = np.array([[10.0, 10.0, 10.0, 10.0]])
    a = observable_stress(_rows([100, 120, 90, 110]), check, present)
    b = observable_stress(_rows([100, 120, 90, 5000]), check, present)
    np.testing.assert_array_equal(a[0, :3], b[0, :3])
    assert a[0, 3] != b[0, 3]


def test_absent_quarters_give_no_fall_and_no_spread():
    # present in quarters 0 and 2 only: quarter 2 has no previous row, so no fall; the spread
    # is over the two present quarters (not the absent one's drawn amount)
    present = np.array([[True, False, True]])
    a = observable_stress(_rows([400, 1, 100]), np.array([[0.0, 0.0, 0.0]]), present)
    b = observable_stress(_rows([400, 9999, 100]), np.array([[0.0, 0.0, 0.0]]), present)
    lt = np.log(np.array([400.0, 100.0]) + 20)
    assert a[0, 2] == b[0, 2]
    np.testing.assert_allclose(a[0, 2], stress_index(1.0, 0.0, lt.std(), 0.0))


def test_weights_are_the_generators():
    """With every quarter present and the model-outcome rows, the last quarter's index is the
    generator's stress minus its personal and noise terms: a change of the generator's
    weights that is not made here too fails this test."""
    model = get_model()
    b = generate._generate_block(model, 400, np.random.SeedSequence(5))
    generate._plant_anomalies(model, b)
    generate._cards_and_stress(model, b)
    full = observable_stress(b["outcome"], b["cnf_out"], np.ones((b["n"], N_Q), bool))
    latent_part = b["stress"] - b["stress_own"][:, None] - b["stress_noise"]
    np.testing.assert_allclose(full[:, -1], latent_part[:, -1], atol=1e-9)


@pytest.fixture(scope="module")
def frame():
    return generate.generate_frame(3000, seed=11)


def test_truth_carries_the_observable_part_and_its_ceiling(frame):
    raw, truth = frame
    assert truth["stress_observable"].notna().all()
    # the visible part tracks the latent stress but ranks the outcome less well
    assert np.corrcoef(truth["stress_observable"], truth["stress_level"])[0, 1] > 0.5
    y = truth["adverse_next"].to_numpy()
    auc_latent = roc_auc_score(y, truth["stress_level"])
    auc_observable = roc_auc_score(y, truth["stress_observable"])
    assert 0.6 < auc_observable < auc_latent
    report = difficulty.difficulty_report(raw, truth)
    assert report["stress_observable_auc"] == pytest.approx(auc_observable)
    assert "observable" in difficulty.describe_difficulty(report)


def test_difficulty_without_the_column_reports_none(frame):
    raw, truth = frame
    assert difficulty.difficulty_report(raw, truth.drop(columns="stress_observable"))["stress_observable_auc"] is None


def test_observable_index_from_the_file_rows(frame):
    """The truth column is computed from what the raw file shows: recomputing it from the raw
    rows (the customer's present quarters in order) gives the same values."""
    raw, truth = frame
    seqs = raw["SEQ"].drop_duplicates().iloc[:40]
    rows = raw[raw["SEQ"].isin(seqs)]
    n, idx = len(seqs), pd.Index(seqs)
    amounts = np.zeros((n, N_Q, len(CATS)))
    check = np.zeros((n, N_Q))
    present = np.zeros((n, N_Q), bool)
    i, t = idx.get_indexer(rows["SEQ"]), pd.Index(QUARTERS).get_indexer(rows["BAS_YH"])
    for d in DETAILS:
        amounts[i, t, CATS.index(d)] = rows[d].to_numpy()
    amounts[i, t, CATS.index("REST")] = rows["TOT_USE_AM"].to_numpy() - rows[list(DETAILS)].sum(axis=1).to_numpy()
    check[i, t] = rows["CNF_USE_AM"].to_numpy()
    present[i, t] = True
    expected = observable_stress(amounts, check, present)[i, t]
    np.testing.assert_allclose(truth.loc[rows.index, "stress_observable"].to_numpy(), expected, atol=1e-9)
