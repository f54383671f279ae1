"""Headless apply: run a recipe over raw shards that were never ingested, with bounded memory.

Streaming passes over the input (read with :func:`app.ingest.read_documents`, so ids are the ones
``winnow ingest`` would give):

1. score: for each batch, compute only the signal families the recipe reads
   (:func:`app.signals.engine.score_texts`) and ``size_tokens`` with the ``size`` scorer's own counter
   (:func:`app.signals.size.count_tokens`, so token counts equal the workspace's), and append
   ``(ord, id, source, text_hash, size_chars, size_tokens, needed columns)`` - no text - to a scratch
   DuckDB file inside the temporary output directory.
2. select: the recipe is compiled by :func:`app.recipes.compile_recipe` over that scratch table, exactly as
   over a workspace's ``corpus``: quantile thresholds are resolved over all the input documents, dedup and
   balancing see every document.
3. collect: the kept documents (whole rows) are appended to a scratch table - during pass 1 when every rule
   is per-document (one pass), else on a second read matched by ordinal.
4. write: the same :func:`app.export.copy_selection` as the workspace export (``ORDER BY id``, same shard
   names and sizes), so the same decisions over the same documents give byte-identical data files. DuckDB
   sorts within its memory limit and spills to the scratch directory past it.

Near dedup: pass 1 also computes each document's MinHash signature with the ``dedup_near`` scorer's
own :func:`app.signals.dedup_near.signature_blobs` into a scratch table (which spills like the rest); before
selecting, :func:`app.signals.dedup_near.cluster` (the scorer's clustering, at the recipe's ``dedup.near``
threshold, else the default) adds ``dup_near_cluster``
to ``corpus``, so the clusters equal a scored workspace's. Pairs whose estimate is near the threshold are verified
by their exact Jaccard: their texts come from one more streaming read of the input (:func:`_near_clusters`).

Semantic dedup (:mod:`app.export.semantic`): pass 1 also embeds each batch (the fast static embedder, on the
engine's workers when there is one) into a vector file on disk; before selecting, the workspace's PCA, k-means
and SemDeDup run over it in id order (memory-mapped), adding ``semdup_dup_of``/``semdup_is_dup``/``semdup_sim``
to ``corpus``: the duplicates of ``winnow embed --fast`` + ``winnow map`` on the same documents. Not supported
headless: other corpus-scope signals.

Memory bound (the driver's peak RSS, flat in the number of documents): the process's base (Python, Arrow,
DuckDB; the scorers too without an engine), plus DuckDB's limit on the one scratch connection that every
reader shares (``WINNOW_HEADLESS_MEMORY``, :data:`app.export.headless_pass.DEFAULT_MEMORY` = 128 MB; past it
DuckDB spills into the temporary output), plus one batch: the input blocks in flight (8 MB of input each, at
most ``2 x workers`` with an engine), or the clustering's 65,536 rows of signatures and band keys (~40 MB), or
16 MiB of the signature file (:meth:`app.signals._sigfile.SigFile.rows`). Nothing is kept per document in
Python: ids, signatures, clusters and the kept rows are scratch tables or files. Freed heap pages go back to the
OS after every batch and between stages (:mod:`app.engine.memory`). ``tests/test_headless_memory.py`` fails
when per-document state comes back into the driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable
from typing import Any

from app.engine.memory import release as release_memory
from app.errors import ExportError, RecipeError
from app.export import check_out, finish_export, prepare_out, push_to_hub
from app.export import headless_near as hn
from app.export import headless_pass as hp
from app.export import provenance as pv
from app.export.headless_pass import EXACT_COL, NEAR_SIG, exact_keys, score_batch
from app.export.headless_pass import score_slices as _score
from app.export.headless_pass import signatures as _signatures
from app.export.headless_write import manifest_for, source_block, write_kept
from app.export.meter import Meter
from app.recipes.sqlparts import used_params
from app.sql import qi

#: Columns every headless scratch row has (computed here, never by scorers).
BASE = ("id", "source", "text_hash", "size_chars", "size_tokens")


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
    progress: Callable[..., None] | None = None,
    single_pass: bool | None = None,
    tokens: str = "size_tokens",
    benchmarks: dict[str, list[str]] | None = None,
    benchmark_fields: list[str] | None = None,
    benchmark_near: float | None = None,
    models: str | None = None,
    engine: Any = None,
    forecast: dict[str, Any] | None = None,
    semantic_model: str | None = None,
    semantic_eps: float = 0.05,
    tokenizer: str | None = None,
    tokenizer_name: str | None = None,
    schema: str | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Apply ``recipe`` to raw ``inputs`` (paths/globs) without a workspace; returns the manifest.
    ``single_pass``: None picks one pass when the recipe allows it; False forces two (benchmarks, checks).
    ``tokens``: ``size_tokens`` counts tokens with the ``size`` scorer's tokenizer, as a scored workspace
    does; ``estimate`` skips the tokenizer (characters / 4, named so in the manifest) unless the recipe
    reads the ``size`` family anyway. ``benchmarks``: ``{name: [files]}`` read as ``winnow decontam add``
    does; every document gets the ``decon_*`` signals (per document, so one pass still suffices). ``models``: a
    workspace whose trained models (``winnow classify train``, ``winnow lm fit``...) compute the recipe's model
    columns (``clf_*``, ``ppl_*``...) per batch, as :func:`app.learn.store.score_workspace` does there.
    ``engine`` (:func:`app.engine.make_engine`): where pass 1's per-document signals run (local processes, Ray);
    batches come back in input order, so the output files are byte-identical to a run without one.
    ``forecast``: a ``--dry-run`` forecast of this run (:mod:`app.export.plan_check`); the manifest then records
    it next to the time and peak memory the run took (``source.forecast``). ``semantic_model``/``semantic_eps``:
    the embedder (default: the fast static model) and threshold of ``dedup.semantic`` (:mod:`app.export.semantic`). ``tokenizer`` (``tokenizer_name``):
    a local target-model tokenizer computing ``size_tokens_<name>`` per batch, as ``winnow score --tokenizer``
    does in a workspace (a ``mixture:`` counted in it; the manifest cites the tokenizer's sha256). ``schema``:
    ``messages`` writes every record as ``id, source, messages`` (:mod:`app.export.messages`). The ``instruct_*``
    signals a recipe reads are computed over every record after pass 1 (:mod:`app.export.instruct_headless`).
    ``timings``: filled with ``worker_cpu``, the CPU seconds this thread spent on what an engine's workers do
    (signals, signatures, vectors) when no engine ran them: the dry-run's measure of the driver's share."""
    import time

    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    from app.ingest.core import DocumentReader, _append
    from app.recipes import compile_recipe, load_recipe, select_ids_sql, summarize

    hp.check_options(fmt=fmt, shard_size=shard_size, tokens=tokens)
    t_start = time.perf_counter()
    recipe = load_recipe(recipe)
    protect = [p for spec in inputs for p in hp.input_paths(spec)]
    check_out(out, overwrite=overwrite, protect=protect)
    if recipe.dedup.semantic and not 0 < semantic_eps < 1:
        raise RecipeError(f"--semantic-eps must be between 0 and 1, got {semantic_eps}")
    decon = None
    if benchmarks:
        from app.decontam import headless as dh

        decon = dh.load(benchmarks, fields=benchmark_fields, near=benchmark_near)
    target = None
    if tokenizer:  # the target model's tokens, counted per batch (app.signals.tokens_model)
        from app.signals.tokens_model import TargetTokens

        target = TargetTokens(tokenizer, tokenizer_name)
    elif tokenizer_name:
        raise ExportError("--tokenizer-name names the column of --tokenizer PATH; give the tokenizer too")
    mix_tokens = [recipe.mixture.tokens_column] if recipe.mixture and recipe.mixture.tokens_column else []
    wanted_all = [*recipe.signals_used(), *(recipe.output_columns or []), *mix_tokens]
    learned = None
    if models:
        from app.learn.store import ModelColumns

        learned = ModelColumns.from_workspace(models, wanted_all)
    opts = {"source": source, "text_field": text_field, "id_field": id_field, "limit": limit}
    # output columns come from the input or the scratch table; the selection itself does not read them
    from app.export.shape import split

    # annotated rules tag instead of selecting; the mixture comes after the selection (app.export.shape)
    sel_recipe, shape = split(dataclasses.replace(recipe, output_columns=None))
    wanted = list(dict.fromkeys(c for c in wanted_all if c not in (*BASE, "text")))
    from app.export.instruct_headless import InstructColumns

    ins = InstructColumns.for_columns(wanted)  # instruct_* signals: fields kept in pass 1, scored after it
    if schema:  # checked before reading anything
        from app.export import messages as msg

        msg.output_columns(schema, recipe)
    streamable = hp.streamable(recipe, single_pass=single_pass, instruct=ins)
    tx = recipe.transforms  # cleaning steps (app.transforms): kept rows are cleaned when collected
    tx_pipe = tx_stats = tx_dict = None
    memo: dict[str, Any] = {}
    if tx is not None:
        from app.transforms import export as txe
        from app.transforms.spec import Stats

        txe.check_text_column(recipe.output_columns or ["text"])
        tx_pipe, tx_stats = tx.pipeline(), Stats(len(tx.steps))
        tx_dict = tx.to_dict() if tx.cleaned_scoring else None  # sent to engine workers, which clean to score

    def stexts_of(texts: list[Any]) -> list[Any]:
        """The texts the signals see: cleaned (once per batch) with ``transforms.score: cleaned``; exact and
        near dedup, benchmarks and trained models read the text as ingested, as in a workspace."""
        if tx_dict is None:
            return texts
        if memo.get("in") is not texts:
            memo.update({"in": texts, "out": tx_pipe.run(texts)})
        return memo["out"]

    out_path, tmp = prepare_out(out, overwrite=overwrite, protect=protect)
    con = None
    try:
        con = duckdb.connect(str(tmp / "_scratch.duckdb"))
        # bounded memory: the scratch database spills to disk (inside the temporary output) past this
        con.execute(f"SET memory_limit = '{hp.memory_limit()}'")
        con.execute(f"SET temp_directory = '{(tmp / '_spill').as_posix()}'")
        con.execute("SET enable_progress_bar = false")
        # the readers share the scratch database's memory limit (not an unlimited in-memory one each)
        reader = DocumentReader(inputs, **opts, con=con.cursor())
        hasher = pv.InputHasher([i.path for i in reader.inputs])
        fam_of: dict[str, str] = {}
        plan = hp.Columns(meta=[], families={}, from_scratch=[])
        extra = [c for c in (recipe.output_columns or []) if c not in ("id", "source", "text")]
        from_scratch: list[str] = []
        kept_state: dict[str, str] = {}
        counting = {"ok": tokens == "size_tokens"}
        comp = None
        ord0 = 0

        def collect(tbl: Any, got: Any, base: int) -> None:
            """Append the rows of ``tbl`` whose ordinals are in ``got`` (with their scratch columns)."""
            if got.num_rows == 0 and kept_state:
                return
            part = tbl.take(pc.subtract(got.column("_ord"), base))
            if part.column("id").to_pylist() != got.column("id").to_pylist():
                raise ExportError("the input changed between the two passes (ids differ); run again")
            part = part.select(hp.kept_columns(part))
            if tx_pipe is not None:  # the kept documents' cleaned text, counted for the manifest
                part = txe.clean_table(part, tx_pipe, tx_stats)
            for c in from_scratch:
                part = part.append_column(c, got.column(c))
            _append(con, "kept_rows", part, kept_state)  # ingest's own typing: the workspace's column types

        sem = sem_info = None
        if recipe.dedup.semantic:  # the documents' vectors, on disk in input order, deduplicated after pass 1
            from app.export import semantic as sm

            sem = sm.VectorFile(tmp / "_sem_vecs.f32")
        if recipe.dedup.near:  # the documents' MinHash signatures, clustered after pass 1
            hn.create_bands(con)
        # ------------------------------------------------------------ pass 1: score what the recipe needs
        meter = Meter(reader, progress, limit=limit, stage="read+score")
        first: dict[str, Any] = {}

        def setup(tbl: Any) -> list[str]:
            """On the first batch: which wanted columns the input has, which signals compute the rest."""
            nonlocal plan, fam_of, from_scratch
            plan = hp.plan_columns(
                set(tbl.column_names),
                wanted=wanted,
                extra=extra,
                decon=decon,
                learned=learned,
                target=target,
                ins=ins,
                models=models,
            )
            fam_of, from_scratch = plan.families, plan.from_scratch
            first["families"] = sorted(set(fam_of.values()))
            return first["families"]

        sem_model = (semantic_model or "") if sem is not None else None
        worker_cpu = [0.0]

        def scored() -> Any:
            """``(table, texts, scores)`` per input batch, in input order: scored here (the default, with
            progress inside a batch) or on ``engine`` (batches in flight on its workers)."""
            if engine is None:
                for batch in reader:
                    tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                    meter.start_batch()
                    fams = first["families"] if "families" in first else setup(tbl)
                    texts = tbl.column("text").to_pylist()
                    t = time.thread_time()
                    got = _score(stexts_of(texts), fams, counting, meter, tx and tx.signal_options(fams))
                    if recipe.dedup.exact:  # what a worker computes (score_batch), counted as its work
                        got[EXACT_COL] = exact_keys(texts)
                    worker_cpu[0] += time.thread_time() - t
                    yield tbl, texts, got
                return

            def tables() -> Any:
                for batch in reader:
                    tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                    fams = first["families"] if "families" in first else setup(tbl)
                    near = bool(recipe.dedup.near)
                    texts = tbl.column("text").to_pylist()
                    yield tbl, texts, fams, counting["ok"], near, sem_model, tx_dict, bool(recipe.dedup.exact)

            for (tbl, texts, *_), (res, tok_ok) in engine.map_batches(
                score_batch, tables(), arg_index=(1, 2, 3, 4, 5, 6, 7)
            ):
                meter.start_batch()
                counting["ok"] = counting["ok"] and tok_ok
                meter.report(1.0)
                yield tbl, texts, res

        for tbl, texts, scores in scored():
            exact_key = scores.pop(EXACT_COL, None)
            cols = hp.batch_columns(
                tbl,
                texts,
                stexts=stexts_of(texts),
                scores=scores,
                ord0=ord0,
                cols_of=plan,
                decon=decon,
                learned=learned,
                target=target,
            )
            if exact_key is not None:  # the dedup_exact scorer's key, computed where the batch was scored
                cols[EXACT_COL] = exact_key
            t = time.thread_time()  # what the workers do, when they did not
            vecs = sigs = None
            if sem is not None:
                vecs = scores.pop(sm.SEM_VEC) if sm.SEM_VEC in scores else sm.embed_batch(texts, semantic_model)
            if recipe.dedup.near:  # the MinHash signatures: an engine worker's, else computed here
                sigs = scores.pop(NEAR_SIG, None)
                sigs = _signatures(texts) if sigs is None else sigs
            worker_cpu[0] += time.thread_time() - t if engine is None else 0.0
            if sem is not None:
                sem.add(vecs)
            if recipe.dedup.near:
                hn.add_bands(con, ords=cols["_ord"], ids=cols["id"], sigs=sigs, hashes=cols["text_hash"])
            if ins is not None:
                ins.add_batch(con, tbl, cols["_ord"])
            con.register("_batch", pa.table(cols))
            if ord0 == 0:
                con.execute("CREATE TABLE corpus AS SELECT * FROM _batch")
            else:
                con.execute("INSERT INTO corpus BY NAME SELECT * FROM _batch")
            con.unregister("_batch")
            if ord0 == 0:  # an empty selection still has the input's columns
                collect(tbl, hp.no_rows(cols, from_scratch=from_scratch, instruct=ins), 0)
            if streamable:
                comp = comp or compile_recipe(con, sel_recipe, relation="corpus")
                q = (
                    f"SELECT {', '.join(qi(c) for c in ['_ord', 'id', *from_scratch])} FROM corpus"
                    f" WHERE _ord >= $_a AND _ord < $_b AND {comp.where_sql} ORDER BY _ord"
                )
                got = con.sql(q, params={**used_params(q, comp.params), "_a": ord0, "_b": ord0 + tbl.num_rows})
                collect(tbl, got.to_arrow_table(), ord0)
            ord0 += tbl.num_rows
            release_memory()  # freed heap pages back to the OS: RSS flat over the pass (app.engine.memory)
        if timings is not None:
            timings["worker_cpu"] = round(worker_cpu[0], 3)
        stats = hp.stats_dict(reader.stats)
        if ord0 == 0:
            con.execute(
                "CREATE TABLE corpus (_ord BIGINT, id VARCHAR, source VARCHAR, text_hash VARCHAR, size_chars BIGINT,"
                " size_tokens BIGINT)"
            )
            con.execute("CREATE TABLE kept_rows (id VARCHAR, source VARCHAR, text VARCHAR)")
        if recipe.dedup.near:
            hn.near_clusters(
                con,
                threshold=recipe.dedup.near_threshold,
                reread=lambda: DocumentReader(inputs, **opts, con=con.cursor()),
            )
            release_memory()  # the clustering's freed arenas, before the selection's joins and sorts
        ins_info = ins.resolve(con) if ins is not None else None
        if sem is not None:
            sem_info = sm.resolve(con, sem, eps=semantic_eps)
            sem_info["model"] = sm.embedder(semantic_model).key
        passes = 1 if comp is not None else 2
        if comp is None:
            # -------------------------------------------------------- select over every document
            comp = compile_recipe(con, sel_recipe, relation="corpus")
            sql, params = select_ids_sql(comp, columns=["_ord", "id", *from_scratch])
            con.execute(f"CREATE TABLE kept AS SELECT * FROM ({sql}) ORDER BY _ord", params)
            # -------------------------------------------------------- pass 2: collect the kept documents
            reader2 = DocumentReader(inputs, **opts, con=con.cursor())
            meter = Meter(reader2, progress, limit=limit, stage="read kept")
            hp.collect_second_pass(con, reader=reader2, meter=meter, collect=collect)
            con.execute("DROP TABLE kept")
        release_memory()
        summary = summarize(con, recipe, compiled=comp)
        if decon is not None:
            decon.counts(con, relation="corpus", kept_ids="kept_rows")
        n_kept = con.execute("SELECT count(*) FROM kept_rows").fetchall()[0][0]
        if n_kept != summary["kept_docs"]:
            raise ExportError(f"collected {n_kept} documents but the recipe selects {summary['kept_docs']}")
        release_memory()
        # ------------------------------------------------------------ write: the workspace's own writer
        written = write_kept(
            con,
            recipe=recipe,
            comp=comp,
            shape=shape,
            tmp=tmp,
            fmt=fmt,
            schema=schema,
            shard_size=shard_size,
            progress=progress,
            n_kept=n_kept,
        )
        con.close()
        con = None
        for p in tmp.glob("_scratch.duckdb*"):
            p.unlink(missing_ok=True)
        shutil.rmtree(tmp / "_spill", ignore_errors=True)
        fams, source = source_block(
            inputs=inputs,
            stats=stats,
            passes=passes,
            families=set(fam_of.values()),
            token_column=summary["token_column"],
            decon=decon,
            ins=ins,
            ins_info=ins_info,
            learned=learned,
            target=target,
            sem_info=sem_info,
        )
        tx_block = txe.manifest_block(tx, tx_stats, sorted(fams - {"decontam"})) if tx is not None else {}
        manifest = finish_export(
            tmp,
            out_path,
            written.dest,
            written.rows,
            n_kept=written.n_rows,
            fmt=fmt,
            manifest=lambda files: manifest_for(
                files,
                recipe=recipe,
                comp=comp,
                summary=summary,
                shape=shape,
                written=written,
                head=tx_block,
                fmt=fmt,
                shard_size=shard_size,
                source=source,
                hasher=hasher,
                families=fams,
                tx=tx,
                forecast=forecast,
                t_start=t_start,
                engine=engine,
            ),
        )
    except BaseException:
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if push_to_hub_repo:
        manifest["pushed_to"] = push_to_hub(out_path, push_to_hub_repo, fmt=fmt)
    return manifest
