"""``corpus_fast`` updated in place when parts change: always the table a full rebuild makes (issue 18)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.workspace import Workspace


def _state(ws: Workspace) -> tuple[dict, list]:
    cur = ws.cursor()
    return ws.columns("corpus_fast", cur), cur.execute("SELECT * FROM corpus_fast ORDER BY id").fetchall()


def _oid(ws: Workspace) -> int:
    q = "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'corpus_fast'"
    return ws.cursor().execute(q).fetchall()[0][0]


def _full(ws: Workspace) -> tuple[dict, list]:
    ws.rebuild_views()  # no `changed`: the full rebuild
    return _state(ws)


def _part(ws: Workspace, name: str, ids: list[str], cols: dict[str, str], seed: int) -> None:
    sel = ", ".join(f"(hash(id || '{seed}{c}') % 97)::{t} AS {c}" for c, t in cols.items())
    ws.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT id, {sel} FROM docs WHERE id IN ?", [ids])


@pytest.fixture()
def ws(tmp_path):
    with Workspace.open(tmp_path / "ws", create=True) as w:
        w.write_source("web", pd.DataFrame({"id": [f"d{i:03d}" for i in range(60)], "text": ["x"] * 60,
                                            "score": list(range(60))}))  # fmt: skip
        yield w


def test_new_and_changed_parts_update_in_place(ws):
    ids = [f"d{i:03d}" for i in range(60)]
    _part(ws, "sig_a", ids, {"a1": "DOUBLE", "a2": "INTEGER"}, 1)
    ws.register_part("sig_a", kind="signal")  # the first part: a full build
    oid = _oid(ws)
    _part(ws, "sig_b", ids[::2], {"b1": "VARCHAR", "score": "BIGINT"}, 2)  # 'score' shadows the metadata column
    ws.register_part("sig_b", kind="signal", order=150)
    got = _state(ws)
    assert _oid(ws) != oid  # a metadata column renamed to meta_score: the layout changed, full rebuild
    oid = _oid(ws)
    _part(ws, "sig_a", ids[5:], {"a1": "DOUBLE", "a2": "INTEGER"}, 3)  # new rows, five documents fewer
    ws.register_part("sig_a", kind="signal")
    got = _state(ws)
    assert _oid(ws) == oid  # updated in place
    assert got == _full(ws)
    assert sum(1 for r in got[1] if r[list(got[0]).index("a1")] is None) == 5
    oid = _oid(ws)
    _part(ws, "sig_c", ids, {"c1": "FLOAT"}, 4)  # a new part at the end: its column added in place
    ws.register_part("sig_c", kind="signal", order=300)
    got = _state(ws)
    assert _oid(ws) == oid and list(got[0])[-1] == "c1" and got == _full(ws)
    assert "c1" in ws.columns("corpus")


def test_layout_changes_rebuild_in_full(ws):
    ids = [f"d{i:03d}" for i in range(60)]
    _part(ws, "sig_a", ids, {"a1": "DOUBLE"}, 1)
    ws.register_part("sig_a", kind="signal", order=200)
    oid = _oid(ws)
    _part(ws, "sig_b", ids, {"b1": "DOUBLE"}, 2)  # joined before sig_a: b1 comes first, a rebuild
    ws.register_part("sig_b", kind="signal", order=100)
    assert _oid(ws) != oid and list(_state(ws)[0])[-2:] == ["b1", "a1"]
    oid = _oid(ws)
    _part(ws, "sig_a", ids, {"a1": "VARCHAR"}, 3)  # a type changed
    ws.register_part("sig_a", kind="signal", order=200)
    assert _oid(ws) != oid and _state(ws)[0]["a1"] == "VARCHAR"


OPS = st.lists(
    st.tuples(
        st.sampled_from(["write", "register", "unregister", "deferred"]),
        st.integers(0, 3),
        st.integers(0, 59),
        st.integers(0, 3),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


def _order(ws: Workspace, name: str) -> int:
    return ws.cursor().execute("SELECT ord FROM _parts WHERE table_name = ?", [name]).fetchall()[0][0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_equals_a_full_rebuild(ws, ops):
    """Parts written, replaced without being named, registered (in deferred blocks too) and dropped, in any
    order: after every step ``corpus_fast`` is the full rebuild's table, columns, types and rows."""
    ids = [f"d{i:03d}" for i in range(60)]
    for t, _ in ws.parts():
        ws.unregister_part(t)
    for step, (op, k, start, typ, quiet) in enumerate(ops):
        name = f"sig_{k}"
        cols = {f"c{k}": ["DOUBLE", "INTEGER", "VARCHAR", "BIGINT"][typ], "shared": "INTEGER"}
        if op == "write":
            _part(ws, name, ids[start:], cols, step)
            if not quiet and ws.has_table(name) and name in dict(ws.parts()):
                ws.register_part(name, kind="signal", order=100 + k)
        elif op == "register":
            if not ws.has_table(name):
                _part(ws, name, ids[start:], cols, step)
            ws.register_part(name, kind="signal", order=100 + (k if quiet else 10 - k))
        elif op == "deferred":
            with ws.deferred_views():
                _part(ws, name, ids[start:], cols, step)
                ws.register_part(name, kind="signal", order=100 + k)
                if quiet:
                    _part(ws, "sig_x", ids[: start + 1], {"x": "DOUBLE"}, step)
                    ws.register_part("sig_x", kind="signal", order=400)
        elif name in dict(ws.parts()):
            ws.unregister_part(name)
        if not ws.parts():
            continue
        if op == "write" and quiet:  # replaced without being named: another part's registration finds it
            first = ws.parts()[0][0]
            ws.register_part(first, kind="signal", order=_order(ws, first))
        got = _state(ws)
        assert got == _full(ws), (step, op, k)


def test_another_process_updates_in_place(tmp_path, monkeypatch):
    """DuckDB numbers tables afresh when a database is opened: a later process (``winnow map`` after ``winnow
    score``) must still update in place, with parts joined in an order that is not alphabetical, and must still
    see a part registered again since."""
    from app import corpus_fast

    ids = [f"d{i:03d}" for i in range(60)]
    with Workspace.open(tmp_path / "ws", create=True) as w:
        w.write_source("web", pd.DataFrame({"id": ids, "text": ["x"] * 60}))
        _part(w, "sig_z", ids, {"z1": "DOUBLE"}, 1)
        w.register_part("sig_z", kind="signal", order=100)
        _part(w, "map_m", ids[3:], {"m1": "INTEGER"}, 2)
        w.register_part("map_m", kind="map", order=200)
    for step in range(3):
        monkeypatch.setattr(corpus_fast, "SESSION", f"another process {step}")
        with Workspace.open(tmp_path / "ws") as w:
            oid = _oid(w)
            if step == 0:  # a new part at the end
                _part(w, "emb_e", ids[::3], {"e1": "FLOAT"}, 3)
                w.register_part("emb_e", kind="map", order=300)
            elif step == 1:  # a part written and registered again
                _part(w, "sig_z", ids[10:], {"z1": "DOUBLE"}, 4)
                w.register_part("sig_z", kind="signal", order=100)
            else:  # the last part written and registered again
                _part(w, "emb_e", ids[::2], {"e1": "FLOAT"}, 5)
                w.register_part("emb_e", kind="map", order=300)
            got = _state(w)
            assert _oid(w) == oid, step  # updated in place
            assert got == _full(w), step


def test_a_dropped_part_drops_its_columns_in_place(ws):
    """A remap drops ``emb_signals`` and registers ``map_points`` again: the columns go, no full rebuild."""
    ids = [f"d{i:03d}" for i in range(60)]
    for name, order, seed in (("sig_a", 100, 1), ("map_p", 200, 2), ("emb_s", 300, 3)):
        _part(ws, name, ids[seed:], {f"{name}_v": "DOUBLE"}, seed)
        ws.register_part(name, kind="signal", order=order)
    oid = _oid(ws)
    _part(ws, "map_p", ids[7:], {"map_p_v": "DOUBLE"}, 9)
    with ws.transaction() as cur:
        cur.execute("DELETE FROM _parts WHERE table_name = 'emb_s'")
        cur.execute("DROP TABLE emb_s")
        ws.register_part("map_p", kind="map", con=cur, order=200)
    got = _state(ws)
    assert _oid(ws) == oid and "emb_s_v" not in got[0]
    assert got == _full(ws)
