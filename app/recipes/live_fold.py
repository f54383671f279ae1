"""A coarser summary's counts folded from a finer one's: no pass over the documents.

On every threshold change the Thresholds panel asks for two summaries of the same rules, one after the other: the
panel's own, grouped by source x language, and the mixture plan's, grouped by source alone
(:mod:`app.explore.panel_compare`). Both count the same check vectors over the same documents; only the grouping
differs, and source x language nests in source. So once the first has been counted (:func:`app.recipes.live._counts`
keeps its ``(group << k | check bits)`` bins), the second is a sum over its bins: a few thousand numbers instead
of a second pass over every document (at 10M documents, after a move that flips a quarter of them, that pass was
a full recount: two ``bincount`` over 10M keys, ~100 ms of CPU).

The folded counts are exactly the direct ones: document counts are integers, and token counts are only folded when
they are whole numbers (sums of integers in float64 are exact below 2**53, whatever the order).
"""

from __future__ import annotations

from typing import Any


def coarse_label(fine: tuple, coarse_column: str | None) -> tuple | None:
    """The label ``(source, value)`` a document labelled ``fine`` (source x some column) has when grouped by
    ``coarse_column``: ``(source, None)`` without a column, ``(source, source)`` grouped by the source itself;
    None when ``coarse_column`` is another column (not derivable from ``fine``)."""
    if coarse_column is None:
        return (fine[0], None)
    if coarse_column == "source":
        return (fine[0], fine[0])
    return None


def nests(groups: dict, fine_column: str | None, coarse_column: str | None) -> bool:
    """Whether every group of source x ``fine_column`` lies in one group of source x ``coarse_column`` (so that
    counts grouped the fine way fold into the coarse ones); False while either grouping is not yet known."""
    fine, coarse = groups.get(("source", fine_column)), groups.get(("source", coarse_column))
    if fine is None or coarse is None:
        return False
    where = set(coarse[1])
    return all(coarse_label(lab, coarse_column) in where for lab in fine[1])


def fold(
    incs: dict, struct: tuple, index: list[int], vecs: list, tok: Any, groups: dict, *, same: Any = None
) -> tuple | None:
    """``(docs, tokens)`` per bin of the summary shape ``struct`` (grouping column, number of checks), summed from
    another shape's current counts in ``incs`` (:attr:`app.recipes.live._State.incs`) that counted the very same
    check vectors (the same objects) and token vector, with groups that nest in ``struct``'s; None when there is
    none (``same(a, b)``: whether two entries of ``vecs`` name the same vector; by default the same object).
    ``groups`` maps ``("source", column)`` to ``(codes, labels)`` (:meth:`app.recipes.live._State.group_codes`).
    """
    import numpy as np

    column, k = struct
    mine = groups.get(("source", column))
    if mine is None:
        return None
    where = {lab: i for i, lab in enumerate(mine[1])}
    for other, inc in incs.items():
        if other == struct or other[1] != k or inc["tok"] is not tok or not inc["integral"]:
            continue
        if inc["index"] != index or len(inc["vecs"]) != len(vecs):
            continue
        if any(not (a is b if same is None else same(a, b)) for a, b in zip(inc["vecs"], vecs, strict=True)):
            continue
        fine = groups.get(("source", other[0]))
        if fine is None:
            continue
        to = [where.get(coarse_label(lab, column)) for lab in fine[1]]
        if any(t is None for t in to):
            continue
        width = 1 << k
        rows = np.asarray(to, dtype=np.intp)
        docs = np.zeros((len(mine[1]), width), dtype=inc["docs"].dtype)
        toks = np.zeros((len(mine[1]), width), dtype=np.float64)
        np.add.at(docs, rows, inc["docs"].reshape(len(fine[1]), width))
        np.add.at(toks, rows, inc["toks"].reshape(len(fine[1]), width))
        return docs.reshape(-1), toks.reshape(-1)
    return None
