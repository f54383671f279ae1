"""Rows with the same text clustered once: the near-duplicate clustering's groups of exact copies.

Why: a corpus's exact copies (big groups in real crawls; every text ~185 times in a 10M corpus cycled from
realmix) put all their rows into each of their band buckets, so the band-key table, the candidate pairs, the
links and the label propagation grew with the copies, not with the distinct texts. Rows with the same text have
the same signature, so the same band keys, estimates and exact Jaccards with every other row: the clustering
takes one row per group (its smallest ``rid``, ``g``) and every other row of the group follows it afterwards.

Equal to clustering every row: the group's first row has the group's smallest ``rid``, so a component's smallest
row (its representative) is the first row of a group; the representative's copies are attached to it with the
Jaccard of identical signatures, 1.0 (as their estimate, or their exact Jaccard above a threshold whose margin
passes 1); the copies of an attached row are attached to the same representative with the same Jaccard, and the
copies of a row left for the next round of attachment are left with it. A group is rows with equal ``key``
(``text_hash``) and equal signature hash, so different signatures are never merged; rows without a key or
without a signature, and signatures without a band key, stay alone as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import SignalError
from app.signals._sigfile import SigFile
from app.sql import qi

#: rows read per batch
BATCH = 65_536


def load(
    con: Any, *, rows_sql: str, carry: Sequence[str], key: str | None, num_perm: int, directory: Path
) -> tuple[int, SigFile]:
    """Read ``rows_sql`` (``id``, ``sig``, the ``carry`` columns, ``key``) once: the narrow columns go to the
    DuckDB table ``_dn_src`` (``src``: the row's position in the read, ``id``, carried columns, ``_dn_k``,
    ``nosig``, ``h``: the signature's hash) and the signatures to a scratch file by position (returned, with the
    number of rows). Why: copying the 512-byte signatures into a DuckDB table cost 4.7 CPU-s at 300,000 rows
    (DuckDB's blob columns), the file is written as it comes."""
    import pyarrow as pa

    from app.signals._sigfile import matrix

    kept = "".join(f", {qi(c)}" for c in carry)
    k = qi(key) if key else "NULL::VARCHAR"
    q = f"SELECT id{kept}, {k} AS _dn_k, sig IS NULL AS nosig, hash(sig) AS h, sig FROM ({rows_sql})"
    n = int(con.execute(f"SELECT count(*) FROM ({rows_sql})").fetchall()[0][0])
    con.execute(f"CREATE OR REPLACE TABLE _dn_src AS SELECT 0::BIGINT AS src, * EXCLUDE (sig) FROM ({q}) LIMIT 0")
    sf = SigFile(directory, n=n, num_perm=num_perm)
    try:
        off = 0
        for rb in con.cursor().sql(q).to_arrow_reader(BATCH):
            if off + rb.num_rows > n:
                raise SignalError("near dedup: the rows to cluster changed while they were read; run again")
            src = np.arange(off, off + rb.num_rows, dtype=np.int64)
            has = ~rb.column("nosig").to_numpy(zero_copy_only=False)
            if has.all():
                sf.write_block(off, matrix(rb.column("sig"), num_perm))
            else:  # a row without a signature reads as zeros (never read: it has no band key)
                block = np.zeros((rb.num_rows, num_perm), dtype="<u4")
                block[has] = matrix(rb.column("sig").filter(pa.array(has)), num_perm)
                sf.write_block(off, block)
            narrow = pa.Table.from_batches([rb]).drop_columns(["sig"])
            con.register("_dn_sb", narrow.add_column(0, "src", pa.array(src)))
            con.execute("INSERT INTO _dn_src SELECT * FROM _dn_sb")
            con.unregister("_dn_sb")
            off += rb.num_rows
    except BaseException:
        sf.close()
        raise
    return off, sf


def rows_sql(*, carried_s: str, carry: Sequence[str], keyed: bool) -> str:
    """The statement creating ``_dn_rows`` (``id``, the carried columns, ``rid``, ``src``, ``nosig``, ``g``) from
    ``_dn_ord`` (the rows' positions in rank order) and ``_dn_src`` (see :func:`load`)."""
    base = (
        f"SELECT s.id{carried_s}, o.rowid::BIGINT AS rid, o.src, s.nosig FROM _dn_ord o JOIN _dn_src s ON s.src = o.src"
    )
    if not keyed:
        return f"CREATE OR REPLACE TABLE _dn_rows AS SELECT *, rid AS g FROM ({base})"
    carried_r = "".join(f", r.{qi(c)}" for c in carry)
    # a hash aggregate over the narrow (key, signature hash, rid) rows: it spills under DuckDB's memory limit
    return f"""CREATE OR REPLACE TABLE _dn_rows AS
    WITH r AS ({base.replace(" FROM _dn_ord", ", s._dn_k AS k, s.h FROM _dn_ord")}),
    grp AS (SELECT k, h, min(rid) AS g FROM r WHERE NOT nosig AND k IS NOT NULL GROUP BY k, h)
    SELECT r.id{carried_r}, r.rid, r.src, r.nosig, coalesce(grp.g, r.rid) AS g
    FROM r LEFT JOIN grp ON grp.k = r.k AND grp.h = r.h AND NOT r.nosig"""


def no_keys(con: Any, rids: np.ndarray, keys: np.ndarray) -> None:
    """Record in ``_dn_nokey`` the groups ``rids`` whose band keys (a row of ``keys``) are all 0 (no band): their
    rows were never candidates of one another, so they stay apart."""
    import pyarrow as pa

    none = ~keys.any(axis=1)
    if none.any():
        con.register("_dn_nk", pa.table({"rid": rids[none].astype(np.int64)}))
        con.execute("INSERT INTO _dn_nokey SELECT * FROM _dn_nk")
        con.unregister("_dn_nk")


def expand(con: Any, *, fin: str) -> None:
    """Replace ``fin`` (``rid``, ``crid``, ``j``: the attached groups, by their first rows) by every attached row:
    a group's rows follow its first row, and the other rows of a group that is its own representative are
    attached to it with Jaccard 1.0. Drops ``_dn_nokey``."""
    con.execute(
        f"""CREATE OR REPLACE TABLE _dn_fin_x AS
        SELECT r.rid, coalesce(f.crid, r.g) AS crid, CASE WHEN f.crid IS NULL THEN 1.0 ELSE f.j END::DOUBLE AS j
        FROM _dn_rows r LEFT JOIN {fin} f ON f.rid = r.g LEFT JOIN _dn_nokey nk ON nk.rid = r.g
        WHERE f.crid IS NOT NULL OR (r.g <> r.rid AND nk.rid IS NULL)"""
    )
    con.execute(f"DROP TABLE {fin}")
    con.execute("DROP TABLE _dn_nokey")
    con.execute(f"ALTER TABLE _dn_fin_x RENAME TO {fin}")
