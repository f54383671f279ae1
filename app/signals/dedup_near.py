"""Near duplicates: MinHash LSH over word 5-gram shingles, global across the workspace, deterministic.

Words are lowercased ``\\w+`` runs, hashed with xxHash64; a shingle hashes 5 consecutive word hashes (a text
with 1-4 words is one shingle). Signatures use 128 fixed multiply-shift permutations (seeded, so runs and
machines agree), vectorised with numpy over all shingles of a batch. LSH uses 16 bands of 8 rows (documents
whose Jaccard similarity is about 0.7 or more collide with high probability); documents sharing a band are
linked and clusters are the connected components. The representative kept per cluster is its smallest id.
Band keys are cached per (id, text_hash) in ``_dup_near_bands`` so re-scoring only hashes new documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from app.signals.base import Scorer, register
from app.sql import qi

NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE = 5
SEED = 20240917
CACHE = "_dup_near_bands"
_WORD = re.compile(r"\w+")
_CHUNK = 1 << 15

_rng = np.random.default_rng(SEED)
PERM_A = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
PERM_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
SHINGLE_MUL = _rng.integers(1, 2**63, size=SHINGLE, dtype=np.uint64) | np.uint64(1)
BAND_MUL = _rng.integers(1, 2**63, size=ROWS, dtype=np.uint64) | np.uint64(1)
EMPTY = np.uint32(0xFFFFFFFF)


def word_hashes(text: str) -> list[int]:
    """xxHash64 of each lowercased word (as unsigned 64-bit ints)."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return [h(w.encode("utf-8", "surrogatepass")) for w in _WORD.findall(text.lower())]


def shingles(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All 5-gram shingle hashes of a batch (uint64) and, per text, its number of shingles."""
    flat: list[int] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    starts: list[int] = []
    lens: list[int] = []
    for i, t in enumerate(texts):
        hs = word_hashes(t)
        if not hs:
            continue
        if len(hs) < SHINGLE:
            hs = hs + [0] * (SHINGLE - len(hs))
        starts.append(len(flat))
        lens.append(len(hs))
        counts[i] = len(hs) - SHINGLE + 1
        flat.extend(hs)
    if not flat:
        return np.zeros(0, dtype=np.uint64), counts
    w = np.asarray(flat, dtype=np.uint64)
    n = len(w) - SHINGLE + 1
    with np.errstate(over="ignore"):
        acc = w[:n] * SHINGLE_MUL[0]
        for k in range(1, SHINGLE):
            acc = (acc ^ (acc >> np.uint64(29))) + w[k : n + k] * SHINGLE_MUL[k]
    # keep only shingles that lie inside one text
    idx = np.concatenate([np.arange(s, s + ln - SHINGLE + 1) for s, ln in zip(starts, lens)])
    return acc[idx], counts


def signatures(texts: list[str]) -> np.ndarray:
    """MinHash signatures (len(texts) x 128, uint32); texts without words get all-0xFFFFFFFF rows."""
    sh, counts = shingles(texts)
    return minhash(sh, counts)


def minhash(sh: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Signatures from shingle hashes grouped by text (``counts[i]`` shingles for text ``i``)."""
    sig = np.full((len(counts), NUM_PERM), EMPTY, dtype=np.uint32)
    if not len(sh):
        return sig
    doc_of = np.repeat(np.arange(len(counts)), counts)
    shift = np.uint64(32)
    b_col = PERM_B[:, None]
    with np.errstate(over="ignore"):
        for lo in range(0, len(sh), _CHUNK):
            s = sh[lo : lo + _CHUNK]
            d = doc_of[lo : lo + _CHUNK]
            # permutations x shingles, in place: h = (a * s + b) >> 32 (multiply-shift hashing)
            h = np.multiply.outer(PERM_A, s)
            h += b_col
            h >>= shift
            # shingles are grouped by text: reduce each run of equal d
            bounds = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
            mins = np.minimum.reduceat(h, bounds, axis=1).T.astype(np.uint32)
            docs = d[bounds]
            sig[docs] = np.minimum(sig[docs], mins)
    return sig


def band_keys(sig: np.ndarray) -> np.ndarray:
    """LSH band keys (n x 16, int64) from signatures; rows of texts without words are all 0 (= no key)."""
    with np.errstate(over="ignore"):
        s = sig.astype(np.uint64).reshape(len(sig), BANDS, ROWS)
        keys = (s * BAND_MUL[None, None, :]).sum(axis=2, dtype=np.uint64)
        keys ^= keys >> np.uint64(31)
        keys |= np.uint64(1)  # never 0
    keys = keys.view(np.int64)
    keys[(sig == EMPTY).all(axis=1)] = 0
    return keys


def band_batch(texts: list[str]) -> np.ndarray:
    """Band keys of a batch of texts (used by worker processes)."""
    return band_keys(signatures(texts))


@register
class DedupNear(Scorer):
    name = "dedup_near"
    version = 1
    scope = "corpus"
    description = "near duplicates: MinHash LSH over word 5-grams"
    columns: ClassVar[dict[str, str]] = {
        "dup_near_cluster": "VARCHAR",
        "dup_near_size": "BIGINT",
        "dup_near_keep": "BOOLEAN",
    }
    docs: ClassVar[dict[str, str]] = {
        "dup_near_cluster": "id of the near-duplicate cluster's representative (smallest id); MinHash LSH, 128 permutations, 16 bands x 8 rows, word 5-gram shingles",
        "dup_near_size": "documents in the near-duplicate cluster (count; 1 = no near duplicate)",
        "dup_near_keep": "true for the one document kept per near-duplicate cluster (its smallest id), false for the rest",
    }

    def fingerprint(self) -> str:
        return f"{self.version}:{NUM_PERM}x{BANDS}:{SEED}"

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        from app.signals.engine import map_batches

        bcols = [f"b{j}" for j in range(BANDS)]
        meta_key = "signals.dedup_near.cache"
        have = con.execute("SELECT value FROM _meta WHERE key = ?", [meta_key]).fetchone()
        if have is None or have[0] != self.fingerprint() or not ws.has_table(CACHE, con):
            con.execute(
                f"CREATE OR REPLACE TABLE {CACHE} (id VARCHAR, text_hash VARCHAR, {', '.join(c + ' BIGINT' for c in bcols)})"
            )
            con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [meta_key, self.fingerprint()])
        todo_sql = f"SELECT d.id, coalesce(d.text_hash, '') AS text_hash, coalesce(d.text, '') AS text FROM docs d ANTI JOIN {CACHE} c ON c.id = d.id AND c.text_hash = coalesce(d.text_hash, '')"
        n_todo = con.execute(f"SELECT count(*) FROM ({todo_sql})").fetchall()[0][0]
        done = 0
        if progress:
            progress(0, n_todo, "near duplicates: minhash")
        import pyarrow as pa

        reader = con.cursor().sql(todo_sql).to_arrow_reader(4096)

        def batches():
            for rb in reader:
                yield rb.column(0).to_pylist(), rb.column(1).to_pylist(), rb.column(2).to_pylist()

        writer = con.cursor()
        try:
            for (ids, hashes, _texts), keys in map_batches(band_batch, batches(), workers=workers, arg_index=2):
                tbl = pa.table({"id": ids, "text_hash": hashes, **{c: keys[:, j] for j, c in enumerate(bcols)}})
                writer.register("_dn_batch", tbl)
                writer.execute(f"INSERT INTO {CACHE} SELECT * FROM _dn_batch")
                writer.unregister("_dn_batch")
                done += len(ids)
                if progress:
                    progress(done, n_todo, "near duplicates: minhash")
        finally:
            writer.close()
        rows_sql = (
            f"SELECT d.id, {', '.join('c.' + c for c in bcols)} FROM docs d"
            f" LEFT JOIN {CACHE} c ON c.id = d.id AND c.text_hash = coalesce(d.text_hash, '')"
        )
        return cluster_bands(con.cursor(), rows_sql=rows_sql, dest=dest, progress=progress)


def cluster_bands(con: Any, *, rows_sql: str, dest: str, carry: Sequence[str] = (), progress: Any = None) -> int:
    """Cluster documents by LSH band collisions into the table ``dest``; returns the number of rows.

    ``rows_sql`` yields ``id``, the band columns ``b0``..``b15`` (NULL or 0: no key) and the ``carry``
    columns. Documents sharing any band key are linked; clusters are the connected components (scipy, over
    the edges DuckDB finds, so only the edge list is in Python memory). ``dest`` gets one row per input row:
    ``id``, the ``carry`` columns, ``dup_near_cluster`` (the cluster's smallest id), ``dup_near_size`` and
    ``dup_near_keep``. Shared by the ``dedup_near`` scorer and headless apply, so both cluster alike.
    """
    import pyarrow as pa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    bcols = [f"b{j}" for j in range(BANDS)]
    kept = "".join(f", {qi(c)}" for c in carry)
    if progress:
        progress(0, None, "near duplicates: clustering")
    # equal ids (possible headless) are ordered by the carried columns, so the smallest row is well defined
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dn_rows AS
        SELECT id{kept}, (row_number() OVER (ORDER BY id{kept}) - 1)::BIGINT AS rid, {", ".join(bcols)}
        FROM ({rows_sql})"""
    )
    n = con.execute("SELECT count(*) FROM _dn_rows").fetchall()[0][0]
    edges = " UNION ALL ".join(
        f"SELECT rid, min(rid) OVER (PARTITION BY {c}) AS root FROM _dn_rows WHERE {c} IS NOT NULL AND {c} <> 0"
        for c in bcols
    )
    e = con.execute(f"SELECT DISTINCT rid, root FROM ({edges}) WHERE rid <> root").fetchnumpy()
    src = np.asarray(e["rid"], dtype=np.int64)
    dst = np.asarray(e["root"], dtype=np.int64)
    if n:
        graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        rep = np.full(labels.max() + 1, n, dtype=np.int64)
        np.minimum.at(rep, labels, np.arange(n))
        size = np.bincount(labels)
        cl_rid = rep[labels]
        cl_size = size[labels]
    else:
        cl_rid = cl_size = np.zeros(0, dtype=np.int64)
    res = pa.table({"rid": np.arange(n, dtype=np.int64), "crid": cl_rid, "size": cl_size.astype(np.int64)})
    con.register("_dn_res", res)
    carried = "".join(f", r.{qi(c)}" for c in carry)
    con.execute(
        f"""CREATE OR REPLACE TABLE {qi(dest)} AS
        SELECT r.id{carried}, c.id AS dup_near_cluster, x.size AS dup_near_size, x.rid = x.crid AS dup_near_keep
        FROM _dn_rows r JOIN _dn_res x ON x.rid = r.rid JOIN _dn_rows c ON c.rid = x.crid"""
    )
    con.unregister("_dn_res")
    con.execute("DROP TABLE IF EXISTS _dn_rows")
    if progress:
        progress(n, n, "near duplicates: clustering")
    return int(n)
