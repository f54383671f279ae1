"""Benchmarks for headless apply: read from files, indexed in memory, matched batch by batch.

``winnow apply --input ... --benchmark NAME=FILE`` has no workspace to register benchmarks in, so the files
are read here with the same reader and rendering as ``winnow decontam add``
(:func:`app.decontam.store.read_benchmark`) and indexed with the same
:func:`app.decontam.store.index_from_rows`; :meth:`HeadlessBenchmarks.score` gives a batch the same
``decon_*`` values the ``decontam`` scorer writes in a workspace. Every value depends only on the document
and the benchmarks, so a rule on ``decon_max_overlap`` stays per-document and headless apply keeps one pass.
Memory is the index (bounded by the benchmark size), built once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.decontam import DecontamError
from app.decontam.index import DEFAULT_N, HIT_OVERLAP, BenchIndex

#: the columns the ``decontam`` scorer writes, computed here per batch (the last only with near matching)
COLUMNS = ("decon_hits", "decon_max_overlap", "decon_benchmarks", "decon_near_jaccard")
NEAR_COLUMN = "decon_near_jaccard"


def parse_specs(specs: list[str]) -> dict[str, list[str]]:
    """``NAME=FILE`` options as ``{name: [files]}`` (a repeated name adds files to that benchmark)."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise DecontamError(f"--benchmark {spec!r}: expected NAME=FILE")
        out.setdefault(name.strip(), []).append(path.strip())
    return out


@dataclass
class HeadlessBenchmarks:
    """The in-memory index of some benchmark files and what the manifest says about them."""

    index: BenchIndex
    items: list[tuple[str, str]]
    #: per benchmark: name, files (path, bytes, sha256), fields, items, units, skipped, hash
    entries: list[dict[str, Any]] = field(default_factory=list)

    def score(self, texts: list[Any]) -> dict[str, list[Any]]:
        """``decon_hits``, ``decon_max_overlap``, ``decon_benchmarks`` (and with near matching
        ``decon_near_jaccard``) of each text (None reads as '')."""
        m = self.index.match(["" if t is None else str(t) for t in texts])
        out = {
            "decon_hits": m.hits.tolist(),
            "decon_max_overlap": m.max_overlap.tolist(),
            "decon_benchmarks": list(m.benchmarks),
        }
        if m.near_jaccard is not None:
            out[NEAR_COLUMN] = m.near_jaccard.tolist()
        return out

    def counts(self, con: Any, *, relation: str, kept_ids: str) -> None:
        """Add ``documents`` (input documents matching one of its items) and ``kept_documents`` (those the
        recipe kept) to each entry, from ``relation`` (with ``decon_benchmarks``) and ``kept_ids`` (ids)."""
        for e in self.entries:
            cond = "list_contains(string_split(decon_benchmarks, ','), ?)"
            e["documents"] = con.execute(f"SELECT count(*) FROM {relation} WHERE {cond}", [e["name"]]).fetchall()[0][0]
            e["kept_documents"] = con.execute(
                f"SELECT count(*) FROM {relation} WHERE {cond} AND id IN (SELECT id FROM {kept_ids})", [e["name"]]
            ).fetchall()[0][0]


def load(
    benchmarks: dict[str, list[str]],
    *,
    fields: list[str] | None = None,
    n: int = DEFAULT_N,
    hit: float = HIT_OVERLAP,
    near: float | None = None,
) -> HeadlessBenchmarks:
    """Read ``{name: [files]}`` as ``winnow decontam add`` would and index them once (with ``near``, a
    Jaccard threshold, light rewrites count too, as ``winnow decontam run --near J``)."""
    from app.decontam.store import check_name, content_hash, index_from_rows, read_benchmark
    from app.export.provenance import file_entry
    from app.ingest.sources import resolve

    if not benchmarks:
        raise DecontamError("no benchmark given")
    rows: list[tuple[str, str, str, str]] = []
    entries: list[dict[str, Any]] = []
    for raw, files in benchmarks.items():
        name = check_name(raw)
        if any(e["name"] == name for e in entries):
            raise DecontamError(f"benchmark {name!r} is given twice")
        got = read_benchmark([str(f) for f in files], fields=fields)
        inputs, _ignored = resolve([str(f) for f in files], source="benchmark")
        entries.append(
            {
                "name": name,
                "files": [{"path": i.path, "hf": i.hf} if i.fmt == "hf" else file_entry(str(i.path)) for i in inputs],
                "fields": got["fields"],
                "items": got["items"],
                "units": len(got["rows"]),
                "skipped": got["skipped"],
                "hash": content_hash(got["rows"]),
            }
        )
        rows.extend((name, iid, f, t) for iid, f, t in got["rows"])
    index, items = index_from_rows([e["name"] for e in entries], rows, n=n, hit=hit, near=near)
    entries.sort(key=lambda e: e["name"])
    for e in entries:
        e.update(n=n, hit=hit, near=index.near.threshold if index.near is not None else None)
    return HeadlessBenchmarks(index=index, items=items, entries=entries)


def columns_for(decon: HeadlessBenchmarks | None, wanted: list[str], present: set[str]) -> list[str]:
    """The ``decon_*`` columns headless apply computes: all of them when benchmarks are given (overriding
    input fields of the same name); a clear error when the recipe reads one and no benchmark is given."""
    from app.errors import RecipeError

    if decon is not None:
        if decon.index.near is not None:
            return list(COLUMNS)
        if NEAR_COLUMN in wanted and NEAR_COLUMN not in present:
            raise RecipeError(f"the recipe reads {NEAR_COLUMN}: add --benchmark-near J (near matching)")
        return [c for c in COLUMNS if c != NEAR_COLUMN]
    need = [c for c in wanted if c in COLUMNS and c not in present]
    if need:
        raise RecipeError(
            f"headless apply computes {', '.join(need)} only against benchmark files: "
            "add --benchmark NAME=FILE (benchmarks={name: [files]})"
        )
    return []
