"""Near duplicates: MinHash over word 5-gram shingles, LSH tuned to a Jaccard threshold, verified candidates.

Words are lowercased ``\\w+`` runs, except that letters of scripts written without spaces (Chinese,
Japanese, Thai...) are one word each, so a Chinese paragraph has shingles at all; words are hashed with
xxHash3, a shingle hashes 5 consecutive word hashes (a text with 1-4 words is one shingle). Signatures use
128 fixed multiply-shift permutations (seeded, so runs and machines agree), vectorised with numpy.

The threshold (option ``threshold``, default :data:`DEFAULT_THRESHOLD`; ``winnow score --near-threshold``)
is a Jaccard similarity of shingle sets: bands and rows are derived from it and candidate pairs are verified
against it (:mod:`app.signals._lsh` states the S-curve). The default 0.6 keeps documents with ~3% of their
words changed (measured: ``bench/bench_dedup.py``); DataTrove's 14 x 8 banding (no verification) is
centred near 0.72. Signatures are cached per (id, text_hash) in ``_dup_near_sigs``, so re-scoring (or a new
threshold) only hashes new documents. :func:`explain` says why two texts are (not) near duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from app.signals import _lsh
from app.signals._unspaced import _BASE, _MARK, UNSPACED
from app.signals.base import Scorer, register

NUM_PERM = 128
SHINGLE = 5
SEED = 20240917
DEFAULT_THRESHOLD = 0.6
CACHE = "_dup_near_sigs"
SIG_VERSION = 2  # the cached signatures' format (the scorer's version 3 changed the clustering only)
_OLD_CACHE = "_dup_near_bands"
# a letter of a script without spaces (with its marks), or a run of other word characters
_WORD = re.compile(f"[{_BASE}][{_MARK}]*|[^\\W{_BASE}{_MARK}]+")
_PLAIN_WORD = re.compile(r"\w+")  # the same words for text without such letters, 2.7x faster
_ASCII_WORD = re.compile(r"\w+", re.ASCII)  # the same words again for ASCII text, ~20% faster
_CHUNK = 1 << 12

_rng = np.random.default_rng(SEED)
PERM_A = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
PERM_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
SHINGLE_MUL = _rng.integers(1, 2**63, size=SHINGLE, dtype=np.uint64) | np.uint64(1)
BAND_MUL = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
EMPTY = np.uint32(0xFFFFFFFF)


def word_hashes(text: str) -> list[int]:
    """xxHash64 of each lowercased word (as unsigned 64-bit ints)."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    low = text.lower()
    rx = _PLAIN_WORD if UNSPACED.search(low) is None else _WORD
    return [h(w.encode("utf-8", "surrogatepass")) for w in rx.findall(low)]


def shingles(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All 5-gram shingle hashes of a batch (uint64) and, per text, its number of shingles.

    The same hashes as :func:`word_hashes` text by text, computed once per distinct word of the batch (a batch
    of 4,096 documents has ~10x fewer distinct words than words), and the shingles of every text at once."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    counts = np.zeros(len(texts), dtype=np.int64)
    lens = np.zeros(len(texts), dtype=np.int64)
    flat: list[str] = []
    for i, t in enumerate(texts):
        low = t.lower()
        if low.isascii():  # no letters of unspaced scripts, and ASCII \w is \w (a flag test, no scan)
            ws = _ASCII_WORD.findall(low)
        else:
            ws = (_PLAIN_WORD if UNSPACED.search(low) is None else _WORD).findall(low)
        if not ws:
            continue
        if len(ws) < SHINGLE:  # a text with 1-4 words is one shingle: padded with word hash 0 ("" is no word)
            ws += [""] * (SHINGLE - len(ws))
        lens[i] = len(ws)
        counts[i] = len(ws) - SHINGLE + 1
        flat.extend(ws)
    if not flat:
        return np.zeros(0, dtype=np.uint64), counts
    w = _hash_words(flat, h)
    n = len(w) - SHINGLE + 1
    with np.errstate(over="ignore"):
        acc = w[:n] * SHINGLE_MUL[0]
        for k in range(1, SHINGLE):
            acc = (acc ^ (acc >> np.uint64(29))) + w[k : n + k] * SHINGLE_MUL[k]
    # keep only shingles that lie inside one text: not those starting in the last 4 words of a text
    ends = np.cumsum(lens[lens > 0])
    inside = np.ones(len(w), dtype=bool)
    inside[(ends[:, None] - np.arange(1, SHINGLE, dtype=np.int64)[None, :]).ravel()] = False
    return acc[inside[:n]], counts


def _hash_words(words: list[str], h: Any) -> np.ndarray:
    """``h`` of each word's UTF-8 (0 for ""), each distinct word hashed once: Arrow finds the distinct words
    (a dictionary encoding), a dict does where Arrow cannot take the text (lone surrogates)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        enc = pc.dictionary_encode(pa.array(words, pa.string()))
    except (pa.ArrowException, UnicodeError):
        table = {x: h(x.encode("utf-8", "surrogatepass")) if x else 0 for x in set(words)}
        return np.fromiter(map(table.__getitem__, words), dtype=np.uint64, count=len(words))
    uniq = enc.dictionary.to_pylist()
    hv = np.fromiter((h(x.encode("utf-8")) if x else 0 for x in uniq), dtype=np.uint64, count=len(uniq))
    return hv[enc.indices.to_numpy()]


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
    a_col, b_col = PERM_A[:, None], PERM_B[:, None]
    # one buffer of 128 x 4,096 (4 MiB) reused: each pass stays in cache (2x faster than 32k-shingle chunks)
    buf = np.empty((NUM_PERM, min(_CHUNK, len(sh))), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lo in range(0, len(sh), _CHUNK):
            s = sh[lo : lo + _CHUNK]
            d = doc_of[lo : lo + _CHUNK]
            # permutations x shingles, in place: h = (a * s + b) >> 32 (multiply-shift hashing)
            h = buf[:, : len(s)]
            np.multiply(a_col, s[None, :], out=h)
            h += b_col
            h >>= shift
            # shingles are grouped by text: reduce each run of equal d
            bounds = np.concatenate(([0], np.flatnonzero(d[1:] != d[:-1]) + 1))  # np.r_: 7% of the signatures' CPU
            mins = np.minimum.reduceat(h, bounds, axis=1).T.astype(np.uint32)
            docs = d[bounds]
            sig[docs] = np.minimum(sig[docs], mins)
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH band keys (n x bands, int64) from signatures; rows of texts without words are all 0 (= no key).

    A band's key is the sum of its ``rows`` values times :data:`BAND_MUL`, mixed with the band's number; the
    sum is taken one row position at a time over (n x bands) strided views (5x less CPU than widening the whole
    matrix to uint64 and summing over an axis of length ``rows``; the same keys)."""
    s = sig[:, : bands * rows].reshape(len(sig), bands, rows)
    with np.errstate(over="ignore"):
        keys = s[:, :, 0] * BAND_MUL[0]  # uint32 x uint64: uint64, wrapping like the sum
        for k in range(1, rows):
            keys += s[:, :, k] * BAND_MUL[k]
        keys += np.arange(bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # band j's own keys
        keys ^= keys >> np.uint64(31)
        keys |= np.uint64(1)  # never 0
    keys = keys.view(np.int64)
    keys[(sig == EMPTY).all(axis=1)] = 0
    return keys


def signature_array(texts: list[str]) -> Any:
    """Each text's signature as a pyarrow binary array (little-endian uint32 values, NULL for a text without
    words): the same values as :func:`signature_blobs`, built from the signature matrix's buffer without a
    Python ``bytes`` object per text (the scorer's batches go straight into DuckDB)."""
    import pyarrow as pa

    sig = signatures(texts)
    has = ~(sig == EMPTY).all(axis=1)
    data = np.ascontiguousarray(sig[has], dtype="<u4")
    width = 4 * NUM_PERM
    offs = np.zeros(len(sig) + 1, dtype=np.int32)
    np.cumsum(has * width, out=offs[1:])
    valid = None if has.all() else pa.py_buffer(np.packbits(has, bitorder="little"))
    return pa.Array.from_buffers(
        pa.binary(), len(sig), [valid, pa.py_buffer(offs), pa.py_buffer(data)], null_count=int((~has).sum())
    )


def signature_blobs(texts: list[str]) -> list[bytes | None]:
    """Each text's signature as a BLOB (little-endian uint32), None for a text without words (used by the
    scorer's worker processes and by headless apply)."""
    sig = signatures(texts)
    empty = (sig == EMPTY).all(axis=1)
    le = sig.astype("<u4", copy=False)
    return [None if e else le[i].tobytes() for i, e in enumerate(empty)]


def cluster(
    con: Any,
    *,
    rows_sql: str,
    dest: str,
    threshold: float = DEFAULT_THRESHOLD,
    texts: Callable[[Any, str], Iterable[tuple[Any, list[str]]]],
    carry: Sequence[str] = (),
    key: str | None = None,
    progress: Any = None,
    stats: dict[str, int] | None = None,
) -> int:
    """Cluster the signatures ``rows_sql`` yields (``id``, ``sig``, the ``carry`` columns) into ``dest``
    (:func:`app.signals._lsh.cluster_signatures` with this module's banding and shingles; ``texts(con, table)``
    yields the texts of the rows of ``table`` whose pairs are verified exactly; ``key``: a column of ``rows_sql``
    equal only for equal texts, whose rows are clustered once); shared by the scorer and headless apply so both
    cluster alike."""
    return _lsh.cluster_signatures(
        con,
        rows_sql=rows_sql,
        dest=dest,
        threshold=threshold,
        num_perm=NUM_PERM,
        band_keys=band_keys,
        shingles=shingles,
        texts=texts,
        carry=carry,
        key=key,
        progress=progress,
        stats=stats,
    )


def texts_by_id(relation: str) -> Callable[[Any, str], Iterable[tuple[Any, list[str]]]]:
    """A ``texts`` function for :func:`cluster` over a workspace: the texts of the wanted rows, joined by id
    from ``relation`` (``id``, ``text``) and read in batches of 4,096."""

    def texts(con: Any, table: str) -> Iterable[tuple[Any, list[str]]]:
        q = f"SELECT n.rid, coalesce(d.text, '') FROM {table} n JOIN {relation} d ON d.id = n.id ORDER BY n.rid"
        for rb in con.cursor().sql(q).to_arrow_reader(_CHUNK):
            yield rb.column(0).to_numpy(), rb.column(1).to_pylist()

    return texts


def shingle_set(text: str) -> set[int]:
    """The exact set of shingle hashes of one text (for :func:`explain`)."""
    sh, _ = shingles([text])
    return set(sh.tolist())


def explain(text_a: str, text_b: str, *, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Why two texts are (not) near duplicates at ``threshold``: their exact shingle Jaccard, the MinHash
    estimate, the bands they share, the S-curve's candidate probability at their Jaccard, whether the pair is
    verified exactly (estimate within :func:`app.signals._lsh.margin` of the threshold) and the verdict, as
    :func:`cluster` decides a candidate pair."""
    t = _lsh.check_threshold(threshold)
    b, r = _lsh.bands_for(t, NUM_PERM)
    sa, sb = shingle_set(text_a), shingle_set(text_b)
    union = len(sa | sb)
    exact = len(sa & sb) / union if union else None
    sig = signatures([text_a, text_b])
    has = bool((sig != EMPTY).any(axis=1).all())
    est = float(_lsh.agreement(sig[:1], sig[1:])[0]) if has else None
    keys = band_keys(sig, b, r)
    shared = [j for j in range(b) if keys[0, j] != 0 and keys[0, j] == keys[1, j]]
    candidate = bool(shared)
    m = _lsh.margin(t, NUM_PERM)
    verified = candidate and est is not None and t - m - 1e-9 <= est < t + m
    sure = candidate and est is not None and est >= t + m
    linked = (exact is not None and exact >= t - 1e-9) if verified else sure
    band = f"within {m:.3f} of {t:g}"
    if not has:
        why = "one of the texts has no words: no shingles, never a near duplicate"
    elif verified:
        verdict = "linked" if linked else "not linked"
        why = (
            f"candidates ({len(shared)} of {b} bands equal), estimate {est:.3f} {band}: verified, exact Jaccard "
            f"{exact:.3f} {'>=' if linked else '<'} {t:g}: {verdict}"
        )
    elif linked:
        why = f"candidates ({len(shared)} of {b} bands equal) and the estimate {est:.3f} >= {t + m:.3f}: linked"
    elif candidate:
        why = f"candidates ({len(shared)} of {b} bands equal) but the estimate {est:.3f} < {t - m:.3f}: not linked"
    else:
        why = f"no band of {r} rows equal (estimate {est:.3f}): never compared"
    return {
        "threshold": t,
        "bands": b,
        "rows": r,
        "shingles": [len(sa), len(sb)],
        "shared_shingles": len(sa & sb),
        "jaccard": exact,
        "minhash_estimate": est,
        "estimate_error": None if exact is None or est is None else est - exact,
        "verify_margin": m,
        "verified_exactly": verified,
        "shared_bands": shared,
        "p_candidate_at_jaccard": _lsh.collision(exact, b, r) if exact is not None else None,
        "linked": linked,
        "why": why,
    }


@register
class DedupNear(Scorer):
    """Options: ``threshold`` (Jaccard of word 5-gram shingle sets, default :data:`DEFAULT_THRESHOLD`)."""

    name = "dedup_near"
    version = 3  # 3: candidates with an estimate near the threshold are verified by their exact Jaccard
    scope = "corpus"
    #: sees the workspace's (or ``--fields``) text fields (:mod:`app.fields`); the engine sets ``text_fields``
    uses_fields = True
    text_fields: tuple[str, ...] | None = None
    description = "near duplicates: MinHash LSH over word 5-grams, verified at a Jaccard threshold"
    columns: ClassVar[dict[str, str]] = {
        "dup_near_cluster": "VARCHAR",
        "dup_near_size": "BIGINT",
        "dup_near_keep": "BOOLEAN",
        "dup_near_jaccard": "DOUBLE",
    }
    docs: ClassVar[dict[str, str]] = {
        "dup_near_cluster": (
            "id of the near-duplicate cluster's representative (smallest id); MinHash (128 permutations, word "
            "5-gram shingles, CJK/Thai letters as words), LSH banding derived from the threshold (default 0.6: "
            "32 bands x 4 rows), candidates linked when their Jaccard >= the threshold (exact shingle Jaccard when "
            "the estimate is within 3 standard deviations of the threshold, else the estimate)"
        ),
        "dup_near_size": "documents in the near-duplicate cluster (count; 1 = no near duplicate)",
        "dup_near_keep": "true for the one document kept per near-duplicate cluster (its smallest id), false for the rest",
        "dup_near_jaccard": (
            "Jaccard similarity (0..1) of the document's shingles with its cluster representative's, exact when "
            "its MinHash estimate was within 3 standard deviations of the threshold, else estimated (>= the threshold: a document that joined through a chain but is less similar to the "
            "representative is clustered again without it); 1 for the representative, NULL for a text without words"
        ),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        t = options.get("threshold")
        #: None: the workspace's threshold (``winnow dedup near --threshold``), else the default
        self.threshold = None if t is None else _lsh.check_threshold(t)

    def fingerprint(self) -> str:
        if self.threshold is None:  # the workspace's setting: `winnow dedup near` re-scores when it changes
            return f"{self.version}:{NUM_PERM}:{SEED}:tws"
        b, r = _lsh.bands_for(self.threshold, NUM_PERM)
        return f"{self.version}:{NUM_PERM}:{SEED}:t{self.threshold:g}:{b}x{r}"

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        from app import fields as fields_mod
        from app.signals.engine import map_batches

        rel = fields_mod.relation(con, self.text_fields)  # signatures are cached by the hash of what is seen
        meta_key = "signals.dedup_near.cache"
        sig_fp = f"sig{SIG_VERSION}:{NUM_PERM}:{SEED}"  # the signatures did not change with version 3
        have = con.execute("SELECT value FROM _meta WHERE key = ?", [meta_key]).fetchone()
        con.execute(f"DROP TABLE IF EXISTS {_OLD_CACHE}")  # version 1's band-key cache
        if have is None or have[0] != sig_fp or not ws.has_table(CACHE, con):
            con.execute(f"CREATE OR REPLACE TABLE {CACHE} (id VARCHAR, text_hash VARCHAR, sig BLOB)")
            con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [meta_key, sig_fp])
        todo_sql = f"SELECT d.id, coalesce(d.text_hash, '') AS text_hash, coalesce(d.text, '') AS text FROM {rel} d ANTI JOIN {CACHE} c ON c.id = d.id AND c.text_hash = coalesce(d.text_hash, '')"
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
            for (ids, hashes, _texts), sigs in map_batches(signature_array, batches(), workers=workers, arg_index=2):
                tbl = pa.table({"id": ids, "text_hash": hashes, "sig": sigs})
                writer.register("_dn_batch", tbl)
                writer.execute(f"INSERT INTO {CACHE} SELECT * FROM _dn_batch")
                writer.unregister("_dn_batch")
                done += len(ids)
                if progress:
                    progress(done, n_todo, "near duplicates: minhash")
        finally:
            writer.close()
        rows_sql = (
            f"SELECT d.id, c.sig, d.text_hash FROM {rel} d"
            f" LEFT JOIN {CACHE} c ON c.id = d.id AND c.text_hash = coalesce(d.text_hash, '')"
        )
        t = self.threshold if self.threshold is not None else workspace_threshold(con)
        n = cluster(
            con.cursor(), rows_sql=rows_sql, dest=dest, threshold=t, texts=texts_by_id(rel), key="text_hash",
            progress=progress,
        )  # fmt: skip
        con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [SCORED_KEY, repr(t)])
        return n


THRESHOLD_KEY = "signals.dedup_near.threshold"
#: the threshold the stored ``dup_near_*`` columns were clustered at (written by each scoring)
SCORED_KEY = "signals.dedup_near.scored_threshold"


def workspace_threshold(con: Any) -> float:
    """The workspace's near-duplicate threshold (set by ``winnow dedup near --threshold``), else the default."""
    row = con.execute("SELECT value FROM _meta WHERE key = ?", [THRESHOLD_KEY]).fetchone()
    return _lsh.check_threshold(row[0]) if row else DEFAULT_THRESHOLD


def set_workspace_threshold(con: Any, threshold: float) -> float:
    """Store the workspace's near-duplicate threshold (the next ``dedup_near`` scoring uses it)."""
    t = _lsh.check_threshold(threshold)
    con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [THRESHOLD_KEY, repr(t)])
    return t


def scored_threshold(con: Any) -> float | None:
    """The threshold the workspace's stored near-duplicate clusters were computed at (a workspace scored before
    this was recorded: its set threshold, else the default); None without a workspace's ``_meta`` (headless)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_meta'").fetchall()[0][0]:
        return None  # not a workspace (headless apply's scratch database)
    rows = con.execute("SELECT key, value FROM _meta WHERE key IN (?, ?)", [SCORED_KEY, THRESHOLD_KEY]).fetchall()
    got = dict(rows)
    v = got.get(SCORED_KEY, got.get(THRESHOLD_KEY))
    return DEFAULT_THRESHOLD if v is None else _lsh.check_threshold(v)
