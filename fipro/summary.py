"""Quarter summaries in Korean, generated from the numbers the notebooks saved.

:func:`portfolio_summary_ko` writes the portfolio summary of a quarter from
``outputs/<quarter>/<name>.json`` (and the previous quarter's, for changes), one
section per entry of ``SECTIONS``, then one per model (``MODEL_SECTIONS``);
:func:`customer_summary_ko` writes one customer's (spending against peers, life stage
with its reasons). Sections are declarations: a model declares a :class:`Section` (its
metrics file and a template function) next to its artifacts and lists it in
``MODEL_SECTIONS``, and the site and notebooks pick it up. Amounts are shown with
:func:`fipro.contract.format_amount` (원/만원/억원). No sentence is written for one
dataset: every number comes from the saved metrics, and a section whose metrics are
missing says so instead of guessing.

Changes between quarters are judged by one rule, :func:`fipro.evaluation.intervals.change_ko`:
a sentence names a change only where the two quarters' 95% intervals do not overlap, and
says "구간 안" otherwise. A model metric's interval is saved with it (``<key>_lo``, ``<key>_hi``:
:func:`metric_change_line`); a share of customers gets Wilson's interval from the share and
the number of customers (:func:`share_interval_of`, :func:`share_moves_line`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from fipro import config, contract, datasets, export
from fipro.evaluation.intervals import (Interval, change_ko, headline_interval, interval_change, metric_change_ko,
                                        wilson_interval)
from fipro.export import atomic_path
from fipro.handoff import declared

Metrics = Mapping[str, object]


@dataclass(frozen=True)
class Section:
    """One part of the quarter summary: title, metrics file, template."""

    name: str
    title_ko: str
    metrics: str  # outputs/<quarter>/<metrics>.json
    render: Callable[[Metrics, Optional[Metrics]], list[str]]  # (this quarter, previous quarter) -> sentences


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * float(value):.{digits}f}%"


def _change(value: Optional[float]) -> str:
    if value is None or value != value:  # None or NaN
        return "비교할 전분기가 없습니다"
    word = "늘었습니다" if value > 0 else "줄었습니다" if value < 0 else "같습니다"
    return f"전분기보다 {abs(value):.1f}% {word}"


def metric_change_line(label: str, m: Metrics, prev: Optional[Metrics], key: str, digits: int = 3,
                       percent: bool = False) -> Optional[str]:
    """``전분기 대비 {label}: …`` judged by the two saved intervals; ``None`` without a previous value."""
    clause = metric_change_ko(m, prev, key, digits, percent)
    return f"전분기 대비 {label}: {clause}." if clause is not None else None


def share_interval_of(share: Optional[float], n: Optional[int]) -> Optional[Interval]:
    """Wilson's interval of a saved share of ``n`` customers (``None`` without both)."""
    if share is None or not n or share != share:
        return None
    return wilson_interval(int(round(float(share) * int(n))), int(n))


def share_moves_line(what: str, now: Mapping[str, float], n_now: Optional[int], before: Mapping[str, float],
                     n_before: Optional[int], label=str) -> str:
    """One sentence on how the shares of ``what`` moved: the largest move whose Wilson intervals are
    apart is named (with how many moved so), otherwise every move is "구간 안"."""
    moved = []
    for key in sorted(set(now) | set(before)):
        a, b = share_interval_of(now.get(key, 0.0), n_now), share_interval_of(before.get(key, 0.0), n_before)
        if a is not None and b is not None and interval_change(a, b) != 0:
            moved.append((abs(a.estimate - b.estimate), key, a, b))
    if not n_now or not n_before:
        return f"전분기 대비 {what} 비중 변화는 고객 수가 기록되지 않아 판단하지 않습니다."
    if not moved:
        return f"전분기 대비 {what}별 비중 변화는 모두 95% 구간 안입니다."
    _, key, a, b = max(moved)
    more = f" 등 {len(moved)}개" if len(moved) > 1 else ""
    return (f"전분기 대비 95% 구간을 벗어난 {what} 비중 변화는 {label(key)}{more}입니다: {label(key)} "
            f"{a.format(1, percent=True)}, {change_ko(a, b, 1, percent=True)}.")


def portfolio_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """Who the customers are (``eda.json``)."""
    return [f"고객 {int(m['customers']):,}명, 1인당 총이용금액 평균 {contract.format_amount(m['mean_total'])} "
            f"(중앙값 {contract.format_amount(m['median_total'])}, {contract.AMOUNT_PERIOD_LABEL}).",
            f"이용금액의 {_pct(m['credit_share'])}가 신용카드, 나머지가 체크카드이며, 이번 분기 디지털 채널 이용 고객은 "
            f"{_pct(m['digital_use_share'])}, 이용이 전혀 없는 고객은 {_pct(m['zero_total_share'])}입니다."]


def spending_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """How spending moved and where (``eda.json``); the change of the mean total is named only
    when the two quarters' intervals of the mean are apart (:func:`interval_change`)."""
    now_iv, before_iv = headline_interval(m, "mean_total"), headline_interval(prev, "mean_total")
    stayers = (f" (두 분기 모두 있는 고객 기준 {m['total_stayer_change_pct']:+.1f}%)"
               if m.get("total_stayer_change_pct") is not None and m["total_stayer_change_pct"] == m["total_stayer_change_pct"]
               else "")
    if now_iv is not None and before_iv is not None and m.get("total_change_pct") is not None:
        shown = (f"{contract.format_amount(now_iv.estimate)} ({contract.format_amount(now_iv.low)}–"
                 f"{contract.format_amount(now_iv.high)})")
        before = (f"{contract.format_amount(before_iv.estimate)} ({contract.format_amount(before_iv.low)}–"
                  f"{contract.format_amount(before_iv.high)})")
        first = (f"1인당 총이용금액 평균 {shown}은 전분기 {before} 대비 구간 안입니다 (두 분기의 95% 구간이 겹침)."
                 if interval_change(now_iv, before_iv) == 0 else
                 f"1인당 총이용금액은 {_change(m.get('total_change_pct'))}{stayers} (두 분기의 95% 구간이 겹치지 않음).")
    else:  # an eda.json saved before the intervals, or the first quarter
        first = f"1인당 총이용금액은 {_change(m.get('total_change_pct'))}{stayers}."
    return [first,
            f"가장 큰 업종은 {m['top_upper_category']} ({_pct(m['top_upper_share'])}), 세부 업종으로는 "
            f"{m['top_detail_category']} ({_pct(m['top_detail_share'])})입니다.",
            f"1인당 이용금액이 가장 큰 집단은 라이프스테이지로 {m['top_life_stage_by_mean_total']}, "
            f"연령대로 {m['top_age_by_mean_total']}입니다."]


def life_stage_mix_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """The life-stage mix and its change (``eda.json``)."""
    shares = dict(m.get("life_stage_shares") or {})
    if not shares:
        return ["라이프스테이지 구성이 기록되지 않았습니다."]
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
    lines = ["고객이 가장 많은 라이프스테이지는 " + ", ".join(
        f"{contract.code_label('LIFE_STAGE', c)} {_pct(v)}" for c, v in top) + "입니다."]
    before = dict((prev or {}).get("life_stage_shares") or {})
    if before:
        lines.append(share_moves_line("라이프스테이지", shares, m.get("customers"), before, (prev or {}).get("customers"),
                                      label=lambda c: contract.code_label("LIFE_STAGE", c)))
    return lines


def rejected_rows(m: Metrics) -> int:
    """Rows of the quarter that ingest rejected, summed over the reasons (``data_quality.json``)."""
    rejects = m.get("rejects_this_quarter") or {}
    return sum(int(v) for v in rejects.values()) if isinstance(rejects, Mapping) else 0


def quality_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """Data-quality remarks (``data_quality.json``)."""
    n_rejects = rejected_rows(m)
    lines = [f"적재된 행 {int(m['rows']):,}개, 중복 키 {int(m['duplicate_keys']):,}개, 이 분기에서 거부된 행 "
             f"{n_rejects:,}개입니다."]
    missing = float(m.get("missing_share_max") or 0.0)
    lines.append("결측 값은 없습니다." if missing == 0 else f"결측이 가장 많은 열의 결측 비율은 {_pct(missing, 2)}입니다.")
    return lines


def notification_lines(m: Metrics, prev: Optional[Metrics] = None) -> list[str]:
    """Customer notifications per kind (``drift.json``, written by notebook 08)."""
    notes = m.get("notifications") or {}
    counts = notes.get("counts") or {}
    if not counts:
        return ["이번 분기 고객 알림 기록이 없습니다."]
    total = int(notes.get("n_notifications") or sum(int(v) for v in counts.values()))
    return [f"고객 {int(notes.get('n_customers') or 0):,}명에게 알림 {total:,}건을 만들었습니다 "
            f"(고객당 최대 {int(notes.get('cap') or 0)}건, 우선순위 순): "
            + ", ".join(f"{k} {int(v):,}건" for k, v in counts.items()) + "."]


WATCH_TITLE = "변화 감시"
WATCH_PAGE_KO = "사이트의 변화 감시 페이지"  # the site makes this phrase the link to its watch page
WATCH_LINES = 8


def watch_lines(quarter: str, limit: int = WATCH_LINES) -> list[str]:
    """The quarter's alerts (``outputs/<quarter>/alerts.parquet``, notebook 08) as sentences,
    strongest first within each kind; ``[]`` when none fired or the notebook has not run."""
    # read here, not through fipro.drift or fipro.alerts: every model imports this module for its declarations,
    # and the drift code must not become part of their code stamps
    import pandas as pd

    path = datasets.alerts_path(quarter)
    alerts = pd.read_parquet(path) if path.exists() else None
    if alerts is None or not len(alerts):
        return []
    lines = [f"전분기 대비 평소보다 큰 변화 {len(alerts)}건이 감지되었습니다 ("
             + ", ".join(f"{k} {n}건" for k, n in alerts["kind_ko"].value_counts(sort=False).items()) + ")."]
    lines += [f"[{sev}] {sentence}" for sev, sentence in zip(alerts["severity"], alerts["sentence_ko"])][:limit]
    if len(alerts) > limit:
        lines.append(f"나머지 {len(alerts) - limit}건은 08_drift 노트북과 {WATCH_PAGE_KO}에 있습니다.")
    return lines


SECTIONS: list[Section] = [
    Section("portfolio", "고객 구성", "eda", portfolio_lines),
    Section("spending", "소비 변화", "eda", spending_lines),
    Section("life_stage_mix", "라이프스테이지 구성", "eda", life_stage_mix_lines),
    Section("quality", "데이터 품질", "data_quality", quality_lines),
    Section("notifications", "고객 알림", "drift", notification_lines),
]
# Each model declares its section next to its artifacts ("module:attribute", imported only
# when a summary is written, as fipro.handoff.MODEL_SOURCES); they follow the sections above.
MODEL_SECTIONS: tuple[str, ...] = ("fipro.lifestage.artifacts:SUMMARY", "fipro.anomaly.artifacts:SUMMARY",
                                   "fipro.segments.artifacts:SUMMARY", "fipro.health.artifacts:SUMMARY",
                                   "fipro.recommend.artifacts:SUMMARY")


def all_sections() -> list[Section]:
    """``SECTIONS`` then the declared model sections, in ``MODEL_SECTIONS`` order."""
    return [*SECTIONS, *declared(MODEL_SECTIONS)]


def _previous(quarter: str, quarters: Sequence[str]) -> Optional[str]:
    ordered = sorted(quarters)
    i = ordered.index(quarter) if quarter in ordered else -1
    return ordered[i - 1] if i > 0 else None


def _metrics(quarter: Optional[str], name: str) -> Optional[dict]:
    if quarter is None:
        return None
    try:
        return export.load_metrics(quarter, name)
    except FileNotFoundError:
        return None


def portfolio_summary(quarter: str, sections: Optional[Sequence[Section]] = None,
                      quarters: Optional[Sequence[str]] = None) -> dict[str, list[str]]:
    """Section title -> sentences for ``quarter``, from the saved metrics.

    A section whose metrics file is missing gets one sentence saying which notebook
    has not run. The previous quarter is the one before ``quarter`` in ``quarters``
    (default: the ingested ones).
    """
    quarters = list(quarters if quarters is not None else datasets.available_quarters())
    prev_q = _previous(quarter, quarters)
    out: dict[str, list[str]] = {}
    for s in sections if sections is not None else all_sections():
        m = _metrics(quarter, s.metrics)
        out[s.title_ko] = (s.render(m, _metrics(prev_q, s.metrics)) if m is not None else
                           [f"{s.metrics}.json이 아직 없습니다 (해당 노트북을 먼저 실행하세요)."])
    return out


def portfolio_summary_ko(quarter: str, sections: Optional[Sequence[Section]] = None,
                         quarters: Optional[Sequence[str]] = None, watch: bool = True) -> str:
    """The summary as Markdown: a heading per section, one bullet per sentence; the
    "변화 감시" section first when an alert fired this quarter (:func:`watch_lines`)."""
    parts = [f"## {quarter} 분기 요약"]
    watch = watch_lines(quarter) if watch else []
    if watch:
        parts.append(f"### {WATCH_TITLE}\n" + "\n".join(f"- {line}" for line in watch))
    for title, lines in portfolio_summary(quarter, sections, quarters).items():
        parts.append(f"### {title}\n" + "\n".join(f"- {line}" for line in lines))
    return "\n\n".join(parts)


def customer_summary_ko(peer, life_stage: Optional[Mapping[str, object]] = None) -> str:
    """One customer, by pseudonym: spending against peers and the life stage with its reason.

    ``peer`` is a :class:`fipro.compare.PeerComparison`; ``life_stage`` a row of
    :func:`fipro.lifestage.predict` (``predicted_ko``, ``probability``, ``sentence``).
    """
    parts = [peer.summary_ko()]
    if life_stage is not None:
        parts.append(f"추정 라이프스테이지: {life_stage['predicted_ko']} (확률 {_pct(life_stage['probability'])}). "
                     f"{life_stage['sentence']}")
    return "\n\n".join(parts)


def write_summaries(quarters: Optional[Sequence[str]] = None) -> list:
    """Write ``outputs/<quarter>/summary.md`` for every quarter (default: the ingested ones)."""
    quarters = list(quarters if quarters is not None else datasets.available_quarters())
    paths = []
    for q in quarters:
        path = datasets.summary_path(q)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(portfolio_summary_ko(q, quarters=quarters) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv=None) -> int:
    """``python -m fipro summary [--quarter Q]``: write (and print one) quarter summary."""
    parser = argparse.ArgumentParser(prog="python -m fipro summary", description=__doc__.splitlines()[0])
    parser.add_argument("--quarter", default=None, help="print this quarter's summary as well")
    args = parser.parse_args(argv)
    paths = write_summaries()
    print(f"분기 요약 {len(paths)}개: {config.OUTPUTS_DIR}/<분기>/summary.md")
    if args.quarter:
        print(portfolio_summary_ko(args.quarter, quarters=datasets.available_quarters()))
    return 0
