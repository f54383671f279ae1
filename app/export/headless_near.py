"""Near dedup in headless apply (:mod:`app.export.headless`): the MinHash signatures of pass 1 and their clusters.

Pass 1 appends each batch's signatures (the ``dedup_near`` scorer's own, computed by the driver or sent back by
an engine worker) to a scratch table that spills to disk like the rest; before selecting, the scorer's
clustering adds ``dup_near_cluster``/``dup_near_jaccard`` to ``corpus``, so the clusters equal a scored
workspace's. Kept apart from the passes so the headless driver reads top-down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.engine.memory import release
from app.errors import ExportError

#: the scratch table of pass 1's signatures: ``(_ord, id, sig, text_hash)``
BANDS = "_near_bands"


def create_bands(con: Any) -> None:
    """Create the empty scratch table :data:`BANDS` that pass 1 appends signatures to."""
    con.execute(f"CREATE TABLE {BANDS} (_ord BIGINT, id VARCHAR, sig BLOB, text_hash VARCHAR)")


def add_bands(con: Any, *, ords: Any, ids: Any, sigs: list[bytes], hashes: Any) -> None:
    """Append one batch's MinHash signatures ``sigs`` (with the documents' ordinals, ids and text hashes) to
    :data:`BANDS`. The hash travels with the signature so the clustering reads one table: joining ``corpus``
    for it built a hash table of every document's ordinal and hash (the largest stage at 1M documents: 747 MiB
    against 574 at 300,000 under a 256 MB limit)."""
    import pyarrow as pa

    tbl = pa.table({"_ord": ords, "id": ids, "sig": pa.array(sigs, pa.binary()), "text_hash": hashes})
    con.register("_nb_batch", tbl)
    con.execute(f"INSERT INTO {BANDS} SELECT * FROM _nb_batch")
    con.unregister("_nb_batch")


def near_clusters(con: Any, *, threshold: float | None = None, reread: Callable[[], Any]) -> None:
    """Cluster the signatures (the scorer's :func:`cluster`, at the recipe's ``dedup.near`` threshold, else the
    default) and add ``dup_near_cluster`` and ``dup_near_jaccard`` to ``corpus``. The few documents in pairs
    whose estimate is near the threshold are verified by their exact Jaccard: their texts come from another
    streaming read of the input (``reread()``, one batch in memory, stopping after the last one needed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from app.signals.dedup_near import DEFAULT_THRESHOLD, cluster

    def texts(c: Any, table: str) -> Any:
        last = c.execute(f"SELECT max(_ord) FROM {table}").fetchall()[0][0]
        base = 0
        for batch in reread():
            if last is None or base > last:
                break
            tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            q = f"SELECT rid, _ord, id FROM {table} WHERE _ord >= $a AND _ord < $b ORDER BY _ord"
            got = c.sql(q, params={"a": base, "b": base + tbl.num_rows}).to_arrow_table()
            if got.num_rows:
                part = tbl.take(pc.subtract(got.column("_ord"), base))
                if part.column("id").to_pylist() != got.column("id").to_pylist():
                    raise ExportError("the input changed between the two passes (ids differ); run again")
                yield got.column("rid").to_numpy(), ["" if t is None else t for t in part.column("text").to_pylist()]
            base += tbl.num_rows

    t = DEFAULT_THRESHOLD if threshold is None else threshold
    cluster(
        con,
        rows_sql=f"SELECT _ord, id, sig, text_hash FROM {BANDS}",
        dest="_near",
        carry=("_ord",),
        key="text_hash",  # the copies of a text are clustered once (pass 1's hash of the text)
        threshold=t,
        texts=texts,
    )
    con.execute(f"DROP TABLE {BANDS}")
    release()  # the clustering's freed heap pages back before the join rewrites corpus (app.engine.memory)
    # the two columns join corpus by position: _near sorted by ordinal (narrow rows: DuckDB's sort spills them),
    # then a POSITIONAL JOIN with corpus (stored in ordinal order) streams without a hash table. Rebuilding corpus
    # with a hash join and ORDER BY _ord (a sort carrying every column), or an UPDATE joined to _near, ran out of
    # memory: at 1M documents under a 64 MB limit, and at 10M under the default 128 MB
    n_docs, n_near = con.execute("SELECT (SELECT count(*) FROM corpus), (SELECT count(*) FROM _near)").fetchall()[0]
    if n_docs != n_near:
        raise ExportError(f"near dedup clustered {n_near:,} of {n_docs:,} documents; run again")
    con.execute("CREATE TABLE _near_s AS SELECT _ord, dup_near_cluster, dup_near_jaccard FROM _near ORDER BY _ord")
    con.execute("DROP TABLE _near")
    con.execute(
        "CREATE TABLE _corpus_n AS SELECT c.*, n.dup_near_cluster, n.dup_near_jaccard, c._ord IS NOT DISTINCT FROM"
        " n._ord AS _aligned FROM corpus c POSITIONAL JOIN _near_s n"
    )
    con.execute("DROP TABLE _near_s")
    if con.execute("SELECT count(*) FROM _corpus_n WHERE NOT _aligned").fetchall()[0][0]:
        raise ExportError("near dedup's clusters did not line up with the documents; run again")
    con.execute("ALTER TABLE _corpus_n DROP COLUMN _aligned")
    con.execute("DROP TABLE corpus")
    con.execute("ALTER TABLE _corpus_n RENAME TO corpus")
