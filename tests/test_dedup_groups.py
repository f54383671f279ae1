"""Exact copies are clustered once (``key``): the same clusters, sizes, keep flags and Jaccards as every row.

Issue 18: a corpus cycled to 10M documents (and a real crawl's big exact-duplicate groups) put every copy of a
text into each of its band buckets; :mod:`app.signals._lsh_groups` clusters one row per text and expands.
"""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import dedup_near as dn

pytest.importorskip("xxhash")


def _family(seed: int) -> list[str]:
    """A 120-word text, variants with a few words replaced and variants of those (chains of near duplicates
    whose ends may be below the threshold: the rounds of attachment), and an unrelated short text."""
    rnd = random.Random(seed)
    base = [f"w{rnd.randrange(3000)}" for _ in range(120)]
    out = [base]
    for edits in (3, 6, 9, 11, 13):
        src = list(rnd.choice(out))
        for i in rnd.sample(range(len(src)), edits):
            src[i] = f"e{rnd.randrange(3000)}"
        out.append(src)
    return [" ".join(t) for t in out] + [f"short {seed}", ""]


def _cluster(texts: list[str], ids: list[str], *, key: str | None, threshold: float = 0.6) -> list[tuple]:
    import hashlib

    con = duckdb.connect()
    hashes = [hashlib.md5(t.encode()).hexdigest() for t in texts]
    con.register("_v", pa.table({"id": ids, "text": texts, "text_hash": hashes, "sig": dn.signature_array(texts)}))
    con.execute("CREATE TABLE docs AS SELECT * FROM _v")
    dn.cluster(
        con, rows_sql="SELECT id, sig, text_hash FROM docs", dest="out", threshold=threshold,
        texts=dn.texts_by_id("docs"), key=key,
    )  # fmt: skip
    got = con.execute(
        "SELECT id, dup_near_cluster, dup_near_size, dup_near_keep, dup_near_jaccard FROM out ORDER BY id"
    ).fetchall()
    con.close()
    return got


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(1, 6), min_size=14, max_size=28),
    st.sampled_from([0.6, 0.8, 1.0]),
)
def test_copies_clustered_once_equal_every_row(seeds: list[int], copies: list[int], t: float) -> None:
    """Texts repeated 1-6 times with the cycled corpora's ids (``<id>-<copy>``): clustering each text once and
    expanding gives every row's clusters, sizes, keep flags and Jaccards."""
    distinct = [x for s in seeds for x in _family(s)]
    texts, ids = [], []
    for i, text in enumerate(distinct):
        for c in range(copies[i % len(copies)]):
            texts.append(text)
            ids.append(f"d{i:03d}-{c}")
    want = _cluster(texts, ids, key=None, threshold=t)
    got = _cluster(texts, ids, key="text_hash", threshold=t)
    assert got == want
    assert any(size > 1 for _, _, size, _, _ in got)


def test_copies_of_the_representative_and_of_members():
    """A text's copies follow it: the representative's copies are attached to it with Jaccard 1, a member's
    copies to the member's representative with the member's Jaccard; texts without words stay alone."""
    a = " ".join(f"w{i}" for i in range(100))
    b = a.replace("w50", "x50")  # one word changed: a near duplicate of ``a``
    texts = [a, a, b, b, b, "", ""]
    ids = ["a-0", "a-1", "b-0", "b-1", "b-2", "e-0", "e-1"]
    got = {r[0]: r[1:] for r in _cluster(texts, ids, key="text_hash")}
    assert got == {r[0]: r[1:] for r in _cluster(texts, ids, key=None)}
    assert got["a-0"] == ("a-0", 5, True, 1.0)
    assert got["a-1"] == ("a-0", 5, False, 1.0)
    j = got["b-0"][3]
    assert 0.6 <= j < 1 and all(got[f"b-{c}"] == ("a-0", 5, False, j) for c in range(3))
    assert got["e-0"] == ("e-0", 1, True, None) and got["e-1"] == ("e-1", 1, True, None)


def test_sigfile_block_writes_read_back(tmp_path):
    """The loader's positioned writes give the rows :meth:`SigFile.rows` reads; a block past the end is refused."""
    import numpy as np

    from app.signals._sigfile import SigFile

    rng = np.random.default_rng(4)
    sigs = rng.integers(0, 2**32, size=(50, 8), dtype=np.uint64).astype("<u4")
    with SigFile(tmp_path, n=60, num_perm=8) as sf:
        sf.write_block(0, sigs[:20])
        sf.write_block(20, sigs[20:])
        assert (sf.rows(np.arange(50)[::-1]) == sigs[::-1]).all()
        assert not sf.rows(np.array([55])).any()  # never written: zeros
        with pytest.raises(ValueError):
            sf.write_block(55, sigs[:10])
    assert not list(tmp_path.iterdir())


def test_headless_copies_like_the_workspace(tmp_path):
    """Headless apply groups copies by pass 1's text hash, the workspace by ingest's: the same documents kept."""
    from tests._near_parity import kept_ids

    distinct = _family(7) + _family(8)
    rows = [{"id": f"d{i:02d}-{c}", "text": t} for i, t in enumerate(distinct) for c in range(1 + i % 3)]
    in_ws, kept = kept_ids(tmp_path, rows)
    assert kept == in_ws
    # every copy removed in favour of the first ("short 8", three times, kept once)
    assert "d14-0" in kept and all(k.endswith("-0") for k in kept)
