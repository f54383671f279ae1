"""The interactive path of :func:`app.recipes.compare.compare_recipes`: the same numbers from cached vectors.

A reviewer moves one threshold of A or B; the other checks, the group codes and the token counts stay the same.
So, as :mod:`app.recipes.live` does for one recipe, both recipes are compiled over one cached recipe frame (the
columns either reads, plus the id and the map cluster), each check becomes a cached boolean vector (the rule
kind's numpy evaluation or DuckDB over the frame, so NULL/NaN semantics are the SQL path's), and the fates are
counted with ``numpy.bincount`` per source, language and cluster. A changed threshold re-evaluates one vector.

The flipped-document sample is the same as the SQL path's: the ``n`` flipped documents of each direction with
the smallest :data:`SAMPLE_KEY` (a seeded md5 of the id), ties by id. Recipes with balancing or sampling, or a
dedup step this frame cannot evaluate, go the SQL way (``None`` here). A test holds both paths equal.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from app.recipes.cache import CACHE
from app.recipes.sqlparts import FRAME_NAME, uniform_sql, used_params

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
        while len(_CODES) > 8:
            _CODES.popitem(last=False)
    return got


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
            bits = st.dedup_vector("semantic" if c.signal == "semdup_is_dup" else "cluster", c.key, base)
        if bits is None and c.kind == "dedup" and " IN (SELECT " in c.sql:
            return None  # a subquery is a join: its rows need not come back in the frame's order
        if bits is None:
            sql = f"coalesce({c.sql}, false)"
            bits = st.vector(con, comp.relation, sql, used_params(sql, comp.params), dtype="bool")
        vecs.append(bits)
    return vecs


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

    if ra.balance or rb.balance or ra.sample is not None or rb.sample is not None:
        return None
    if token is None:
        return None
    rows = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    if not rows or not rows[0][0]:
        return None
    da, db = ra.dedup, rb.dedup
    both = Recipe(
        rules=[*ra.rules, *rb.rules],
        dedup=Dedup(exact=da.exact or db.exact, near=da.near or db.near, semantic=da.semantic or db.semantic),
    )
    extra = ("id", *([cluster] if cluster else []))
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
    tok = st.vector(con, fr[0], ca.token_sql, {}, dtype="float", base=True)
    fate = ka.astype(np.int64) + 2 * kb.astype(np.int64)  # 0 neither, 1 A only, 2 B only, 3 both
    out: list[tuple] = []
    fates = [(False, False), (True, False), (False, True), (True, True)]
    for gid, col, pos in ((5, ca.lang_column, 2), (6, cluster, 3)):
        codes, labels = _codes(fr[2], fr[1], col)
        keys = codes * 4 + fate
        docs = np.bincount(keys, minlength=len(labels) * 4)
        toks = np.bincount(keys, weights=tok, minlength=len(labels) * 4)
        for b in np.flatnonzero(docs).tolist():
            g, f = divmod(b, 4)
            row = [gid, None, None, None, *fates[f], None, int(docs[b]), round(float(toks[b]))]
            row[pos] = labels[g]
            out.append(tuple(row))
    # by source, with the check that flips each flipped document (-1: a later stage; None: not flipped)
    codes, labels = _codes(fr[2], fr[1], "source")
    flipped = np.flatnonzero(ka != kb)
    why = np.full(nrow, len(va) + len(vb) + 1, dtype=np.int64)  # a sentinel past every check index
    a_only = flipped[ka[flipped]]
    b_only = flipped[kb[flipped]]
    why[a_only] = _first_fail(vb, a_only)
    why[b_only] = _first_fail(va, b_only)
    span = len(va) + len(vb) + 3
    keys = (codes * 4 + fate) * span + (why + 1)
    docs = np.bincount(keys)
    toks = np.bincount(keys, weights=tok)
    for b in np.flatnonzero(docs).tolist():
        gf, w = divmod(b, span)
        g, f = divmod(gf, 4)
        w = None if w - 1 > len(va) + len(vb) else w - 1
        out.append((3, labels[g], None, None, *fates[f], w, int(docs[b]), round(float(toks[b]))))
    picked: dict[str, list[dict]] = {"a_only": [], "b_only": []}
    if n > 0 and len(flipped):
        key = st.vector(con, fr[0], SAMPLE_KEY, {}, dtype="float", base=True)
        ids = fr[1].column("id")
        lang_codes, lang_labels = _codes(fr[2], fr[1], ca.lang_column)
        for name, idx in (("a_only", a_only), ("b_only", b_only)):
            if len(idx) > n:
                idx = idx[np.argpartition(key[idx], n - 1)[: n + 8]]  # a few more for ties on the key
            chosen = sorted(idx.tolist(), key=lambda i: (key[i], str(ids[i])))[:n]
            picked[name] = [
                {"id": ids[i].as_py(), "src": labels[codes[i]], "lang": lang_labels[lang_codes[i]], "why": int(why[i])}
                for i in chosen
            ]
    return {"rows": out, "picked": picked, "a": ca, "b": cb}
