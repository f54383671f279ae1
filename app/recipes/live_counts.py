"""The vector path's grouped counts (:func:`app.recipes.live.grouped_rows`): one ``bincount`` over ``group << k |
check bits``, or, after a threshold move, only the documents whose bits flipped moved between bins.

Split from :mod:`app.recipes.live` (which builds the vectors); the drag index (:mod:`app.recipes.live_drag`) answers
one-bound moves without vectors, and this module every other change.
"""

from __future__ import annotations

from typing import Any

from app.recipes.live_fold import fold

#: summary shapes whose incremental counts are kept per frame (a bincount key per document each: 8 bytes a row)
MAX_SHAPES = 3


def counts(st: Any, struct: tuple, index: list[int], vecs: list, shifted: Any, tok: Any, bins: int) -> tuple:
    """``(docs, tokens)`` per bincount key ``group << k | check bits``.

    After a full count the keys and counts are kept per shape (``struct``: the grouping column and the number of
    checks); when a later summary has that shape and only some check vectors changed (a threshold moved), only the documents whose bits flipped are moved between bins:
    at 10M documents that is a few ms instead of two full ``bincount`` passes. Token counts are kept as exact
    integers in float64, so adding and subtracting never drifts (non-integer token counts: always full)."""
    import numpy as np

    with st.lock:
        inc = st.incs.get(struct)
        current = inc is not None and inc["index"] == index and inc["tok"] is tok
        if not (current and all(a is b for a, b in zip(inc["vecs"], vecs, strict=True))):
            # another shape counted these very vectors (the panel's summary before the plan's): sum its bins
            got = fold(st.incs, struct, index, vecs, tok, st.groups)
            if got is not None:
                st.incs.pop(struct, None)  # its per-document keys would only go stale
                st.folded += 1
                return got
        if current:
            st.incs.move_to_end(struct)
            changed = [i for i, (a, b) in enumerate(zip(inc["vecs"], vecs, strict=True)) if a is not b]
            if not changed:
                return inc["docs"], inc["toks"]
            flip = inc["vecs"][changed[0]] ^ vecs[changed[0]]
            for i in changed[1:]:
                flip |= inc["vecs"][i] ^ vecs[i]
            if np.count_nonzero(flip) <= st.n // 4 and inc["integral"]:  # counted before listing them
                idx = np.flatnonzero(flip)
                key = inc["key"]
                old = key[idx]
                new = old.copy()  # the old key with the changed checks' bits flipped where they flipped
                for j in changed:
                    new ^= (inc["vecs"][j][idx] ^ vecs[j][idx]).astype(np.int64) << index[j]
                w = tok[idx]
                docs = inc["docs"] - np.bincount(old, minlength=bins) + np.bincount(new, minlength=bins)
                toks = (
                    inc["toks"]
                    - np.bincount(old, weights=w, minlength=bins)
                    + np.bincount(new, weights=w, minlength=bins)
                )
                key[idx] = new
                inc.update(vecs=list(vecs), docs=docs, toks=toks)
                st.incremental += 1
                return docs, toks
    small = _bits_dtype(struct[1])
    mask = np.zeros(st.n, dtype=small)
    for i, bits in zip(index, vecs, strict=True):
        b = bits.view(np.uint8)
        mask |= (b if small is np.uint8 else b.astype(small)) << small(i)
    key = np.add(shifted, mask, dtype=np.intp)  # bincount's own index type: no conversion in either call
    docs = np.bincount(key, minlength=bins)
    toks = np.bincount(key, weights=tok, minlength=bins)
    with st.lock:
        integral = inc["integral"] if inc is not None and inc["tok"] is tok else bool(np.all(np.mod(tok, 1) == 0))
        st.incs[struct] = {
            "index": list(index),
            "tok": tok,
            "vecs": list(vecs),
            "key": key,
            "docs": docs,
            "toks": toks,
            "integral": integral,
        }
        st.incs.move_to_end(struct)
        while len(st.incs) > MAX_SHAPES:
            st.incs.popitem(last=False)
    return docs, toks


def _bits_dtype(k: int) -> Any:
    """The smallest unsigned integer type that holds ``k`` check bits."""
    import numpy as np

    return np.uint8 if k <= 8 else (np.uint16 if k <= 16 else np.uint32)
