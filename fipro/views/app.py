"""The two explorers as ipywidgets apps (the Voila notebooks only display them).

Callbacks run inside :func:`guarded`: an exception in a widget callback shows nowhere by
default (not on the page, not in the browser console, not in Voila's log), so the apps
own an error panel (CSS class ``fipro-error``) that shows it, and keep it in ``errors``.
Every panel carries a CSS class (``fipro-…``) the browser tests read. Every value put
into the HTML goes through ``html.escape`` (:func:`_p`, :func:`_e`): a label is typed by
the user, and names, reasons and tracebacks may hold ``<`` or ``&``.
"""

from __future__ import annotations

import functools
import threading
import traceback
from html import escape
from typing import Callable, Optional

import numpy as np
import pandas as pd

from fipro import contract, datasets
from fipro.views import data, panels

MIN_PREFIX = 4  # characters typed before the label search runs


def _e(value) -> str:
    """``value`` as text safe inside HTML (``None`` as empty)."""
    return escape("" if value is None else str(value))


def _p(value, css: Optional[str] = None) -> str:
    """One escaped paragraph."""
    return f"<p class='{escape(css)}'>{_e(value)}</p>" if css else f"<p>{_e(value)}</p>"


class _App:
    def __init__(self):
        import ipywidgets as w  # ipywidgets (~0.15 s) once an app is built: importing this module stays light

        self.w = w
        self.errors: list[str] = []
        self.error_panel = w.HTML("", layout=w.Layout(display="none"))
        self.error_panel.add_class("fipro-error")

    def guarded(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - shown in the app's own error panel
                text = traceback.format_exc()
                self.errors.append(text)
                self.error_panel.value = f"<pre>오류가 났습니다:\n{_e(text)}</pre>"
                self.error_panel.layout.display = "block"
        return wrapper

    def html(self, css: str, value: str = ""):
        widget = self.w.HTML(value)
        widget.add_class(css)
        return widget

    def output(self, css: str):
        out = self.w.Output()
        out.add_class(css)
        return out


def _table_html(frame: Optional[pd.DataFrame], empty: str) -> str:
    if frame is None or len(frame) == 0:
        return _p(empty)
    return frame.to_html(float_format=lambda v: f"{v:,.2f}", na_rep="-", border=0)


class CustomerExplorer(_App):
    """Quarter and customer (typed label, searched by prefix) → every panel for that customer."""

    def __init__(self, quarter: Optional[str] = None):
        super().__init__()
        w = self.w
        quarters = data.built_quarters()
        self.quarter = w.Dropdown(options=quarters, value=quarter or (quarters[-1] if quarters else None), description="분기")
        self.search = w.Combobox(placeholder="고객-… (가명 라벨 앞 4글자 이상)", description="고객", ensure_option=False)
        self.search.add_class("fipro-search")
        self.title = self.html("fipro-customer")
        self.summary = self.html("fipro-summary")
        self.spending = self.output("fipro-spending")
        self.health = self.html("fipro-health")
        self.lifestage = self.html("fipro-lifestage")
        self.anomaly = self.html("fipro-anomaly")
        self.recs = self.html("fipro-recommendations")
        self.notes = self.html("fipro-notifications")
        self.similar = self.html("fipro-similar")
        self._index = {}
        self._names = self._product_names()
        self.search.observe(self.guarded(self._typed), names="value")
        self.quarter.observe(self.guarded(lambda change: (self._warm(change["new"]), self.show(self.search.value))),
                             names="value")
        self._lifestage = {}
        if self.quarter.value:  # the indexes load with the page, so no click waits for them
            self._warm(self.quarter.value)
            self._warming.join()
        self.widget = w.VBox([w.HBox([self.quarter, self.search]), self.error_panel, self.title, self.summary,
                              w.HTML("<h3>업종별 지출</h3>"), self.spending,
                              w.HTML("<h3>소비 건강</h3>"), self.health, w.HTML("<h3>라이프스테이지</h3>"), self.lifestage,
                              w.HTML("<h3>이상 소비</h3>"), self.anomaly, w.HTML("<h3>추천</h3>"), self.recs,
                              w.HTML("<h3>이번 분기 알림</h3>"), self.notes,
                              w.HTML("<h3>비슷한 고객</h3>"), self.similar])

    @staticmethod
    def _product_names() -> dict:
        try:
            from fipro.products import load_catalogue  # on first use: keeps `import fipro.views.app` as light as before

            cat = load_catalogue()
            return {**{c: cat.card_name(c) for c in cat.card_ids},
                    **dict(zip(cat.products["product_id"], cat.products["name_ko"]))}
        except (OSError, ValueError):
            return {}

    def _typed(self, change) -> None:
        value = (change["new"] or "").strip()
        if len(value) < MIN_PREFIX:
            return
        matches = data.search_labels(self.quarter.value, value)
        self.search.options = tuple(matches)
        if value in matches:
            self.show(value)

    def _warm(self, quarter: str) -> None:
        thread = threading.Thread(target=self.guarded(lambda: (self.similar_index(quarter), self.lifestage_model(quarter),
                                                                self._first_use())), daemon=True)
        thread.start()
        self._warming = thread

    @staticmethod
    def _first_use() -> None:
        """Pay the one-off costs of the first click up front: SHAP's import and matplotlib's first figure."""
        import fipro.lifestage.reasons  # noqa: F401 - imports shap
        from fipro.figures import figure_png  # matplotlib (~1.4 s) in this warm-up thread, not at import

        figure_png(panels.plot_spending(pd.DataFrame({"업종": ["-"], "본인": [0.0], "또래 평균": [0.0]}), "-"))

    def lifestage_model(self, quarter: str):
        """(model, features by SEQ) of the quarter's life-stage model, or ``None`` before notebook 03 ran."""
        if quarter not in self._lifestage:
            # the life-stage package (~0.2 s) and the registry on the first customer only, not at import
            from fipro.evaluation import registry
            from fipro.lifestage.data import MODEL_NAME as LIFESTAGE, load_inputs  # see above

            try:
                model = registry.load_model(datasets.model_dir(quarter, LIFESTAGE))
                frame = load_inputs(quarter)
                self._lifestage[quarter] = (model, frame.set_index(frame["SEQ"].astype(str), drop=False))
            except (FileNotFoundError, KeyError, ValueError):
                self._lifestage[quarter] = None
        return self._lifestage[quarter]

    def lifestage_sentence(self, quarter: str, seq: str) -> str:
        loaded = self.lifestage_model(quarter)
        if loaded is None or seq not in loaded[1].index:
            return ""
        from fipro.lifestage.reasons import predict  # reasons imports shap: only a shown customer needs it

        try:
            return str(predict(loaded[0], loaded[1].loc[[seq]], k=3)["sentence"].iloc[0])
        except ValueError as err:  # a model saved by older code than the features: say so, keep the page
            return f"라이프스테이지 이유를 계산하지 못했습니다(저장된 모델과 피처가 맞지 않음: 노트북 03을 다시 실행하세요). {err}"

    def similar_index(self, quarter: str):
        if quarter not in self._index:
            from fipro.segments.artifacts import load_index  # the segment package (~0.3 s) on first use, not at import

            try:
                self._index[quarter] = load_index(quarter)
            except FileNotFoundError:
                self._index[quarter] = None
        return self._index[quarter]

    def show(self, label: str) -> None:
        quarter = self.quarter.value
        row = data.customer(quarter, label) if label else None
        if row is None:
            self.title.value = _p(f"{quarter}에 '{label}' 고객이 없습니다.") if label else ""
            return
        self.summary.value = "".join(_p(s) for s in panels.summary_sentences(row, self._names))
        peer = data.peers(quarter, row["AGE"], row["SEX_CD"], row["LIFE_STAGE"])
        table = panels.spending_table(row, peer)
        self.spending.clear_output(wait=True)
        with self.spending:
            from IPython.display import display  # IPython, like ipywidgets, only once an app runs

            display(panels.plot_spending(table, row["label"]))
        ht = panels.health_table(row)
        self.health.value = ("<p>노트북 06이 아직 실행되지 않았습니다.</p>" if ht is None else
                             _p(f"건강 점수 {float(row['health_score']):.1f}점 ({row['health_tier']}), "
                                f"위험 등급 {int(row['risk_grade'])}", "score") + _table_html(ht, ""))
        if getattr(self, "_warming", None) is not None:
            self._warming.join()
        self.lifestage.value = (_table_html(panels.lifestage_table(row), "라이프스테이지 예측이 없습니다.") +
                                _p(self.lifestage_sentence(quarter, row["SEQ"])))
        flagged = bool(row.get("anomaly_flagged")) if row.get("anomaly_flagged") is not None else False
        self.anomaly.value = (_p(f"검토 대상: {'예' if flagged else '아니오'} (순위 {row.get('anomaly_rank')})") +
                              _p(row.get("anomaly_reason") or ""))
        self.recs.value = _table_html(panels.recommendation_table(row, self._names), "추천이 없습니다.")
        self.notes.value = _table_html(panels.notification_table(row), "이번 분기에 새로 알릴 것이 없습니다.")
        index = self.similar_index(quarter)
        if index is None:
            self.similar.value = "<p>세그먼트 색인이 없습니다.</p>"
        else:
            self.similar.value = (_p(index.describe(row["SEQ"])) +
                                  _table_html(index.query(row["SEQ"], 5).set_index("고객"), ""))
        # the title last: when it shows the customer, every panel above has been sent
        self.title.value = f"<h2>{_e(row['label'])} · {_e(quarter)}</h2>"


class SegmentExplorer(_App):
    """Quarter → the map (a stratified sample) by segment, life stage or health tier; a segment's
    profile, size over quarters and migration to and from the other segments."""

    def __init__(self, quarter: Optional[str] = None):
        super().__init__()
        w = self.w
        quarters = data.built_quarters()
        self.quarter = w.Dropdown(options=quarters, value=quarter or (quarters[-1] if quarters else None), description="분기")
        self.colour = w.ToggleButtons(options=[("세그먼트", "segment_name"), ("라이프스테이지", "LIFE_STAGE"),
                                               ("건강 등급", "health_tier")], value="segment_name")
        self.segment = w.Dropdown(description="세그먼트")
        self.segment.add_class("fipro-segment-select")
        self.map = self.output("fipro-map")
        self.profile = self.html("fipro-profile")
        self.sizes = self.html("fipro-sizes")
        self.migration = self.html("fipro-migration")
        self.quarter.observe(self.guarded(lambda _: self.load()), names="value")
        self.colour.observe(self.guarded(lambda _: self.draw()), names="value")
        self.segment.observe(self.guarded(lambda _: self.show_segment()), names="value")
        self.widget = w.VBox([w.HBox([self.quarter, self.colour]), self.error_panel, self.map, self.segment,
                              self.profile, w.HTML("<h3>분기별 규모</h3>"), self.sizes,
                              w.HTML("<h3>이동 (지난 분기 → 이번 분기)</h3>"), self.migration])

    def load(self) -> None:
        from fipro.segments.artifacts import PROFILES_FILE, model_dir  # the segment package (~0.3 s) on first use

        q = self.quarter.value
        if q is None:
            self.profile.value = "<p>탐색 표가 없습니다: 먼저 <code>make views</code>를 실행하세요.</p>"
            return
        self.points = pd.read_parquet(datasets.view_table_path(q, "map"))
        path = model_dir(q) / PROFILES_FILE
        self.profiles = pd.read_parquet(path) if path.exists() else pd.DataFrame()
        names = list(self.profiles["name"]) if len(self.profiles) else []
        self.draw()
        self.segment.options = names
        if names:
            self.segment.value = names[0]
            self.show_segment()

    def draw(self) -> None:
        from IPython.display import display  # IPython, like ipywidgets, only once an app runs

        from fipro.figures.segments import plot_map  # matplotlib (~1.1 s) only when the map is drawn

        p = self.points
        groups = p[self.colour.value].astype(str)
        if self.colour.value == "LIFE_STAGE":
            groups = groups.map(lambda c: contract.LIFE_STAGE_CODES.get(c, c))
        self.map.clear_output(wait=True)
        with self.map:
            display(plot_map(p["map_x"].to_numpy(), p["map_y"].to_numpy(), groups.to_numpy(),
                             f"{self.quarter.value} 소비 스타일 지도 (표본 {len(p):,}명)"))

    def show_segment(self) -> None:
        name = self.segment.value
        if name is None or not len(self.profiles):
            return
        row = self.profiles[self.profiles["name"] == name].iloc[0]
        self.profile.value = (f"<h3>{_e(name)}</h3>" +
                              _p(f"고객 {int(row['size']):,}명 ({100 * float(row['share']):.1f}%), "
                                 f"평균 이용금액 {contract.format_amount(float(row['mean_total']))}, "
                                 f"신용 비중 {100 * float(row['credit_share']):.0f}%", "size") +
                              _p(f"특징 업종: {row['top_categories']}"))
        from fipro.segments.pipeline import size_history  # the segment package (~0.3 s) on first use

        sizes = size_history(self.quarter.value)
        self.sizes.value = _table_html(sizes[[name]] if name in sizes else None, "이전 분기 기록이 없습니다.")
        self.migration.value = _table_html(migration(self.quarter.value, name), "지난 분기가 없습니다.")


def migration(quarter: str, name: str) -> Optional[pd.DataFrame]:
    """Customers of both quarters: where this segment's customers came from and went to (by name)."""
    from fipro.segments.artifacts import load_assignments  # the segment package (~0.3 s) on first use

    past = datasets.earlier_quarters(quarter)
    if not past:
        return None
    now = load_assignments(quarter, columns=["SEQ", "segment_name"])
    before = load_assignments(past[-1], columns=["SEQ", "segment_name"])
    if now is None or before is None:
        return None
    both = now.merge(before, on="SEQ", suffixes=("_now", "_before"))
    came = both[both["segment_name_now"] == name]["segment_name_before"].value_counts()
    went = both[both["segment_name_before"] == name]["segment_name_now"].value_counts()
    return pd.DataFrame({"지난 분기에서 온 고객": came, "다음으로 간 고객(지난 분기 이 세그먼트)": went}).fillna(0).astype(int)
