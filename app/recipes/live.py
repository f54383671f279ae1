"""Interactive summaries: the grouped counts of :func:`app.recipes.summarize` in ~20 ms at 1M documents.

A threshold change in the dashboard alters one check of the recipe; the others and the grouping keys
(source, language) stay the same. So instead of re-running the whole grouped query, this module keeps,
per cached recipe frame (:meth:`app.recipes.cache.RecipeCache.frame`):

- a group code per document (source x language, from the frame's Arrow columns),
- the token count per document,
- one boolean vector per check, keyed by the check's SQL and parameter values (evaluated by DuckDB over
  the frame, so NULL/NaN/cast semantics are exactly the SQL path's),

and answers a summary with one ``numpy.bincount`` over ``group << k | check bits``; when only some checks
changed since the last summary of the same shape, only the documents whose bits flipped move between bins.
The rows it returns have the same shape and values as the SQL path's ``GROUP BY`` (a test holds them equal); recipes with
balancing or sampling, many checks, or unusual key types go the SQL way (``None`` here).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

from app.recipes import live_drag
from app.recipes.cache import CACHE
from app.recipes.live_counts import counts as _counts
from app.sql import setting

#: combinations of group values (e.g. sources x languages) up to which dense codes are found without a sort
DENSE_DIRECT = 1 << 22
#: bins of the bincount (groups x 2^checks) beyond which the SQL path is used
MAX_BINS = 1 << 22
#: bytes of cached check vectors per frame (oldest dropped first)
CHECK_CACHE_BYTES = 256 << 20

_LOCK = CACHE.lock
#: per-frame states, owned by the recipe cache (:data:`app.recipes.cache.CACHE`): cleared with it
_STATES: OrderedDict[Any, _State] = CACHE.live_states


class _State:
    """Row-aligned vectors over one frame (built lazily, shared by dashboard sessions)."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.n = frame.num_rows
        self.groups: dict[tuple[str, str | None], tuple[Any, list]] = {}
        self.tokens: dict[str, Any] = {}
        #: per-check boolean vectors (n bytes each), least recently used dropped beyond CHECK_CACHE_BYTES
        self.checks: OrderedDict[tuple, Any] = OrderedDict()
        #: what every summary needs (numeric columns, token counts, shifted group codes): never evicted, so a
        #: large corpus cannot push them out and make each summary re-read them (a few arrays per frame)
        self.base: dict[tuple, Any] = {}
        self.lock = threading.Lock()
        self.evaluated: list[str] = []  # every vector computed (not served from the cache): SQL or "range col"
        #: per dedup key: the last survivors vector and its dedup vector (a move redoes only touched clusters)
        self.dedup_last: dict[str, tuple[Any, Any]] = {}
        #: per summary shape (grouping column, number of checks): the last full count's keys and counts, updated
        #: in place by later summaries (:func:`app.recipes.live_counts.counts`). One per shape, so that the panel's summary (by language)
        #: and the mixture plan's (by source), asked one after the other on every threshold change, do not throw
        #: each other's away (each would then recount every document); at most :data:`app.recipes.live_counts.MAX_SHAPES`
        self.incs: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self.incremental = 0  # summaries answered by moving only the flipped documents
        self.folded = 0  # summaries summed from another shape's bins (:mod:`app.recipes.live_fold`)
        #: :mod:`app.recipes.live_drag`: its indexes, each shape's last check signatures and last answer
        self.drags: OrderedDict[tuple, dict] = OrderedDict()
        self.drag_last: dict[tuple, list] = {}
        self.drag_done: dict[tuple, dict] = {}
        self.dragged = 0  # summaries answered by a drag index
        self.drag_pending: dict[tuple, tuple] = {}  # indexes being built in the background (or refused)
        self.drag_threads: list = []  # their threads (tests join them)

    def group_codes(self, lang: str | None) -> tuple[Any, list] | None:
        """``(codes, [(source, lang), ...])``: a dense code per row for (source, lang)."""
        key = ("source", lang)
        if key not in self.groups:
            got = _encode(self.frame, ["source", *([lang] if lang else [])])
            if got is None:
                return None
            codes, labels = got
            labels = [(t[0], t[1] if lang else None) for t in labels]
            self.groups[key] = (codes, labels)
        return self.groups[key]

    def shifted_codes(self, lang: str | None, k: int) -> Any:
        """Group codes times 2^k (the high part of every bincount key), cached."""
        import numpy as np

        key = ("codes", lang, k)
        with self.lock:
            if key in self.base:
                return self.base[key]
        codes = self.groups[("source", lang)][0] << k
        if int(codes.max(initial=0)) + (1 << k) < 2**31:  # half the memory of int64 (bins never exceed MAX_BINS)
            codes = codes.astype(np.int32)
        with self.lock:
            self.base[key] = codes
        return codes

    def column(self, name: str) -> tuple[Any, Any] | None:
        """``(float64 values, valid mask)`` of a numeric or boolean frame column (None: other types)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        key = ("column", name)
        with self.lock:
            if key in self.base:
                return self.base[key]
        if name not in self.frame.column_names:
            return None
        col = self.frame.column(name).combine_chunks()
        t = col.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            return None
        valid = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
        filled = pc.fill_null(col, False if pa.types.is_boolean(t) else 0)
        values = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.float64)
        with self.lock:
            self.base[key] = (values, valid)
        return values, valid

    def range_vector(self, name: str, lo: float | None, hi: float | None, keep_null: bool) -> Any:
        """``coalesce(col >= lo AND col <= hi, false)`` in numpy, with DuckDB's semantics: NULL fails (passes
        with ``keep_null``), NaN is larger than every number. None when the column is not plain numeric."""
        import numpy as np

        key = ("range", name, repr(lo), repr(hi), keep_null)
        with self.lock:
            hit = self.checks.get(key)
            if hit is not None:
                self.checks.move_to_end(key)
                return hit
        got = self.column(name)
        if got is None:
            return None
        v, valid = got
        self.evaluated.append(f"range {name}")
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
        if not all(b is None or np.isfinite(b) for b in (lo, hi)):
            ok = self._range_slow(v, valid, lo, hi)
        else:  # one comparison per bound against the column folded once (:meth:`_bounds`)
            ok = None
            if lo is not None:
                ok = self._bounds(name, "lo", v, valid) >= lo
            if hi is not None:
                below = self._bounds(name, "hi", v, valid) <= hi
                ok = below if ok is None else np.logical_and(ok, below, out=ok)
            if ok is None:
                ok = valid.copy()
        if keep_null:
            ok |= ~valid
        self._put(key, ok)
        return ok

    @staticmethod
    def _range_slow(v: Any, valid: Any, lo: float | None, hi: float | None) -> Any:
        """:meth:`range_vector` with a NaN or infinite bound (rare): DuckDB orders NaN above every number."""
        import numpy as np

        nan = np.isnan(v)
        ok = valid.copy()
        if lo is not None:
            ok &= nan if np.isnan(lo) else (v >= lo) | nan
        if hi is not None and not np.isnan(hi):
            ok &= (v <= hi) & ~nan
        return ok

    def _bounds(self, name: str, side: str, v: Any, valid: Any) -> Any:
        """The column folded for one side of a finite cut, cached: for a minimum (``side`` "lo": NULL -> -inf,
        NaN -> +inf, so ``x >= lo`` is ``valid and (v >= lo or NaN)``) or a maximum ("hi": NULL and NaN -> +inf,
        so ``x <= hi`` is ``valid and v <= hi and not NaN``). At 10M documents a cut is then one pass over the
        column instead of five."""
        import numpy as np

        key = ("bounds", name, side)
        with self.lock:
            if key in self.base:
                return self.base[key]
        nan = np.isnan(v)
        if side == "lo":
            folded = np.where(valid, np.where(nan, np.inf, v), -np.inf)
        else:
            folded = np.where(valid & ~nan, v, np.inf)
        with self.lock:
            self.base[key] = folded
        return folded

    def dedup_vector(self, kind: str, key: str, survivors: Any, *, min_jaccard: float | None = None) -> Any:
        """A dedup check over the survivors in numpy, with the SQL path's meaning (:mod:`app.recipes.compile`):
        exact/near: true unless the document survives and is not the smallest id rank of its cluster among the
        survivors; semantic: false only for a duplicate whose duplicated document survives. ``survivors`` is
        the boolean vector of the checks before this one (None: every document). ``min_jaccard`` (near at a
        recipe threshold): a member below it to its representative is a singleton, as
        :func:`app.recipes.compile.near_key_sql`. None: not a frame column."""
        import numpy as np

        from app.recipes.sqlparts import ID_RANK

        rank = self.column(ID_RANK)
        col = self.column(key)
        if rank is None or col is None:
            return None
        if min_jaccard is not None:
            sim = self.column("dup_near_jaccard")
            if sim is None:
                return None
            with np.errstate(invalid="ignore"):
                col = (col[0], col[1] & sim[1] & (sim[0] >= min_jaccard))
            key = f"{key}@{min_jaccard!r}"  # its own runs and last vectors per threshold
        p = np.ones(self.n, dtype=bool) if survivors is None else survivors
        if kind == "semantic":
            dup = self.column("semdup_is_dup")
            if dup is None:
                return None
            by_rank = np.zeros(self.n + 2, dtype=bool)
            by_rank[rank[0].astype(np.int64)] = p
            target, has = col
            hit = has & by_rank[np.where(has, target, 0).astype(np.int64)]
            return ~(dup[0].astype(bool) & dup[1] & hit)
        runs = self._dedup_runs(key, rank, col)
        last = self.dedup_last.get(key)
        diff = None if last is None else p != last[0]
        # a threshold moved: redo only the clusters that hold a document whose fate changed (counted first: a
        # large move goes straight to the full pass, without listing millions of changed rows)
        moved = None if diff is None else np.count_nonzero(diff)
        if moved == 0:  # the same survivors (the plan's summary right after the panel's): the same vector object,
            return last[1]  # so the incremental count sees this check unchanged
        if moved is not None and moved <= self.n // 4:
            pos = runs["pos_of_row"][np.flatnonzero(diff)]
            pos = pos[pos >= 0]
            mark = np.zeros(len(runs["start"]), dtype=bool)  # the touched runs (a scatter, not a sort)
            mark[runs["run_of"][pos]] = True
            hit = np.flatnonzero(mark)
            if len(pos) <= len(runs["rows"]) // 8 and runs["len"][hit].sum() <= len(runs["rows"]) // 8:
                out = last[1].copy()
                if len(hit):
                    self._dedup_runs_into(out, p, runs, hit)
                self.dedup_last[key] = (p.copy(), out)
                return out
        out = np.ones(self.n, dtype=bool)
        self._dedup_runs_into(out, p, runs, None)
        self.dedup_last[key] = (p.copy(), out)
        return out

    def _dedup_runs(self, key: str, rank: Any, col: Any) -> dict[str, Any]:
        """The members of clusters with two or more documents, sorted by (key, id rank): each cluster is a run
        with its smallest id first (a real corpus is mostly singletons, so this is a small part of it). Cached."""
        import numpy as np

        runs = self.base_get(("dedup_runs", key))
        if runs is not None:
            return runs
        values, valid = col
        rows = np.flatnonzero(valid)
        keys = values[rows].astype(np.int64)
        srt = np.lexsort((rank[0][rows], keys))
        rows, keys = rows[srt], keys[srt]
        same = np.zeros(len(keys), dtype=bool)
        same[1:] = keys[1:] == keys[:-1]
        multi = same.copy()
        multi[:-1] |= same[1:]
        rows, same = rows[multi], same[multi]
        start = np.flatnonzero(~same)  # the first position of every run
        run_of = np.cumsum(~same) - 1
        pos_of_row = np.full(self.n + 1, -1, dtype=np.int64)  # the last slot answers -1 for "no run"
        pos_of_row[rows] = np.arange(len(rows))
        runs = {
            "rows": rows,
            "start": start,
            "len": np.diff(np.append(start, len(rows))),
            "run_of": run_of,
            "pos_of_row": pos_of_row[:-1],
            # 0..m-1, reused by every recount (int32 when it fits: the full recount's minimum is half the bytes)
            "local": np.arange(len(rows), dtype=np.int32 if len(rows) < 2**31 - 1 else np.int64),
        }
        with self.lock:
            self.base[("dedup_runs", key)] = runs
        return runs

    @staticmethod
    def _dedup_runs_into(out: Any, p: Any, runs: dict[str, Any], which: Any) -> None:
        """Set ``out`` over the runs ``which`` (None: all): false for a survivor after the first of its run."""
        import numpy as np

        if which is None:
            rows, first, local = runs["rows"], runs["start"], runs["local"]
        else:
            lens = runs["len"][which]
            offsets = np.cumsum(lens) - lens
            local = runs["local"][: int(lens.sum())]
            pos = local - np.repeat(offsets - runs["start"][which], lens)
            rows, first = runs["rows"][pos], offsets
        live = p[rows]
        # the first survivor of each run stays; every later survivor of the run is a redundant copy
        big = len(rows)
        first = np.minimum.reduceat(np.where(live, local, big), first) if len(rows) else first
        is_first = np.zeros(len(rows), dtype=bool)
        is_first[first[first < big]] = True
        later = live & ~is_first
        out[rows] = ~later

    def base_get(self, key: tuple) -> Any:
        with self.lock:
            return self.base.get(key)

    def _put(self, key: tuple, vec: Any) -> None:
        with self.lock:
            self.checks[key] = vec
            while len(self.checks) > 1 and _nbytes(self.checks) > CHECK_CACHE_BYTES:
                self.checks.popitem(last=False)

    def vector(
        self, con: Any, relation: str, sql: str, params: dict[str, Any], *, dtype: str, base: bool = False
    ) -> Any:
        """A row-aligned numpy vector of ``sql`` over the frame (cached by SQL and parameter values; with
        ``base`` among the arrays that are never evicted)."""
        import numpy as np

        from app.sql import qi

        key = (sql, tuple(sorted((k, repr(v)) for k, v in params.items())), dtype)
        with self.lock:
            hit = self.base.get(key) if base else self.checks.get(key)
            if hit is not None:
                if not base:
                    self.checks.move_to_end(key)
                return hit
        res = con.execute(f"SELECT {sql} AS v FROM {qi(relation)}", params).fetchnumpy()["v"]
        self.evaluated.append(sql)
        if dtype == "bool":
            vec = np.asarray(np.ma.filled(res, False) if np.ma.isMaskedArray(res) else res, dtype=bool)
        else:
            vec = np.asarray(np.ma.filled(res, 0) if np.ma.isMaskedArray(res) else res, dtype=np.float64)
        if len(vec) != self.n:
            raise RuntimeError("frame and vector are not row-aligned")
        if base:
            with self.lock:
                self.base[key] = vec
        else:
            self._put(key, vec)
        return vec


def _nbytes(cache: OrderedDict) -> int:
    return sum(sum(x.nbytes for x in v) if isinstance(v, tuple) else v.nbytes for v in cache.values())


def _encode(frame: Any, columns: list[str]) -> tuple[Any, list[tuple]] | None:
    """Dense codes of the combination of string ``columns`` (nulls encoded as None), row-aligned."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = np.zeros(frame.num_rows, dtype=np.int64)
    dicts: list[list] = []
    for c in columns:
        col = frame.column(c)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            return None  # the SQL path casts other types to text; keep exact agreement by using it
        enc = pc.dictionary_encode(col.combine_chunks(), null_encoding="encode")
        idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        values = enc.dictionary.to_pylist()
        codes = codes * len(values) + idx
        dicts.append(values)
    # re-number densely so the bin count stays small (only observed combinations); when the combinations are few
    # (sources x languages), marking the seen ones is O(n): 0.04 CPU-s at 10M rows against np.unique's sort, 1.7 s
    space = math.prod(len(v) for v in dicts)
    if space <= DENSE_DIRECT:
        seen = np.zeros(space, dtype=bool)
        seen[codes] = True
        uniq, dense = np.flatnonzero(seen), (np.cumsum(seen) - 1)[codes]
    else:
        uniq, dense = np.unique(codes, return_inverse=True)
    labels = []
    for u in uniq.tolist():
        parts = []
        for values in reversed(dicts):
            u, r = divmod(u, len(values))
            parts.append(values[r])
        labels.append(tuple(reversed(parts)))
    return dense.astype(np.int64), labels


def _state(frame_key: Any, frame: Any) -> _State:
    with _LOCK:
        st = _STATES.get(frame_key)
        if st is None or st.frame is not frame:
            st = _State(frame)
            _STATES[frame_key] = st
            while len(_STATES) > 2:
                _STATES.popitem(last=False)
        return st


def grouped_rows(con: Any, comp: Any, frame_key: Any, frame: Any) -> list[tuple] | None:
    """Rows ``(source, lang, c0..ck-1, keep, docs, tokens)`` for the non-zero groups, like the SQL
    ``GROUP BY`` of :func:`app.recipes.summarize`; None when this recipe must go the SQL way."""
    import numpy as np

    from app.recipes.sqlparts import used_params

    if comp.has_stages or frame is None:
        return None
    if not setting(con, "preserve_insertion_order"):
        return None  # vectors from separate queries would not be row-aligned
    st = _state(frame_key, frame)
    grp = st.group_codes(comp.lang_column)
    if grp is None:
        return None
    labels = grp[1]
    k = len(comp.checks)
    bins = len(labels) << k
    if bins > MAX_BINS:
        return None
    rel = comp.relation
    tok = st.vector(con, rel, comp.token_sql, {}, dtype="float", base=True)
    shifted = st.shifted_codes(comp.lang_column, k)
    struct = (comp.lang_column, k)

    def vec_of(pos: int) -> Any:
        """The vector of rule check ``pos`` (its kind's numpy evaluation, else DuckDB's over the frame)."""
        c = comp.checks[pos]
        bits = c.rule.vector(st, c.threshold) if c.kind == "rule" and c.rule is not None else None
        if bits is None and c.kind == "rule":
            sql = f"coalesce({c.sql}, false)"
            bits = st.vector(con, rel, sql, used_params(sql, comp.params), dtype="bool")
        return bits

    got = live_drag.counts(st, comp, struct, vec_of=vec_of, tok=tok, shifted=shifted, bins=bins)
    if got is None:
        vecs = []
        for pos, c in enumerate(comp.checks):
            bits = vec_of(pos) if c.kind == "rule" else None
            if c.kind == "dedup" and c.key is not None:
                base = None
                for j in c.after:
                    base = vecs[j].copy() if base is None else base & vecs[j]
                kind = "semantic" if c.signal == "semdup_is_dup" else "cluster"
                bits = st.dedup_vector(kind, c.key, base, min_jaccard=c.min_jaccard)
            if bits is None and c.kind == "dedup" and " IN (SELECT " in c.sql:
                # a subquery is a join: DuckDB does not promise its rows come back in the frame's order
                return None
            if bits is None:
                sql = f"coalesce({c.sql}, false)"
                bits = st.vector(con, rel, sql, used_params(sql, comp.params), dtype="bool")
            vecs.append(bits)
        got = _counts(st, struct, [c.index for c in comp.checks], vecs, shifted, tok, bins)
    docs, toks = got
    out = []
    full = (1 << k) - 1
    nz = np.flatnonzero(docs)
    for b, n, t in zip(nz.tolist(), docs[nz].tolist(), toks[nz].tolist(), strict=True):
        g, m = divmod(b, 1 << k)
        src, lang = labels[g]
        flags = [bool(m >> i & 1) for i in range(k)]
        out.append((src, lang, *flags, m == full, n, round(t)))
    return out


def clear() -> None:
    """Forget every cached vector (tests, and after a workspace changes under a long-lived process)."""
    with _LOCK:
        _STATES.clear()
