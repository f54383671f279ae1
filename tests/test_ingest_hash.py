"""``text_hash`` is DuckDB's ``md5(text)`` on the ingest fast paths and Python's ``hashlib.md5`` of the UTF-8
bytes elsewhere (app/export/headless.py): the two must give the same hex digest for every text, or caches and
signal tables keyed on it would miss. Also: the duplicate-id check finds exactly the repeated ids."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import IngestError
from app.ingest import ingest
from app.workspace import Workspace

# every code point that UTF-8 can encode (surrogates cannot be: Python's encoder refuses them), NUL included
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


_CON = duckdb.connect()


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=20))
def test_duckdb_md5_equals_hashlib_on_utf8(texts):
    con = _CON.cursor()
    got = [
        r[0]
        for r in con.execute(
            "SELECT md5(t) FROM unnest(?::VARCHAR[]) WITH ORDINALITY u(t, i) ORDER BY i", [texts]
        ).fetchall()
    ]
    assert got == [hashlib.md5(t.encode("utf-8")).hexdigest() for t in texts]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(TEXT.filter(lambda t: t.strip() and "\x00" not in t), min_size=1, max_size=12),
    fmt=st.sampled_from(["jsonl", "parquet"]),
)
def test_ingested_text_hash_is_hashlib_md5(tmp_path_factory, texts, fmt):
    """Through the whole ingest (DuckDB's reader for JSONL and Parquet) the stored hash is that of the text stored."""
    d = tmp_path_factory.mktemp("h")
    path = d / f"in.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    else:
        duckdb.connect().execute(
            f"COPY (SELECT t AS text FROM unnest(?::VARCHAR[]) WITH ORDINALITY u(t, i) ORDER BY i) TO '{path}' (FORMAT parquet)",
            [texts],
        )
    with Workspace.open(d / "ws", create=True) as ws:
        out = ingest(ws, [str(path)], source="s")
        rows = ws.con.execute("SELECT text, text_hash FROM docs").fetchall()
    assert out["ingested"] == len(rows)
    assert rows and all(h == hashlib.md5(t.encode("utf-8")).hexdigest() for t, h in rows)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]), min_size=1, max_size=8))
def test_duplicate_ids_are_found_exactly(tmp_path_factory, ids):
    d = tmp_path_factory.mktemp("dup")
    path = d / "in.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": f"doc {k}"}) + "\n" for k, i in enumerate(ids)))
    with Workspace.open(d / "ws", create=True) as ws:
        if len(set(ids)) < len(ids):
            with pytest.raises(IngestError, match="duplicate ids"):
                ingest(ws, [str(path)], source="s", id_field="id")
        else:
            assert ingest(ws, [str(path)], source="s", id_field="id")["ingested"] == len(ids)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(str.strip),
    fmt=st.sampled_from(["jsonl", "jsonl-blank", "parquet", "csv"]),
)
def test_generated_ids_are_md5_of_source_file_and_row(tmp_path_factory, source, fmt):
    """Generated ids, on every path (DuckDB's JSONL and Parquet readers, the Python reader a blank line sends a
    JSONL file to, CSV): the first 16 hex digits of md5(source, file, line joined by U+001F), as always."""
    d = tmp_path_factory.mktemp("ids")
    texts = ["alpha", "beta 'quoted'", "gamma"]
    ext = fmt.split("-")[0]
    path = d / f"it's {fmt}.{ext}"
    if ext == "jsonl":
        blank = "\n" if fmt == "jsonl-blank" else ""
        path.write_text(blank.join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    elif ext == "csv":
        path.write_text("text\n" + "".join(f'"{t}"\n' for t in texts), encoding="utf-8")
    else:
        duckdb.connect().execute(
            f"COPY (SELECT t AS text FROM unnest(?::VARCHAR[]) WITH ORDINALITY u(t, i) ORDER BY i) TO '{d}/p.parquet' "
            "(FORMAT parquet)",
            [texts],
        )
        (d / "p.parquet").rename(path)
    with Workspace.open(d / "ws", create=True) as ws:
        ingest(ws, [str(path)], source=source)
        rows = ws.con.execute("SELECT id, source, _file, _row FROM docs ORDER BY _row").fetchall()
    assert len(rows) == len(texts)
    for i, s, f, r in rows:
        assert i == hashlib.md5(f"{s}\x1f{f}\x1f{r}".encode()).hexdigest()[:16]
