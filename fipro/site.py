"""The stakeholders' report site: pages generated from what the run saved.

``python -m fipro site`` writes the pages into ``reports/site/`` (Markdown with a
``title`` in the front matter, which both Quarto and MkDocs read; the executed
notebooks are copied as they are and never re-run) plus ``reports/site/_navbar.yml``,
the navbar that ``_quarto.yml`` includes through ``metadata-files``. Then it builds the
site into ``_site/``: with ``quarto render`` where Quarto is installed, otherwise with
MkDocs Material (``mkdocs-jupyter`` renders the executed notebooks offline), configured
by a ``mkdocs.yml`` translated from ``_quarto.yml`` and the generated navbar, so nothing
is listed twice. It prints which builder it used.

Pages: home (the latest quarter's summary and trends across quarters), one page per
quarter (its summary and executed notebooks), one per model (``fipro.model_report``
declarations), data quality, methods (model cards) and the data dictionary. The
notebooks × quarters come from ``fipro.runner.notebook_stems`` (the notebooks folder),
the same list the runner executes.

Privacy: customers appear only by pseudonym (the notebooks already do so); every
published aggregate over fewer than ``MIN_GROUP`` customers is suppressed and the page
says so (:func:`suppress_small`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd
import yaml

from fipro import config, contract, datasets, eda, export, model_report, summary
from fipro.evaluation.cards import CARD_FILE, markdown_table
from fipro.evaluation.intervals import format_metric

MIN_GROUP = 10  # smallest group whose aggregate may be published
SITE_TITLE = "FI_PRO 카드 소비 분석"
SUPPRESSED = "—"


def source_dir() -> Path:
    """Generated page sources (git-ignored): ``reports/site``."""
    return datasets.site_source_dir()


def output_dir() -> Path:
    """The built site: ``_site`` (``_quarto.yml``'s ``output-dir``)."""
    return config.PROJ_ROOT / "_site"


VOILA_PORT = 8866  # the Makefile's VOILA_PORT default


def notebook_stems() -> list[str]:
    """The numbered notebooks of ``notebooks/`` (the Makefile's ``NOTEBOOKS`` is the same glob)."""
    return sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def suppress_small(table: pd.DataFrame, counts: pd.Series, k: int = MIN_GROUP) -> tuple[pd.DataFrame, int]:
    """Blank the rows of ``table`` whose group has fewer than ``k`` customers.

    ``counts`` is aligned with ``table``'s index. Returns the table (values of small
    groups replaced by ``—``) and how many rows were suppressed.
    """
    small = counts.reindex(table.index).fillna(0) < k
    out = table.astype(object).copy()
    out.loc[small, :] = SUPPRESSED
    return out, int(small.sum())


def _suppression_note(n: int) -> str:
    return (f"\n\n_고객 {MIN_GROUP}명 미만 집단 {n}개의 값은 개인 식별을 막기 위해 표시하지 않았습니다 ({SUPPRESSED})._"
            if n else "")


def _number(value, fmt: str) -> str:
    """A number for a page, ``—`` when missing or undefined."""
    return SUPPRESSED if value is None or value != value else fmt.format(value)


def front_matter(**fields) -> str:
    """A page's YAML front matter (``---`` … ``---``), written by ``yaml.safe_dump``: a title
    with a quote, a colon or a ``#`` stays one string.

    >>> print(front_matter(title='데이터 사전: "EDU"'), end="")
    ---
    title: '데이터 사전: "EDU"'
    ---
    """
    return "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=10_000) + "---\n"


def _page(path: Path, title: str, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{front_matter(title=title)}\n{body.strip()}\n", encoding="utf-8")
    return path


def _metrics(quarter: str, name: str) -> Optional[dict]:
    try:
        return export.load_metrics(quarter, name)
    except FileNotFoundError:
        return None


def _summary_body(quarter: str, quarters: Sequence[str], watch: bool = True) -> str:
    # the summary's own heading levels start at ##; on a page the title is the heading
    text = summary.portfolio_summary_ko(quarter, quarters=quarters, watch=watch)
    return "\n".join(line for line in text.splitlines() if not line.startswith("## "))


def trends_table(quarters: Sequence[str]) -> pd.DataFrame:
    """Headline numbers per quarter: customers, mean total, credit share, quarter change,
    life-stage model macro-F1 (with its 95% interval where saved) and its ceiling, rejected rows."""
    rows = []
    for q in quarters:
        eda, life, quality = _metrics(q, "eda") or {}, _metrics(q, "lifestage") or {}, _metrics(q, "data_quality") or {}
        rows.append({"분기": q, "고객 수": eda.get("customers"),
                     f"1인당 총이용금액 ({contract.AMOUNT_PERIOD_LABEL})":
                         contract.format_amount(eda["mean_total"]) if "mean_total" in eda else None,
                     "신용카드 비중": f"{100 * eda['credit_share']:.1f}%" if "credit_share" in eda else None,
                     "전분기 대비": _number(eda.get("total_change_pct"), "{:+.1f}%"),
                     "라이프스테이지 매크로 F1 (95% 구간)": (format_metric(life, "model_macro_f1")
                                                           if life.get("model_macro_f1") is not None else None),
                     "이론적 상한": _number(life.get("ceiling_macro_f1"), "{:.3f}"),
                     "거부 행": summary.rejected_rows(quality) if quality else None})
    return pd.DataFrame(rows).set_index("분기")


def category_trends(quarters: Sequence[str]) -> pd.DataFrame:
    """Mean amount per customer of each upper category (rows) by quarter (columns), formatted."""
    # one quarter in memory at a time: the generator loads each as quarter_means asks
    frames = ((q, datasets.load_quarter(q, columns=contract.UPPER_COLUMNS)) for q in quarters)
    means = eda.quarter_means(frames, columns=contract.UPPER_COLUMNS).T
    out = means.map(lambda v: SUPPRESSED if v != v else contract.format_amount(v))
    out.index = [contract.label(c) for c in means.index]
    out.index.name = "업종"
    return out


def life_stage_mix(quarters: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Share of customers per life stage (rows) and quarter (columns), small groups suppressed."""
    shares, counts = {}, {}
    for q in quarters:
        eda = _metrics(q, "eda") or {}
        mix = eda.get("life_stage_shares") or {}
        shares[q] = pd.Series(mix, dtype=float)
        counts[q] = pd.Series(mix, dtype=float) * float(eda.get("customers") or 0)
    table = pd.DataFrame(shares).reindex([c for c in contract.LIFE_STAGE_CODES if any(c in s for s in shares.values())])
    n_small = 0
    out = (table * 100).map(lambda v: _number(v, "{:.1f}"))
    for q in table.columns:
        small = pd.DataFrame(counts)[q].reindex(table.index).fillna(0) < MIN_GROUP
        out.loc[small & table[q].notna(), q] = SUPPRESSED
        n_small += int((small & table[q].notna()).sum())
    out.index = [contract.code_label("LIFE_STAGE", c) for c in out.index]
    out.index.name = "라이프스테이지 (%)"
    return out, n_small


def watch_body(quarters: Sequence[str], out_dir: Path) -> str:
    """The 변화 감시 page: per quarter (latest first) its alerts, the figure of every measure against
    its threshold (saved into ``out_dir``) and the drift table (``outputs/<q>/drift.parquet``)."""
    from fipro import drift  # pandas only
    from fipro.alerts import drift_table_ko
    from fipro.figures import drift as drift_fig, save_figure  # matplotlib: only when the site is built

    parts = ["분기마다 바로 전 분기와 비교한 입력(고객 구성·업종 금액·피처 묶음), 출력(모델 결과의 구성), "
             "성능 저하(전분기 모델 대 재학습), 데이터 품질의 변화입니다. 값은 PSI(분포 안정성 지수)이며, 기준은 "
             "같은 크기의 두 표본이 우연히 보이는 PSI에 앞선 분기들까지의 평소 변화 폭을 곱한 값입니다 "
             "(`fipro.drift`, `fipro.alerts`). 각 분기의 `08_drift` 노트북에 자세한 내용이 있습니다."]
    for q in sorted(quarters, reverse=True):
        table = drift.load_drift(q)
        if table is None:
            parts.append(f"## {q}\n\n_08_drift 노트북이 아직 실행되지 않았습니다._")
            continue
        if not len(table):
            parts.append(f"## {q}\n\n_첫 분기라 비교할 전분기가 없습니다._")
            continue
        alerts = drift.load_alerts(q)
        block = [f"## {q} (전분기 {table['previous'].iloc[0]} 대비)"]
        if alerts is not None and len(alerts):
            block.append(markdown_table(alerts[["kind_ko", "subject_ko", "value", "threshold", "severity"]].rename(
                columns={"kind_ko": "종류", "subject_ko": "대상", "value": "값", "threshold": "기준",
                         "severity": "심각도"}).round(4).set_index("종류")))
        else:
            block.append("경보가 없습니다.")
        path = save_figure(drift_fig.plot_drift(table, title=f"{q}: 전분기 대비 변화 (값 ÷ 경보 기준)"),
                           out_dir / f"drift_{q}.png")
        block.append(f"![{q} 변화]({out_dir.name}/{path.name})")
        block.append(markdown_table(drift_table_ko(table).set_index("종류")))
        parts.append("\n\n".join(block))
    return "\n\n".join(parts)


def watch_section(quarter: str, lines: Sequence[str]) -> str:
    """The home page's "변화 감시" section from the summary's alert lines ('' when none fired).

    The summary's line that sends the reader to "the site's page" becomes the link to it;
    without such a line one pointer is added, so the page is linked once either way.
    """
    if not lines:
        return ""
    lines = [line.replace(summary.WATCH_PAGE_KO, "[변화 감시](watch.md) 페이지") for line in lines]
    pointer = ("" if any("(watch.md)" in line for line in lines)
               else "\n\n분기별 변화 표와 그림은 [변화 감시](watch.md) 페이지에 있습니다.")
    return f"## {summary.WATCH_TITLE} ({quarter})\n\n" + "\n".join(f"- {line}" for line in lines) + pointer


def write_pages(quarters: Optional[Sequence[str]] = None, src: Optional[Path] = None) -> dict:
    """Write every page and the navbar into ``src`` (default :func:`source_dir`); returns the navbar.

    Navbar hrefs are relative to the project root for ``_quarto.yml``, or to ``src``
    when it lies outside the project (a test's folder).
    """
    quarters = list(quarters if quarters is not None else datasets.available_quarters())
    if not quarters:
        raise FileNotFoundError("no ingested quarter: run `make all` first")
    src = Path(src) if src is not None else source_dir()
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    root = config.PROJ_ROOT if src.resolve().is_relative_to(config.PROJ_ROOT) else src
    rel = lambda p: p.resolve().relative_to(root).as_posix()  # noqa: E731
    latest = quarters[-1]
    mix, n_small = life_stage_mix(quarters)
    watch_page = _page(src / "watch.md", summary.WATCH_TITLE, watch_body(quarters, src / "watch"))
    watch = watch_section(latest, summary.watch_lines(latest))
    home = _page(src / "index.md", SITE_TITLE, "\n\n".join([
        *([watch] if watch else []),
        f"카드사 분기별 고객 소비 자료를 분석한 결과입니다. 가장 최근 분기는 **{latest}**입니다. "
        f"금액 단위는 {contract.AMOUNT_UNIT_LABEL}({contract.AMOUNT_PERIOD_LABEL})이며 문장에서는 원·만원·억원으로 보입니다.",
        f"## {latest} 분기 요약\n\n{_summary_body(latest, quarters, watch=False)}",
        "## 분기별 추이\n\n" + markdown_table(trends_table(quarters)),
        f"## 업종별 1인당 이용금액 추이 ({contract.AMOUNT_PERIOD_LABEL})\n\n" + markdown_table(category_trends(quarters)),
        "## 라이프스테이지 구성 (고객 비율, %)\n\n" + markdown_table(mix) + _suppression_note(n_small),
    ]))
    quarter_items = []
    for q in quarters:
        links = []
        for stem in notebook_stems():
            executed = datasets.executed_notebook_path(stem, q)
            if executed.exists():
                copy = src / "notebooks" / q / f"{stem}.ipynb"
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(executed, copy)
                links.append(f"- [{stem}](../notebooks/{q}/{stem}.ipynb)")
        page = _page(src / "quarters" / f"{q}.md", f"{q} 분기", "\n\n".join([
            _summary_body(q, quarters),
            "## 실행된 노트북\n\n" + ("\n".join(links) if links else "_실행된 노트북이 없습니다._")]))
        quarter_items.append({"text": q, "href": rel(page)})
    model_items, cards = [], []
    for report in model_report.declared_reports():
        table = model_report.metric_table(report, quarters)
        body = [f"분기마다 학습한 `{report.name}` 모델의 핵심 지표입니다. 이론적 상한은 합성 자료의 정답에서 계산합니다. "
                "괄호 안은 95% 구간(고객 부트스트랩 또는 비율의 윌슨 구간)이며 그림에서는 띠로 그립니다."]
        if table.empty:
            body.append("_등록된 모델이 아직 없습니다._")
        else:
            body.append(markdown_table(model_report.display_table(report, table)))
            changes = model_report.change_lines(report, table)
            if changes:
                body.append("\n".join(changes))
            body += model_report.metric_figures(report, table, src / "models")
            card = datasets.model_dir(table["quarter"].iloc[-1], report.name) / CARD_FILE
            if card.exists():
                cards.append((report.title_ko, table["quarter"].iloc[-1], card.read_text(encoding="utf-8")))
        page = _page(src / "models" / f"{report.name}.md", report.title_ko, "\n\n".join(body))
        model_items.append({"text": report.title_ko, "href": rel(page)})
    quality_rows = []
    for q in quarters:
        m = _metrics(q, "data_quality") or {}
        quality_rows.append({"분기": q, "적재 행": m.get("rows"), "중복 키": m.get("duplicate_keys"),
                             "거부 행": summary.rejected_rows(m) if m else None,
                             "최대 결측 비율": m.get("missing_share_max")})
    quality = _page(src / "quality.md", "데이터 품질", "\n\n".join([
        "분기마다 원본을 적재하며 검증한 결과입니다. 자세한 내용은 각 분기의 `00_data_check` 노트북에 있습니다.",
        markdown_table(pd.DataFrame(quality_rows).set_index("분기"))]))
    methods = _page(src / "methods.md", "방법과 모델 카드", "\n\n".join(
        ["모델마다 가장 최근 분기의 모델 카드입니다 (목적, 사용 범위, 데이터 범위, 특성, 성능, 보정, 한계)."]
        + [f"## {title} ({q})\n\n" + text.split("\n", 1)[-1].replace("\n# ", "\n### ").replace("\n## ", "\n### ")
           for title, q, text in cards] or ["_모델 카드가 아직 없습니다._"]))
    dictionary = pd.DataFrame([{"열": c.name, "한국어": contract.label(c.name), "형식": c.dtype}
                               for c in contract.COLUMNS]).set_index("열")
    dict_page = _page(src / "dictionary.md", "데이터 사전", "원본 파일 `EDU_DATA_F`의 열입니다.\n\n"
                      + markdown_table(dictionary))
    views = _page(src / "views.md", "탐색 화면", "\n\n".join([
        "고객 한 명과 세그먼트를 직접 골라 보는 두 화면(Voila)입니다. 저장된 결과만 읽으며, 이 컴퓨터(127.0.0.1)에서만 열립니다.",
        "시작하기: 프로젝트 폴더에서 `make voila`를 실행하면 주소가 출력됩니다(기본 포트 "
        f"{VOILA_PORT}, 바꾸려면 `make voila VOILA_PORT=8900`). 끝내려면 Ctrl+C.",
        f"- [고객 탐색](http://127.0.0.1:{VOILA_PORT}/voila/render/customer_explorer.ipynb): 가명 라벨 앞 4글자 이상을 "
        "입력해 고객을 고르면 업종별 지출(또래 대비), 지난 분기 대비 변화, 소비 건강 점수와 구성 요소, 라이프스테이지 확률, "
        "이상 소비, 추천 카드와 이유, 비슷한 고객, 요약 문장",
        f"- [세그먼트 탐색](http://127.0.0.1:{VOILA_PORT}/voila/render/segment_explorer.ipynb): 소비 스타일 지도"
        "(세그먼트·라이프스테이지·건강 등급, 층화 표본), 세그먼트 프로필, 분기별 규모, 지난 분기와의 이동",
        "JupyterLab에서도 `notebooks/views/`의 두 노트북을 열어 같은 화면을 쓸 수 있습니다(`make lab`)."]))
    navbar = {"website": {"navbar": {"left": [
        {"text": "홈", "href": rel(home)},
        {"text": "분기", "menu": quarter_items},
        {"text": "모델", "menu": model_items},
        {"text": summary.WATCH_TITLE, "href": rel(watch_page)},
        {"text": "데이터 품질", "href": rel(quality)},
        {"text": "방법", "href": rel(methods)},
        {"text": "데이터 사전", "href": rel(dict_page)},
        {"text": "탐색 화면", "href": rel(views)},
    ]}}}
    (src / "_navbar.yml").write_text(yaml.safe_dump(navbar, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # MkDocs reads the MathJax URL per notebook page; the notebooks hold no maths, so a
    # local empty script keeps every request on the machine
    (src / "assets").mkdir(exist_ok=True)
    (src / "assets" / "no-mathjax.js").write_text("// notebooks here hold no maths: nothing to load\n")
    _korean_font(src / "assets")
    return navbar


def _korean_font(assets: Path) -> None:
    """A Korean font stack from the reader's own system fonts (Windows, macOS, Linux):
    nothing is fetched from the internet. (Bundling koreanize-matplotlib's NanumGothic
    was tried: Chromium's font sanitizer rejects that file.)"""
    (assets / "site.css").write_text(
        ":root { --md-text-font: 'Malgun Gothic'; }\n"
        "body, .md-typeset, .jp-Notebook { font-family: 'Malgun Gothic', 'Apple SD Gothic Neo', 'Noto Sans CJK KR', "
        "'NanumGothic', sans-serif; }\n", encoding="utf-8")


def mkdocs_config(navbar: dict, src: Optional[Path] = None, out: Optional[Path] = None) -> dict:
    """``mkdocs.yml`` translated from ``_quarto.yml`` (title, output) and the generated navbar."""
    quarto = yaml.safe_load((config.PROJ_ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    src = (Path(src) if src is not None else source_dir()).resolve()
    root = config.PROJ_ROOT if src.is_relative_to(config.PROJ_ROOT) else src

    def nav(item):
        if "menu" in item:
            return {item["text"]: [nav(i) for i in item["menu"]]}
        return {item["text"]: (root / item["href"]).relative_to(src).as_posix()}

    return {
        "site_name": quarto["website"]["title"],
        "docs_dir": str(src),
        "site_dir": str(Path(out) if out is not None else config.PROJ_ROOT / quarto["project"]["output-dir"]),
        "use_directory_urls": False,  # opens from the file system as well as from a server
        "theme": {"name": "material", "language": "ko", "font": False,
                  "features": ["navigation.tabs", "navigation.top", "search.suggest"]},
        "plugins": [{"search": {"lang": ["ko", "en"]}},
                    {"mkdocs-jupyter": {"include": ["*.ipynb"], "execute": False, "include_requirejs": False,
                                        "custom_mathjax_url": "../../assets/no-mathjax.js"}}],
        "markdown_extensions": ["tables", "attr_list", "toc"],
        "extra_css": ["assets/site.css"],
        "nav": [nav(i) for i in navbar["website"]["navbar"]["left"]],
        "exclude_docs": "_navbar.yml\n",
        "extra": {"generator": False},
    }


def build(quarters: Optional[Sequence[str]] = None, builder: Optional[str] = None,
          src: Optional[Path] = None, out: Optional[Path] = None) -> dict:
    """Write the pages and build the site; ``builder`` ``quarto``/``mkdocs`` (default: Quarto if installed).

    ``src`` and ``out`` move the page sources and the built site (MkDocs only; Quarto
    builds what ``_quarto.yml`` names).
    """
    start = time.perf_counter()
    navbar = write_pages(quarters, src)
    builder = builder or ("quarto" if shutil.which("quarto") else "mkdocs")
    out = Path(out) if out is not None else output_dir()
    if builder == "quarto":
        subprocess.run(["quarto", "render"], cwd=config.PROJ_ROOT, check=True)
    elif builder == "mkdocs":
        cfg = (Path(src).parent if src is not None else config.PROJ_ROOT / ".cache" / "site") / "mkdocs.yml"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(yaml.safe_dump(mkdocs_config(navbar, src, out), allow_unicode=True, sort_keys=False),
                       encoding="utf-8")
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--clean", "--config-file", str(cfg)],
                       cwd=config.PROJ_ROOT, check=True, env=env)
    else:
        raise ValueError(f"builder must be 'quarto' or 'mkdocs', got {builder!r}")
    return {"builder": builder, "index": out / "index.html", "seconds": time.perf_counter() - start}


def main(argv=None) -> int:
    """``python -m fipro site [--builder quarto|mkdocs]``."""
    parser = argparse.ArgumentParser(prog="python -m fipro site", description=__doc__.splitlines()[0])
    parser.add_argument("--builder", choices=("quarto", "mkdocs"), default=None)
    args = parser.parse_args(argv)
    result = build(builder=args.builder)
    why = "" if result["builder"] == "quarto" else " (Quarto가 설치되어 있지 않아 MkDocs Material로 빌드)"
    print(f"보고서 사이트: {result['index']} — {result['builder']}{why}, {result['seconds']:.0f}초")
    return 0
