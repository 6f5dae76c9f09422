"""Tests for fipro.treepredict: LightGBM's multiclass probabilities, equal to the bit."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import make_classification

from fipro import treepredict
from fipro.lifestage.estimator import LifeStageClassifier


def _data(n=3000, seed=3, nan_share=0.05):
    X, y = make_classification(n, 12, n_informative=8, n_classes=5, n_clusters_per_class=1, random_state=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < nan_share] = np.nan  # missing values take each node's default side
    X[:, 3] = np.round(X[:, 3])  # many exact ties with thresholds and zeros
    return X, y


@pytest.mark.parametrize("nan_share", [0.0, 0.05])
def test_probabilities_equal_lightgbms_to_the_bit(nan_share):
    X, y = _data(nan_share=nan_share)
    clf = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, random_state=0, verbose=-1, n_jobs=1)
    clf.fit(X[:2000], y[:2000], eval_X=(X[2000:2500],), eval_y=(y[2000:2500],),
            callbacks=[lgb.early_stopping(5, verbose=False)])
    forest = treepredict.flatten(clf)
    assert forest is not None and forest.n_class == 5
    assert len(forest.roots) == clf.best_iteration_ * 5  # the trees predict uses, not every round
    new = X[2500:].copy()
    new[:7] = np.nan  # a row with nothing known
    assert np.array_equal(treepredict.raw_scores(forest, new), clf.predict(new, raw_score=True))
    assert np.array_equal(treepredict.predict_proba(forest, new), clf.predict_proba(new))


def test_a_forest_it_does_not_cover_is_left_to_lightgbm():
    X, y = _data()
    binary = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y % 2)
    assert treepredict.flatten(binary) is None
    ova = lgb.LGBMClassifier(n_estimators=5, objective="multiclassova", verbose=-1).fit(X, y)
    assert treepredict.flatten(ova) is None
    with pytest.raises(ValueError, match="12 features"):
        treepredict.raw_scores(treepredict.flatten(lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)), X[:, :4])


def test_the_life_stage_model_predicts_through_the_forest_with_lightgbms_numbers():
    X, y = _data(n=4000)
    model = LifeStageClassifier(n_estimators=40, random_state=0, n_threads=1).fit(X, y)
    assert model.forest_ is not None
    raw, proba = model.predict_proba_pair(X[:500])
    assert np.array_equal(raw, model.estimator_.predict_proba(X[:500]))
    del model.forest_  # a model saved before the forest existed still predicts
    assert np.array_equal(model.predict_proba_pair(X[:500])[1], proba)
