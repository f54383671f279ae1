"""Reading documents without a workspace: :class:`DocumentReader` streams normalized Arrow batches of
every input (the Python readers of :mod:`app.ingest.formats` plus the SQL of :mod:`app.ingest.normalize`)
and keeps the accounting in :class:`Stats` (``read = ingested + skipped``, and ``repaired``)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.errors import IngestError
from app.ingest import formats
from app.ingest.formats import ROW
from app.ingest.lazy import LazyModule
from app.ingest.normalize import plan_text, select_sql
from app.ingest.sources import Input, resolve
from app.sql import qi

pa = LazyModule("pyarrow")  # imported on first use: DuckDB's own readers never need it

N_EXAMPLES = 5
#: what to do with a record holding invalid UTF-8 (bad bytes, a lone surrogate escape)
INVALID_UTF8 = ("skip", "replace")


@dataclass
class Stats:
    """Counts of one source (or of a whole read): ``read == ingested + sum(skipped.values())``."""

    read: int = 0
    ingested: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    strict: bool = False
    #: records kept with invalid UTF-8 replaced by U+FFFD (``--invalid-utf8 replace``), a part of ``ingested``
    repaired: Counter = field(default_factory=Counter)
    repaired_examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, where: str, n: int = 1) -> None:
        if self.strict:
            raise IngestError(f"{reason.replace('_', ' ')} at {where} (--strict)")
        self.read += n
        self.skipped[reason] += n
        ex = self.examples.setdefault(reason, [])
        if len(ex) < N_EXAMPLES:
            ex.append(where)

    def drop(self, reason: str, n: int) -> None:
        """``n`` documents read and left out on purpose (``not_in_sample``): skipped, never an error."""
        if n:
            self.ingested -= n
            self.skipped[reason] += n

    def repair(self, reason: str, where: str) -> None:
        self.repaired[reason] += 1
        ex = self.repaired_examples.setdefault(reason, [])
        if len(ex) < N_EXAMPLES:
            ex.append(where)

    def add(self, other: Stats) -> None:
        self.read += other.read
        self.ingested += other.ingested
        self.skipped.update(other.skipped)
        for k, v in other.examples.items():
            ex = self.examples.setdefault(k, [])
            ex.extend(v[: max(0, N_EXAMPLES - len(ex))])
        self.files += other.files
        self.bytes += other.bytes
        self.repaired.update(other.repaired)
        for k, v in other.repaired_examples.items():
            ex = self.repaired_examples.setdefault(k, [])
            ex.extend(v[: max(0, N_EXAMPLES - len(ex))])

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "ingested": self.ingested,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_first": {k: v for k, v in sorted(self.examples.items())},
            "repaired": dict(sorted(self.repaired.items())),
            "repaired_first": {k: v for k, v in sorted(self.repaired_examples.items())},
            "files": self.files,
            "bytes": self.bytes,
        }

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]


def _where(inp: Input, row: int) -> str:
    return f"{inp.rel or inp.path}:{row}"


class DocumentReader:
    """Iterate ``pyarrow.RecordBatch``es of documents (``id, source, text, text_hash``, metadata..., ``_file,
    _row``) from ``srcs``; ``stats`` (all sources) and ``source_stats`` (per source) fill in as it goes."""

    def __init__(
        self,
        srcs: list[str],
        *,
        source: str | None = None,
        text_field: str | None = None,
        id_field: str | None = None,
        limit: int | None = None,
        strict: bool = False,
        invalid_utf8: str = "skip",
        con: Any = None,
    ):
        if limit is not None and limit < 0:
            raise IngestError("--limit must be >= 0")
        if invalid_utf8 not in INVALID_UTF8:
            raise IngestError(f"--invalid-utf8 must be one of {', '.join(INVALID_UTF8)}, not {invalid_utf8!r}")
        self.inputs, self.ignored = resolve(list(srcs), source=source)
        self.text_field, self.id_field, self.limit, self.strict = text_field, id_field, limit, strict
        self.invalid_utf8 = invalid_utf8
        self._con = con
        self.stats = Stats(strict=strict)
        self.source_stats: dict[str, Stats] = {}
        self.plans: dict[str, list[dict[str, Any]]] = {}
        for inp in self.inputs:
            self.source_stats.setdefault(inp.source, Stats(strict=strict))

    @property
    def con(self) -> Any:
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
        return self._con

    def _note_plan(self, inp: Input, plan: Any, cols: dict[str, str]) -> None:
        """Remember how each source's text was made (one entry per distinct way): the field(s), why they
        were chosen, and the field's type when it is not a string (its non-string values are skipped)."""
        entry: dict[str, Any] = {"text": plan.how, "fields": plan.fields, "chosen": plan.chosen}
        t = cols.get(plan.fields[0], "VARCHAR") if plan.how == "field" else "VARCHAR"
        if not t.upper().startswith("VARCHAR"):
            entry["type"] = t
        seen = self.plans.setdefault(inp.source, [])
        if entry not in seen:
            seen.append(entry)

    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.stats.ingested)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for inp in self.inputs:
            if self.remaining() == 0:
                break
            for tbl in self.iter_input(inp):
                yield from tbl.to_batches()

    def iter_input(self, inp: Input, *, con: Any = None) -> Iterator[pa.Table]:
        """Normalized, non-empty documents of one input as Arrow tables (the Python path)."""
        con = con or self.con
        st = self.source_stats[inp.source]
        st.files += 1
        st.bytes += inp.size
        self.stats.files += 1
        self.stats.bytes += inp.size

        def skip(reason: str, row: int) -> None:
            where = _where(inp, row)
            st.skip(reason, where)
            self.stats.skip(reason, where)

        def repair(reason: str, row: int) -> None:
            where = _where(inp, row)
            st.repair(reason, where)
            self.stats.repair(reason, where)

        plan = None
        known: dict[str, str] = {}
        view = f"_winnow_raw_{uuid.uuid4().hex[:8]}"
        where = inp.rel or inp.path
        fix = repair if self.invalid_utf8 == "replace" else None
        for raw in formats.raw_batches(inp, skip, limit=self.remaining(), repair=fix):
            if raw.num_rows == 0:
                continue
            con.register(view, raw)
            try:
                bcols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {qi(view)}").fetchall()}
                if plan is None:
                    plan = plan_text(bcols, text_field=self.text_field, where=where)
                    self._note_plan(inp, plan, bcols)
                needed = [*plan.fields, *([self.id_field] if self.id_field else [])]
                extra = []
                for f in needed:
                    if f in bcols:
                        known.setdefault(f, bcols[f])
                    else:
                        bcols[f] = known.get(f, "VARCHAR")
                        extra.append(f"NULL::{bcols[f]} AS {qi(f)}")
                relation = f"SELECT *{''.join(', ' + e for e in extra)} FROM {qi(view)}"
                sql = select_sql(bcols, plan, relation="_r", id_field=self.id_field, where=where, with_skip=True)
                tbl = con.sql(
                    f"WITH _r AS ({relation}) {sql}", params={"src": inp.source, "file": where}
                ).to_arrow_table()
            finally:
                con.unregister(view)
            tbl = self._account(tbl, inp, st)
            if tbl.num_rows:
                yield tbl
            if self.remaining() == 0:
                return

    def _account(self, tbl: pa.Table, inp: Input, st: Stats) -> pa.Table:
        """Count and drop the rows flagged in ``_skip``; apply ``limit``; return kept rows without ``_skip``."""
        import pyarrow.compute as pc

        flags = tbl.column("_skip")
        n_skip = tbl.num_rows - flags.null_count
        rows = tbl.column(ROW)
        if n_skip:
            bad = pc.is_valid(flags)
            for reason, row in zip(flags.filter(bad).to_pylist(), rows.filter(bad).to_pylist()):
                where = _where(inp, row)
                st.skip(reason, where)
                self.stats.skip(reason, where)
            tbl = tbl.filter(pc.is_null(flags))
        tbl = tbl.drop_columns(["_skip"])
        rem = self.remaining()
        if rem is not None and tbl.num_rows > rem:
            tbl = tbl.slice(0, rem)
        st.read += tbl.num_rows
        st.ingested += tbl.num_rows
        self.stats.read += tbl.num_rows
        self.stats.ingested += tbl.num_rows
        return tbl


def read_documents(
    srcs: list[str],
    *,
    source: str | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    limit: int | None = None,
    strict: bool = False,
    invalid_utf8: str = "skip",
) -> DocumentReader:
    """A streaming reader over ``srcs``: iterate it for ``pyarrow.RecordBatch``es of documents (the ids
    ``winnow ingest`` gives); ``reader.stats`` has ``read, ingested, skipped{reason: n}``."""
    return DocumentReader(
        srcs,
        source=source,
        text_field=text_field,
        id_field=id_field,
        limit=limit,
        strict=strict,
        invalid_utf8=invalid_utf8,
    )
