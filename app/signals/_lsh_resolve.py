"""The near-duplicate clustering's global step in DuckDB: verified links to representatives, flat in the corpus size.

Why: the step held numpy arrays over every row (links, representative, similarity, cluster size, union-find
parents: ~160 bytes per document while the clusters were resolved), so headless apply's driver grew with its
input (1,051 MiB at 1M documents, 1,374 at 3M). Here the links, the component labels and the results are DuckDB
tables, which spill to disk under DuckDB's memory limit, and Python holds one batch of pairs (:data:`BATCH`
rows) plus the uncertain pairs of one round (estimates within the margin of the threshold, verified together
so the texts are read once per round, as before).

Components: label propagation with pointer jumping over the links (each node takes the smallest label of its
neighbours, then its label's label), until no label drops: every node then holds its component's smallest row,
as :func:`app.signals._lsh.smallest_in_component` computes in memory. The rounds of attachment are
:func:`app.signals._lsh.cluster_signatures`'s: a member whose Jaccard with its representative is below the
threshold is clustered again with the other such members, over the links between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: pairs of rows read, estimated and written per batch
BATCH = 65_536


def components(con: Any, links: str, dest: str) -> int:
    """``dest`` (``node``, ``lab``): each row in the links table ``links`` (``a``, ``b``) with the smallest
    row of its connected component; returns the number of propagation rounds."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {dest} AS SELECT node, min(x) AS lab
        FROM (SELECT a AS node, least(a, b) AS x FROM {links} UNION ALL SELECT b, least(a, b) FROM {links})
        GROUP BY node"""
    )
    rounds = 0
    while True:
        rounds += 1
        # each node takes its neighbours' smallest label, then the label of that label (pointer jumping)
        con.execute(
            f"""CREATE OR REPLACE TABLE _dn_lab_p AS
            WITH e AS (SELECT a AS x, b AS y FROM {links} UNION ALL SELECT b, a FROM {links}),
            p AS (SELECT e.x AS node, min(l.lab) AS lab FROM e JOIN {dest} l ON l.node = e.y GROUP BY e.x)
            SELECT s.node, least(s.lab, p.lab) AS lab, p.lab < s.lab AS dropped FROM {dest} s JOIN p ON p.node = s.node"""
        )
        dropped = con.execute("SELECT count(*) FILTER (WHERE dropped) FROM _dn_lab_p").fetchall()[0][0]
        con.execute(
            f"""CREATE OR REPLACE TABLE {dest} AS SELECT a.node, b.lab FROM _dn_lab_p a JOIN _dn_lab_p b
            ON b.node = a.lab"""
        )
        con.execute("DROP TABLE _dn_lab_p")
        if not dropped:
            return rounds


def resolve(
    con: Any,
    *,
    links: str,
    dest: str,
    threshold: float,
    sigs: Any,
    exact: Any,
    agreement: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> None:
    """``dest`` (``rid``, ``crid``, ``j``): each member attached to a representative ``crid`` and its Jaccard
    with it (exact where its estimate was within ``exact``'s margin), from the verified links table ``links``
    (``a`` < ``b``; every row in it has a signature, read through ``sigs``). Rows not in ``dest`` are their own
    representatives. Drops ``links``."""
    import pyarrow as pa

    con.execute(f"CREATE OR REPLACE TABLE {dest} (rid BIGINT, crid BIGINT, j DOUBLE)")
    cur = links
    while con.execute(f"SELECT count(*) FROM {cur}").fetchall()[0][0]:
        components(con, cur, "_dn_lab")
        con.execute("CREATE OR REPLACE TABLE _dn_act (rid BIGINT)")  # members not attached: the next round's rows
        held: list[tuple[np.ndarray, np.ndarray]] = []
        q = "SELECT node, lab FROM _dn_lab WHERE node <> lab"
        for rb in con.cursor().sql(q).to_arrow_reader(BATCH):
            m, r = rb.column(0).to_numpy(), rb.column(1).to_numpy()
            est = agreement(sigs.rows(m), sigs.rows(r))
            unsure = (est < exact.hi) & (est >= exact.lo)
            held.append((m[unsure], r[unsure]))
            ok = ~unsure & (est >= threshold - 1e-9)
            _append(con, pa, dest, m[ok], r[ok], est[ok])
            _append(con, pa, "_dn_act", m[~unsure & ~ok])
        um = np.concatenate([h[0] for h in held]) if held else np.zeros(0, dtype=np.int64)
        ur = np.concatenate([h[1] for h in held]) if held else np.zeros(0, dtype=np.int64)
        del held
        j = exact.jaccard(um, ur)
        ok = j >= threshold - 1e-9
        _append(con, pa, dest, um[ok], ur[ok], j[ok])
        _append(con, pa, "_dn_act", um[~ok])
        con.execute("DROP TABLE _dn_lab")
        nxt = "_dn_links_a" if cur != "_dn_links_a" else "_dn_links_b"
        con.execute(
            f"""CREATE OR REPLACE TABLE {nxt} AS SELECT a, b FROM {cur}
            SEMI JOIN _dn_act x ON x.rid = {cur}.a SEMI JOIN _dn_act y ON y.rid = {cur}.b"""
        )
        con.execute(f"DROP TABLE {cur}")
        con.execute("DROP TABLE _dn_act")
        cur = nxt
    con.execute(f"DROP TABLE {cur}")


def _append(con: Any, pa: Any, table: str, *cols: np.ndarray) -> None:
    """Append the rows ``cols`` (one array per column, in the table's order) to ``table``."""
    if not len(cols[0]):
        return
    con.register("_dn_app", pa.table({f"c{i}": c for i, c in enumerate(cols)}))
    con.execute(f"INSERT INTO {table} SELECT * FROM _dn_app")
    con.unregister("_dn_app")
