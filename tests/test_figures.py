"""fipro.figures: each topic module's figures on hand-made tables have the expected axes and
labels, and their Korean text is drawn in the NanumGothic that koreanize-matplotlib ships:
rendered to PNG with Agg, no glyph is missing and no font is looked for in vain."""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.text import Text

from fipro import figures
from fipro.figures import anomaly as an_fig
from fipro.figures import eda as eda_fig
from fipro.figures import health as health_fig
from fipro.figures import lifestage as ls_fig
from fipro.figures import quality as q_fig
from fipro.figures import recommend as rec_fig
from fipro.figures import segments as seg_fig

HANGUL = re.compile("[가-힣]")
# found, not imported: importing it registers the fonts, which is fipro.figures' job
FONT_DIR = Path(importlib.util.find_spec("koreanize_matplotlib").origin).resolve().parent / "fonts"
PNG = b"\x89PNG\r\n\x1a\n"


def texts(fig) -> list[str]:
    """Every visible, non-empty text of a drawn figure (titles, labels, ticks, legends, annotations)."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def glyph_problems(fig, caplog) -> list[str]:
    """Render ``fig`` to PNG with Agg and list what went wrong with its Korean text: glyphs
    missing from the font, font families not found, Hangul text set in a font other than the
    NanumGothic of koreanize-matplotlib. Empty when all is well."""
    caplog.clear()
    buf = io.BytesIO()
    with caplog.at_level(logging.WARNING, logger="matplotlib"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(PNG)
    problems = [str(w.message) for w in caught]
    problems += [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")]
    korean = [t for t in fig.findobj(Text) if t.get_visible() and HANGUL.search(t.get_text())]
    if not korean:
        problems.append("no Korean text")
    for t in korean:
        try:
            path = Path(font_manager.findfont(t.get_fontproperties(), fallback_to_default=False)).resolve()
        except ValueError as error:  # no font of that family at all
            problems.append(str(error))
            continue
        if path.parent != FONT_DIR or not path.name.startswith("NanumGothic"):
            problems.append(f"{t.get_text()!r} in {path.name}")
    return problems


def visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.axison]


def ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


# --- the shared style --------------------------------------------------------------------------------------

def test_style_selects_nanumgothic_and_an_ascii_minus():
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    figures.use_style()
    assert matplotlib.rcParams["font.family"] == [figures.KOREAN_FONT] == ["NanumGothic"]
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    assert matplotlib.rcParams["figure.dpi"] == figures.DISPLAY_DPI


def test_save_figure_writes_a_png_in_a_new_folder_and_figure_png_gives_its_bytes(tmp_path):
    fig, ax = figures.plt.subplots()
    ax.plot([0, 1], [1, 0])
    figures.finish(fig)
    path = figures.save_figure(fig, tmp_path / "site" / "figures" / "line.png")
    assert path == tmp_path / "site" / "figures" / "line.png" and path.read_bytes().startswith(PNG)
    assert figures.figure_png(fig).startswith(PNG)


def test_a_font_without_hangul_is_caught(caplog):
    # the check itself: the same figure in DejaVu Sans reports the missing glyphs
    fig = rec_fig.plot_oracle_shares({"oracle_share": 0.9, "popular_oracle_share": 0.5, "random_oracle_share": 0.2})
    for t in fig.findobj(Text):
        t.set_fontfamily("DejaVu Sans")
    problems = glyph_problems(fig, caplog)
    assert any("missing from font(s) DejaVu Sans" in p for p in problems)
    assert any("in DejaVuSans.ttf" in p for p in problems)


# --- quality (notebook 00) -----------------------------------------------------------------------------------

def test_quality_rejects_bars_per_reason_or_a_note_when_there_are_none(caplog):
    fig = q_fig.plot_rejects(pd.DataFrame({"reason": ["열 개수 불일치", "날짜 형식 오류"], "rows": [1200, 3]}))
    (ax,) = fig.axes
    assert ax.get_title() == "거절 사유별 행 수 (파일 전체)" and ax.get_xlabel() == "거절된 행 수"
    assert [p.get_width() for p in ax.patches] == [1200, 3]
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_yticklabels()) == ["열 개수 불일치", "날짜 형식 오류"]
    assert {" 1,200", " 3"} <= set(texts(fig))
    none = q_fig.plot_rejects(pd.DataFrame({"reason": [], "rows": []}))
    assert visible_axes(none) == [] and "거절된 행 없음" in texts(none)
    assert glyph_problems(none, caplog) == []


def test_quality_outliers_name_the_rule_in_the_axis_label(caplog):
    fig = q_fig.plot_outliers(pd.DataFrame({"label_ko": ["총이용금액", "요식업"], "share": [0.01, 0.25]}))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "이상치 비율 (log 금액 Q3 + 3×IQR 초과)"
    assert ax.get_title() == "금액 열별 이상치 비율"
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_yticklabels()) == ["총이용금액", "요식업"] and "25.0%" in ticks(ax.get_xticklabels())


# --- eda (notebooks 01 and 02) ---------------------------------------------------------------------------------

def test_eda_total_share_by_group_labels_each_bar_with_its_share(caplog):
    shares = pd.Series([0.6, 0.4], index=pd.Index(["남", "여"], name="성별"))
    fig = eda_fig.plot_total_share_by(shares, "성별 총이용금액 비중")
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("성별 총이용금액 비중", "성별", "총이용금액 중 비중")
    assert [p.get_height() for p in ax.patches] == [0.6, 0.4]
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_xticklabels()) == ["남", "여"] and {"60.0%", "40.0%"} <= set(texts(fig))


def test_eda_quarter_change_without_a_previous_quarter_says_so(caplog):
    change = pd.DataFrame({"label_ko": ["총이용금액"], "change_pct": [np.nan], "stayer_change_pct": [np.nan]})
    fig = eda_fig.plot_quarter_change(change)
    assert visible_axes(fig) == [] and fig.axes[0].get_title() == "전분기 대비 1인당 이용금액 변화"
    assert "전분기 자료가 없습니다" in texts(fig)
    assert glyph_problems(fig, caplog) == []


# --- lifestage (notebook 03) ------------------------------------------------------------------------------------

def test_lifestage_confusion_heat_map_has_korean_classes_and_one_value_per_cell(caplog):
    names = ["대학생", "신혼", "은퇴"]
    confusion = pd.DataFrame([[0.8, 0.15, 0.05], [0.1, 0.35, 0.55], [0.0, 0.4, 0.6]], index=names, columns=names)
    fig = ls_fig.plot_confusion(confusion)
    (ax,) = fig.axes  # no colour bar
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("예측", "실제", "혼동 행렬 (행 기준 비율)")
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_xticklabels()) == names and ticks(ax.get_yticklabels()) == names
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.15", "0.05", "0.10", "0.35", "0.55", "0.00", "0.40", "0.60"]


def test_lifestage_reliability_legend_states_ece_before_and_after(caplog):
    table = pd.DataFrame({"confidence": [0.3, 0.7], "accuracy": [0.2, 0.8], "share": [0.5, 0.5]})
    fig = ls_fig.plot_reliability(table, table, ece_before=0.12, ece_after=0.015)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["완벽한 보정", "보정 전 (ECE 0.120)", "보정 후 (ECE 0.015)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("예측 확률(최댓값)", "실제 정답 비율")
    assert glyph_problems(fig, caplog) == []


# --- anomaly (notebook 04) ---------------------------------------------------------------------------------------

def test_anomaly_rule_rates_label_each_rule_with_share_and_count(caplog):
    rates = pd.DataFrame({"이름": ["총액 급증", "업종 폭증"], "비율(%)": [1.5, 0.25], "해당 고객": [1500, 3]})
    fig = an_fig.plot_rule_rates(rates)
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel()) == ("규칙별 해당 고객 비율", "고객 비율 (%)")
    assert ax.get_xlim() == pytest.approx((0, 1.5 * 1.45))
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_yticklabels()) == ["총액 급증", "업종 폭증"]
    assert {" 1.50% (1,500명)", " 0.25% (3명)"} <= set(texts(fig))


def test_anomaly_precision_recall_legend_gives_each_scorers_average_precision(caplog):
    # ranked 0.8 (hit), 0.4, 0.35 (hit), 0.1: AP = ½·1 + ½·⅔ = 0.833; base rate 0.5
    y = np.array([0, 0, 1, 1])
    fig = an_fig.plot_precision_recall(y, {"rules": np.array([0.1, 0.4, 0.35, 0.8])})
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["규칙 (AP 0.833)", "무작위 (0.500)"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("재현율", "정밀도", "정밀도–재현율 곡선")
    assert glyph_problems(fig, caplog) == []


# --- segments (notebook 05) ----------------------------------------------------------------------------------------

def test_segment_map_legend_counts_each_segment_and_hides_the_coordinates(caplog):
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0, 1.0])
    fig = seg_fig.plot_map(x, y, ["생활필수형", "생활필수형", "외식여가형", "미분류"], "세그먼트 지도")
    (ax,) = fig.axes
    assert ax.get_title() == "세그먼트 지도" and list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["생활필수형 (2)", "외식여가형 (1)", "미분류 (1)"]
    assert glyph_problems(fig, caplog) == []


def test_segment_migration_titles_the_share_that_stayed(caplog):
    migration = pd.DataFrame([[8, 2], [1, 9]], index=[0, 1], columns=[0, 1])  # 17 of 20 stayed
    names = {0: "생활필수형", 1: "외식여가형"}
    fig = seg_fig.plot_migration(migration, names, names, ("2023q3", "2023q4"))
    (ax,) = fig.axes
    assert ax.get_title() == "세그먼트 이동 (두 분기 모두 있는 고객): 85.0%가 같은 세그먼트에 머묾"
    assert {"생활필수형 (10)", "외식여가형 (10)", "생활필수형 (9)", "외식여가형 (11)", "2023q3", "2023q4"} <= set(texts(fig))
    assert glyph_problems(fig, caplog) == []


# --- health (notebook 06) -------------------------------------------------------------------------------------------

def test_health_components_one_panel_each_with_name_and_weight(caplog):
    components = pd.DataFrame({"check_share": [10.0, 90.0], "stability": [50.0, 60.0], "spend_change": [0.0, 100.0],
                               "credit_peer": [20.0, 30.0], "care_burden": [40.0, 45.0]})
    titles = {"check_share": "체크카드 비중", "stability": "지출 안정성"}
    fig = health_fig.plot_components(components, titles, {"check_share": 0.2, "stability": 0.125})
    assert len(fig.axes) == 8 and len(visible_axes(fig)) == 5  # a 2 × 4 grid, three left empty
    assert [ax.get_title() for ax in visible_axes(fig)] == [
        "체크카드 비중\n가중치 0.20", "지출 안정성\n가중치 0.12", "spend_change\n가중치 0.00",
        "credit_peer\n가중치 0.00", "care_burden\n가중치 0.00"]
    assert fig.get_suptitle() == "구성 요소 분포 (0–100, 높을수록 건강)"
    assert glyph_problems(fig, caplog) == []


def test_health_score_shades_the_tiers_with_their_shares(caplog):
    # on the bounds: 0 is 취약, 40 보통, 60 and 100 건강 (each tier from its bound, the last up to 100)
    fig = health_fig.plot_score(np.array([0.0, 40.0, 60.0, 100.0]), (("취약", 0.0), ("보통", 40.0), ("건강", 60.0)))
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_xlim()) == ("건강 점수", "고객 수", (0.0, 100.0))
    assert [t.get_text() for t in ax.texts] == ["취약 25%", "보통 25%", "건강 50%"]
    assert glyph_problems(fig, caplog) == []


# --- recommend (notebook 07) ------------------------------------------------------------------------------------------

def test_recommend_oracle_shares_bars_the_three_choices_against_the_90_percent_target(caplog):
    fig = rec_fig.plot_oracle_shares({"oracle_share": 0.92, "popular_oracle_share": 0.7, "random_oracle_share": 0.4})
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == pytest.approx([40.0, 70.0, 92.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["목표 90%"]
    assert ax.get_xlabel() == "사후 최선 카드 혜택 대비 (%)"
    assert glyph_problems(fig, caplog) == []
    assert ticks(ax.get_yticklabels()) == ["무작위 가입 가능 카드", "가장 많이 추천된 카드", "추천 1순위"]
    assert {" 92.0%", " 70.0%", " 40.0%"} <= set(texts(fig))


def test_recommend_shares_against_the_hindsight_card_when_measured(caplog):
    fig = rec_fig.plot_oracle_shares({"oracle_share": 0.75, "popular_oracle_share": 0.5, "random_oracle_share": 0.2,
                                      "share_of_hindsight_card": 0.9, "popular_share_of_hindsight_card": 0.6,
                                      "random_share_of_hindsight_card": 0.25, "hindsight_card_oracle_share": 0.84})
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == pytest.approx([25.0, 60.0, 90.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "목표 92%", "참고: 추천 1순위의 분기별 사후 최선 대비 75%", "참고: 사후 최선 카드 한 장의 분기별 사후 최선 대비 84%"]
    assert ticks(ax.get_yticklabels())[0] == "무작위 가입 가능 카드(기댓값)"
    assert glyph_problems(fig, caplog) == []


def test_eda_published_level_shows_both_indexes_hatches_assumed_and_states_the_source(caplog):
    from fipro import eda as eda_tables
    level = eda_tables.PublishedLevel(
        name="region", column="HOUS_SIDO_NM", title_ko="거주 지역별 1인당 총이용금액 (전국 = 100)",
        published={"서울": 1930, "전남": 1530}, assumed={"부산": 1700}, source_ko="출처: 통계청 통계플러스",
        tolerance=0.01, tolerance_ko="±1%", reference_value=1770, reference_ko="전국 = 100")
    table = pd.DataFrame({"published": [109.0, 86.4, 96.0], "measured": [110.0, 85.0, 97.0], "se": [1.0, 1.0, 1.0],
                          "rows": [10, 10, 10], "assumed": [False, False, True]},
                         index=pd.Index(["서울", "전남", "부산"], name="HOUS_SIDO_NM"))
    fig = eda_fig.plot_published_level(table, level)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([109.0, 86.4, 96.0, 110.0, 85.0, 97.0])
    assert [p.get_hatch() for p in ax.patches[:3]] == [None, None, "//"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["서울", "전남", "부산"]
    assert any("통계청 통계플러스" in t.get_text() and "±1%" in t.get_text() for t in fig.texts)
    assert ax.get_ylabel() == "지수 (전국 = 100)"
    assert glyph_problems(fig, caplog) == []
