"""The Documents page shows a contaminated document's matches side by side with the benchmark item, escaped."""

from __future__ import annotations

import html
import re

import pytest

from app.escaping import md_text
from tests.app.test_pages import app_at
from tests.test_decontam import CONTAMINATED, ITEMS
from tests.test_decontam_view import HOSTILE_ID, _make


@pytest.fixture(scope="module")
def decon_ws(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decon_page")
    _make(tmp / "ws", tmp).close()
    return str(tmp / "ws")


def _match_blocks(at) -> list[str]:
    return [m.value for m in at.markdown if 'class="w-decon-list"' in m.value]


def test_documents_page_shows_matches_side_by_side(decon_ws):
    at = app_at(decon_ws, "documents", doc="c_embedded")
    want = md_text(f"quiz: 4 of 4 items in {len(CONTAMINATED)} documents")  # the caption's markdown source
    assert any(want in c.value for c in at.caption), [c.value for c in at.caption]
    (block,) = _match_blocks(at)
    assert "<img src=x" not in block and html.escape(HOSTILE_ID, quote=True) in block  # the hostile item id
    assert "\n" not in block.rsplit("</style>", 1)[1]  # one HTML block: markdown never parses the text
    marks = [html.unescape(x) for x in re.findall(r'<mark class="w-decon">(.*?)</mark>', block)]
    assert marks == [ITEMS[1]["question"][:-1]] * 2  # the copied question, on the document and the item side


def test_documents_page_clean_document_has_no_matches(decon_ws):
    at = app_at(decon_ws, "documents", doc="d_filler")
    assert _match_blocks(at) == []
    assert not any("Benchmark matches" in m.value for m in at.markdown)
