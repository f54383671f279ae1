"""The interactive path of :func:`app.recipes.compare.compare_recipes`: the same numbers from cached vectors.

A reviewer moves one threshold of A or B; the other checks, the group codes and the token counts stay the same.
So, as :mod:`app.recipes.live` does for one recipe, both recipes are compiled over one cached recipe frame (the
columns either reads, plus the id and the map cluster), each check becomes a cached boolean vector (the rule
kind's numpy evaluation or DuckDB over the frame, so NULL/NaN semantics are the SQL path's), and the fates are
counted with ``numpy.bincount`` per source, language and cluster. A changed threshold re-evaluates one vector.

Balancing and sampling run in numpy after the checks (:func:`_stages`), with the compiled pipeline's meaning
(:meth:`app.recipes.compile.Compiled.pipeline_sql`): a balance step keeps a surviving document when its seeded
uniform number times the survivors sharing its value is below the cap; a sample keeps the first ``n`` (or the
rounded fraction) of the survivors in the order of their seeded key, ties by id. The per-document draws and keys
are computed once per (seed, weight column, data version) by DuckDB over the frame (so md5, ``ln`` and NULL are
the SQL's) and cached with the frame's other vectors; a threshold change then costs a few numpy passes.

The flipped-document sample is the same as the SQL path's: the ``n`` flipped documents of each direction with
the smallest :data:`SAMPLE_KEY` (a seeded md5 of the id), ties by id. A dedup step this frame cannot evaluate
goes the SQL way (``None`` here). A test holds both paths equal.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from app.recipes.cache import CACHE
from app.recipes.sqlparts import FRAME_NAME, uniform_sql, used_params
from app.sql import setting

#: the flipped sample's order: a deterministic uniform number from md5 of the id (both paths use it)
SAMPLE_KEY = uniform_sql("id", "", "compare", seed=0)
_CODES: OrderedDict[tuple, tuple[Any, list]] = OrderedDict()
_LOCK = threading.Lock()


def _codes(frame_key: Any, frame: Any, col: str | None) -> tuple[Any, list]:
    """``(dense codes, labels)`` of ``col`` as text (``CAST(col AS VARCHAR)``; None for NULL), cached per frame."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    key = (frame_key, col)
    with _LOCK:
        if key in _CODES:
            return _CODES[key]
    if col is None:
        got = (np.zeros(frame.num_rows, dtype=np.int64), [None])
    else:
        arr = frame.column(col).combine_chunks()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pc.cast(arr, pa.string())
        enc = pc.dictionary_encode(arr, null_encoding="encode")
        got = (enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist())
    with _LOCK:
        _CODES[key] = got
        while len(_CODES) > 16:
            _CODES.popitem(last=False)
    return got


#: bins of the one combined bincount (sources x languages x clusters x 4 fates) beyond which each grouping counts
#: on its own
MAX_COMBINED_BINS = 1 << 22


def _fate_counts(fr: tuple, groupings: tuple, fate: Any, tok: Any) -> dict[str, tuple[Any, Any]]:
    """``{name: (docs, tokens)}``, each a (group values x 4 fates) array, for every ``(name, column)`` grouping.

    One bincount over the combined code of every grouping (cached per frame) when the bins are few, each grouping
    then a sum over the others' axes: two passes over the documents instead of two per grouping. Token counts
    are sums of integers in float64 (exact), so the order of summation does not change them."""
    import numpy as np

    coded = [_codes(fr[2], fr[1], col) for _, col in groupings]
    sizes = [len(labels) for _, labels in coded]
    out: dict[str, tuple[Any, Any]] = {}
    if int(np.prod(sizes)) * 4 <= MAX_COMBINED_BINS:
        key = (fr[2], "combined", tuple(col for _, col in groupings))
        with _LOCK:
            combo = _CODES.get(key)
        if combo is None:
            combo = np.zeros(fr[1].num_rows, dtype=np.int64)
            for (codes, _), size in zip(coded, sizes, strict=True):
                combo = combo * size + codes
            combo = (combo * 4).astype(np.int32 if int(np.prod(sizes)) * 4 < 2**31 else np.int64)
            with _LOCK:
                _CODES[key] = combo
                while len(_CODES) > 16:
                    _CODES.popitem(last=False)
        keys = combo + fate
        shape = (*sizes, 4)
        docs = np.bincount(keys, minlength=int(np.prod(shape))).reshape(shape)
        toks = np.bincount(keys, weights=tok, minlength=int(np.prod(shape))).reshape(shape)
        for i, (name, _) in enumerate(groupings):
            axes = tuple(j for j in range(len(sizes)) if j != i)
            out[name] = (docs.sum(axis=axes), toks.sum(axis=axes))
        return out
    for (name, _), (codes, labels) in zip(groupings, coded, strict=True):
        keys = codes * 4 + fate
        n = len(labels) * 4
        out[name] = (
            np.bincount(keys, minlength=n).reshape(-1, 4),
            np.bincount(keys, weights=tok, minlength=n).reshape(-1, 4),
        )
    return out


def _vectors(con: Any, st: Any, comp: Any) -> list[Any] | None:
    """One cached boolean vector per check of ``comp`` (None: a check this frame cannot evaluate in order)."""
    vecs: list[Any] = []
    for c in comp.checks:
        bits = None
        if c.kind == "rule" and c.rule is not None:
            bits = c.rule.vector(st, c.threshold)
        if c.kind == "dedup" and c.key is not None:
            base = None
            for j in c.after:
                base = vecs[j].copy() if base is None else base & vecs[j]
            kind = "semantic" if c.signal == "semdup_is_dup" else "cluster"
            bits = st.dedup_vector(kind, c.key, base, min_jaccard=c.min_jaccard)  # near: the recipe's threshold
        if bits is None and c.kind == "dedup" and " IN (SELECT " in c.sql:
            return None  # a subquery is a join: its rows need not come back in the frame's order
        if bits is None:
            sql = f"coalesce({c.sql}, false)"
            bits = st.vector(con, comp.relation, sql, used_params(sql, comp.params), dtype="bool")
        vecs.append(bits)
    return vecs


def _stage_columns(recipe: Any) -> list[str]:
    """The columns a recipe's balancing and sampling read (kept in the compare frame)."""
    s = recipe.sample
    weights = [w for w in ((s.weight, s.log_weight) if s is not None else ()) if w]
    return [*(b.column for b in recipe.balance), *weights]


def _key_vector(con: Any, st: Any, relation: str, sql: str) -> tuple[Any, Any]:
    """``(values, is NULL)`` of ``sql`` over the frame, computed once and kept with the frame's base vectors."""
    import numpy as np

    key = ("compare_stage", sql)
    got = st.base_get(key)
    if got is not None:
        return got
    rows = con.execute(f"SELECT coalesce(k, 0), k IS NULL FROM (SELECT {sql} AS k FROM {relation})").fetchnumpy()
    vals, null = (np.asarray(v) for v in rows.values())
    if len(vals) != st.n:
        raise RuntimeError("frame and vector are not row-aligned")
    got = (vals.astype(np.float64), null.astype(bool))
    with st.lock:
        st.base[key] = got
    return got


def _first_k(key: Any, idx: Any, k: int, ids: Any) -> Any:
    """The ``k`` rows of ``idx`` with the smallest ``key``, ties by id (NaN after every number, as DuckDB sorts)."""
    import numpy as np

    if k >= len(idx):
        return idx
    if k <= 0:
        return idx[:0]
    kk = key[idx]
    t = kk[np.argpartition(kk, k - 1)[k - 1]]
    if np.isnan(t):
        below, tied = idx[~np.isnan(kk)], idx[np.isnan(kk)]
    else:
        below, tied = idx[kk < t], idx[kk == t]
    need = k - len(below)
    if len(tied) > need:
        tied = np.asarray(sorted(tied.tolist(), key=lambda i: ids[i].as_py())[:need], dtype=np.int64)
    return np.concatenate([below, tied])


def _stages(con: Any, st: Any, fr: tuple, recipe: Any, keep: Any) -> Any:
    """``keep`` (rules and dedup) after ``recipe``'s balance steps and sample, as the compiled pipeline decides."""
    import numpy as np

    from app.recipes.sqlparts import uniform_sql
    from app.sql import qi

    rel, frame, frame_key = fr
    for i, b in enumerate(recipe.balance):
        u = st.vector(con, rel, uniform_sql("id", "", f"balance{i}", seed=b.seed), {}, dtype="float", base=True)
        codes, labels = _codes(frame_key, frame, b.column)
        count = np.bincount(codes[keep], minlength=len(labels))[codes]
        keep = keep & (u * count < b.cap)
    s = recipe.sample
    if s is None:
        return keep
    u = uniform_sql("id", "", "sample", seed=s.seed)
    if s.weight:
        w = qi(s.weight)
        key, null = _key_vector(con, st, rel, f"CASE WHEN {w} > 0 THEN -ln({u}) / {w} ELSE NULL END")
    elif s.log_weight:
        lw = f"CAST({qi(s.log_weight)} AS DOUBLE)"
        key, null = _key_vector(con, st, rel, f"CASE WHEN isfinite({lw}) THEN ln(-ln({u})) - {lw} ELSE NULL END")
    else:
        key, null = st.vector(con, rel, u, {}, dtype="float", base=True), None
    passing = int(keep.sum())
    idx = np.flatnonzero(keep if null is None else keep & ~null)
    k = int(s.n) if s.n is not None else _round(s.fraction * passing)  # of every survivor, NULL keys included
    out = np.zeros(st.n, dtype=bool)
    out[_first_k(key, idx, k, frame.column("id"))] = True
    return out


def _round(x: float) -> int:
    """DuckDB's ``round`` of a non-negative double: half away from zero (``x - floor(x)`` is exact)."""
    import math

    f = math.floor(x)
    return int(f + (1 if x - f >= 0.5 else 0))


def _first_fail(vecs: list[Any], idx: Any) -> Any:
    """For the rows ``idx``: the index of the first failing check, -1 when all pass (a later stage)."""
    import numpy as np

    why = np.full(len(idx), -1, dtype=np.int64)
    for j in range(len(vecs) - 1, -1, -1):
        why[~vecs[j][idx]] = j
    return why


def live_compare(
    con: Any, ra: Any, rb: Any, *, cluster: str | None, n: int, token: tuple | None
) -> dict[str, Any] | None:
    """``{rows, picked}`` in the shape :func:`app.recipes.compare._tally` reads (grouping-set rows: source with
    the flipping check, language, cluster) plus the sampled flipped documents; None: use the SQL path."""
    import numpy as np

    from app.recipes import live
    from app.recipes.compile import compile_recipe
    from app.recipes.schema import Dedup, Recipe

    if token is None:
        return None
    if not setting(con, "preserve_insertion_order"):
        return None
    da, db = ra.dedup, rb.dedup
    both = Recipe(
        rules=[*ra.rules, *rb.rules],
        dedup=Dedup(exact=da.exact or db.exact, near=da.near or db.near, semantic=da.semantic or db.semantic),
    )
    extra = ("id", *([cluster] if cluster else []), *_stage_columns(ra), *_stage_columns(rb))
    fr = CACHE.frame(con, both, relation="corpus", token=token, extra=extra)
    if fr is None:
        return None
    cols = CACHE.frame_cols.get(fr[2])
    ftoken = (token[0], FRAME_NAME, *token[2:])
    ca = compile_recipe(con, ra, relation=fr[0], bind=False, token=ftoken, columns=cols)
    cb = compile_recipe(con, rb, relation=fr[0], bind=False, token=ftoken, columns=cols)
    st = live._state(fr[2], fr[1])
    va, vb = _vectors(con, st, ca), _vectors(con, st, cb)
    if va is None or vb is None:
        return None
    nrow = fr[1].num_rows
    ka = np.logical_and.reduce(va) if va else np.ones(nrow, dtype=bool)
    kb = np.logical_and.reduce(vb) if vb else np.ones(nrow, dtype=bool)
    ka = _stages(con, st, fr, ra, ka)
    kb = _stages(con, st, fr, rb, kb)
    tok = st.vector(con, fr[0], ca.token_sql, {}, dtype="float", base=True)
    fate = ka.view(np.uint8) + 2 * kb.view(np.uint8)  # 0 neither, 1 A only, 2 B only, 3 both
    out: list[tuple] = []
    fates = [(False, False), (True, False), (False, True), (True, True)]
    codes, labels = _codes(fr[2], fr[1], "source")
    lang_codes, lang_labels = _codes(fr[2], fr[1], ca.lang_column)
    sides = _fate_counts(fr, (("source", "source"), ("lang", ca.lang_column), ("cluster", cluster)), fate, tok)
    for gid, name, pos, labs in ((5, "lang", 2, lang_labels), (6, "cluster", 3, _codes(fr[2], fr[1], cluster)[1])):
        docs, toks = sides[name]
        for g, f in zip(*np.nonzero(docs), strict=True):
            row = [gid, None, None, None, *fates[f], None, int(docs[g, f]), round(float(toks[g, f]))]
            row[pos] = labs[g]
            out.append(tuple(row))
    # by source, with the check that flips each flipped document (-1: a later stage; None: not flipped)
    docs, toks = sides["source"]
    for g, f in zip(*np.nonzero(docs[:, [0, 3]]), strict=True):
        f = 3 * f  # kept by both or by neither: nothing flips them
        out.append((3, labels[g], None, None, *fates[f], None, int(docs[g, f]), round(float(toks[g, f]))))
    flipped = np.flatnonzero(ka != kb)
    in_a = ka[flipped]
    a_only, b_only = flipped[in_a], flipped[~in_a]
    why = np.empty(len(flipped), dtype=np.int64)
    why[in_a] = _first_fail(vb, a_only)
    why[~in_a] = _first_fail(va, b_only)
    span = len(va) + len(vb) + 2
    keys = (codes[flipped] * 4 + fate[flipped]) * span + (why + 1)
    docs = np.bincount(keys)
    toks = np.bincount(keys, weights=tok[flipped])
    for b in np.flatnonzero(docs).tolist():
        gf, w = divmod(b, span)
        g, f = divmod(gf, 4)
        out.append((3, labels[g], None, None, *fates[f], w - 1, int(docs[b]), round(float(toks[b]))))
    picked: dict[str, list[dict]] = {"a_only": [], "b_only": []}
    if n > 0 and len(flipped):
        key = st.vector(con, fr[0], SAMPLE_KEY, {}, dtype="float", base=True)
        ids = fr[1].column("id")
        for name, idx in (("a_only", a_only), ("b_only", b_only)):
            if len(idx) > n:
                idx = idx[np.argpartition(key[idx], n - 1)[: n + 8]]  # a few more for ties on the key
            chosen = sorted(idx.tolist(), key=lambda i: (key[i], str(ids[i])))[:n]
            at = np.searchsorted(flipped, chosen)
            picked[name] = [
                {"id": ids[i].as_py(), "src": labels[codes[i]], "lang": lang_labels[lang_codes[i]], "why": int(why[j])}
                for i, j in zip(chosen, at.tolist(), strict=True)
            ]
    return {"rows": out, "picked": picked, "a": ca, "b": cb}
