"""Issue 17's small things on the dashboard pages: names, messages and errors where a new user looks."""

from __future__ import annotations

import re
from pathlib import Path

from tests.app.test_pages import app_at
from tests.conftest import ROOT


def _plain(md: str) -> str:
    """Markdown escaped by ``md_text`` back to the characters a reader sees."""
    return re.sub(r"\\(.)", r"\1", md).replace("\u2060", "")


def test_yaml_preview_shows_the_name_the_recipe_was_saved_under(ui_ws):
    at = app_at(ui_ws, "thresholds")
    at.selectbox(key="w_add_col").set_value("quality_score").run()
    at.button(key="btn_add_rule").click().run()
    at.toggle(key="w_show_yaml").set_value(True).run()
    assert any("name: my-recipe" in c.value for c in at.code)
    at.text_input(key="w_recipe_name").set_value("first-hour").run()
    at.button(key="btn_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("saved recipe" in s.value for s in at.success)
    yaml = next(c.value for c in at.code if "name:" in c.value)
    assert "name: first-hour" in yaml, yaml


def test_panel_status_line_is_hidden_from_readers_but_kept_for_tests():
    """The "update #n · ms on the server" line stays in the DOM (bench_ui and the browser tests read it)."""
    css = (ROOT / "app" / "ui" / "live" / "thresholds.css").read_text()
    rule = re.search(r"\.wl-status\s*\{([^}]*)\}", css)
    assert rule, "no .wl-status rule"
    body = rule.group(1)
    assert "position: absolute" in body and "clip" in body and "overflow: hidden" in body, body
    js = (ROOT / "app" / "ui" / "live" / "thresholds.js").read_text()
    assert 'class="w-done" data-run=' in js and "update #" in js


def test_export_page_reads_as_a_person_expects(ui_ws, tmp_path):
    """Kept tokens: a share without an up arrow; a one-line summary of the export, not a raw JSON widget; the
    report message names the JSON file written; the "finished" banner stays on the page where it was read."""
    import time

    at = app_at(ui_ws, "export", r="range:size_words:20.0,")
    tokens = next(m for m in at.metric if m.label == "Kept tokens")
    assert " of " in tokens.proto.delta
    docs = next(m for m in at.metric if m.label == "Kept documents")
    assert tokens.proto.direction == docs.proto.direction  # the same "no arrow" as the kept documents
    out = tmp_path / "export"
    at.text_input(key="w_exp_out").set_value(str(out)).run()
    at.button(key="btn_export").click().run()
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "__winnow__" / "manifest.json").exists():
        time.sleep(0.3)
    time.sleep(0.5)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.json, "a raw JSON widget under the Export button"
    summary = next(_plain(c.value) for c in at.caption if c.value.startswith("Last export"))
    assert "documents" in summary and "manifest.json" in summary, summary
    assert any("finished" in s.value for s in at.success)
    at.button(key="btn_report").click().run()
    msg = next(_plain(s.value) for s in at.success if "report written" in s.value)
    written = [p.name for p in (Path(ui_ws) / "reports").iterdir()]
    json_name = next(n for n in written if n.endswith(".json"))
    assert json_name in msg and "report.json" not in msg, (msg, written)
    at.switch_page("../../pages/workspace.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Export" in s.value and "finished" in s.value for s in at.success)


def _flat(node) -> list:
    """The page's elements in the order they are drawn."""
    kids = getattr(node, "children", None)
    if not kids:
        return [node]
    return [leaf for k in sorted(kids) for leaf in _flat(kids[k])]


def _wait_jobs(at, ws: str) -> None:
    import time

    from app.ui.widgets import job_registry

    deadline = time.time() + 30
    while time.time() < deadline and job_registry().running(str(Path(ws).resolve())) is not None:
        time.sleep(0.2)
    at.run()


def test_ingest_error_shows_next_to_the_ingest_form_and_a_double_submit_starts_one_job(ui_ws, tmp_path):
    from app.ui.widgets import job_registry

    at = app_at(ui_ws)
    at.text_input(key="w_src").set_value(str(tmp_path / "no_such_file.jsonl"))
    submit = next(b for b in at.button if b.label == "Ingest")
    submit.click().run()
    next(b for b in at.button if b.label == "Ingest").click().run()  # Enter in the path field: a second submit
    assert not at.exception, [e.value for e in at.exception]
    ingests = [j for j in job_registry().recent(str(Path(ui_ws).resolve()), n=10) if j.name.startswith("Ingest")]
    assert len(ingests) == 1, [j.name for j in ingests]
    assert not any("still running" in e.value for e in at.error)
    _wait_jobs(at, ui_ws)
    flat = _flat(at.main)
    kinds = [(getattr(e, "type", ""), str(getattr(e, "value", ""))) for e in flat]
    ingest_at = next(i for i, (t, v) in enumerate(kinds) if t == "subheader" and v == "Ingest")
    errors = [i for i, (t, v) in enumerate(kinds) if t == "error" and "failed" in v]
    assert errors and all(i > ingest_at for i in errors), kinds
