"""Model cards: one Markdown page per fitted model, for people and for a serving team.

A card has fixed sections (Korean headings with the English name in brackets, so a
reader and a script both find them): purpose, intended use, data range, features,
metrics, calibration, limitations, and a version line from the registry entry.
:func:`model_card_markdown` renders it from plain values; :func:`write_model_card`
writes ``model_card.md`` beside the model (see :mod:`fipro.evaluation.registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import pandas as pd

from fipro.export import atomic_path

CARD_FILE = "model_card.md"
SECTIONS = (
    ("purpose", "목적 (Purpose)"),
    ("intended_use", "사용 목적과 범위 (Intended use)"),
    ("data_range", "데이터 범위 (Data range)"),
    ("features", "입력 특성 (Features)"),
    ("metrics", "성능 (Metrics)"),
    ("calibration", "확률 보정 (Calibration)"),
    ("limitations", "한계 (Limitations)"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame as a Markdown table (the index as the first column, floats to 4 places)."""
    cols = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in frame.iterrows():
        lines.append("| " + " | ".join([_fmt(idx)] + [_fmt(v) for v in row.tolist()]) + " |")
    return "\n".join(lines)


def _with_intervals(metrics: Mapping) -> dict:
    """Each value shown, a metric saved with its 95% interval (``<key>_lo``, ``<key>_hi``) as
    ``0.7250 (0.7110–0.7390)`` and its bounds and the ``intervals`` record folded into it."""
    how = metrics.get("intervals") if isinstance(metrics.get("intervals"), Mapping) else {}
    folded = {f"{k}_{b}" for k in how for b in ("lo", "hi")} | ({"intervals"} if how else set())
    out = {}
    for k, v in metrics.items():
        if k in folded:
            continue
        low, high = metrics.get(f"{k}_lo"), metrics.get(f"{k}_hi")
        out[k] = (f"{_fmt(float(v))} ({_fmt(float(low))}–{_fmt(float(high))})" if k in how and low is not None
                  and high is not None and v is not None else _fmt(v))
    return out


def _block(value: Union[str, Sequence, Mapping, pd.DataFrame, None]) -> str:
    if value is None:
        return "_기록 없음_"
    if isinstance(value, pd.DataFrame):
        return markdown_table(value)
    if isinstance(value, Mapping):
        return "\n".join(f"- **{k}**: {v}" for k, v in _with_intervals(value).items()) or "_기록 없음_"
    if isinstance(value, str):
        return value.strip()
    return "\n".join(f"- {_fmt(v)}" for v in value) or "_기록 없음_"


def model_card_markdown(name: str, *, purpose: str, intended_use: Union[str, Sequence[str]],
                        data_range: Mapping[str, Any], features: Union[Sequence[str], pd.DataFrame, Mapping],
                        metrics: Union[Mapping[str, Any], pd.DataFrame], calibration: Mapping[str, Any],
                        limitations: Sequence[str], entry: Optional[Mapping[str, Any]] = None,
                        title: Optional[str] = None,
                        extra_sections: Optional[Mapping[str, Union[str, Sequence, Mapping, pd.DataFrame]]] = None) -> str:
    """Render a model card as Markdown.

    Parameters
    ----------
    name : str
        Model name (``"lifestage"``).
    purpose, intended_use, data_range, features, metrics, calibration, limitations
        Section contents: a string, a list (bullets), a mapping (key: value bullets) or a
        DataFrame (table).
    entry : mapping, optional
        The registry entry; its version, created time, data hash and parameters are shown.
    title : str, optional
        Page title; default ``"모델 카드: <name>"``.
    extra_sections : mapping heading -> content, optional
        Appended after the fixed sections.

    Examples
    --------
    >>> md = model_card_markdown("toy", purpose="p", intended_use=["u"], data_range={"quarters": "2023q1"},
    ...                          features=["x"], metrics={"accuracy": 0.5}, calibration={"ece": 0.1},
    ...                          limitations=["small"])
    >>> "## 한계 (Limitations)" in md and "- **accuracy**: 0.5000" in md
    True
    """
    contents = {"purpose": purpose, "intended_use": intended_use, "data_range": data_range, "features": features,
                "metrics": metrics, "calibration": calibration, "limitations": limitations}
    lines = [f"# {title or f'모델 카드: {name}'}", ""]
    if entry:
        lines += [f"- 모델: `{entry.get('name', name)}` · 버전 `{entry.get('version', '?')}` · "
                  f"생성 {entry.get('created', '?')}",
                  f"- 데이터 해시: `{str(entry.get('data_hash', '?'))[:16]}…` · 추정기 `{entry.get('estimator', '?')}`", ""]
    for key, heading in SECTIONS:
        lines += [f"## {heading}", "", _block(contents[key]), ""]
    for heading, content in (extra_sections or {}).items():
        lines += [f"## {heading}", "", _block(content), ""]
    if entry and entry.get("parameters"):
        lines += ["## 하이퍼파라미터 (Parameters)", "", _block(entry["parameters"]), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_model_card(directory: Path, markdown: str) -> Path:
    """Write ``model_card.md`` into a model folder (atomically) and return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CARD_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    return path


def missing_sections(markdown: str) -> list[str]:
    """Headings of the fixed sections that a card lacks (empty list: complete)."""
    return [heading for _, heading in SECTIONS if f"## {heading}" not in markdown]
