"""The fast matching path (batched n-grams, bit filter, sub-batches) agrees with the plain definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decontam import text as T
from app.decontam.index import _MATCH_CHUNK, BenchIndex

_ALPHABET = st.sampled_from(list("ab Zé_-\n.,1\u0301\uff21\u4e2d"))


@settings(max_examples=200, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_fast_word_regex_cuts_the_same_words(s):
    assert T.words(s) == T._fold(T.WORD.findall(s))
    assert [s[a:b].replace("_", " ").strip() != "" for a, b in T.words_with_spans(s)[1]] == [True] * len(T.words(s))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "dd"]), max_size=12), max_size=8), st.integers(2, 5))
def test_batched_ngrams_equal_per_list(lists, n):
    got, pos = T.ngram_hashes_many(lists, n)
    want = [T.ngram_hashes(T.word_hashes(w), n) for w in lists]
    for i, w in enumerate(want):
        assert np.array_equal(got[pos == i], w)
    assert len(got) == sum(len(w) for w in want)


def _index() -> BenchIndex:
    items = [
        "the quick brown fox jumps over the lazy dog near the river bank today",
        "a completely different benchmark question about prime numbers and their sums",
        "short answer",
    ]
    return BenchIndex.build(list(enumerate(items)), item_bench=[0, 0, 0], bench_names=["b"], n=5)


def test_batch_matches_one_by_one_across_sub_batches():
    ix = _index()
    rng = np.random.default_rng(0)
    filler = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur"]
    docs = []
    for k in range(3 * _MATCH_CHUNK + 7):
        body = " ".join(rng.choice(filler, size=20))
        docs.append(
            [
                body,
                body + " The Quick, brown FOX jumps over the lazy dog near the river bank today. " + body,
                "Short answer!",
                "",
                "prime numbers and their sums " + body,
            ][k % 5]
        )
    batch = ix.match(docs)
    for d in range(0, len(docs), 37):
        one = ix.match([docs[d]])
        assert one.hits[0] == batch.hits[d] and one.max_overlap[0] == batch.max_overlap[d]
        assert one.benchmarks[0] == batch.benchmarks[d]
    assert batch.hits[1] == 1 and batch.hits[2] == 1 and batch.hits[0] == 0 and batch.hits[4] == 0
    assert sorted({i for d, i, _ in batch.pairs if d == 301}) == [0]


def test_bit_filter_never_drops_a_key():
    ix = _index()
    assert ix._maybe(ix.keys).all()
    assert ix.nbytes >= ix.filter.nbytes


def test_two_worker_processes_write_what_one_does(tmp_path):
    import pandas as pd

    from app.decontam.run import run as decon_run
    from app.decontam.store import add_benchmark
    from app.workspace import Workspace

    item = "the quick brown fox jumps over the lazy dog near the river bank today"
    docs = {
        f"d{k:04d}": (f"filler words number {k} " * 3) + (item if k % 7 == 0 else "nothing here") for k in range(4500)
    }
    bench = tmp_path / "b.jsonl"
    bench.write_text('{"id": "i1", "question": "' + item + '"}\n', encoding="utf-8")
    got = []
    for workers in (1, 2):
        with Workspace.open(tmp_path / f"ws{workers}", create=True) as w:
            w.write_source("web", pd.DataFrame({"id": list(docs), "text": list(docs.values())}))
            add_benchmark(w, "b", [str(bench)])
            res = decon_run(w, workers=workers)
            q = "SELECT id, decon_hits, decon_max_overlap, decon_benchmarks FROM corpus ORDER BY id"
            got.append((w.con.execute(q).fetchall(), res["contaminated"]))
    assert got[0] == got[1] and got[0][1] == 643
