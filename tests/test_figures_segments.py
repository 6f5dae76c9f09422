"""fipro.figures.segments: the map draws a seeded sample through split.sample_positions."""

import numpy as np

from fipro import split
from fipro.figures import segments as seg_fig


def _points(n):
    rng = np.random.default_rng(0)
    return rng.normal(size=n), rng.normal(size=n), np.where(np.arange(n) % 3 == 0, "가", "나")


def test_the_map_draws_at_most_max_points_seeded(monkeypatch):
    monkeypatch.setattr(seg_fig, "MAX_POINTS", 50)
    x, y, groups = _points(200)
    fig = seg_fig.plot_map(x, y, groups, "지도", seed=3)
    ax = fig.axes[0]
    assert ax.get_title() == "지도 (표본 50명)"
    drawn = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    np.testing.assert_array_equal(np.sort(drawn), np.sort(x[split.sample_positions(200, 50, 3)]))


def test_the_map_reads_the_project_seed_by_default(monkeypatch):
    from fipro import config

    monkeypatch.setattr(seg_fig, "MAX_POINTS", 50)
    monkeypatch.setattr(config, "RANDOM_SEED", 3)
    x, y, groups = _points(200)
    by_default = np.concatenate([c.get_offsets()[:, 0] for c in seg_fig.plot_map(x, y, groups, "지도").axes[0].collections])
    seeded = np.concatenate([c.get_offsets()[:, 0] for c in seg_fig.plot_map(x, y, groups, "지도", seed=3).axes[0].collections])
    np.testing.assert_array_equal(np.sort(by_default), np.sort(seeded))


def test_a_small_map_shows_every_point():
    x, y, groups = _points(30)
    fig = seg_fig.plot_map(x, y, groups, "지도", seed=1)
    assert fig.axes[0].get_title() == "지도"
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 30
