"""fipro.figures.eda: the feature histograms draw a seeded sample through split.sample_positions."""

import numpy as np
import pandas as pd

from fipro import split
from fipro.figures import eda


def test_feature_histograms_count_the_seeded_sample():
    name = "log_TOT_USE_AM"
    frame = pd.DataFrame({name: np.arange(100, dtype=float)})
    before = frame.copy()
    fig = eda.plot_feature_distributions(frame, [name], bins=5, max_rows=10, seed=4)
    counts = [p.get_height() for p in fig.axes[0].patches]
    expected = np.histogram(frame[name].to_numpy()[split.sample_positions(100, 10, 4)], bins=5)[0]
    np.testing.assert_array_equal(counts, expected)
    assert sum(counts) == 10
    pd.testing.assert_frame_equal(frame, before)
    everything = eda.plot_feature_distributions(frame, [name], bins=5, max_rows=None)
    assert sum(p.get_height() for p in everything.axes[0].patches) == 100
