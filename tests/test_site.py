"""Tests for fipro.site: pages from saved outputs, small-group suppression, an offline build
that publishes no customer id."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

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


@pytest.fixture(scope="module")
def built(sample_quarters, tmp_path_factory):
    """The site of the private sample, built offline with MkDocs (one quarter's notebooks run first)."""
    quarter = sample_quarters[0]
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
    assert [i["text"] for i in navbar] == ["홈", "분기", "모델", "데이터 품질", "방법", "데이터 사전"]
    for item in navbar:
        for entry in item.get("menu", [item]):
            page = out / re.sub(r"\.md$", ".html", entry["href"])
            assert page.exists(), entry
    quarter_page = (out / "quarters" / f"{sample_quarters[0]}.html").read_text(encoding="utf-8")
    assert f"../notebooks/{sample_quarters[0]}/01_eda.html" in quarter_page
    assert (out / "notebooks" / sample_quarters[0] / "01_eda.html").exists()
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
