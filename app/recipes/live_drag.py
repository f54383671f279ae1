"""A threshold drag answered by binary search: the grouped counts at any new bound of one check, whatever share of
the documents it flips.

:func:`app.recipes.live.grouped_rows` counts ``group << k | check bits`` per document. A threshold change moves
ONE bound of one range (or quantile) check while every other check stays as it was; when that move flips many
documents (a minimum dragged from 8 to 45 words flips ~45% of them), moving each flipped document between bins
(:func:`app.recipes.live._counts`) is no cheaper than recounting all of them: ~0.2-0.4 CPU-s at 10M documents with
the exact-dedup pass. Here, once per (summary shape, moved check and side, state of every other check), an index
is built over the documents:

- ``base``: the document's bin without the moved check's bit and without the dedup check's bit (the other checks
  are fixed, so this never changes while the bound moves);
- ``a``: the value the moved bound is compared with, folded so that the check passes iff ``a >= t`` (a minimum:
  ``t`` is the bound; a maximum: ``a`` and ``t`` negated). A document the check's other, fixed bound fails, or a
  NULL, never passes (rank 0); a NULL kept by ``keep_null`` always passes (+inf);
- with exact/near dedup after the rules: a survivor is removed iff an earlier member of its cluster (smaller id
  rank) survives too. With only the moved bound free, that is ``min(a, m) >= t`` where ``m`` is the largest ``a``
  of the earlier members that pass every other check: one more value ``w`` per document.

The values are replaced by their rank among the distinct values of ``a`` and sorted by ``(base, rank)`` with a
running sum of tokens in that order, so the number (and tokens) of documents per base bin with ``a >= t`` (and
``w >= t``) is two binary searches per bin: microseconds, for any ``t``. The counts are exactly those of the
vectors (DuckDB's NULL/NaN meaning is in the folded columns of :class:`app.recipes.live._State`, and tests hold
this path equal to the SQL one). Token counts must be whole numbers (sums of integers in float64 are exact).

Memory: per document at most 8 bytes of key and 8 of running tokens for ``a``, the same again for ``w`` (only
documents in multi-member clusters that pass the other checks), and up to 8 for the distinct values: at most 40
bytes a document per index, :data:`MAX_INDEXES` indexes per frame. Built on the first move of a check (sorts of
the documents: 1.3 CPU-s at 3M, ~8 at 10M); any other kind of change goes the vector way. In the panel's routes
(:func:`background`) that build runs in a thread: the first move is counted from vectors and answered at once, the
moves after it by the index when it is ready (3M documents, load 8: the first move 1,894 -> 373 ms of wall). From
:data:`PREBUILD_MIN` documents the routes' first summary of a recipe shape (the panel opening) also starts building
the indexes of its single-bound cuts, so that a person's first moves find one ready.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from app.recipes.live_fold import fold, nests

#: off: every summary counts vectors (tests of :func:`app.recipes.live._counts`' own incremental path)
ENABLED = True
#: whether this context builds a new index in a background thread (the panel's routes: :func:`background`)
_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("winnow_drag_background", default=False)
log = logging.getLogger(__name__)
#: drag indexes kept per frame (least recently used dropped): the panel's shape and one more
MAX_INDEXES = 2
#: documents from which a summary's first sight of a recipe shape (the panel opening) starts building, in the
#: background, the drag indexes of its single-bound cuts (:func:`_single_bounds`, at most :data:`MAX_INDEXES`), so
#: that their first moves are answered from an index too. At 10M documents a build takes ~8.6 CPU-s, and moves
#: made while it ran were counted from vectors beside it, 68-730 ms each (``bench:ui_10m``: 840 ms p95); below
#: 1M documents a move counted from vectors takes tens of ms, not worth the memory (up to 40 bytes a document).
PREBUILD_MIN = 1_000_000
#: kinds of rule whose numpy vector is :meth:`app.recipes.live._State.range_vector` of their resolved bounds
RANGE_KINDS = ("range", "quantile")


def signatures(st: Any, comp: Any, vec_of: Callable[[int], Any]) -> list | None:
    """Per check what identifies its vector: a tuple for a numeric range (its bounds) and for a dedup step, the
    (cached) vector object itself for any other rule; None when a check is of a kind this path does not take."""
    out: list = []
    for pos, c in enumerate(comp.checks):
        if c.index != pos:
            return None
        if c.kind == "dedup":
            if c.key is None or c.signal == "semdup_is_dup":
                return None
            out.append(("dedup", c.key, repr(c.min_jaccard), tuple(c.after)))
            continue
        r = c.rule
        if r is not None and r.kind in RANGE_KINDS and st.column(r.signal) is not None:
            lo, hi = c.threshold.get("min"), c.threshold.get("max")
            out.append(("range", r.signal, _num(lo), _num(hi), bool(r.keep_null)))
            continue
        vec = vec_of(pos)
        if vec is None:
            return None
        out.append(vec)
    return out


def same(a: Any, b: Any) -> bool:
    """Two signatures (or vectors) name the same check vector: equal tuples, or the very same vector object."""
    return a is b or (isinstance(a, tuple) and isinstance(b, tuple) and a == b)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _moved(old: list | None, new: list) -> tuple[int, str] | None:
    """``(check position, "lo" | "hi")`` when ``new`` differs from ``old`` in one bound of one range check only."""
    if old is None or len(old) != len(new):
        return None
    diff = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if not same(a, b)]
    if len(diff) != 1:
        return None
    a, b = old[diff[0]], new[diff[0]]
    if not (isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "range"):
        return None
    if a[1] != b[1] or a[4] != b[4]:
        return None
    if a[3] == b[3]:
        return diff[0], "lo"
    if a[2] == b[2]:
        return diff[0], "hi"
    return None


def _fixed(sigs: list, i: int, side: str) -> tuple:
    """What an index for a move of check ``i``'s ``side`` depends on: every signature with that bound blanked."""
    s = sigs[i]
    blank = (*s[:2], None, s[3], s[4]) if side == "lo" else (*s[:3], None, s[4])
    return (*sigs[:i], blank, *sigs[i + 1 :])


def _matches(fixed: tuple, sigs: tuple) -> bool:
    return len(fixed) == len(sigs) and all(same(a, b) for a, b in zip(fixed, sigs, strict=True))


def _bound(sigs: list, i: int, side: str) -> float | None:
    """The moved bound as the index compares it (``a >= t``), None when it is not a finite number."""
    b = sigs[i][2] if side == "lo" else sigs[i][3]
    if b is None or not math.isfinite(b):
        return None
    return b if side == "lo" else -b


def counts(
    st: Any, comp: Any, struct: tuple, *, vec_of: Callable[[int], Any], tok: Any, shifted: Any, bins: int
) -> tuple | None:
    """``(docs, tokens)`` per bin ``group << k | check bits`` for ``comp``'s checks, from a drag index or from
    another shape's drag answer; None when neither applies (the caller counts vectors)."""
    sigs = signatures(st, comp, vec_of) if ENABLED else None
    if sigs is None:
        with st.lock:
            st.drag_last.pop(struct, None)
        return None
    index = [c.index for c in comp.checks]
    with st.lock:
        last = st.drag_last.get(struct)
        st.drag_last[struct] = sigs
        got = fold(st.drag_done, struct, index, sigs, tok, st.groups, same=same)
    if last is None and _BACKGROUND.get() and st.n >= PREBUILD_MIN:
        keys = [(struct, i, side) for i, side in _single_bounds(sigs)][:MAX_INDEXES]
        _start(st, comp, sigs, keys, vec_of=vec_of, tok=tok, shifted=shifted, bins=bins)
    if got is not None:
        st.folded += 1
        return got
    ix = None
    with st.lock:
        for (shape, i, side), got_ix in st.drags.items():
            if shape == struct and got_ix["tok"] is tok and _matches(got_ix["fixed"], _fixed(sigs, i, side)):
                ix, moved = got_ix, (i, side)
                st.drags.move_to_end((shape, i, side))
                break
    if ix is None:
        moved = _moved(last, sigs)
        if moved is None or _bound(sigs, *moved) is None:
            return None
        if _BACKGROUND.get():  # this move is counted from vectors; the next ones from the index once built
            _start(st, comp, sigs, [(struct, *moved)], vec_of=vec_of, tok=tok, shifted=shifted, bins=bins)
            return None
        ix = _build(st, comp, sigs, *moved, vec_of=vec_of, tok=tok, shifted=shifted, bins=bins)
        if ix is None:
            return None
        _keep(st, (struct, *moved), ix)
    t = _bound(sigs, *moved)
    if t is None:
        return None
    docs, toks = _answer(ix, t, bins)
    with st.lock:
        st.dragged += 1
        st.drag_done[struct] = {"index": index, "tok": tok, "integral": True, "vecs": sigs, "docs": docs, "toks": toks}
    return docs, toks


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Within this block a first move of a check is counted from vectors while its index is built in a thread
    (the panel's routes: one request never waits for a build, ~7 CPU-s at 10M documents)."""
    tok = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(tok)


def _keep(st: Any, key: tuple, ix: dict) -> None:
    with st.lock:
        st.drags[key] = ix
        while len(st.drags) > MAX_INDEXES:
            st.drags.popitem(last=False)


def _single_bounds(sigs: list) -> list[tuple[int, str]]:
    """``(check position, side)`` of every range check with one finite bound only: the bound a person drags."""
    out = []
    for i, s in enumerate(sigs):
        if isinstance(s, tuple) and s[0] == "range":
            sides = [side for side, b in (("lo", s[2]), ("hi", s[3])) if b is not None and math.isfinite(b)]
            if len(sides) == 1:
                out.append((i, sides[0]))
    return out


def _covered(st: Any, key: tuple, fixed: tuple) -> bool:
    """Whether an index for ``key`` (shape, check, side) with every other check as in ``fixed`` is built or being
    built, for this shape or for one whose groups nest in it: the panel's shape (source x language) is asked
    first on every change, and the mixture plan's (by source) is then folded from its answer
    (:func:`app.recipes.live_fold.fold`), so a second index for the plan would be built for nothing (at 10M
    documents two builds ran side by side: ~17 CPU-s and twice the memory)."""
    struct, i, side = key
    for table, get in ((st.drag_pending, lambda v: v), (st.drags, lambda v: v["fixed"])):
        for (other, j, s), v in table.items():
            same_move = (j, s) == (i, side) and other[1] == struct[1] and _matches(get(v), fixed)
            if same_move and (other == struct or nests(st.groups, other[0], struct[0])):
                return True
    return False


def _lower_priority() -> None:
    """Make the calling thread yield the CPU to the requests and page renders it runs beside (Linux schedules
    threads one by one; elsewhere nothing happens): a build is work ahead of time, not what anyone waits for."""
    import os

    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _start(
    st: Any, comp: Any, sigs: list, keys: list[tuple], *, vec_of: Callable, tok: Any, shifted: Any, bins: int
) -> None:
    """Build the indexes for ``keys`` (shape, check, side) in a daemon thread, one after another, each once per
    state of the other checks (a recipe the index cannot take is remembered, not retried). The checks' vectors
    are read here, by the request (they may need its DuckDB cursor); the thread only runs numpy."""
    todo = []
    with st.lock:
        for key in keys:
            fixed = _fixed(sigs, key[1], key[2])
            if _covered(st, key, fixed):
                continue
            st.drag_pending[key] = fixed
            todo.append(key)
    if not todo:
        return
    vecs = {m: vec_of(m) for m, c in enumerate(comp.checks) if c.kind != "dedup"}

    def run() -> None:
        _lower_priority()
        for key in todo:
            ix = None
            try:
                ix = _build(st, comp, sigs, key[1], key[2], vec_of=vecs.get, tok=tok, shifted=shifted, bins=bins)
            except Exception:  # the vector path keeps answering; the server log has why
                log.exception("drag index build failed")
            if ix is not None:
                _keep(st, key, ix)
                with st.lock:
                    st.drag_pending.pop(key, None)

    t = threading.Thread(target=run, name="winnow-drag-index", daemon=True)
    with st.lock:
        st.drag_threads.append(t)
        st.drag_threads[:] = [x for x in st.drag_threads if x.is_alive() or x is t]
    t.start()


def _build(
    st: Any, comp: Any, sigs: list, i: int, side: str, *, vec_of: Callable, tok: Any, shifted: Any, bins: int
) -> dict | None:
    """The index for moves of check ``i``'s ``side`` bound with every other check as in ``sigs`` (None: a recipe
    this path does not take: several dedup steps, a dedup step before a rule, fractional token counts)."""
    import numpy as np

    from app.recipes.sqlparts import ID_RANK

    checks = comp.checks
    dedups = [j for j, c in enumerate(checks) if c.kind == "dedup"]
    if len(dedups) > 1 or (dedups and (i not in checks[dedups[0]].after or dedups[0] < i)):
        return None
    if not bool(np.all(np.mod(tok, 1) == 0)):
        return None
    _, name, lo, hi, keep_null = sigs[i]
    v, valid = st.column(name)
    if side == "lo":
        fixed = st.range_vector(name, None, hi, False)
        a = np.where(fixed, st._bounds(name, "lo", v, valid), -np.inf)
    else:
        fixed = st.range_vector(name, lo, None, False)
        a = np.where(fixed, -st._bounds(name, "hi", v, valid), -np.inf)
    if keep_null:
        a[~valid] = np.inf
    # one sort of the documents that can pass: their order by value gives the distinct values and each rank
    by_a = np.flatnonzero(a != -np.inf)
    by_a = by_a[np.argsort(a[by_a])]  # ties in any order: their tokens are whole numbers
    av = a[by_a]
    new = np.ones(len(av), dtype=bool)
    new[1:] = av[1:] != av[:-1]
    uniq = av[new]
    rank = np.zeros(st.n, dtype=np.int64)
    rank[by_a] = np.cumsum(new)
    del a, av, new
    width = len(uniq) + 2
    base = np.array(shifted, dtype=np.int64)
    vecs: dict[int, Any] = {}
    for m, c in enumerate(checks):
        if m == i or c.kind == "dedup":
            continue
        vecs[m] = vec_of(m)
        if vecs[m] is None:
            return None
        base |= vecs[m].astype(np.int64) << c.index
    ix: dict[str, Any] = {"tok": tok, "fixed": _fixed(sigs, i, side), "width": width, "uniq": uniq}
    ix["bit_i"] = 1 << checks[i].index
    ix["n"] = np.bincount(base, minlength=bins)
    ix["t"] = np.bincount(base, weights=tok, minlength=bins)
    ix["ub"] = np.flatnonzero(ix["n"])
    ix["a"] = _sorted(base, rank, tok, width, by_rank=by_a)
    ix["w"] = None
    if dedups:
        c = checks[dedups[0]]
        rk, col = st.column(ID_RANK), st.column(c.key)
        if rk is None or col is None:
            return None
        key = c.key
        if c.min_jaccard is not None:
            sim = st.column("dup_near_jaccard")
            if sim is None:
                return None
            with np.errstate(invalid="ignore"):
                col = (col[0], col[1] & sim[1] & (sim[0] >= c.min_jaccard))
            key = f"{key}@{c.min_jaccard!r}"
        runs = st._dedup_runs(key, rk, col)
        p = np.ones(st.n, dtype=bool)
        for m in c.after:
            if m != i:
                p &= vecs[m]
        rows, run_of = runs["rows"], runs["run_of"]
        x = np.where(p[rows], rank[rows], 0)
        # the largest rank among the earlier members of each run that pass the other checks (0: none), by one
        # running maximum over the runs laid end to end, each lifted above the one before it
        lift = run_of.astype(np.int64) * width
        cm = np.maximum.accumulate(x + lift)
        m_prev = np.zeros(len(rows), dtype=np.int64)
        m_prev[1:] = np.maximum(cm[:-1] - lift[1:], 0)
        w = np.where(p[rows], np.minimum(x, m_prev), 0)
        keep = w > 0
        w_rows = rows[keep]
        wr = np.zeros(st.n, dtype=np.int64)
        wr[w_rows] = w[keep]
        ix["w"] = _sorted(base, wr, tok, width, by_rank=w_rows[np.argsort(w[keep])])
        ix["bit_j"] = 1 << c.index
    return ix


def _sorted(base: Any, rank: Any, tok: Any, width: int, *, by_rank: Any = None) -> tuple:
    """``(keys sorted, running tokens)`` of the documents with a rank (> 0): key ``base * width + rank``.

    ``by_rank``: those documents' positions already in rank order. The base bins are few, so the second pass is
    a stable sort of small integers (a radix sort in numpy when they fit 16 bits), not a comparison sort of keys."""
    import numpy as np

    if by_rank is None:
        by_rank = np.flatnonzero(rank > 0)
        by_rank = by_rank[np.argsort(rank[by_rank])]
    b = base[by_rank]
    small = np.int16 if len(b) == 0 or int(b.max()) < 2**15 else np.int64
    order = by_rank[np.argsort(b.astype(small), kind="stable")]
    keys = base[order] * width + rank[order]
    cum = np.zeros(len(keys) + 1, dtype=np.float64)
    np.cumsum(tok[order], out=cum[1:])
    return keys, cum


def _answer(ix: dict, t: float, bins: int) -> tuple:
    """``(docs, tokens)`` per bin for the moved bound at ``t`` (the check passes where ``a >= t``)."""
    import numpy as np

    ub, width = ix["ub"], ix["width"]
    r = int(np.searchsorted(ix["uniq"], t, side="left")) + 1  # a >= t iff rank(a) >= r

    def above(part: tuple) -> tuple:
        keys, cum = part
        start = np.searchsorted(keys, ub * width + r)
        end = np.searchsorted(keys, ub * width + width)
        return end - start, cum[end] - cum[start]

    n_a, t_a = above(ix["a"])
    docs = np.zeros(bins, dtype=np.int64)
    toks = np.zeros(bins, dtype=np.float64)
    bi = ix["bit_i"]
    if ix["w"] is None:
        docs[ub | bi], toks[ub | bi] = n_a, t_a
        docs[ub], toks[ub] = ix["n"][ub] - n_a, ix["t"][ub] - t_a
        return docs, toks
    n_w, t_w = above(ix["w"])
    bj = ix["bit_j"]
    docs[ub | bi | bj], toks[ub | bi | bj] = n_a - n_w, t_a - t_w  # passes, the kept copy (or no copy)
    docs[ub | bi], toks[ub | bi] = n_w, t_w  # passes, a later copy of a kept document
    docs[ub | bj], toks[ub | bj] = ix["n"][ub] - n_a, ix["t"][ub] - t_a  # fails the moved check
    return docs, toks
