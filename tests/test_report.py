"""The HTML report: self-contained, escaped, structurally stable (golden file), numbers equal summarize()."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from app.recipes import summarize
from app.report import build_report, write_report
from tests.test_recipe_core import MINIMAL, make_ws

GOLDEN = Path(__file__).parent / "golden" / "report_structure.json"
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\""
RECIPE = MINIMAL + "dedup: {exact: true}\nsample: {n: 60, seed: 1}\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("rep") / "ws")
    ids = [f"x{i}" for i in range(10)]
    w.write_source("<b>evil source</b>", pd.DataFrame({"id": ids, "text": [HOSTILE + str(i) for i in range(10)]}))
    m = w.con.execute(
        "SELECT id, hash(id) % 1000 / 10.0 AS map_x, hash(id || 'y') % 1000 / 10.0 AS map_y FROM docs"
    ).df()
    with w.transaction() as cur:
        cur.register("_m", m)
        cur.execute("CREATE TABLE map_test AS SELECT * FROM _m")
        w.register_part("map_test", kind="map", con=cur)
    # hostile docs have no signals -> removed by the rules -> appear among removed samples
    yield w
    w.close()


@pytest.fixture(scope="module")
def report(ws):
    return build_report(ws, RECIPE, samples=40)


def structure(html: str, data: dict) -> dict:
    return {
        "sections": re.findall(r'<section id="([^"]+)">', html),
        "headings": re.findall(r"<h2>([^<]+)</h2>", html),
        "json_keys": sorted(data),
        "summary_keys": sorted(data["summary"]),
        "sample_keys": sorted(data["samples"]),
        "figures": sorted(set(re.findall(r'id="(fig-[a-z]+)', html))),
    }


def test_report_structure_matches_golden(report):
    html, data = report
    got = structure(html, data)
    if os.environ.get("WINNOW_REGOLDEN"):  # after an intended change: regenerate, review the diff, commit
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_report_is_self_contained(report):
    html, _ = report
    assert "Plotly" in html and len(html) > 1_000_000  # the library is inlined
    loads = re.findall(
        r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", html, re.I
    )
    assert loads == []
    assert not re.search(r"@import\s+url\(\s*[\"']?https?://", html)


def test_report_escapes_document_text(report):
    html, data = report
    removed_text = " ".join(d["text"] for d in data["samples"]["removed"])
    assert "<script>alert" in removed_text  # the hostile docs are shown...
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html  # ...escaped
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;b&gt;evil source&lt;/b&gt;" in html and "<b>evil source</b>" not in html


def test_report_numbers_equal_summarize(ws, report):
    _, data = report
    s = summarize(ws.con, RECIPE)
    for k in ("total_docs", "kept_docs", "total_tokens", "kept_tokens", "rules", "overlap", "by_source", "by_lang"):
        assert data["summary"][k] == s[k], k
    assert data["summary"]["kept_docs"] == 60
    d = data["distributions"]["size_words"]
    assert sum(d["before"]) == ws.con.execute("SELECT count(size_words) FROM corpus").fetchall()[0][0]
    assert sum(d["after"]) == 60
    assert sum(data["distributions"]["lang_code"]["after"]) == 60
    assert sum(data["map"]["kept"]) == 60 and len(data["map"]["x"]) == 310
    assert data["samples"]["borderline"][0]["threshold"] == 5


def test_cli_report_writes_html_and_json(tmp_path, capsys):
    from app.cli import main

    w = make_ws(tmp_path / "ws")
    w.close()
    rp = tmp_path / "r.yaml"
    rp.write_text(MINIMAL)
    out = tmp_path / "rep" / "report.html"
    assert main(["report", "-w", str(tmp_path / "ws"), "--recipe", str(rp), "--out", str(out), "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(last["html"]).exists() and Path(last["json"]).name == "report.json"
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["summary"]["total_docs"] == 300 and data["map"] is None


def test_write_report_returns_paths(ws, tmp_path):
    res = write_report(ws, MINIMAL, tmp_path / "r.html", samples=2)
    assert res["bytes"] > 0 and Path(res["json"]).exists()


def test_build_report_with_out_writes_both(ws, tmp_path):
    html, data = build_report(ws, MINIMAL, samples=1, out=tmp_path / "reports" / "cut.html")
    assert (tmp_path / "reports" / "cut.html").read_text() == html
    assert (
        json.loads((tmp_path / "reports" / "cut.json").read_text())["summary"]["kept_docs"]
        == data["summary"]["kept_docs"]
    )


def test_report_template_escapes_recipe_names_and_labels(ws):
    """The recipe's name and a rule's values are the user's text: the template shows them, escaped, everywhere
    (title, heading, rules table, overlap table, recipe YAML, figure labels)."""
    name = "</title><script>alert('n')</script>"
    recipe = (
        f'version: 1\nname: "{name}"\nrules:\n  - {{signal: lang_code, not_in: ["<img src=x onerror=alert(2)>"]}}\n'
    )
    html, data = build_report(ws, recipe, samples=3)
    assert data["recipe"]["name"] == name
    assert "<script>alert" not in html and "<img src=x" not in html and "</title><script>" not in html
    assert "<title>Winnow report: &lt;/title&gt;&lt;script&gt;alert(&#x27;n&#x27;)&lt;/script&gt;</title>" in html
    assert html.count("&lt;img src=x onerror=alert(2)&gt;") >= 3  # rules table, overlap table, recipe YAML
    assert html.count("<script") == html.count("</script>")  # only Plotly's own scripts
