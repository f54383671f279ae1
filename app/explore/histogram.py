"""The one binning of a numeric column: the Distributions page, the Thresholds panel and the report draw these bins.

**Range.** The bins span the column's minimum to maximum, except on a side whose outermost 0.5% of the values
would stretch the axis further than the middle 99% spans: that side ends at the 0.5% (or 99.5%) quantile and the
values beyond it are counted in the edge bin (``below`` / ``above`` say how many, so nothing is lost or hidden).

Why: the dashboard used min..max and the report the 0.5%..99.5% quantiles, so they drew different histograms of
the same signal. Pure min..max lets one stray value (a 2-million-word page among tweets) squeeze every other
document into the first of 60 bins, which is unreadable; pure quantile clipping hides the real extremes even for
well-behaved scores in [0, 1], and moves the edges of a Thresholds histogram away from the values a cut can take.
Clipping only a side whose tail would take more of the axis than the bulk keeps the true range whenever it is
readable (the middle 99% always gets at least a third of the bins) and the shape of the bulk when it is not.
A log axis applies the same rule to log10 of the positive values.

Values that cannot be placed on the axis (NaN, infinities, and zero or negatives on a log axis) are not binned;
``skipped`` counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.sql import qi

#: the quantiles whose tails may be folded into the edge bins
TAIL = 0.005
#: the group of every value when the histogram is not split
ALL = "all"
#: the group holding everything beyond the ``max_groups`` largest
OTHER = "(other)"


@dataclass(frozen=True)
class Bins:
    """Equal-width bins on the axis (log10 of the values when ``log``): ``count`` bins from ``lo`` of ``width``."""

    lo: float
    width: float
    count: int
    log: bool
    #: values binned, of which ``below`` lie under the first edge and ``above`` over the last (in the edge bins)
    values: int
    below: int
    above: int
    #: non-null values not binned (not finite; zero or negative on a log axis)
    skipped: int

    @property
    def hi(self) -> float:
        return self.lo + self.count * self.width

    def edges(self) -> list[float]:
        """The ``count + 1`` bin edges in the column's own units."""
        axis = [self.lo + i * self.width for i in range(self.count)] + [self.hi]
        return [10**e for e in axis] if self.log else axis


@dataclass(frozen=True)
class Histogram:
    """Counts per group and bin (``kept``: of those, the documents a recipe keeps, when asked)."""

    bins: Bins | None  # None: no value to bin
    counts: dict[str, list[int]] = field(default_factory=dict)
    kept: dict[str, list[int]] | None = None
    #: per group: values folded into the first / last bin from beyond the axis
    below: dict[str, int] = field(default_factory=dict)
    above: dict[str, int] = field(default_factory=dict)

    def frame(self) -> Any:
        """The non-empty bins as a frame ``group, bin, x0, x1, count, outside`` (x0/x1 in the column's units;
        ``outside``: of ``count``, the values beyond the axis folded into this edge bin), sorted by group, bin."""
        import pandas as pd

        cols = ["group", "bin", "x0", "x1", "count", "outside"]
        if self.bins is None:
            return pd.DataFrame(columns=cols)
        e = self.bins.edges()
        last = self.bins.count - 1
        rows = []
        for g in sorted(self.counts):
            for b, c in enumerate(self.counts[g]):
                if c:
                    out = (self.below[g] if b == 0 else 0) + (self.above[g] if b == last else 0)
                    rows.append((g, b, e[b], e[b + 1], c, out))
        return pd.DataFrame(rows, columns=cols)


def _axis(column: str, log: bool) -> tuple[str, str]:
    """``(SQL of the axis value, SQL true where the value can be placed on the axis)``."""
    v = f"CAST({qi(column)} AS DOUBLE)"
    if log:
        return f"log10({v})", f"{v} > 0 AND isfinite({v})"
    return v, f"isfinite({v})"


def bin_range(lo_q: float, hi_q: float, lo: float, hi: float) -> tuple[float, float]:
    """The axis range from the 0.5%/99.5% quantiles and the extremes (the rule in the module docstring)."""
    span = hi_q - lo_q
    if span > 0:
        lo = lo if lo_q - lo <= span else lo_q
        hi = hi if hi - hi_q <= span else hi_q
    if not hi > lo:  # one value: a unit-wide axis from it
        hi = lo + 1.0
    return lo, hi


def bins_of(con: Any, *, relation: str, column: str, bins: int = 60, log: bool = False) -> Bins | None:
    """The bins of ``column`` over ``relation`` (None when it has no value to bin): the range and the 0.5%/99.5%
    quantiles of the placeable values in one aggregate, the non-null count in another (read from statistics)."""
    if int(bins) < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    x, ok = _axis(column, log)
    rel = qi(relation)
    row = con.execute(
        f"SELECT count(*), min(x), max(x), quantile_cont(x, [{TAIL!r}, {1 - TAIL!r}])"
        f" FROM (SELECT {x} AS x FROM {rel} WHERE {ok})"
    ).fetchall()[0]
    non_null = con.execute(f"SELECT count({qi(column)}) FROM {rel}").fetchall()[0][0]
    n, mn, mx, qs = row
    skipped = int(non_null) - int(n)
    if not n:
        return None
    lo, hi = bin_range(float(qs[0]), float(qs[1]), float(mn), float(mx))
    width = (hi - lo) / int(bins)
    if not math.isfinite(width) or width <= 0:  # values ~1e308 apart: no double can step between them
        return None
    return Bins(lo, width, int(bins), bool(log), int(n), 0, 0, int(skipped))


def histogram(
    con: Any,
    *,
    relation: str,
    column: str,
    bins: int = 60,
    log: bool = False,
    by: str | None = None,
    max_groups: int = 8,
    keep: str | None = None,
) -> Histogram:
    """Counts of ``column`` over ``relation`` in the bins of :func:`bins_of`, per value of ``by`` (the
    ``max_groups`` largest groups; the rest in ``(other)``; a NULL ``by`` is the group ``(none)``).

    ``keep`` names a relation ``(id, _keep)``: the histogram then also counts, per bin, the documents whose
    ``_keep`` is true (the report's "after the recipe" bars, on the same bins as "before").
    Two aggregate queries; nothing but the counts comes back."""
    b = bins_of(con, relation=relation, column=column, bins=bins, log=log)
    if b is None:
        return Histogram(None)
    x, ok = _axis(column, log)
    g = f"coalesce(CAST({qi(by)} AS VARCHAR), '(none)')" if by else f"'{ALL}'"
    src = f"(SELECT {x} AS x, {g} AS g{', id' if keep else ''} FROM {qi(relation)} WHERE {ok})"
    if keep:
        src = f"(SELECT c.x, c.g, k._keep AS kp FROM {src} AS c JOIN {qi(keep)} AS k USING (id))"
    grp = "g"
    params: dict[str, Any] = {"lo": b.lo, "hi": b.hi, "w": b.width, "nb": b.count}
    top = ""
    if by:
        top = ", top AS (SELECT g FROM v GROUP BY g ORDER BY count(*) DESC, g LIMIT $mg)"
        grp = f"CASE WHEN g IN (SELECT g FROM top) THEN g ELSE '{OTHER}' END"
        params["mg"] = int(max_groups)
    # bin -1: below the axis, bin nb: above it (both folded into the edge bins below)
    sql = (
        f"WITH v AS (SELECT * FROM {src}){top} SELECT {grp} AS grp, CASE WHEN x < $lo THEN -1 WHEN x > $hi THEN $nb"
        " ELSE CAST(least(floor((x - $lo) / $w), $nb - 1) AS INTEGER) END AS bin,"
        f" count(*), {'count(*) FILTER (WHERE kp)' if keep else '0'} FROM v GROUP BY ALL"
    )
    counts: dict[str, list[int]] = {}
    kept: dict[str, list[int]] = {}
    below: dict[str, int] = {}
    above: dict[str, int] = {}
    for grp_v, i, n, k in con.execute(sql, params).fetchall():
        counts.setdefault(grp_v, [0] * b.count)[min(max(i, 0), b.count - 1)] += int(n)
        kept.setdefault(grp_v, [0] * b.count)[min(max(i, 0), b.count - 1)] += int(k)
        below[grp_v] = below.get(grp_v, 0) + (int(n) if i < 0 else 0)
        above[grp_v] = above.get(grp_v, 0) + (int(n) if i >= b.count else 0)
    b = Bins(b.lo, b.width, b.count, b.log, b.values, sum(below.values()), sum(above.values()), b.skipped)
    return Histogram(b, counts, kept if keep else None, below, above)
