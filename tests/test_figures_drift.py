"""fipro.figures.drift: bars against the alert line, coloured by alert, Korean labels rendered."""

from __future__ import annotations

import pandas as pd
from matplotlib.colors import to_hex

from fipro.figures import drift as drift_fig
from test_figures import glyph_problems, texts, ticks


def test_drift_bars_are_value_over_threshold_strongest_on_top_and_red_when_alerting(caplog):
    table = pd.DataFrame({"subject_ko": ["연료판매 금액", "성별 구성", "여행업 금액", "세그먼트 이동"],
                          "value": [0.03, 0.001, 0.012, 0.4], "threshold": [0.01, 0.004, 0.006, None]})
    fig = drift_fig.plot_drift(table, top=10)
    (ax,) = fig.axes
    assert ticks(ax.get_yticklabels()) == ["성별 구성", "여행업 금액", "연료판매 금액"]  # no threshold: left out
    assert [round(p.get_width(), 3) for p in ax.patches] == [0.25, 2.0, 3.0]
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [drift_fig.QUIET.lower(), drift_fig.FIRED.lower(),
                                                               drift_fig.FIRED.lower()]
    assert ax.get_xlabel() == "값 ÷ 기준 (1을 넘으면 경보)" and "경보 기준" in texts(fig)
    assert glyph_problems(fig, caplog) == []


def test_notification_counts_keep_the_priority_order(caplog):
    fig = drift_fig.plot_notification_counts({"이상 소비": 96, "위험 등급 상승": 40, "더 나은 카드": 1200})
    (ax,) = fig.axes
    assert ticks(ax.get_yticklabels()) == ["더 나은 카드", "위험 등급 상승", "이상 소비"]  # first kind on top
    assert [p.get_width() for p in ax.patches] == [1200, 40, 96]
    assert " 1,200" in texts(fig)
    assert glyph_problems(fig, caplog) == []
