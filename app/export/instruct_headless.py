"""``instruct_*`` signals in headless ``winnow apply --input`` (issue 20): the same families, the same values as in
a workspace, over raw shards that were never ingested.

The ``instruct_*`` families read a record's instruction fields (Alpaca columns or chat turns,
:mod:`app.signals._instruct`) from ``docs`` and two of them count over every record (template frequency,
duplicates across formats), so they are corpus-scope. Headless, pass 1 appends each batch's field columns (only
the ones the families read: ``instruction``/``input``/``output`` and their aliases, a chat column) with the
document's ordinal to a scratch table (DuckDB, spilling to disk like the rest); after pass 1 each family's own
``score_corpus`` runs over a ``docs`` view of that table, and its columns are joined into the scratch ``corpus``
by ordinal. ``instruct_dup_cluster`` is mapped back from ordinals to document ids (the smallest id of the
cluster, as in a workspace).
"""

from __future__ import annotations

from typing import Any

from app.errors import ExportError
from app.sql import qi

PREFIX = "instruct_"
TABLE = "_instruct_docs"


def _field_names() -> set[str]:
    from app.signals._instruct import CHAT, INPUT, INSTRUCTION, OUTPUT

    return {n.lower() for n in (*INSTRUCTION, *INPUT, *OUTPUT, *CHAT)}


class InstructColumns:
    """The ``instruct_*`` columns a headless run computes: collect fields per batch, resolve after pass 1."""

    def __init__(self, families: dict[str, str]) -> None:
        #: ``{column: family}`` of the wanted instruct columns
        self.column_family = families
        self.families = sorted(set(families.values()))
        self._cols: list[str] | None = None
        self._rows = 0

    @classmethod
    def for_columns(cls, columns: list[str]) -> InstructColumns | None:
        """The instruct families behind ``columns`` (a recipe's signals), or None when it reads none."""
        from app.signals.engine import column_families

        fams = column_families()
        mine = {c: fams[c] for c in columns if c in fams and fams[c].startswith(PREFIX)}
        return cls(mine) if mine else None

    @property
    def columns(self) -> list[str]:
        """Every column the families produce (a recipe may read one; the rest come along)."""
        from app.signals.engine import get_scorer

        return [c for f in self.families for c in get_scorer(f).columns]

    def arrow_type(self, column: str) -> Any:
        """The Arrow type of one of the families' columns (from its declared DuckDB type)."""
        import pyarrow as pa

        from app.signals.engine import get_scorer

        typ = next(get_scorer(f).columns[column] for f in self.families if column in get_scorer(f).columns)
        return {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "DOUBLE": pa.float64()}.get(
            typ, pa.bool_()
        )

    def add_batch(self, con: Any, tbl: Any, ords: Any) -> None:
        """Append the batch's field columns (and ordinals, ids) to the scratch table; a field first seen in a
        later file (a chat file after an Alpaca one) becomes a new column, NULL for the earlier records."""
        import duckdb
        import pyarrow as pa

        names = _field_names()
        here = [c for c in tbl.column_names if c.lower() in names]
        data = {"_ord": ords, "_id": tbl.column("id"), **{c: tbl.column(c) for c in here}}
        con.register("_ins_batch", pa.table(data))
        try:
            if self._cols is None:
                con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _ins_batch")
                self._cols = list(here)
            else:
                types = {r[0]: r[1] for r in con.execute("DESCRIBE _ins_batch").fetchall()}
                for c in here:
                    if c not in self._cols:
                        con.execute(f"ALTER TABLE {TABLE} ADD COLUMN {qi(c)} {types[c]}")
                        self._cols.append(c)
                con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM _ins_batch")
        except duckdb.Error as e:
            msg = str(e).splitlines()[0]
            raise ExportError(f"instruction fields {', '.join(here)} differ in type between input files: {msg}") from e
        finally:
            con.unregister("_ins_batch")
        self._rows += tbl.num_rows

    def resolve(self, con: Any, *, options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Run each family over every collected record and add its columns to ``corpus`` (by ordinal)."""
        from app.signals.engine import get_scorer

        if self._cols is None:
            con.execute(f"CREATE OR REPLACE TABLE {TABLE} (_ord BIGINT, _id VARCHAR)")
        fields = ", ".join(qi(c) for c in self._cols or [])
        # ids are ordinals here (unique even if the input repeats an id), zero-padded so min() follows input order
        con.execute(
            f"CREATE OR REPLACE VIEW docs AS SELECT lpad(CAST(_ord AS VARCHAR), 20, '0') AS id"
            f"{', ' + fields if fields else ''} FROM {TABLE}"
        )
        added: list[str] = []
        try:
            for fam in self.families:
                sc = get_scorer(fam)(**(options or {}).get(fam, {}))
                dest = f"_ins_{fam}"
                sc.score_corpus(None, dest=dest, con=con)
                cols = list(sc.columns)
                # instruct_dup_cluster holds an ordinal: the representative's document id replaces it
                sel = ["r._id AS instruct_dup_cluster" if c == "instruct_dup_cluster" else f"s.{qi(c)}" for c in cols]
                rep = (
                    f" LEFT JOIN {TABLE} r ON r._ord = CAST(s.instruct_dup_cluster AS BIGINT)"
                    if "instruct_dup_cluster" in cols
                    else ""
                )
                con.execute(
                    f"CREATE OR REPLACE TABLE corpus AS SELECT c.*, {', '.join(sel)} FROM corpus c"
                    f" LEFT JOIN {qi(dest)} s ON s.id = lpad(CAST(c._ord AS VARCHAR), 20, '0'){rep} ORDER BY c._ord"
                )
                con.execute(f"DROP TABLE {qi(dest)}")
                added += cols
        finally:
            con.execute("DROP VIEW IF EXISTS docs")
        con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        return {"families": self.families, "columns": added, "fields": list(self._cols or [])}
