"""The report's compare section (``winnow report --recipe A --compare B``): its structure, its numbers equal
``compare_recipes``'s, flipped documents escaped, and the default report unchanged without it."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from app.recipes.compare import compare_recipes
from app.report import build_report
from tests.test_recipe_core import make_ws

HOSTILE = "<script>alert('c')</script><img src=x onerror=alert(3)>"
A = """version: 1
name: loose
rules:
  - {signal: size_words, min: 5}
"""
B = """version: 1
name: "<b>strict</b>"
rules:
  - {signal: size_words, min: 20, label: "<i>long</i>"}
  - {signal: quality_score, min: 0.2}
dedup: {exact: true}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("cmprep") / "ws", n=300)
    ids = [f"h{i}" for i in range(6)]
    w.write_source("<b>evil</b>", pd.DataFrame({"id": ids, "text": [HOSTILE + " word" * (8 + i) for i in range(6)]}))
    yield w
    w.close()


@pytest.fixture(scope="module")
def report(ws):
    return build_report(ws, A, samples=4, compare=B)


def test_compare_section_structure(report):
    html, data = report
    sections = re.findall(r'<section id="([^"]+)">', html)
    assert sections[:2] == ["summary", "compare"]
    part = html.split('<section id="compare">')[1].split("</section>")[0]
    for head in ("Changed rules", "Other sections that differ", "What flips the documents", "By source", "By lang"):
        assert head in part, head
    assert "Flipped documents" in part and part.count('class="doc ') == len(data["compare"]["flipped"]) > 0
    c = data["compare"]
    assert {"counts", "by_source", "by_lang", "flips", "flipped", "rules", "sections", "b_recipe"} <= set(c)
    assert "elapsed_ms" not in c  # the JSON is a function of the workspace and the recipes
    json.dumps(data, default=str)


def test_compare_numbers_equal_compare_recipes(ws, report):
    _, data = report
    c = data["compare"]
    want = compare_recipes(ws.cursor(), A, B, flipped=4, text_chars=600)
    for k in ("counts", "by_source", "by_lang", "flips", "rules", "sections", "flipped"):
        assert c[k] == want[k], k
    # A only + both = what the report's own summary keeps for A
    assert c["counts"]["a_only"]["docs"] + c["counts"]["both"]["docs"] == data["summary"]["kept_docs"]
    assert c["counts"]["a_only"]["docs"] > 0 and [r["status"] for r in c["rules"]][:1] == ["changed"]


def test_compare_section_escapes_user_text(report):
    html, data = report
    part = html.split('<section id="compare">')[1].split("</section>")[0]
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;b&gt;strict&lt;/b&gt;" in part and "&lt;i&gt;long&lt;/i&gt;" in part
    # a flipped document's text and source are the corpus's: shown as their own characters
    from app.report.render import render_html

    flipped = [{**d, "text": HOSTILE, "source": "<b>evil</b>"} for d in data["compare"]["flipped"]]
    html2 = render_html({**data, "compare": {**data["compare"], "flipped": flipped}})
    part2 = html2.split('<section id="compare">')[1].split("</section>")[0]
    assert "<script>alert" not in html2 and "&lt;script&gt;alert(&#x27;c&#x27;)" in part2
    assert "&lt;b&gt;evil&lt;/b&gt;" in part2


def test_no_compare_no_section(ws):
    html, data = build_report(ws, A, samples=2)
    assert "compare" not in data and '<section id="compare">' not in html


def test_same_recipe_says_no_change(ws):
    html, data = build_report(ws, A, samples=2, compare=A)
    assert data["compare"]["same"] and "No document changes fate." in html
    assert data["compare"]["flipped"] == []


def test_cli_report_compare(tmp_path, capsys):
    from app.cli import main

    make_ws(tmp_path / "ws", n=120).close()
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(A)
    b.write_text(B)
    out = tmp_path / "r.html"
    args = ["report", "-w", str(tmp_path / "ws"), "-r", str(a), "--compare", str(b), "-o", str(out)]
    assert main(args) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["compare"]["b"]["name"] == "<b>strict</b>" and 'id="compare"' in out.read_text()
    assert main([*args[:-4], "--compare", str(tmp_path / "missing.yaml"), "-o", str(out)]) != 0
    assert "missing.yaml" in capsys.readouterr().err
