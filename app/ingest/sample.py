"""``winnow ingest --sample N --seed S``: a seeded random sample across every shard and source.

``--limit N`` keeps the first N documents in file order (the first shards only). A sample instead keeps
the N documents whose key ``md5(seed || 0x1f || id)`` is smallest, over all the documents read: each
document's chance is the same whichever file or source it came from, the same seed and input give the
same documents on every run and with either reader (ids are the same), and a different seed gives a
different sample. The N-th smallest key is found by DuckDB's top-N (a heap of N keys: memory bounded by
N, not by the corpus); every staged row above it is deleted. Ties on the key are broken by id.
"""

from __future__ import annotations

from typing import Any

from app.errors import IngestError
from app.sql import qi

#: the SQL of a document's sampling key; documented in the README and recorded in the ingest spec
KEY_SQL = "md5(concat(CAST($seed AS VARCHAR), chr(31), id))"
KEY_DOC = "md5(seed || 0x1f || id)"


def check_sample(sample: int | None, seed: int | None, limit: int | None) -> None:
    """Reject option combinations that cannot mean one thing."""
    if sample is None:
        if seed is not None:
            raise IngestError("--seed needs --sample N")
        return
    if sample < 1:
        raise IngestError("--sample must be a positive number")
    if limit is not None:
        raise IngestError("--sample and --limit cannot be combined (--limit keeps the first N in file order)")


def sample_tables(cur: Any, tables: list[tuple[str, str]], *, n: int, seed: int) -> dict[str, int]:
    """Keep the ``n`` documents with the smallest sampling key across ``tables`` ([(source, table)]),
    deleting the others in place. Returns ``{source: documents removed}`` (0 for each when there are at
    most ``n`` documents in all)."""
    removed = {name: 0 for name, _t in tables}
    if not tables:
        return removed
    params = {"seed": str(seed)}
    union = " UNION ALL ".join(f"SELECT {KEY_SQL} AS k, id FROM {qi(t)}" for _n, t in tables)
    cut = cur.execute(f"SELECT k, id FROM ({union}) ORDER BY k, id LIMIT 1 OFFSET {int(n) - 1}", params).fetchone()
    if cut is None:
        return removed
    for name, t in tables:
        row = cur.execute(
            f"DELETE FROM {qi(t)} WHERE {KEY_SQL} > $k OR ({KEY_SQL} = $k AND id > $id)",
            {**params, "k": cut[0], "id": cut[1]},
        ).fetchone()
        removed[name] += int(row[0]) if row else 0
    return removed
