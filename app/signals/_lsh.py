"""LSH banding for a Jaccard threshold, and clustering of MinHash signatures with verified candidates.

The near-duplicate scorer and headless apply both cluster with :func:`cluster_signatures`, so they agree.

Banding: ``b`` bands of ``r`` rows of a 128-value signature make two documents of Jaccard similarity ``s``
candidates with probability ``P(s) = 1 - (1 - s^r)^b`` (the S-curve). :func:`bands_for` takes the largest
``r`` (fewest chance candidates) whose curve still gives ``P(t) >= 0.97`` at the threshold ``t``; for the
default ``t = 0.6`` that is 32 bands of 4 rows (``P(0.6) = 0.988``, ``P(0.5) = 0.87``, ``P(0.3) = 0.23``, 50% near
``s = 0.42``); ``t = 0.7``: 25 x 5; ``t = 0.8``: 18 x 7; ``t = 0.9``: 11 x 11 (``winnow dedup curve``).

Verification: lenient banding makes unrelated documents candidates too, so a candidate pair is linked only
when its Jaccard is at least ``t``. The estimate (the fraction of equal signature values) has a standard
deviation of ``sqrt(J(1-J)/num_perm)`` (0.043 at ``J = 0.6`` with 128 permutations), so a pair whose estimate
lies within :data:`EXACT_SIGMAS` standard deviations at the threshold (``|est - t| < margin``, :func:`margin`:
0.13 at 0.6) is uncertain: its exact shingle Jaccard is computed from the two texts (fetched by row in bounded
batches through the caller's ``texts`` function, shingles in a DuckDB table that spills) and decides. Pairs
above the band are linked and pairs below it are not, on the estimate alone (3 standard deviations: an estimate
0.13 too high or too low). The same rule decides whether a member is attached to its representative. Candidates within a
band bucket are each member paired with the bucket's smallest row and with the previous row (linear in the
bucket size, so a bucket of a million copies costs a million pairs, not 10^12). Clusters: the connected
components of the verified links, the smallest id of each its representative; a member whose estimate with
the representative is below the threshold (it joined through a chain a~b~c) is not removed in its favour but
clustered again with the other such members, round after round, so every removed document is similar to the
one kept in its place. ``dup_near_jaccard`` is each document's Jaccard with its representative (exact where
it was verified, else the estimate; >= the threshold; 1 for the representative, NULL without words). Python
holds one batch of pairs and the uncertain pairs awaiting their texts, nothing per row: band keys, candidates,
links, components and results are DuckDB tables (:mod:`app.signals._lsh_resolve`), and the signatures of the
pairs to check are read in batches by row number from a scratch file (:mod:`app.signals._sigfile`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from app.errors import SignalError
from app.signals import _lsh_groups as groups
from app.signals._lsh_resolve import resolve
from app.signals._sigfile import SigFile, scratch_dir
from app.sql import qi, setting_held

#: The P(candidate | Jaccard = t) that :func:`bands_for` guarantees at the threshold.
RECALL_AT_T = 0.97
#: Estimates within this many standard deviations of the threshold are checked against the exact Jaccard.
EXACT_SIGMAS = 3.0
_BATCH = 65_536
_TEXT_BATCH = 4_096


def check_threshold(
    t: object, *, what: str = "near-duplicate threshold", error: type[Exception] = SignalError
) -> float:
    """``t`` as a float in (0, 1], else a one-line ``error`` naming ``what`` (a Jaccard threshold)."""
    try:
        v = float(t)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise error(f"{what} must be a number in (0, 1], not {t!r}") from e
    if not 0 < v <= 1:
        raise error(f"{what} must be in (0, 1], not {v}")
    return v


def collision(s: float, bands: int, rows: int) -> float:
    """Probability that two documents of Jaccard ``s`` share at least one of ``bands`` bands of ``rows``."""
    return 1.0 - (1.0 - s**rows) ** bands


def bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard threshold: the largest ``rows`` with ``collision(t) >= RECALL_AT_T``."""
    t = check_threshold(threshold)
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        b = num_perm // r
        if collision(t, b, r) >= RECALL_AT_T:
            best = (b, r)
    return best


def s_curve(threshold: float, num_perm: int, points: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> dict:
    """The banding for ``threshold`` and its candidate probability at a few Jaccard values."""
    b, r = bands_for(threshold, num_perm)
    return {
        "threshold": threshold,
        "bands": b,
        "rows": r,
        "half_point": round((1 / b) ** (1 / r), 4),
        "p_candidate": {f"{s:g}": round(collision(s, b, r), 4) for s in points},
    }


def margin(threshold: float, num_perm: int) -> float:
    """Half-width of the band of uncertain estimates around ``threshold``: :data:`EXACT_SIGMAS` standard
    deviations of a ``num_perm``-permutation MinHash estimate at ``J = threshold``, ``sqrt(t(1-t)/num_perm)``."""
    t = check_threshold(threshold)
    return EXACT_SIGMAS * float(np.sqrt(t * (1.0 - t) / num_perm))


def agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise fraction of equal values of two signature matrices (the MinHash Jaccard estimate)."""
    return (a == b).mean(axis=1)


@contextmanager
def _checkpoints_held(con: Any) -> Iterator[None]:
    """DuckDB's automatic checkpoints held back for the block (the setting restored after it, even on error)."""
    with setting_held(con, "checkpoint_threshold", "1TB"):
        yield


def cluster_signatures(
    con: Any,
    *,
    rows_sql: str,
    dest: str,
    threshold: float,
    num_perm: int,
    band_keys: Any,
    shingles: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
    texts: Callable[[Any, str], Iterable[tuple[Any, list[str]]]],
    carry: Sequence[str] = (),
    key: str | None = None,
    progress: Any = None,
    stats: dict[str, int] | None = None,
) -> int:
    """Cluster documents by verified LSH candidates into the table ``dest``; return its number of rows.

    ``rows_sql`` yields ``id``, ``sig`` (a BLOB of ``num_perm`` little-endian uint32, NULL for a text
    without words) and the ``carry`` columns; ``band_keys(sig, bands, rows)`` maps a signature matrix to
    int64 band keys; ``shingles(texts)`` gives the shingle hashes of a batch of texts and their count per text.
    ``texts(con, table)`` yields ``(rids, texts)`` batches for the rows of ``table`` (``rid``, ``id``, the carry
    columns): the texts of the documents in uncertain pairs, read in batches. ``dest`` gets ``id``, the carry
    columns, ``dup_near_cluster`` (the cluster's smallest id), ``dup_near_size``, ``dup_near_keep`` and
    ``dup_near_jaccard``. ``key``, when given, names a column of ``rows_sql`` equal only for equal texts (a
    text hash): the rows with the same key and signature are clustered once, as one document, and expanded after
    (:mod:`app.signals._lsh_groups`). ``stats``, when given, gets the numbers of candidate pairs, of pairs
    verified exactly (links and attachments, between those groups) and of documents whose text was read for it.
    """
    # the scratch tables below are dropped before the end: writing them into the database file at DuckDB's
    # automatic checkpoints (after every 16 MiB of changes) cost ~1.5 CPU-s of the 4.7 of clustering realmix
    import pyarrow as pa

    with _checkpoints_held(con):
        threshold = check_threshold(threshold)
        nb, nr = bands_for(threshold, num_perm)
        kept = "".join(f", {qi(c)}" for c in carry)
        if progress:
            progress(0, None, "near duplicates: clustering")
        # equal ids (possible headless) are ordered by the carried columns, so the smallest row is well defined.
        # A row's rid is its rank in that order. Only the narrow sort keys are sorted (into a fresh table, whose
        # rowid is then the rank); the signatures stay in a scratch file by their position in the read. DuckDB
        # spills the sort under its memory limit; a row_number() window or an ORDER BY carrying the signatures did
        # not (out of memory at 300,000 documents under 128 MB).
        n, srcs = groups.load(
            con, rows_sql=rows_sql, carry=carry, key=key, num_perm=num_perm, directory=scratch_dir(con)
        )
        try:
            with setting_held(con, "preserve_insertion_order", True):  # the rowid below is the rank only so
                con.execute(f"CREATE OR REPLACE TABLE _dn_ord AS SELECT src FROM _dn_src ORDER BY id{kept}, src")
            carried_s = "".join(f", s.{qi(c)}" for c in carry)
            # g: the row's group (the smallest rid of the rows with its key and signature), banded and checked once
            con.execute(groups.rows_sql(carried_s=carried_s, carry=carry, keyed=key is not None))
            con.execute("DROP TABLE _dn_ord")
            con.execute("DROP TABLE _dn_src")
            # one (rid, key) row per band: a band's keys are its own (band_keys mixes in the band), so one GROUP BY
            # over all bands finds the buckets (one parallel query instead of one per band: 2-3x faster)
            con.execute("CREATE OR REPLACE TABLE _dn_keys (rid BIGINT, k BIGINT)")
            sf = SigFile(scratch_dir(con), n=n, num_perm=num_perm)  # the signatures by rid, for the pair checks
        except BaseException:
            srcs.close()
            raise
        try:
            # one row per group (its smallest): the other rows of a group have its signature
            q = "SELECT rid, src FROM _dn_rows WHERE NOT nosig AND g = rid"
            con.execute("CREATE OR REPLACE TABLE _dn_nokey (rid BIGINT)")  # groups without a band key: not joined
            with srcs:
                for rb in con.cursor().sql(q).to_arrow_reader(_BATCH):
                    sig = srcs.rows(rb.column(1).to_numpy())
                    sf.write(rb.column(0).to_numpy(), sig)
                    keys = band_keys(sig, nb, nr)
                    groups.no_keys(con, rb.column(0).to_numpy(), keys)
                    rids = np.repeat(rb.column(0).to_numpy(), nb)
                    flat = keys.ravel()
                    tbl = pa.table({"rid": rids[flat != 0], "k": flat[flat != 0]})
                    con.register("_dn_kb", tbl)
                    con.execute("INSERT INTO _dn_keys SELECT * FROM _dn_kb")
                    con.unregister("_dn_kb")
            # only the rows of buckets with 2+ members (a hash aggregate), then one window pass over them
            con.execute(
                """CREATE OR REPLACE TABLE _dn_cand AS
                WITH shared AS (SELECT k FROM _dn_keys GROUP BY k HAVING count(*) > 1),
                w AS (SELECT rid, min(rid) OVER (PARTITION BY k) AS m, lag(rid) OVER (PARTITION BY k ORDER BY rid) AS p
                      FROM _dn_keys SEMI JOIN shared ON shared.k = _dn_keys.k)
                SELECT DISTINCT a, b FROM (SELECT m AS a, rid AS b FROM w WHERE rid <> m
                                           UNION ALL SELECT p, rid FROM w WHERE p IS NOT NULL AND p <> m)"""
            )
            con.execute("DROP TABLE _dn_keys")
            con.execute("CREATE OR REPLACE TABLE _dn_links (a BIGINT, b BIGINT)")  # the verified links
            ex = Exact(con, n=n, threshold=threshold, num_perm=num_perm, shingles=shingles, texts=texts, carry=carry)
            n_cand = 0
            for rb in con.cursor().sql("SELECT a, b FROM _dn_cand").to_arrow_reader(_BATCH):
                n_cand += rb.num_rows
                a, b = rb.column(0).to_numpy(), rb.column(1).to_numpy()
                est = agreement(sf.rows(a), sf.rows(b))
                ok = est >= ex.hi  # sure links; the uncertain ones are verified below, all at once
                unsure = ~ok & (est >= ex.lo)
                _append(con, "_dn_links", a[ok], b[ok])
                ex.defer(a[unsure], b[unsure])
            con.execute("DROP TABLE _dn_cand")
            ua, ub = ex.deferred()
            keep = ex.jaccard(ua, ub) >= threshold - 1e-9
            _append(con, "_dn_links", ua[keep], ub[keep])
            del ua, ub, keep
            resolve(con, links="_dn_links", dest="_dn_fin", threshold=threshold, sigs=sf, exact=ex, agreement=agreement)
        finally:
            sf.close()
        ex.close()
        if stats is not None:
            stats.update(candidate_pairs=n_cand, verified_pairs=ex.pairs, texts_read=ex.fetched)
        groups.expand(con, fin="_dn_fin")  # every row of a group as its group's first row was resolved
        carried = "".join(f", r.{qi(c)}" for c in carry)
        # a row not in _dn_fin is its own representative: its Jaccard 1, NULL without a signature
        con.execute(
            f"""CREATE OR REPLACE TABLE {qi(dest)} AS
            WITH sz AS (SELECT crid, count(*) + 1 AS size FROM _dn_fin GROUP BY crid)
            SELECT r.id{carried}, c.id AS dup_near_cluster, coalesce(sz.size, 1)::BIGINT AS dup_near_size,
                   f.crid IS NULL AS dup_near_keep,
                   CASE WHEN f.crid IS NOT NULL THEN f.j WHEN r.nosig THEN NULL ELSE 1.0 END::DOUBLE AS dup_near_jaccard
            FROM _dn_rows r LEFT JOIN _dn_fin f ON f.rid = r.rid JOIN _dn_rows c ON c.rid = coalesce(f.crid, r.rid)
            LEFT JOIN sz ON sz.crid = coalesce(f.crid, r.rid)"""
        )
        con.execute("DROP TABLE _dn_fin")
        con.execute("DROP TABLE _dn_rows")
        if progress:
            progress(n, n, "near duplicates: clustering")
        return int(n)


def _append(con: Any, table: str, a: np.ndarray, b: np.ndarray) -> None:
    """Append the pairs ``a[i]``-``b[i]`` to the two-column table ``table``."""
    import pyarrow as pa

    if len(a):
        con.register("_dn_app", pa.table({"a": a.astype(np.int64), "b": b.astype(np.int64)}))
        con.execute(f"INSERT INTO {table} SELECT * FROM _dn_app")
        con.unregister("_dn_app")


def smallest_in_component(s: np.ndarray, d: np.ndarray, n: int) -> np.ndarray:
    """For each of ``n`` nodes, the smallest node of its connected component under the edges ``s``-``d``.

    Union by hooking each edge's larger root onto its smaller one, then full path compression, until every
    edge joins one root: a parent is never larger than its child, so a root is its tree's smallest node. A few
    numpy passes per round and few rounds (no scipy import, ~0.6 s of CPU per run)."""
    parent = np.arange(n, dtype=np.int64)
    if not len(s):
        return parent
    s, d = s.astype(np.int64, copy=False), d.astype(np.int64, copy=False)
    while True:
        ps, pd = parent[s], parent[d]
        differ = ps != pd
        if not differ.any():
            return parent
        lo, hi = np.minimum(ps[differ], pd[differ]), np.maximum(ps[differ], pd[differ])
        np.minimum.at(parent, hi, lo)  # hi is a root: it now hangs under a smaller node
        while True:  # compress: every node points at its root
            grand = parent[parent]
            if (grand == parent).all():
                break
            parent = grand


def _distinct_pairs(r: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(r[i], h[i])`` pairs, sorted: a lexsort of two int columns and one pass over neighbours
    (``np.unique`` of a record array sorted with a generic comparison, 5-10x slower)."""
    if not len(r):
        return r, h
    o = np.lexsort((h, r))
    r, h = r[o], h[o]
    new = np.ones(len(r), dtype=bool)
    new[1:] = (r[1:] != r[:-1]) | (h[1:] != h[:-1])
    return r[new], h[new]


class Exact:
    """Exact shingle Jaccard of uncertain pairs of rows of ``_dn_rows`` (estimate in ``[lo, hi)``).

    The texts of the rows in the pairs are fetched once each through ``texts`` in batches; their distinct
    shingle hashes go to the DuckDB table ``_dn_sh`` (it spills to disk like the rest), and the intersection of
    each pair is counted by a join there. Python holds one batch of texts and an int per row (the set sizes)."""

    def __init__(
        self,
        con: Any,
        *,
        n: int,
        threshold: float,
        num_perm: int,
        shingles: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
        texts: Callable[[Any, str], Iterable[tuple[Any, list[str]]]],
        carry: Sequence[str] = (),
    ) -> None:
        m = margin(threshold, num_perm)
        self.lo, self.hi = threshold - m - 1e-9, threshold + m
        self.con, self.shingles, self.texts, self.carry = con, shingles, texts, carry
        # distinct shingles per fetched row, by row (sorted): as many entries as rows fetched, not one per row
        self._rid = np.zeros(0, dtype=np.int64)
        self._sz = np.zeros(0, dtype=np.int64)
        self.pairs = 0  # uncertain pairs verified (links and attachments)
        self._held: list[tuple[np.ndarray, np.ndarray]] = []
        con.execute("CREATE OR REPLACE TABLE _dn_sh (rid BIGINT, h UBIGINT)")

    def defer(self, a: np.ndarray, b: np.ndarray) -> None:
        """Hold uncertain pairs to verify them together (one read of the texts)."""
        if len(a):
            self._held.append((a.astype(np.int64), b.astype(np.int64)))

    def deferred(self) -> tuple[np.ndarray, np.ndarray]:
        """The held pairs (and forget them)."""
        got, self._held = self._held, []
        if not got:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])

    def _fetch(self, rids: np.ndarray) -> None:
        """Shingle the texts of the rows ``rids`` not fetched yet."""
        import pyarrow as pa

        need = np.unique(rids)
        need = need[self.size(need) < 0]
        if not len(need):
            return
        con = self.con
        con.register("_dn_need_q", pa.table({"rid": need}))
        kept = "".join(f", r.{qi(c)}" for c in self.carry)
        con.execute(
            f"CREATE OR REPLACE TABLE _dn_need AS SELECT r.rid, r.id{kept} FROM _dn_rows r"
            " SEMI JOIN _dn_need_q q ON q.rid = r.rid ORDER BY r.rid"
        )
        con.unregister("_dn_need_q")
        for got_rids, batch in self.texts(con, "_dn_need"):
            rid = np.asarray(got_rids, dtype=np.int64)
            for lo in range(0, len(rid), _TEXT_BATCH):
                part = rid[lo : lo + _TEXT_BATCH]
                sh, counts = self.shingles(["" if t is None else t for t in batch[lo : lo + _TEXT_BATCH]])
                r, h = _distinct_pairs(np.repeat(part, counts), sh)
                sz = np.zeros(len(part), dtype=np.int64)
                if len(r):
                    r_u, c_u = np.unique(r, return_counts=True)
                    o = np.argsort(part)
                    sz[o[np.searchsorted(part[o], r_u)]] = c_u
                    con.register("_dn_sh_b", pa.table({"rid": r, "h": h}))
                    con.execute("INSERT INTO _dn_sh SELECT * FROM _dn_sh_b")
                    con.unregister("_dn_sh_b")
                self._store(part, sz)
        con.execute("DROP TABLE _dn_need")
        missing = int((self.size(need) < 0).sum())
        if missing:
            raise SignalError(f"near dedup: the texts of {missing} documents could not be read again to verify them")

    @property
    def fetched(self) -> int:
        """Rows whose text was read."""
        return len(self._rid)

    def size(self, rows: np.ndarray) -> np.ndarray:
        """The number of distinct shingles of each row of ``rows`` (-1 for a row not fetched)."""
        out = np.full(len(rows), -1, dtype=np.int64)
        if len(self._rid) and len(rows):
            i = np.minimum(np.searchsorted(self._rid, rows), len(self._rid) - 1)
            hit = self._rid[i] == rows
            out[hit] = self._sz[i[hit]]
        return out

    def _store(self, rows: np.ndarray, sizes: np.ndarray) -> None:
        """Record the shingle counts of rows just fetched."""
        rid, sz = np.concatenate([self._rid, rows]), np.concatenate([self._sz, sizes])
        o = np.argsort(rid, kind="stable")
        self._rid, self._sz = rid[o], sz[o]

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Exact shingle Jaccard of each pair ``a[i]``-``b[i]`` of rows."""
        import pyarrow as pa

        out = np.zeros(len(a))
        if not len(a):
            return out
        self.pairs += len(a)
        self._fetch(np.concatenate([a, b]))
        con = self.con
        con.register("_dn_p", pa.table({"i": np.arange(len(a), dtype=np.int64), "a": a, "b": b}))
        con.execute("CREATE OR REPLACE TABLE _dn_p_t AS SELECT * FROM _dn_p")
        con.unregister("_dn_p")
        inter = np.zeros(len(a), dtype=np.int64)
        q = (
            "SELECT p.i, count(*)::BIGINT FROM _dn_p_t p JOIN _dn_sh x ON x.rid = p.a"
            " JOIN _dn_sh y ON y.rid = p.b AND y.h = x.h GROUP BY p.i"
        )
        for rb in con.cursor().sql(q).to_arrow_reader(_BATCH):
            inter[rb.column(0).to_numpy()] = rb.column(1).to_numpy()
        con.execute("DROP TABLE _dn_p_t")
        union = self.size(a) + self.size(b) - inter
        np.divide(inter, union, out=out, where=union > 0)
        return out

    def close(self) -> None:
        """Drop the shingle table."""
        self.con.execute("DROP TABLE IF EXISTS _dn_sh")
