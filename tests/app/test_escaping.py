"""User-controlled strings (ids, sources, labels, URL parameters) never become active markdown on a page, and the
dashboard makes no outside request (issue 11, item 8; the favicon of item 9)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from app.escaping import md_text, plotly_text
from tests.app.conftest import build_ui_workspace
from tests.app.test_pages import app_at
from tests.conftest import ROOT

BEACON = "http://127.0.0.1:1/beacon.png"
HOSTILE_ID = f"![i]({BEACON}) [link](http://127.0.0.1:1/x) <img src=x> `code` **b** :material/grain: $x$ www.ex.com"
# a document whose text has a blank line (CR CR) inside the page's HTML block, then markdown
HOSTILE_TEXT = f"first line\r\r![t]({BEACON})\n\n[t2](http://127.0.0.1:1/y) end"
HOSTILE_SOURCE = f"src ![s]({BEACON})"
HOSTILE_LABEL = f"lab ![l]({BEACON})"

MD = MarkdownIt("commonmark", {"html": True})
# the patterns Streamlit's remark-gfm turns into links in a text node (mdast-util-gfm-autolink-literal)
AUTOLINK_URL = re.compile(r"(https?://|www(?=\.))[-.\w]+", re.I | re.A)
EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.A)


def _active(src: str) -> list[str]:
    """What in a markdown source would make the browser fetch or follow something: images and links (markdown or
    HTML), and bare URLs that GitHub-flavoured markdown (Streamlit's) turns into links."""
    found = []
    for tok in MD.parse(src):
        for t in [tok, *(tok.children or [])]:
            if t.type in ("image", "link_open"):
                found.append(f"{t.type}: {t.attrs}")
            if t.type in ("html_inline", "html_block") and re.search(r"<(img|a|script|iframe)\b", t.content, re.I):
                found.append(f"{t.type}: {t.content[:80]}")
            if t.type == "text":  # remark-gfm links URLs and e-mails in text nodes, after escapes are resolved
                found += [
                    f"autolink: {m.group(0)}" for m in (AUTOLINK_URL.search(t.content), EMAIL.search(t.content)) if m
                ]
    return found


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_md_text_renders_exactly_its_characters(s):
    """Whatever the string, the markdown of ``md_text`` is one paragraph of plain text that reads as the string
    (control characters shown as their U+2400 symbols): no link, image, emphasis, code, HTML or entity."""
    src = md_text(s)
    assert "\n" not in src and "\r" not in src
    shown = "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else ("\u2421" if c == "\x7f" else c) for c in s)
    toks = MD.parse(src)
    if not shown.strip():
        return  # only white space: an empty paragraph, nothing shown
    inline = [t for t in toks if t.type == "inline"]
    assert [t.type for t in toks] == ["paragraph_open", "inline", "paragraph_close"], src
    assert {c.type for c in inline[0].children} <= {"text"}, src
    assert (
        "".join(c.content for c in inline[0].children).replace("\u2060", "").strip()
        == shown.replace("\u2060", "").strip()
    )
    assert _active(src) == []


def test_md_text_breaks_streamlit_shortcuts():
    src = md_text(HOSTILE_ID)
    assert _active(src) == []
    for shortcut in (":material/", "$x$", "www.", "http://", "`code`"):
        assert shortcut not in src


def test_plotly_text_keeps_tags_literal():
    assert (
        plotly_text("<b>x</b> & <a href='http://h'>l</a>")
        == "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='http://h'&gt;l&lt;/a&gt;"
    )
    assert plotly_text(None) == "None"


def _hostile_ws(path) -> str:
    from app.workspace import Workspace

    build_ui_workspace(path, n=40)
    with Workspace.open(path) as ws:
        ws.write_source(
            HOSTILE_SOURCE,
            pd.DataFrame({"id": [HOSTILE_ID, "plain1"], "text": [HOSTILE_TEXT, "a plain document"]}),
        )
        ws.con.execute(
            "INSERT INTO labels (id, label, note, created_at) VALUES (?, ?, NULL, now()::TIMESTAMP)",
            [HOSTILE_ID, HOSTILE_LABEL],
        )
    return str(path)


def _plain(src: str) -> str:
    """A markdown source without escapes and word joiners (to find a value in it, escaped or not)."""
    return re.sub(r"\\(.)", r"\1", src).replace("\u2060", "")


def _markdown_sources(at: AppTest) -> list[str]:
    """The markdown source of every element Streamlit renders as markdown on the page."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success", "toast"):
        out += [e.value for e in at.get(kind)]
    out += [m.label for m in at.metric]
    return [v for v in out if isinstance(v, str)]


def test_documents_page_hostile_id_query_and_labels(tmp_path):
    ws = _hostile_ws(tmp_path / "ws")
    at = app_at(ws, "documents", doc=HOSTILE_ID, q="![q](http://127.0.0.1:1/q.png)")
    sources = _markdown_sources(at)
    assert any("Document" in s and "beacon" in _plain(s) for s in sources), "the document is not open"
    assert any("beacon" in s and "w-doc" in s for s in sources), "the document text is not shown"
    assert any("q.png" in _plain(s) for s in sources), "the query note is not shown"
    assert any("labels: lab" in _plain(s) for s in sources), "the labels are not shown"
    bad = {s[:120]: _active(s) for s in sources if _active(s)}
    assert bad == {}
    # tagging echoes the id in a toast
    at.button(key="btn_tag_good").click().run()
    assert not at.exception
    assert {s[:120]: _active(s) for s in _markdown_sources(at) if _active(s)} == {}


def test_unknown_hostile_id_and_workspace_param(tmp_path):
    ws = _hostile_ws(tmp_path / "ws")
    at = app_at(ws, "documents", doc=f"nope ![n]({BEACON})")
    assert any("no document with id" in w.value for w in at.warning)
    assert {s[:120]: _active(s) for s in _markdown_sources(at) if _active(s)} == {}
    # a workspace path from a shared URL: the sidebar, the Workspace page and another page's notice
    evil_ws = str(tmp_path / f"x ![w]({BEACON})")
    for page in (None, "documents"):
        at = app_at(evil_ws, page)
        sources = _markdown_sources(at)
        assert any("x ![w]" in _plain(s) for s in sources), sources
        assert {s[:120]: _active(s) for s in sources if _active(s)} == {}


def test_page_icon_is_local(tmp_path, monkeypatch):
    """The favicon: a ``:material/...:`` icon makes the browser fetch an SVG from fonts.gstatic.com."""
    import streamlit

    seen = []
    real = streamlit.set_page_config

    def spy(*a, **kw):
        seen.append(kw.get("page_icon"))
        return real(*a, **kw)

    monkeypatch.setattr(streamlit, "set_page_config", spy)
    app_at(str(tmp_path / "none"))
    assert seen, "set_page_config was not called"
    for icon in seen:
        assert icon is None or not (str(icon).startswith(":") or "://" in str(icon)), icon


def test_config_and_pages_name_no_outside_url():
    """No page or Streamlit setting points the browser at another host."""
    files = [*(ROOT / "pages").glob("*.py"), ROOT / "app" / "ui" / "main.py", *(ROOT / ".streamlit").glob("*")]
    hits = [(f.name, m.group(0)) for f in files for m in re.finditer(r"https?://[^\s\"')]+", f.read_text())]
    assert [h for h in hits if not re.match(r"https?://(127\.0\.0\.1|localhost)", h[1])] == []


@pytest.mark.browser
def test_browser_hostile_documents_page_fetches_nothing_outside(tmp_path):
    """A real chromium on the Documents page with a hostile id in the URL: every request goes to the dashboard
    itself (no beacon, no font CDN), and no image or link comes from the id."""
    import os
    import shutil
    from urllib.parse import quote

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from app.launch import Server

    ws = _hostile_ws(tmp_path / "ws")
    with Server(ws) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)
        page.goto(f"{url}/documents?doc={quote(HOSTILE_ID)}&q={quote('![q](' + BEACON + ')')}")
        page.locator(".w-doc").first.wait_for(timeout=60_000)
        page.get_by_text("beacon.png").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        main = page.locator('[data-testid="stMain"]')
        imgs = main.locator("img").evaluate_all("els => els.map(e => e.src)")
        links = main.locator("a").evaluate_all("els => els.map(e => e.href)")
        shot = os.environ.get("WINNOW_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)
        browser.close()
    assert outside == []
    assert [i for i in imgs if "127.0.0.1:1" in i] == []
    assert [h for h in links if "127.0.0.1:1" in h] == []


def test_report_figures_show_category_values_as_text(tmp_path):
    """A source named ``<b>x</b>`` (and a link) is a category in the report's charts: Plotly must not render it as
    rich text (bold, a link), so the figure data holds it HTML-escaped."""
    from app.report import build_report
    from app.workspace import Workspace

    path = build_ui_workspace(tmp_path / "ws", n=40)
    names = ["<b>bold</b>", "<a href='http://127.0.0.1:1/x'>link</a>"]
    with Workspace.open(path) as ws:
        for i, name in enumerate(names):
            ws.write_source(name, pd.DataFrame({"id": [f"h{i}a", f"h{i}b"], "text": ["some words here"] * 2}))
        html_text, _ = build_report(ws, {"version": 1, "rules": [{"signal": "size_words", "min": 5}]})
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html_text, re.S)
    figs = "".join(s for s in scripts if "newPlot" in s)
    assert figs, "no figure in the report"
    for esc, ch in (("\\u002f", "/"), ("\\u003c", "<"), ("\\u003e", ">"), ("\\u0026", "&")):  # JSON escapes
        figs = figs.replace(esc, ch)
    for name in names:
        assert name not in figs, name
    assert '"&lt;b&gt;bold&lt;/b&gt;"' in figs and "&lt;a href='http://127.0.0.1:1/x'&gt;link&lt;/a&gt;" in figs
