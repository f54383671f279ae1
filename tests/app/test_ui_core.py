"""The dashboard's pure parts: URL state encoding, aggregate queries, line highlighting, escaping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.explore import queries, view_state
from app.explore.highlight import highlighted_html, line_flags
from app.explore.view_state import Rule
from app.search import substring_search

names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
bounds = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))


def _ordered(pair):
    """Bounds as a recipe accepts them (min <= max): a rule with max below min is refused when loaded."""
    a, b = pair
    return (a, b) if a is None or b is None or a <= b else (b, a)


rules_st = st.lists(
    st.one_of(
        st.builds(lambda c, p: Rule("range", c, *_ordered(p)), names, st.tuples(bounds, bounds)),
        st.builds(
            lambda c, p: Rule("qrange", c, *_ordered(p)),
            names,
            st.tuples(st.one_of(st.none(), st.floats(0, 1, exclude_min=True)), st.one_of(st.none(), st.floats(0, 1))),
        ),
        st.builds(Rule, st.sampled_from(["in", "notin"]), names, values=st.lists(names, max_size=4)),
        st.builds(Rule, st.just("dedup"), st.sampled_from(list(view_state.DEDUP_KINDS))),
    ),
    max_size=5,
)


@given(rules_st)
def test_rules_survive_the_url(rules):
    assert view_state.decode_rules(view_state.encode_rules(rules)) == rules


@given(rules_st)
def test_rules_survive_a_recipe(rules):
    dedup = {r.col for r in rules if r.kind == "dedup"}
    back = view_state.from_recipe_dict(view_state.to_recipe_dict(rules))
    assert [r for r in back if r.kind != "dedup"] == [r for r in rules if r.kind != "dedup"]
    assert {r.col for r in back if r.kind == "dedup"} == dedup


@pytest.mark.parametrize("junk", ["", ";;", "range:", "nope:x:1", "range:x:abc,", "qrange:x:2,", "range:x:nan,"])
def test_malformed_url_rules_are_dropped(junk):
    assert view_state.decode_rules(junk) == []


def test_aggregates_match_duckdb(tiny_ws):
    cur = tiny_ws.cursor()
    cur.execute("CREATE TABLE sig_t AS SELECT id, length(text) AS n_chars, length(text) % 3 AS m3 FROM docs")
    tiny_ws.register_part("sig_t", kind="signal")
    h = queries.histogram(cur, "n_chars", bins=4)
    assert int(h["count"].sum()) == 6
    assert h["x0"].min() == cur.execute("SELECT min(n_chars) FROM corpus").fetchone()[0]
    hb = queries.histogram(cur, "n_chars", bins=4, by="source")
    assert set(hb["group"]) == {"web", "other"} and int(hb["count"].sum()) == 6
    e = queries.ecdf(cur, "n_chars")
    assert list(e["x"]) == sorted(e["x"])
    qt = queries.quantile_table(cur, "n_chars")
    med = cur.execute("SELECT quantile_cont(n_chars, 0.5) FROM corpus").fetchone()[0]
    assert qt.loc[0, "q0.5"] == pytest.approx(med)
    assert "n_chars" in queries.numeric_columns(cur) and "source" in queries.categorical_columns(cur)
    d = queries.density2d(cur, "n_chars", "m3", bins=3)
    assert int(d["count"].sum()) == 6
    assert substring_search(cur, "CAT", columns=["n_chars"])["id"].tolist() in (["a1", "a5"], ["a5", "a1"])
    assert substring_search(cur, "100%", columns=[]).empty  # wildcards are literal
    assert queries.get_doc(cur, "a6")["text"].startswith("<script>")


def test_highlight_flags_and_escapes():
    text = "Home\nHome\nA proper sentence with enough words to be long.\n<img src=x onerror=alert(1)>"
    flags = dict((ln, r) for ln, r in line_flags(text))
    assert "repeated line" in flags["Home"]
    assert flags["A proper sentence with enough words to be long."] == []
    html = highlighted_html(text)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\n\n" not in html


def test_launch_binds_localhost_by_default(tmp_path):
    from app.cli import build_parser
    from app.launch import ENTRY, streamlit_command

    cmd = streamlit_command(tmp_path / "ws", port=9999)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "9999"
    assert str(ENTRY) in cmd and cmd[-2:] == ["--workspace", str((tmp_path / "ws").resolve())]
    # never Streamlit's first-run e-mail prompt (it waits on stdin): launch() opens the browser itself
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    args = build_parser().parse_args(["ui", "--workspace", str(tmp_path)])
    assert args.address == "127.0.0.1" and args.port == 8501


def test_numeric_columns_use_the_one_type_table(tiny_ws):
    """Numbers a histogram can draw (app.sql's type table): not booleans, lists of numbers, text or cluster ids."""
    cur = tiny_ws.cursor()
    cur.execute(
        "CREATE TABLE sig_types AS SELECT id, 1.5::DOUBLE AS d, 2::INTEGER AS i, 3.25::DECIMAL(18,3) AS dec,"
        " 0.5::FLOAT AS f, 7::UBIGINT AS u, true AS b, [1.0, 2.0]::DOUBLE[] AS lst, [1, 2]::INTEGER[2] AS arr,"
        " 'x' AS s, 4::BIGINT AS near_cluster FROM docs"
    )
    tiny_ws.register_part("sig_types", kind="signal")
    num = queries.numeric_columns(cur)
    assert {"d", "i", "dec", "f", "u"} <= set(num)
    assert not {"b", "lst", "arr", "s", "near_cluster", "id"} & set(num)


def test_cached_queries_are_keyed_by_module_and_name():
    """Pages pass the function itself; the cache names it by module and name, so two functions called ``search``
    never share an entry, and a lambda (no name saying what was computed) is refused."""
    from app.search import bm25, semantic
    from app.ui import widgets

    assert widgets._name(queries.histogram) == "app.explore.queries.histogram"
    assert widgets._name(bm25.search) != widgets._name(semantic.search)
    with pytest.raises(TypeError, match="module-level function"):
        widgets._name(lambda con: None)


def test_data_version_changes_when_a_label_is_added(tiny_ws):
    """Cached page queries are keyed by the data version: a new label must change it (label counts refresh)."""
    from app.explore.labels import add_label
    from app.ui.db import data_version

    before = data_version(tiny_ws)
    add_label(tiny_ws.cursor(), "a1", "good")
    assert data_version(tiny_ws) != before
