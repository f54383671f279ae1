"""Headless apply: run a recipe over raw shards that were never ingested, with bounded memory.

Two streaming passes over the input (read with :func:`app.ingest.read_documents`, so ids are the ones
``winnow ingest`` would give):

1. score: for each batch, compute only the signal families the recipe reads
   (:func:`app.signals.engine.score_texts`), and append ``(ord, id, source, text_hash, size_chars,
   needed columns)`` - no text - to a scratch DuckDB file inside the temporary output directory.
2. select and write: the recipe is compiled by :func:`app.recipes.compile_recipe` over that scratch
   table, exactly as over a workspace's ``corpus``: quantile thresholds are resolved over all the input
   documents, exact dedup keeps the smallest id per normalised text, balancing and sampling see every survivor.
   The kept ordinals are then matched batch by batch on a second read and written in input order.

So the kept set equals the workspace path's for the same documents. Not supported headless: near and
semantic dedup (they need MinHash/embedding indexes over the whole corpus: ingest and score instead) and
other corpus-scope signals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.errors import ExportError, RecipeError
from app.export import (
    FORMATS,
    build_manifest,
    check_out,
    file_entries,
    finalize_out,
    prepare_out,
    push_to_hub,
    shard_name,
    to_hf,
    write_manifest,
)
from app.recipes.compile import EXACT_NORM_SQL, used_params
from app.sql import qi

#: Columns every headless scratch row has (computed here, never by scorers).
BASE = ("id", "source", "text_hash", "size_chars")


def _families_for(columns: list[str]) -> tuple[dict[str, str], list[str]]:
    """``({column: family}, unknown columns)`` for the signal columns a recipe reads."""
    if not columns:
        return {}, []
    try:
        from app.signals.engine import column_families
    except ImportError:
        return {}, list(columns)
    fams = column_families()
    return {c: fams[c] for c in columns if c in fams}, [c for c in columns if c not in fams]


def _input_paths(spec: str) -> list[str]:
    """The local paths an input spec names (a glob expanded), so ``--overwrite`` never replaces them."""
    import glob

    if spec.startswith("hf:"):
        return []
    return glob.glob(os.path.expanduser(spec)) or [spec]


def _batches(srcs: list[str], opts: dict[str, Any]) -> Iterator[Any]:
    from app.ingest import read_documents

    reader = read_documents(srcs, **opts)
    yield from reader
    _batches.last_stats = reader.stats  # type: ignore[attr-defined]


def _stats_dict(st: Any) -> dict[str, Any]:
    if st is None:
        return {}
    return {
        "read": int(getattr(st, "read", 0)),
        "ingested": int(getattr(st, "ingested", 0)),
        "skipped": dict(getattr(st, "skipped", {}) or {}),
    }


class _Writer:
    """Streams Arrow tables into shards of one format with fixed settings (no timestamps)."""

    def __init__(self, dest: Path, fmt: str, n_rows: int | None, shard_size: int | None):
        self.dest, self.fmt = dest, fmt
        self.ext = FORMATS[fmt][0]
        #: None: the total is not known yet (single pass): shards get temporary names until finish()
        self.known = n_rows is not None
        self.shard_size = shard_size or (max(n_rows, 1) if n_rows is not None else 1 << 62)
        self.n_shards = max(1, math.ceil(n_rows / self.shard_size)) if n_rows is not None else 0
        self.i = -1
        self.in_shard = 0
        self.rows: dict[str, int] = {}
        self._pq = None
        self._fh: Any = None
        self._raw: Any = None

    def _open(self) -> None:
        self.close()
        self.i += 1
        self.in_shard = 0
        name = shard_name(self.i, self.n_shards, self.ext) if self.known else f"part-{self.i:05d}.{self.ext}"
        self.name = name
        self.rows[name] = 0
        path = self.dest / name
        if self.ext == "parquet":
            self._pq = None
            self._path = path
        else:
            self._raw = open(path, "wb")  # noqa: SIM115 (closed in close())
            if self.fmt == "jsonl.gz":
                self._fh = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            elif self.fmt == "jsonl.zst":
                import zstandard

                self._fh = zstandard.ZstdCompressor(level=3).stream_writer(self._raw, closefd=False)
            else:
                self._fh = self._raw

    def write(self, tbl: Any) -> None:
        import pyarrow.parquet as pq

        start = 0
        while start < tbl.num_rows:
            if self.i < 0 or self.in_shard >= self.shard_size:
                self._open()
            take = min(self.shard_size - self.in_shard, tbl.num_rows - start)
            part = tbl.slice(start, take)
            if self.ext == "parquet":
                if self._pq is None:
                    self._pq = pq.ParquetWriter(self._path, part.schema, compression="zstd", write_statistics=True)
                self._pq.write_table(part, row_group_size=100_000)
            else:
                buf = io.StringIO()
                for row in part.to_pylist():
                    buf.write(json.dumps(row, ensure_ascii=False, default=str, separators=(",", ":")))
                    buf.write("\n")
                self._fh.write(buf.getvalue().encode("utf-8"))
            self.in_shard += take
            self.rows[self.name] += take
            start += take

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._fh is not None:
            self._fh.close()
            if self._raw is not None and self._raw is not self._fh:
                self._raw.close()
            self._fh = self._raw = None

    def finish(self, schema: Any) -> None:
        """Close the last shard; an empty selection still gets one (empty) file."""
        import pyarrow as pa

        if self.i < 0:
            self._open()
            if self.ext == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_batches([], schema=schema), self._path, compression="zstd")
        self.close()
        if not self.known:
            n = len(self.rows)
            final = {}
            for i, (name, rows) in enumerate(self.rows.items()):
                new = shard_name(i, n, self.ext)
                (self.dest / name).rename(self.dest / new)
                final[new] = rows
            self.rows = final


def apply_headless(
    recipe: Any,
    inputs: list[str],
    out: str | os.PathLike,
    *,
    fmt: str = "parquet",
    shard_size: int | None = None,
    overwrite: bool = False,
    source: str | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    limit: int | None = None,
    push_to_hub_repo: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    single_pass: bool | None = None,
) -> dict[str, Any]:
    """Apply ``recipe`` to raw ``inputs`` (paths/globs) without a workspace; returns the manifest.
    ``single_pass``: None picks one pass when the recipe allows it; False forces two (benchmarks, checks)."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    from app import __version__
    from app.recipes import compile_recipe, load_recipe, select_ids_sql, summarize

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if shard_size is not None and shard_size < 1:
        raise ExportError("--shard-size must be a positive number of documents")
    recipe = load_recipe(recipe)
    protect = [p for spec in inputs for p in _input_paths(spec)]
    check_out(out, overwrite=overwrite, protect=protect)
    if recipe.dedup.near or recipe.dedup.semantic:
        raise RecipeError(
            "headless apply supports exact dedup only; near/semantic dedup need a workspace "
            "(winnow ingest, winnow score, then winnow apply --workspace)"
        )
    opts = {"source": source, "text_field": text_field, "id_field": id_field, "limit": limit}
    # output columns come from the input or the scratch table; the selection itself does not read them
    sel_recipe = dataclasses.replace(recipe, output_columns=None)
    wanted = [c for c in [*recipe.signals_used(), *(recipe.output_columns or [])] if c not in (*BASE, "text")]
    wanted = list(dict.fromkeys(wanted))

    out_path, tmp = prepare_out(out, overwrite=overwrite, protect=protect)
    con = None
    try:
        con = duckdb.connect(str(tmp / "_scratch.duckdb"))
        # bounded memory: the scratch database spills to disk (inside the temporary output) past this
        con.execute(f"SET memory_limit = '{os.environ.get('WINNOW_HEADLESS_MEMORY', '1GB')}'")
        con.execute(f"SET temp_directory = '{(tmp / '_spill').as_posix()}'")
        con.execute("SET enable_progress_bar = false")
        # ------------------------------------------------------------ pass 1: score what the recipe needs
        fam_of: dict[str, str] = {}
        meta_cols: list[str] = []
        ord0 = 0
        first = True
        schema = None
        # rules only (no quantile, dedup, balancing or sampling): each document's fate is known from its own
        # values, so the kept documents are written during the first and only pass
        streamable = (
            single_pass is not False
            and not recipe.dedup.exact
            and not recipe.balance
            and recipe.sample is None
            and all(r.min_quantile is None and r.max_quantile is None for r in recipe.rules)
        )
        comp = writer = None
        dest = tmp / "_parquet" if fmt == "hf" else tmp
        dest.mkdir(exist_ok=True)
        extra = [c for c in (recipe.output_columns or []) if c not in ("id", "source", "text")]
        from_scratch: list[str] = []
        out_cols: list[str] = []
        state = {"done": 0, "schema": None}

        def emit(tbl: Any, got: Any, base: int) -> None:
            """Write the rows of ``tbl`` whose ordinals are in ``got`` (with their scratch columns)."""
            if got.num_rows == 0:
                return
            part = tbl.take(pc.subtract(got.column("_ord"), base))
            if part.column("id").to_pylist() != got.column("id").to_pylist():
                raise ExportError("the input changed between the two passes (ids differ); run again")
            cols = {}
            for c in out_cols:
                if c in from_scratch:
                    cols[c] = got.column(c)
                elif c in part.column_names:
                    cols[c] = part.column(c)
                else:
                    raise ExportError(f"output column {c!r} is not in the input")
            chunk = pa.table(cols)
            state["schema"] = chunk.schema
            writer.write(chunk)
            state["done"] += chunk.num_rows

        def output_columns() -> list[str]:
            if recipe.output_columns:
                return list(recipe.output_columns)
            names = schema.names if schema is not None else ["id", "source", "text"]
            return ["id", "source", "text"] + [
                c for c in names if c not in ("id", "source", "text", "text_hash") and not c.startswith("_")
            ]

        for batch in _batches(inputs, opts):
            tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            if first:
                first = False
                schema = tbl.schema
                present = set(tbl.column_names)
                meta_cols = [c for c in wanted if c in present]
                fam_of, unknown = _families_for([c for c in wanted if c not in present])
                if unknown:
                    raise RecipeError(
                        f"headless apply cannot compute {', '.join(unknown)}: not an input field and not a "
                        "document-scope signal (corpus-scope signals need a workspace)"
                    )
            texts = tbl.column("text").to_pylist()
            cols: dict[str, Any] = {
                "_ord": pa.array(range(ord0, ord0 + tbl.num_rows), pa.int64()),
                "id": tbl.column("id"),
                "source": tbl.column("source"),
                "text_hash": tbl.column("text_hash")
                if "text_hash" in tbl.column_names
                else pa.array([hashlib.md5(t.encode("utf-8")).hexdigest() for t in texts]),
                "size_chars": pa.array([len(t) for t in texts], pa.int64()),
            }
            for c in meta_cols:  # a field missing from a later file reads as NULL there
                cols[c] = tbl.column(c) if c in tbl.column_names else pa.nulls(tbl.num_rows)
            if fam_of:
                from app.signals.engine import score_texts

                scores = score_texts(texts, sorted(set(fam_of.values())))
                for c in fam_of:
                    cols[c] = pa.array(scores[c])
            body = "*"
            if recipe.dedup.exact:  # the dedup_exact scorer's key, computed in DuckDB from the text
                cols["text"] = tbl.column("text")
                body = f"* EXCLUDE (text), {EXACT_NORM_SQL} AS dup_exact_cluster"
            con.register("_batch", pa.table(cols))
            if ord0 == 0:
                con.execute(f"CREATE TABLE corpus AS SELECT {body} FROM _batch")
            else:
                con.execute(f"INSERT INTO corpus BY NAME SELECT {body} FROM _batch")
            con.unregister("_batch")
            if streamable:
                if comp is None:
                    comp = compile_recipe(con, sel_recipe, relation="corpus")
                    from_scratch = [c for c in extra if c not in tbl.column_names]
                    out_cols = output_columns()
                    writer = _Writer(dest, "parquet" if fmt == "hf" else fmt, None, shard_size)
                q = (
                    f"SELECT {', '.join(qi(c) for c in ['_ord', 'id', *from_scratch])} FROM corpus"
                    f" WHERE _ord >= $_a AND _ord < $_b AND {comp.where_sql} ORDER BY _ord"
                )
                got = con.sql(q, params={**used_params(q, comp.params), "_a": ord0, "_b": ord0 + tbl.num_rows})
                emit(tbl, got.to_arrow_table(), ord0)
            ord0 += tbl.num_rows
            if progress:
                progress(ord0, None, "apply" if streamable else "score")
        stats = _stats_dict(getattr(_batches, "last_stats", None))
        if first:
            con.execute(
                "CREATE TABLE corpus (_ord BIGINT, id VARCHAR, source VARCHAR, text_hash VARCHAR, size_chars BIGINT)"
            )
        passes = 1 if comp is not None else 2
        if comp is not None:  # single pass: already written
            summary = summarize(con, recipe, compiled=comp)
            n_kept = summary["kept_docs"]
        else:
            # -------------------------------------------------------- select over every document
            comp = compile_recipe(con, sel_recipe, relation="corpus")
            summary = summarize(con, recipe, compiled=comp)
            from_scratch = [c for c in extra if schema is None or c not in schema.names]
            sql, params = select_ids_sql(comp, columns=["_ord", "id", *from_scratch])
            con.execute(f"CREATE TABLE kept AS SELECT * FROM ({sql}) ORDER BY _ord", params)
            n_kept = con.execute("SELECT count(*) FROM kept").fetchall()[0][0]
            # -------------------------------------------------------- pass 2: write the kept documents
            writer = _Writer(dest, "parquet" if fmt == "hf" else fmt, n_kept, shard_size)
            out_cols = output_columns()
            ord0 = 0
            for batch in _batches(inputs, opts):
                tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                n = tbl.num_rows
                got = con.sql(
                    "SELECT * FROM kept WHERE _ord >= $a AND _ord < $b ORDER BY _ord", params={"a": ord0, "b": ord0 + n}
                ).to_arrow_table()
                emit(tbl, got, ord0)
                ord0 += n
                if progress:
                    progress(state["done"], n_kept, "write")
        out_schema = state["schema"] or pa.schema([(c, pa.string()) for c in out_cols])
        writer.finish(out_schema)
        rows = dict(writer.rows)
        if sum(rows.values()) != n_kept:
            raise ExportError(f"wrote {sum(rows.values())} documents but the recipe selects {n_kept}")
        con.close()
        con = None
        (tmp / "_scratch.duckdb").unlink(missing_ok=True)
        for p in tmp.glob("_scratch.duckdb*"):
            p.unlink(missing_ok=True)
        shutil.rmtree(tmp / "_spill", ignore_errors=True)
        if fmt == "hf":
            to_hf(tmp, [dest / n for n in rows])
            rows = {}
        manifest = build_manifest(
            recipe,
            comp.resolved,
            summary,
            files=file_entries(tmp, rows),
            fmt=fmt,
            shard_size=shard_size,
            columns=out_cols,
            version=__version__,
            source={
                "inputs": list(inputs),
                "read": stats,
                "headless": True,
                "passes": passes,
                "signal_families": sorted(set(fam_of.values())),
            },
        )
        write_manifest(tmp, manifest)
        finalize_out(tmp, out_path)
    except BaseException:
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if push_to_hub_repo:
        manifest["pushed_to"] = push_to_hub(out_path, push_to_hub_repo, fmt=fmt)
    return manifest
