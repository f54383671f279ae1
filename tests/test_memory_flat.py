"""Flat memory over long runs: freed heap pages go back to the OS after every batch (app.engine.memory).

Headless ``winnow apply``'s RSS grew with the input (glibc keeps the pages of freed batch texts inside its heaps,
pinned by long-lived small objects between them). These tests check the mechanism (``release`` returns freed
pages: a fresh process allocates and frees, RSS measured before and after) and that every place that loops over
batches calls it: the headless first pass, a local pool's worker and a Ray worker's task wrapper. The MinHash
signature matrix is read from Arrow's buffer without a Python object per row, equal to the old join.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from app.engine import local, memory, ray_engine
from app.signals._sigfile import matrix

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app.engine.memory import release

def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) * 1024

keep, big = [], []
for i in range(4000):  # 80 MB of texts freed, small survivors allocated between them
    big.append(b'x' * 20000 + i.to_bytes(4, 'little'))
    keep.append(b'k' * 600 + i.to_bytes(4, 'little'))
before = rss()
del big
freed = rss()
release()
print(json.dumps({'before': before, 'freed': freed, 'released': rss()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc, malloc_trim from glibc")
def test_release_gives_freed_pages_back():
    """Freeing 80 MB of texts between survivors leaves RSS high; ``release`` returns at least half of it."""
    if memory._trim() is None:
        pytest.skip("no glibc malloc_trim here")
    p = subprocess.run([sys.executable, "-c", PROBE, str(ROOT)], capture_output=True, text=True, check=True)
    got = json.loads(p.stdout)
    assert got["freed"] - got["released"] > 40 * 2**20, got


def test_headless_first_pass_releases_after_every_batch(tmp_path, monkeypatch):
    """One release per input batch (three files: three batches), so RSS cannot creep over a long pass."""
    import app.export.headless as h

    calls = []
    monkeypatch.setattr(h, "release_memory", lambda: calls.append(1))
    for k in range(3):
        rows = [{"id": f"d{k}-{i}", "text": f"document {k} {i} " + "word " * (5 + i)} for i in range(20)]
        (tmp_path / f"p{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = "name: r\nrules:\n  - {signal: size_chars, min: 1}\ndedup: {exact: true}\n"
    m = h.apply_headless(recipe, [str(tmp_path / "*.jsonl")], tmp_path / "out", id_field="id", tokens="estimate")
    assert m["counts"]["total_docs"] == 60
    assert len(calls) >= 3


def test_engine_workers_release_after_each_batch(monkeypatch):
    """The pool's and Ray's worker wrappers call ``release`` after the batch, on success and on error."""
    calls = []
    monkeypatch.setattr(memory, "release", lambda: calls.append(1))
    assert local._pooled(len, [1, 2, 3]) == 3
    assert ray_engine._call(len, [1, 2]) == (True, 2)
    ok, err = ray_engine._call(int, "not a number")
    assert not ok and err[0] == "EngineError"
    assert len(calls) == 3
    with pytest.raises(ValueError):
        local._pooled(int, "x")
    assert len(calls) == 4


@pytest.mark.parametrize("typ", [pa.binary(), pa.large_binary()])
def test_signature_matrix_is_a_view_equal_to_the_join(typ):
    rng = np.random.default_rng(7)
    sig = rng.integers(0, 2**32, size=(50, 128), dtype=np.uint64).astype(np.uint32)
    arr = pa.array([r.astype("<u4").tobytes() for r in sig], typ)
    for a, b in [(0, 50), (3, 17), (49, 50), (10, 10)]:
        got = matrix(arr.slice(a, b - a), 128)
        assert got.shape == (b - a, 128) and (got == sig[a:b]).all()
    chunked = pa.chunked_array([arr.slice(0, 20), arr.slice(20)])
    assert (matrix(chunked, 128) == sig).all()


def _cluster_synthetic(tmp_path: Path, n: int, *, limit: str, keep_order: bool) -> dict[str, tuple[str, bool]]:
    """Cluster ``n`` random signatures (pairs 2i, 2i+1 for i < 50 share theirs) under a DuckDB memory limit."""
    import duckdb

    from app.signals import dedup_near as dn

    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2**32 - 1, size=(n, dn.NUM_PERM), dtype=np.uint32)
    sig[1:100:2] = sig[0:100:2]
    ids = [f"d{i:07d}" for i in range(n)]
    rows = pa.table({"id": pa.array(ids[::-1]), "sig": pa.array([r.tobytes() for r in sig[::-1]], pa.binary())})
    con = duckdb.connect(str(tmp_path / f"scratch{n}{keep_order}.duckdb"))
    con.execute(f"SET memory_limit = '{limit}'")
    con.execute(f"SET temp_directory = '{(tmp_path / 'spill').as_posix()}'")
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE src AS SELECT * FROM rows")
    del rows
    con.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")

    def no_texts(con, table):  # every shared signature is a sure link: no text is read
        raise AssertionError("no pair should need its texts")

    dn.cluster(con, rows_sql="SELECT id, sig FROM src", dest="out", threshold=0.7, texts=no_texts)
    got = {i: (c, k) for i, c, k in con.execute("SELECT id, dup_near_cluster, dup_near_keep FROM out").fetchall()}
    con.close()
    return got


def test_near_clustering_numbers_rows_within_a_small_memory_limit(tmp_path):
    """The rows' numbering (their rank by id) spills to disk: 120,000 signatures (61 MB) cluster under a 40 MB
    DuckDB limit (a row_number() window carrying the signatures ran out of memory there), the 50 shared pairs
    are clustered under their smaller id, and the result does not depend on preserve_insertion_order."""
    got = _cluster_synthetic(tmp_path, 120_000, limit="40MB", keep_order=True)
    assert len(got) == 120_000
    for i in range(0, 100, 2):
        a, b = f"d{i:07d}", f"d{i + 1:07d}"
        assert got[a] == (a, True) and got[b] == (a, False)
    assert sum(1 for c, k in got.values() if not k) == 50
    assert _cluster_synthetic(tmp_path, 3_000, limit="40MB", keep_order=False) == _cluster_synthetic(
        tmp_path, 3_000, limit="40MB", keep_order=True
    )
