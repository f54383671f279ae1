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
from app.signals import _lsh

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
        got = _lsh._sigs(arr.slice(a, b - a), 128)
        assert got.shape == (b - a, 128) and (got == sig[a:b]).all()
    chunked = pa.chunked_array([arr.slice(0, 20), arr.slice(20)])
    assert (_lsh._sigs(chunked, 128) == sig).all()
