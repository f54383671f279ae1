"""Benchmarks kept in a workspace: read from local files, rendered to the texts a model would see, stored.

Files are read with the ingest readers (:func:`app.ingest.sources.resolve`, :func:`app.ingest.formats.raw_batches`:
JSONL, JSON, CSV/TSV, Parquet, ``save_to_disk`` directories; unreadable records are counted as skipped).
Each record is one benchmark item; its chosen fields (``--field``, or the usual question/answer/choices
names) are rendered to text (a list such as ``choices`` becomes one line per element) and the item's units
are each field's text and, when there are several, their concatenation (one field per line).

Tables: ``_decon_benchmarks`` (one row per benchmark: files, fields, items, units, skipped records, content
hash, when added) and ``_decon_units`` (benchmark, item id, field, text; field ``*`` is the concatenation).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.decontam import DecontamError
from app.decontam.index import DEFAULT_N, HIT_OVERLAP, BenchIndex

BENCHMARKS = "_decon_benchmarks"
UNITS = "_decon_units"
#: fields used when none is named, in the order they are rendered
AUTO_FIELDS = ("instruction", "question", "prompt", "problem", "query", "context", "passage", "input",
               "choices", "options", "answer", "output", "response", "solution", "completion", "target", "text")  # fmt: skip
MAX_UNITS = 5_000_000
ALL = "*"


def ensure_tables(con: Any) -> None:
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {BENCHMARKS} (name VARCHAR PRIMARY KEY, files JSON, fields JSON,
        items BIGINT, units BIGINT, skipped JSON, hash VARCHAR, added_at TIMESTAMP)"""
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {UNITS} (benchmark VARCHAR, item_id VARCHAR, field VARCHAR, text VARCHAR)")


def render(value: Any) -> str:
    """A field value as the text a model would see: strings as they are, lists one element per line."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple)):
        return "\n".join(s for s in (render(v) for v in value) if s)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {render(v)}" for k, v in value.items() if render(v))
    return str(value)


def item_units(record: dict[str, Any], fields: list[str]) -> list[tuple[str, str]]:
    """``(field, text)`` units of one record: each non-empty field, plus their concatenation (field ``*``)."""
    parts = [(f, render(record.get(f))) for f in fields]
    parts = [(f, t) for f, t in parts if t]
    out = list(parts)
    if len(parts) > 1:
        out.append((ALL, "\n".join(t for _, t in parts)))
    return out


def read_benchmark(files: list[str], *, fields: list[str] | None = None) -> dict[str, Any]:
    """Read benchmark records from ``files``: ``{rows: [(item_id, field, text)], items, fields, skipped}``."""
    from app.errors import IngestError
    from app.ingest.formats import ROW, raw_batches
    from app.ingest.sources import resolve

    try:
        inputs, _ignored = resolve(list(files), source="benchmark")
    except IngestError as e:
        raise DecontamError(f"cannot read benchmark: {e}") from e
    skipped: dict[str, int] = {}

    def skip(reason: str, _row: int) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    rows: list[tuple[str, str, str]] = []
    items = 0
    chosen: list[str] | None = list(fields) if fields else None
    for inp in inputs:
        try:
            for tbl in raw_batches(inp, skip):
                cols = [c for c in tbl.column_names if c != ROW]
                if chosen is None:
                    chosen = [f for f in AUTO_FIELDS if f in cols]
                    if not chosen:
                        raise DecontamError(
                            f"{inp.rel or inp.path}: no known text field among {', '.join(cols)}; name one with --field"
                        )
                missing = [f for f in chosen if f not in cols]
                if len(missing) == len(chosen):
                    raise DecontamError(
                        f"{inp.rel or inp.path} has none of the fields {', '.join(chosen)} (it has {', '.join(cols)})"
                    )
                has_id = "id" in cols
                for rec in tbl.to_pylist():
                    units = item_units(rec, chosen)
                    if not units:
                        skip("no_text", rec.get(ROW, 0))
                        continue
                    iid = (
                        str(rec["id"])
                        if has_id and rec.get("id") is not None
                        else f"{inp.rel or inp.path}:{rec.get(ROW, items)}"
                    )
                    items += 1
                    rows.extend((iid, f, t) for f, t in units)
                    if len(rows) > MAX_UNITS:
                        raise DecontamError(f"benchmark has more than {MAX_UNITS:,} texts; split it")
        except IngestError as e:
            if inp.fmt == "hf":
                raise DecontamError(hub_error(inp.path, inp.hf, e)) from e
            raise DecontamError(f"cannot read benchmark {inp.rel or inp.path}: {e}") from e
    if not items:
        raise DecontamError(f"no benchmark item with text in {', '.join(files)}")
    return {"rows": rows, "items": items, "fields": chosen or [], "skipped": skipped}


_UNREACHABLE = ("reach", "offline", "connection", "resolve", "timed out", "localentrynotfound", "name or service")


def hub_error(spec: str, info: dict[str, Any] | None, e: Exception) -> str:
    """The one-line error for an ``hf:`` benchmark that cannot be loaded: when the hub cannot be reached
    (offline, no network), say so and how to pass a local file instead; otherwise the loader's reason."""
    reason = str(e)
    if not any(k in reason.lower() for k in _UNREACHABLE):
        return f"cannot read benchmark {spec}: {reason}"
    info = info or {}
    args = ", ".join([repr(info.get("name", "NAME")), *([repr(info["config"])] if info.get("config") else [])])
    return (
        f"benchmark {spec}: the Hugging Face hub cannot be reached (offline or no network), and the dataset is not "
        f"in the local cache; on a connected machine save it, e.g. datasets.load_dataset({args}, "
        f"split={info.get('split') or 'train'!r}).to_json('bench.jsonl'), then pass the file "
        "(or a save_to_disk directory) instead: winnow decontam add NAME bench.jsonl"
    )


def content_hash(rows: list[tuple[str, str, str]]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows):
        h.update("\x1f".join(r).encode("utf-8", "surrogatepass") + b"\x1e")
    return h.hexdigest()[:16]


def check_name(name: str) -> str:
    """``name`` stripped; a one-line error when it is empty or has a comma (``decon_benchmarks`` joins by comma)."""
    name = name.strip()
    if not name or "," in name:
        raise DecontamError("a benchmark name must be non-empty and contain no comma")
    return name


def add_benchmark(ws: Any, name: str, files: list[str], *, fields: list[str] | None = None, replace: bool = False) -> dict[str, Any]:  # fmt: skip
    """Register benchmark ``name`` from ``files`` in ``ws`` (not the signals: see :func:`app.decontam.run`)."""
    import pandas as pd

    from app.workspace import now

    name = check_name(name)
    if ws.read_only:
        raise DecontamError(f"workspace {ws.path} is open read-only")
    ensure_tables(ws.con)
    if not replace and ws.con.execute(f"SELECT 1 FROM {BENCHMARKS} WHERE name = ?", [name]).fetchone():
        raise DecontamError(f"benchmark {name!r} exists; use --replace or another name")
    got = read_benchmark(files, fields=fields)
    rows = got["rows"]
    info = {"name": name, "files": [str(f) for f in files], "fields": got["fields"], "items": got["items"],
            "units": len(rows), "skipped": got["skipped"], "hash": content_hash(rows)}  # fmt: skip
    df = pd.DataFrame(rows, columns=["item_id", "field", "text"])
    with ws.transaction() as cur:
        cur.execute(f"DELETE FROM {UNITS} WHERE benchmark = ?", [name])
        cur.execute(f"DELETE FROM {BENCHMARKS} WHERE name = ?", [name])
        cur.register("_decon_rows", df)
        cur.execute(f"INSERT INTO {UNITS} SELECT ?, item_id, field, text FROM _decon_rows", [name])
        cur.unregister("_decon_rows")
        cur.execute(
            f"INSERT INTO {BENCHMARKS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [name, json.dumps(info["files"]), json.dumps(info["fields"]), info["items"], info["units"],
             json.dumps(info["skipped"]), info["hash"], now()],
        )  # fmt: skip
    return info


def remove_benchmark(ws: Any, name: str) -> None:
    ensure_tables(ws.con)
    if not ws.con.execute(f"SELECT 1 FROM {BENCHMARKS} WHERE name = ?", [name]).fetchone():
        raise DecontamError(f"no benchmark named {name!r}")
    with ws.transaction() as cur:
        cur.execute(f"DELETE FROM {UNITS} WHERE benchmark = ?", [name])
        cur.execute(f"DELETE FROM {BENCHMARKS} WHERE name = ?", [name])


def list_benchmarks(ws: Any) -> list[dict[str, Any]]:
    """Registered benchmarks: name, files, fields, items, units, skipped, hash, added_at."""
    if not ws.has_table(BENCHMARKS):
        return []
    rows = ws.cursor().execute(f"SELECT * FROM {BENCHMARKS} ORDER BY name").fetchall()
    keys = ["name", "files", "fields", "items", "units", "skipped", "hash", "added_at"]
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for d in out:
        for k in ("files", "fields", "skipped"):
            d[k] = json.loads(d[k])
    return out


def benchmarks_hash(con: Any) -> str:
    """One digest of every registered benchmark's content ('' when there is none)."""
    try:
        rows = con.execute(f"SELECT name, hash FROM {BENCHMARKS} ORDER BY name").fetchall()
    except Exception:  # table absent: no benchmark
        return ""
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16] if rows else ""


def load_index(con: Any, *, n: int = DEFAULT_N, hit: float = HIT_OVERLAP,
               near: float | None = None) -> tuple[BenchIndex, list[tuple[str, str]]]:  # fmt: skip
    """The index of every registered benchmark, and ``items[k] = (benchmark, item_id)`` for item number k."""
    ensure_tables(con)
    names = [r[0] for r in con.execute(f"SELECT name FROM {BENCHMARKS} ORDER BY name").fetchall()]
    rows = con.execute(f"SELECT benchmark, item_id, field, text FROM {UNITS}").fetchall()
    return index_from_rows(names, rows, n=n, hit=hit, near=near)


def index_from_rows(names: list[str], rows: list[tuple[str, str, str, str]], *, n: int = DEFAULT_N,
                    hit: float = HIT_OVERLAP, near: float | None = None) -> tuple[BenchIndex, list[tuple[str, str]]]:  # fmt: skip
    """The index of ``rows`` (benchmark, item id, field, text) of benchmarks ``names``, and the item list.
    Shared by the workspace scorer and headless apply, so both number items and units the same way."""
    bidx = {b: i for i, b in enumerate(sorted(names))}
    items: dict[tuple[str, str], int] = {}
    units: list[tuple[int, str]] = []
    for b, iid, _field, text in sorted(rows):
        k = items.setdefault((b, iid), len(items))
        units.append((k, text))
    item_list = list(items)
    index = BenchIndex.build(units, item_bench=[bidx[b] for b, _ in item_list], bench_names=sorted(names), n=n, hit=hit,
                             near=near)  # fmt: skip
    return index, item_list
