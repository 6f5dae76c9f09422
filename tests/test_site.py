"""Tests for fipro.site: pages from saved outputs, small-group suppression, an offline build
that publishes no customer id."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from conftest import committed_quarter

from fipro import config, datasets, export, runner, site


def test_small_groups_are_suppressed_and_counted():
    table = pd.DataFrame({"평균": [10.0, 20.0, 30.0]}, index=["a", "b", "c"])
    out, n = site.suppress_small(table, pd.Series({"a": 120, "b": 9, "c": 10}))
    assert n == 1 and out.loc["b", "평균"] == site.SUPPRESSED and out.loc["c", "평균"] == 30.0


def test_life_stage_mix_hides_a_stage_held_by_fewer_than_ten_customers(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path)
    export.save_metrics("2023q1", "eda", {"customers": 50, "life_stage_shares": {"UNI": 0.9, "TEEN": 0.1}})
    mix, n = site.life_stage_mix(["2023q1"])
    assert n == 1  # 5 teenagers: not published
    assert mix.loc["대학생", "2023q1"] == "90.0" and mix.loc["청소년", "2023q1"] == site.SUPPRESSED
    assert "10명 미만 집단 1개" in site._suppression_note(n)


def site_quarter() -> str:
    """The quarter whose notebooks the site test publishes (the 00 and 01 notebooks' committed one)."""
    quarter = committed_quarter("01_eda")
    assert committed_quarter("00_data_check") == quarter
    return quarter


@pytest.fixture(scope="module")
def built(sample_quarters, tmp_path_factory):
    """The site of the private sample, built offline with MkDocs (one quarter's notebooks run first).

    The quarter is the one whose 00 and 01 notebooks tests/test_runner.py and tests/test_eda.py
    already execute into the test outputs (their committed quarter): in a full run they are not
    executed a second time here; run alone, this fixture executes them itself."""
    quarter = site_quarter()
    assert quarter in sample_quarters
    for stem in ("00_data_check", "01_eda"):
        if not runner.output_path(stem, quarter).exists():
            runner.run_notebook(stem, quarter)
    home = tmp_path_factory.mktemp("site")
    result = site.build(builder="mkdocs", src=home / "src", out=home / "out")
    return result, home


def test_site_builds_every_declared_page_offline(built, sample_quarters):
    result, home = built
    out = home / "out"
    assert result["builder"] == "mkdocs" and result["index"] == out / "index.html"
    navbar = yaml.safe_load((home / "src" / "_navbar.yml").read_text(encoding="utf-8"))["website"]["navbar"]["left"]
    assert [i["text"] for i in navbar] == ["홈", "분기", "모델", "변화 감시", "데이터 품질", "방법", "데이터 사전", "탐색 화면"]
    for item in navbar:
        for entry in item.get("menu", [item]):
            page = out / re.sub(r"\.md$", ".html", entry["href"])
            assert page.exists(), entry
    home_page = (out / "index.html").read_text(encoding="utf-8")
    for heading in ("분기 요약", "분기별 추이", "업종별 1인당 이용금액 추이", "라이프스테이지 구성"):
        assert heading in home_page, heading
    quarter = site_quarter()
    quarter_page = (out / "quarters" / f"{quarter}.html").read_text(encoding="utf-8")
    assert f"../notebooks/{quarter}/01_eda.html" in quarter_page
    assert (out / "notebooks" / quarter / "01_eda.html").exists()
    # nothing is loaded from outside the machine: every script, style and image is local
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text), page


def test_korean_words_are_in_the_search_index(built):
    _, home = built
    import json

    index = json.loads((home / "out" / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert "ko" in index["config"]["lang"]
    assert any("데이터 사전" in d["title"] for d in index["docs"])
    assert any("라이프스테이지" in d["text"] for d in index["docs"])


def test_no_raw_customer_id_is_published(built, sample_quarters):
    _, home = built
    seqs = set()
    for q in sample_quarters:
        seqs |= set(datasets.load_quarter(q, columns=["SEQ"])["SEQ"].astype(str))
    pattern = re.compile("|".join(sorted(map(re.escape, seqs), key=len, reverse=True)))
    for path in (home / "out").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".xml", ".md", ".txt"):
            found = pattern.search(path.read_text(encoding="utf-8", errors="ignore"))
            assert found is None, f"{path} publishes a raw SEQ ({found.group(0)[:3]}…)"


# --- a real browser: Debian chromium driven by Playwright (installed by `make test`) ---------

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def served(built):
    """The built site on 127.0.0.1 (a real HTTP server in a thread)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    _, home = built
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(home / "out")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian chromium is missing: `make test` installs it (target browser)"
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_every_navbar_page_loads_with_its_images_no_errors_and_nothing_from_outside(served, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors, outside = [], []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    def only_local(route):
        if route.request.url.startswith(served):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{served}/index.html")
    links = sorted(set(page.eval_on_selector_all(".md-nav--primary a[href]", "els => els.map(e => e.href)")))
    links = [u.split("#")[0] for u in links if u.startswith(served)]
    assert len(set(links)) >= 6  # home, quarters, model, quality, methods, dictionary
    for url in sorted(set(links)):
        response = page.goto(url)
        assert response is not None and response.ok, url
        page.wait_for_load_state("load")
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                               ".map(i => i.src)")
        assert broken == [], (url, broken)
    assert errors == [] and outside == []
    page.close()


def test_korean_search_finds_pages_and_screenshots_are_saved(served, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{served}/index.html")
    page.keyboard.press("s")  # Material's search shortcut
    # a wait, not a measurement: Material builds its search index in a worker after the page
    # loads (over 15 s beside a full-scale run on the 2 cores); its ready answer to the empty
    # query replaces "검색 초기화" with the placeholder
    page.wait_for_function("document.querySelector('.md-search-result__meta').textContent"
                           " === '검색어를 입력하세요'", timeout=60_000)
    # Material reads the query on keyup: fill() alone sends none (Hangul is inserted as text),
    # so a query filled after the index is ready was never searched; End is a real key press
    page.fill("input.md-search__input", "데이터 사전")
    page.press("input.md-search__input", "End")
    page.wait_for_selector(".md-search-result__item", timeout=30_000)
    titles = page.eval_on_selector_all(".md-search-result__item h1, .md-search-result__item h2",
                                       "els => els.map(e => e.textContent)")
    assert any("데이터 사전" in t for t in titles)
    page.keyboard.press("Escape")
    shots = config.OUTPUTS_DIR / "site"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "home.png"))
    page.goto(f"{served}/models/lifestage.html")
    page.screenshot(path=str(shots / "model_lifestage.png"), full_page=True)
    assert (shots / "home.png").stat().st_size > 10_000 and (shots / "model_lifestage.png").stat().st_size > 10_000
    page.close()


def test_front_matter_is_yaml_that_reads_back_as_the_title():
    import yaml

    from fipro.site import front_matter

    for title in ["데이터 사전", '2023q1 분기: "요약" #1', "a: b"]:
        text = front_matter(title=title)
        assert text.startswith("---\n") and text.endswith("---\n")
        assert yaml.safe_load(text.strip("-\n")) == {"title": title}
    assert front_matter(title="데이터 사전") == "---\ntitle: 데이터 사전\n---\n"


def test_the_homes_watch_section_links_the_watch_page_once():
    from fipro import summary

    fired = ["[높음] [입력] 연료판매 금액이 전분기(2023q1) 대비 평소보다 크게 바뀌었습니다.",
             "나머지 3건은 08_drift 노트북과 사이트의 변화 감시 페이지에 있습니다."]
    text = site.watch_section("2023q2", fired)
    assert text.startswith(f"## {summary.WATCH_TITLE} (2023q2)\n\n- [높음] [입력] 연료판매")
    assert text.count("(watch.md)") == 1 and "사이트의 변화 감시 페이지" not in text
    assert text.endswith("나머지 3건은 08_drift 노트북과 [변화 감시](watch.md) 페이지에 있습니다.")
    few = site.watch_section("2023q2", fired[:1])  # every alert shown: one pointer added
    assert few.count("(watch.md)") == 1 and few.endswith("[변화 감시](watch.md) 페이지에 있습니다.")
    assert site.watch_section("2023q2", []) == ""


def test_watch_page_shows_each_quarters_alerts_figure_and_table(tmp_path, monkeypatch):
    from fipro import alerts, drift

    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    rows = pd.DataFrame({"BAS_YH": "2023q2", "previous": "2023q1", "kind": "input", "group": "category",
                         "subject": ["FUEL_AM", "TRVL_AM", "HOTEL_AM"], "subject_ko": ["연료판매 금액", "여행업 금액", "숙박업 금액"],
                         "measure": "psi", "value": [0.05, 0.001, 0.0005], "noise_mean": 0.001, "noise_q": 0.005,
                         "n_previous": 100, "n_current": 100, "detail_ko": ["이용 고객 40.0% → 45.0%", "", ""]})
    table = alerts.thresholds(rows)
    for q, t in (("2023q1", table.iloc[:0]), ("2023q2", table)):
        drift.drift_path(q).parent.mkdir(parents=True, exist_ok=True)
        t.to_parquet(drift.drift_path(q), index=False)
        alerts.alerts_of(t).to_parquet(drift.alerts_path(q), index=False)
    body = site.watch_body(["2023q1", "2023q2", "2023q3"], tmp_path / "site" / "watch")
    assert body.index("## 2023q3") < body.index("## 2023q2") < body.index("## 2023q1")  # latest first
    assert "08_drift 노트북이 아직 실행되지 않았습니다" in body and "비교할 전분기가 없습니다" in body
    assert "| 입력 | 연료판매 금액 |" in body and "이용 고객 40.0% → 45.0%" in body
    assert (tmp_path / "site" / "watch" / "drift_2023q2.png").exists() and "](watch/drift_2023q2.png)" in body


def test_trends_and_model_pages_show_the_intervals_and_judge_the_change(tmp_path, monkeypatch):
    import numpy as np
    from sklearn.dummy import DummyClassifier

    from fipro.evaluation import registry

    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    quarters = ["2023q1", "2023q2"]
    for q, (f1, low, high) in zip(quarters, [(0.700, 0.690, 0.710), (0.705, 0.695, 0.715)]):
        metrics = {"model_macro_f1": f1, "model_macro_f1_lo": low, "model_macro_f1_hi": high, "age_rule_macro_f1": 0.4,
                   "intervals": {"model_macro_f1": {"method": "bootstrap", "customers": 900}}}
        export.save_metrics(q, "lifestage", metrics)
        model = DummyClassifier().fit(np.zeros((2, 1)), [0, 1])
        registry.register_model(model, datasets.model_dir(q, "lifestage"), name="lifestage", data_hash=q, metrics=metrics)
    trends = site.trends_table(quarters)
    assert trends.loc["2023q2", "라이프스테이지 매크로 F1 (95% 구간)"] == "0.705 (0.695–0.715)"
    site.write_pages(quarters, src=tmp_path / "src")
    page = (tmp_path / "src" / "models" / "lifestage.md").read_text(encoding="utf-8")
    assert "0.705 (0.695–0.715)" in page and "구간 안" in page and "높아졌습니다" not in page
    assert (tmp_path / "src" / "models" / "lifestage_model_macro_f1.png").stat().st_size > 1000
