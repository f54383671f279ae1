"""The report's transforms section: before/after examples of the kept documents, escaped; absent without transforms."""

from __future__ import annotations

import pandas as pd
import pytest

from app.report import build_report

DOCS = [
    {"id": "a1", "text": "Home\r\nThe cat sat on the mat all day long.\r\nMail <b>x</b> bob@example.com now.\r\n"},
    {"id": "a2", "text": "<script>alert('x')</script> a@b.io and more words here."},
    {"id": "a3", "text": "Nothing to clean here."},
]
RECIPE = "version: 1\ntransforms: {steps: [normalize, pii_redact]}\n"


@pytest.fixture
def ws(tmp_path):
    from app.workspace import Workspace

    w = Workspace.open(tmp_path / "ws", create=True)
    w.write_source("web", pd.DataFrame(DOCS))
    yield w
    w.close()


def test_report_shows_before_and_after_escaped(ws):
    html, data = build_report(ws, RECIPE, samples=1)
    tx = data["transforms"]
    assert tx["sampled"] == 3 and tx["docs_changed"] == 2
    assert [s["name"] for s in tx["steps"]] == ["normalize", "pii_redact"]
    assert tx["steps"][1]["docs_changed"] == 2
    afters = [e["after"] for e in tx["examples"]]
    assert any("<EMAIL>" in a and "bob@example.com" not in a for a in afters)
    assert 'id="transforms"' in html and "Cleaning transforms" in html
    assert "&lt;EMAIL&gt;" in html and "<script>alert('x')</script>" not in html
    assert "&lt;script&gt;" in html


def test_report_without_transforms_has_no_section(ws):
    html, data = build_report(ws, "version: 1\n", samples=1)
    assert "transforms" not in data and 'id="transforms"' not in html


def test_report_names_a_chosen_segmentation(ws):
    recipe = "version: 1\ntransforms: {steps: [c4_lines], score: cleaned, segmentation: datatrove}\n"
    html, data = build_report(ws, recipe, samples=1)
    tx = data["transforms"]
    assert tx["segmentation"] == "datatrove" and tx["steps"][0]["options"]["segmentation"] == "datatrove"
    assert "Segmentation: datatrove" in html
    _, plain = build_report(ws, RECIPE, samples=1)
    assert plain["transforms"]["segmentation"] == "aware"
