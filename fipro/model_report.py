"""The model report: every registered model's headline metrics across the quarters.

``python -m fipro model-report`` reads what the models saved (each quarter's
``outputs/<quarter>/models/<name>/registry.json`` and ``model_card.md``; nothing is
trained) and writes ``outputs/reports/model_report.md`` with a figure per headline
metric (its trend by quarter, and the planted ceilings where the synthetic truth gives
them: the latent one and, where a model declares it, the observable one). Models join by a declaration: a :class:`ModelReport` next to their artifacts,
listed in ``MODEL_REPORTS``.

Intervals: a metric saved with its 95% interval (``<key>_lo``, ``<key>_hi``,
:mod:`fipro.evaluation.intervals`) is shown as ``0.725 (0.711–0.739)``, its figure draws the
band, and :func:`change_lines` compares the latest quarter with the one before by
:func:`fipro.evaluation.intervals.change_ko` (a change is named only when the intervals are apart).
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from fipro import datasets
from fipro.evaluation import registry
from fipro.evaluation.intervals import Interval, change_ko
from fipro.evaluation.cards import CARD_FILE, markdown_table
from fipro.export import atomic_path
from fipro.handoff import declared

MODEL_REPORTS: tuple[str, ...] = ("fipro.lifestage.artifacts:REPORT", "fipro.anomaly.artifacts:REPORT",
                                  "fipro.segments.artifacts:REPORT", "fipro.health.artifacts:REPORT",
                                  "fipro.recommend.artifacts:REPORT")


@dataclass(frozen=True)
class Metric:
    """A headline metric: key in the registry entry's ``metrics``, Korean label, optional ceiling
    keys: ``ceiling`` the latent one (what the generator's hidden variables allow), ``observable``
    the best a model can do from what the file shows."""

    key: str
    label_ko: str
    ceiling: Optional[str] = None
    higher_is_better: bool = True
    observable: Optional[str] = None
    # "module:function" giving a quarter's metrics from another step's files, when the metric is
    # not measured by the model's own notebook (the temporal checks: fipro.drift.decay_metrics_of)
    source: Optional[str] = None


@dataclass(frozen=True)
class ModelReport:
    """A model's part of the report: its registry name, Korean title and headline metrics."""

    name: str
    title_ko: str
    metrics: tuple[Metric, ...]


def declared_reports() -> list[ModelReport]:
    """The declared model reports, in ``MODEL_REPORTS`` order."""
    return declared(MODEL_REPORTS)


def report_dir() -> Path:
    return datasets.reports_dir()


def metric_table(report: ModelReport, quarters: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per quarter with a registry entry (of ``quarters``, default the ingested ones):
    version, each headline metric (with ``<key>_lo``, ``<key>_hi`` where saved) and ceiling."""
    rows = []
    for q in quarters if quarters is not None else datasets.available_quarters():
        try:
            entry = registry.load_entry(datasets.model_dir(q, report.name))
        except (FileNotFoundError, ValueError):
            continue
        m = dict(entry.get("metrics", {}))
        for spec in dict.fromkeys(metric.source for metric in report.metrics if metric.source):
            m.update(_resolve(spec)(q))
        row = {"quarter": q, "version": entry["version"], "created": entry["created"]}
        for metric in report.metrics:
            row[metric.key] = m.get(metric.key)
            for bound in ("lo", "hi"):
                if m.get(f"{metric.key}_{bound}") is not None:
                    row[f"{metric.key}_{bound}"] = m[f"{metric.key}_{bound}"]
            for key in (metric.ceiling, metric.observable):
                if key:
                    row[key] = m.get(key)
        rows.append(row)
    return pd.DataFrame(rows)


def _resolve(spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def interval_of(table: pd.DataFrame, key: str, i: int) -> Optional[Interval]:
    """Row ``i``'s interval of ``key`` in a :func:`metric_table` (``None`` where it was not saved)."""
    values = [table[c].iloc[i] if c in table else None for c in (key, f"{key}_lo", f"{key}_hi")]
    if any(v is None or pd.isna(v) for v in values):
        return None
    return Interval(*(float(v) for v in values))


def display_table(report: ModelReport, table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`metric_table` for a page: Korean column names, one row per 분기; a metric saved with
    its interval reads ``0.725 (0.711–0.739)``."""
    table = table.copy()
    for m in report.metrics:
        if f"{m.key}_lo" in table:
            table[m.key] = [iv.format(digits) if (iv := interval_of(table, m.key, i)) is not None else value
                            for i, value in enumerate(table[m.key].astype(object))]
    table = table.drop(columns=[f"{m.key}_{b}" for m in report.metrics for b in ("lo", "hi") if f"{m.key}_{b}" in table])
    names = {m.key: m.label_ko for m in report.metrics}
    names.update({m.ceiling: f"{m.label_ko} 상한" for m in report.metrics if m.ceiling})
    names.update({m.observable: f"{m.label_ko} 관측 상한" for m in report.metrics if m.observable})
    shown = table.drop(columns=["created"]).rename(columns={"quarter": "분기", "version": "버전", **names})
    return shown.set_index("분기")


def metric_figures(report: ModelReport, table: pd.DataFrame, out_dir: Path) -> list[str]:
    """Save one figure per headline metric into ``out_dir``; returns their Markdown image lines."""
    # matplotlib loads with fipro.figures (seconds); every model's artifacts import this module for its declarations
    from fipro.figures import save_figure

    lines = []
    for metric in report.metrics:
        if table[metric.key].notna().any():
            path = save_figure(plot_metric(table, metric, report.title_ko), out_dir / f"{report.name}_{metric.key}.png")
            lines.append(f"![{report.title_ko} {metric.label_ko}]({path.name})")
    return lines


def plot_metric(table: pd.DataFrame, metric: Metric, title: str):
    """The metric by quarter with its 95% interval as a band (where saved), its latent ceiling
    as a dashed line and its observable ceiling as a dotted one where there are."""
    # matplotlib loads with fipro.figures (seconds); every model's artifacts import this module for its declarations
    from fipro.figures import finish, plt, use_style

    use_style()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    line, = ax.plot(table["quarter"], table[metric.key].astype(float), marker="o", label=metric.label_ko)
    low, high = f"{metric.key}_lo", f"{metric.key}_hi"
    if low in table and table[low].notna().any():
        ax.fill_between(table["quarter"], table[low].astype(float), table[high].astype(float),
                        color=line.get_color(), alpha=0.2, label="95% 구간 (고객 부트스트랩·윌슨)")
    if metric.ceiling and table[metric.ceiling].notna().any():
        ax.plot(table["quarter"], table[metric.ceiling].astype(float), ls="--", color="gray",
                label="이론적 상한 (합성 자료의 정확한 사후확률)")
    if metric.observable and table[metric.observable].notna().any():
        ax.plot(table["quarter"], table[metric.observable].astype(float), ls=":", color="black",
                label="관측 상한 (파일에 보이는 지출로 계산한 최선)")
    ax.set_title(f"{title}: {metric.label_ko} (분기별)")
    ax.set_xlabel("분기")
    ax.set_ylabel(metric.label_ko)
    ax.legend(loc="best", fontsize=9)
    return finish(fig)


def change_lines(report: ModelReport, table: pd.DataFrame, digits: int = 3) -> list[str]:
    """Korean sentences: each metric of the latest quarter against the quarter before, with the
    change named only where the two intervals do not overlap (:func:`change_ko`)."""
    if len(table) < 2:
        return []
    now_q, before_q = table["quarter"].iloc[-1], table["quarter"].iloc[-2]
    lines = []
    for m in report.metrics:
        now, before = interval_of(table, m.key, len(table) - 1), interval_of(table, m.key, len(table) - 2)
        if now is None and before is None:
            continue
        shown = now.format(digits) if now is not None else f"{float(table[m.key].iloc[-1]):.{digits}f}"
        lines.append(f"{m.label_ko}: {now_q} {shown}, {change_ko(now, before, digits)}.")
    return [f"{before_q} → {now_q} 변화 (95% 구간이 겹치면 '구간 안'):", *(f"- {line}" for line in lines)] if lines else []


def write_model_report(out_dir: Optional[Path] = None, reports: Optional[Sequence[ModelReport]] = None,
                       quarters: Optional[Sequence[str]] = None) -> Path:
    """Write ``model_report.md`` and its figures; returns the Markdown path."""
    out_dir = Path(out_dir) if out_dir is not None else report_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = ["# 모델 보고서", "",
             "분기마다 등록된 모델의 핵심 지표와 버전입니다. 모델이 저장한 registry와 모델 카드에서 읽으며, "
             "여기서 학습하는 것은 없습니다. 파선은 합성 자료에서 알 수 있는 이론적 상한, 점선은 파일에 보이는 것만으로 "
             "닿을 수 있는 관측 상한입니다. 괄호 안은 95% 구간(고객 부트스트랩 또는 비율의 윌슨 구간)이며, 그림에서는 "
             "띠로 그립니다. 분기 간 변화는 두 구간이 겹치지 않을 때만 변화로 적습니다."]
    for report in reports if reports is not None else declared_reports():
        table = metric_table(report, quarters)
        parts += ["", f"## {report.title_ko} (`{report.name}`)"]
        if table.empty:
            parts.append("\n등록된 모델이 아직 없습니다 (해당 노트북을 먼저 실행하세요).")
            continue
        parts += ["", markdown_table(display_table(report, table))]
        changes = change_lines(report, table)
        if changes:
            parts += ["", "\n".join(changes)]
        for line in metric_figures(report, table, out_dir):
            parts += ["", line]
        latest = datasets.model_dir(table["quarter"].iloc[-1], report.name) / CARD_FILE
        if latest.exists():
            card = latest.read_text(encoding="utf-8").replace("\n# ", "\n### ")
            parts += ["", f"### 최근 분기({table['quarter'].iloc[-1]}) 모델 카드", "", card.lstrip("# ")]
    path = out_dir / "model_report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    """``python -m fipro model-report [--out-dir DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro model-report", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"모델 보고서: {write_model_report(args.out_dir)}")
    return 0
