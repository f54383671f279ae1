"""Every document family's columns on a realmix sample equal the stored values (issue 18's speed work must not
change any output).

``tests/golden/realmix_doc_signals.json`` holds the columns of every 200th realmix document (in id order) as
scored by commit c4e3801, before the speed work of issue 18 (``python bench/bench_signals_speed.py golden``).
Floats are compared exactly (JSON keeps a float's shortest repr, which reads back to the same double).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "realmix_doc_signals.json"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


def test_document_families_match_the_stored_realmix_values(realmix):
    import duckdb

    from app.signals import engine

    golden = json.loads(GOLDEN.read_text())
    rows = duckdb.execute(
        "SELECT id, text FROM read_parquet(?) ORDER BY id", [str(realmix / "realmix.parquet")]
    ).fetchall()[:: golden["every"]]
    assert [r[0] for r in rows] == golden["ids"]
    texts = [r[1] if isinstance(r[1], str) else "" for r in rows]
    families = sorted({engine.column_families()[c] for c in golden["columns"]})
    got = engine.score_texts(texts, families)
    assert set(got) == set(golden["columns"])
    bad = {
        col: [golden["ids"][i] for i, (x, y) in enumerate(zip(got[col], want, strict=True)) if not _same(x, y)][:5]
        for col, want in golden["columns"].items()
    }
    assert not {c: ids for c, ids in bad.items() if ids}
