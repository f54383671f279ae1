"""The per-batch pieces of headless apply's passes (:mod:`app.export.headless`).

Which of the recipe's columns come from the input, from a signal family or from another source
(:func:`plan_columns`, on the first batch); each pass-1 batch's scratch row without the text
(:func:`batch_columns`); and pass 2, the second streaming read that collects the kept documents by ordinal
(:func:`collect_second_pass`); an engine worker's share of pass 1 (:func:`score_batch`). Kept apart from the driver so :func:`app.export.headless.apply_headless` reads
top-down: set up, pass 1, select, pass 2, write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from typing import Any

from app.decontam.headless import columns_for as _decon_columns
from app.engine.columns import to_arrow
from app.errors import ExportError, MissingDependency, RecipeError
from app.export.meter import Meter

#: Documents scored per call: progress moves at least this often.
SLICE = 2048
#: DuckDB's memory limit for the scratch database and its readers unless ``WINNOW_HEADLESS_MEMORY`` says
#: otherwise. 128 MB, not 512: the driver's peak is its base plus what DuckDB holds, and DuckDB fills its pool
#: up to the limit before it spills, so a larger limit is memory a 1M-document run uses and a 300,000-document
#: one does not. The bench recipe, ``-j 2``, peak at 300,000 -> 1M documents: 572 -> 708 MiB under 256 MB,
#: 518 -> 582 under 128 MB (+12%, 73 CPU-s at 1M against 70).
DEFAULT_MEMORY = "128MB"


def memory_limit(*, default: str = DEFAULT_MEMORY) -> str:
    """A headless scratch database's DuckDB memory limit: ``WINNOW_HEADLESS_MEMORY``, else ``default``.

    The one reader of that variable: headless apply takes :data:`DEFAULT_MEMORY`; ``winnow diff`` passes its own
    default (its whole work is one join of two id sets, which a larger pool keeps off the disk)."""
    return os.environ.get("WINNOW_HEADLESS_MEMORY", default)


def input_paths(spec: str) -> list[str]:
    """The local paths an input spec names (a glob expanded), so ``--overwrite`` never replaces them."""
    import glob

    if spec.startswith("hf:"):
        return []
    return glob.glob(os.path.expanduser(spec)) or [spec]


def check_options(*, fmt: str, shard_size: int | None, tokens: str) -> None:
    """ExportError for an unknown format or token count, or a shard size below one (before reading anything)."""
    from app.export import FORMATS

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if shard_size is not None and shard_size < 1:
        raise ExportError("--shard-size must be a positive number of documents")
    if tokens not in ("size_tokens", "estimate"):
        raise ExportError(f"unknown token count {tokens!r}; choose size_tokens or estimate")


def streamable(recipe: Any, *, single_pass: bool | None, instruct: Any) -> bool:
    """Whether the kept documents can be collected during the first and only pass: rules only (no dedup,
    balancing or sampling, no quantile, no ``instruct_*`` signals), so each document's fate is known from its own
    values; ``single_pass=False`` forces two passes."""
    return (
        single_pass is not False
        and not recipe.dedup.exact
        and not recipe.dedup.near
        and not recipe.dedup.semantic
        and not recipe.balance
        and recipe.sample is None
        and instruct is None
        and all(r.per_document for r in recipe.rules)
    )


def no_rows(cols: dict[str, Any], *, from_scratch: list[str], instruct: Any) -> Any:
    """An empty selection with the scratch columns' types (from the first batch's ``cols``, else the
    ``instruct_*`` columns' own), so that an empty output still has the input's columns."""
    import pyarrow as pa

    return pa.table(
        {
            "_ord": pa.array([], pa.int64()),
            "id": pa.array([], pa.string()),
            **{c: pa.array([], cols[c].type if c in cols else instruct.arrow_type(c)) for c in from_scratch},
        }
    )


def families_for(columns: list[str]) -> tuple[dict[str, str], list[str]]:
    """``({column: family}, unknown columns)`` for the signal columns a recipe reads."""
    if not columns:
        return {}, []
    try:
        from app.signals.engine import column_families
    except ImportError:
        return {}, list(columns)
    fams = column_families()
    return {c: fams[c] for c in columns if c in fams}, [c for c in columns if c not in fams]


def stats_dict(st: Any) -> dict[str, Any]:
    """A reader's counts (read, ingested, skipped by reason) as the manifest's ``read`` block."""
    return {"read": int(st.read), "ingested": int(st.ingested), "skipped": dict(st.skipped or {})}


def kept_columns(tbl: Any) -> list[str]:
    """Input columns a kept document carries into the output (not ``text_hash`` or ``_file``/``_row``)."""
    return [c for c in tbl.column_names if c != "text_hash" and not c.startswith("_")]


@dataclasses.dataclass
class Columns:
    """Where the recipe's columns come from: ``meta`` input fields, ``families`` ``{column: signal family}``,
    ``from_scratch`` output columns the input lacks (carried from the scratch table into the kept rows)."""

    meta: list[str]
    families: dict[str, str]
    from_scratch: list[str]


def plan_columns(
    present: set[str],
    *,
    wanted: list[str],
    extra: list[str],
    decon: Any,
    learned: Any,
    target: Any,
    ins: Any,
    models: str | None,
) -> Columns:
    """On the first batch (its columns ``present``): which ``wanted`` columns the input has and which signals
    compute the rest; a column nothing can compute is a RecipeError naming it (and what would compute it)."""
    computed = set(_decon_columns(decon, wanted, present)) | set(learned.columns if learned else [])
    computed |= {target.column} if target else set()
    computed |= set(ins.columns) if ins else set()
    meta = [c for c in wanted if c in present and c not in computed]
    fam_of, unknown = families_for([c for c in wanted if c not in present and c not in computed])
    if unknown:
        raise RecipeError(
            f"headless apply cannot compute {', '.join(unknown)}: not an input field, not a "
            "document-scope signal (corpus-scope signals need a workspace) and not a column of a "
            + (f"model stored in {models}" if models else "trained model (give --models WS)")
            + (
                "; size_tokens_NAME needs --tokenizer PATH --tokenizer-name NAME"
                if any(c.startswith("size_tokens_") for c in unknown)
                else ""
            )
        )
    return Columns(meta=meta, families=fam_of, from_scratch=[c for c in extra if c not in present])


def batch_columns(
    tbl: Any,
    texts: list[Any],
    *,
    stexts: list[Any],
    scores: dict[str, Any],
    ord0: int,
    cols_of: Columns,
    decon: Any,
    learned: Any,
    target: Any,
) -> dict[str, Any]:
    """One pass-1 batch's scratch columns (no text): ordinal, id, source, text hash, size in characters of the
    texts the signals see (``stexts``), the input's fields, ``size_tokens`` (popped from ``scores``) and the
    signal, benchmark, model and target-tokenizer columns."""
    import pyarrow as pa

    cols: dict[str, Any] = {
        "_ord": pa.array(range(ord0, ord0 + tbl.num_rows), pa.int64()),
        "id": tbl.column("id"),
        "source": tbl.column("source"),
        "text_hash": tbl.column("text_hash")
        if "text_hash" in tbl.column_names
        else pa.array([hashlib.md5(t.encode("utf-8")).hexdigest() for t in texts]),
        "size_chars": pa.array([len(t) for t in stexts], pa.int64()),
    }
    for c in cols_of.meta:  # a field missing from a later file reads as NULL there
        cols[c] = tbl.column(c) if c in tbl.column_names else pa.nulls(tbl.num_rows)
    if "size_tokens" in scores:
        cols["size_tokens"] = pa.array(scores.pop("size_tokens"), pa.int64())
    for c in cols_of.families:
        cols[c] = pa.array(scores[c])
    if decon is not None:  # the decontam scorer's values, from the in-memory benchmark index
        cols.update({c: pa.array(v) for c, v in decon.score(texts).items()})
    if learned is not None:  # trained models' columns, from the models stored in --models WS
        cols.update({c: pa.array(v) for c, v in learned.score(texts).items()})
    if target is not None:  # the target model's tokens (--tokenizer)
        cols[target.column] = pa.array(target.score(texts), pa.int64())
    return cols


def collect_second_pass(con: Any, *, reader: Any, meter: Any, collect: Callable[[Any, Any, int], None]) -> None:
    """Pass 2: read the input again, one batch at a time, and ``collect(batch, kept rows, first ordinal)`` the
    rows of the scratch table ``kept`` (ordered by ``_ord``) that fall in each batch."""
    import pyarrow as pa

    base = 0
    for batch in reader:
        tbl = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        meter.start_batch()
        n = tbl.num_rows
        got = con.sql(
            "SELECT * FROM kept WHERE _ord >= $a AND _ord < $b ORDER BY _ord", params={"a": base, "b": base + n}
        ).to_arrow_table()
        collect(tbl, got, base)
        base += n
        meter.report(1.0)


def score_slices(
    texts: list[str],
    families: list[str],
    tokens: dict[str, bool],
    meter: Meter | None,
    options: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list]:
    """The recipe's signal families (with ``options``: the transforms section's segmentation) and ``size_tokens``
    for ``texts``, in slices of :data:`SLICE` so that
    progress moves while a large batch is scored. Without the tokenizer, tokens fall back to the
    characters / 4 estimate (``tokens["ok"]`` turns False), as in a workspace where ``size`` is not scored."""
    from app.signals.engine import score_texts
    from app.signals.size import count_tokens

    out: dict[str, list] = {}
    n = len(texts)
    for a in range(0, n, SLICE):
        part = texts[a : a + SLICE]
        got = score_texts(part, families, options=options) if families else {}
        if tokens["ok"] and "size_tokens" not in got:
            try:
                got["size_tokens"] = count_tokens(part)
            except MissingDependency:
                tokens["ok"] = False
        for k, v in got.items():
            out.setdefault(k, []).extend(v)
        if meter is not None:
            meter.report(min(a + SLICE, n) / n)
    if not n and meter is not None:
        meter.report(1.0)
    return out


def signatures(texts: list[Any]) -> list[bytes]:
    """The ``dedup_near`` scorer's MinHash signatures of ``texts`` (in slices of :data:`SLICE`)."""
    from app.signals.dedup_near import signature_blobs

    texts = ["" if t is None else t for t in texts]  # as the scorer reads a NULL text
    return [b for a in range(0, len(texts), SLICE) for b in signature_blobs(texts[a : a + SLICE])]


#: the key under which an engine worker returns a batch's MinHash signatures (never a signal column)
NEAR_SIG = "__near_signatures"


#: the exact-duplicate key of each document, computed where its batch is scored (:func:`exact_keys`)
EXACT_COL = "dup_exact_cluster"


def exact_keys(texts: list[str]) -> Any:
    """The exact-duplicate key of each of ``texts`` (Arrow strings, in order): :data:`EXACT_NORM_SQL`, the
    expression the workspace path uses, run by an in-memory DuckDB on one thread, so that both paths give the
    same key byte for byte. It was computed by the driver's scratch database as each batch was stored: 12.5 µs
    a document (the whitespace ``regexp_replace``; 1.5 s per 125,000 realmix documents), a part of the
    driver's share of the work that no worker could take."""
    import duckdb
    import pyarrow as pa

    from app.recipes.sqlparts import EXACT_NORM_SQL

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")  # in the input's order
        con.register("_texts", pa.table({"text": pa.array(texts, pa.string())}))
        return con.sql(f"SELECT {EXACT_NORM_SQL} FROM _texts").to_arrow_table().column(0).combine_chunks()
    finally:
        con.close()


def score_batch(
    texts: list[str],
    families: list[str],
    tokens_ok: bool,
    near: bool = False,
    semantic: str | None = None,
    clean: dict[str, Any] | None = None,
    exact: bool = False,
) -> tuple[dict[str, Any], bool]:
    """An engine worker's share of pass 1: the signals of one batch (and its MinHash signatures under
    :data:`NEAR_SIG` when the recipe dedups near duplicates, its exact-duplicate keys under :data:`EXACT_COL`
    when it dedups exact ones), and whether the tokenizer was there. The global steps (clustering) stay with
    the driver, over the scratch table that spills to disk."""
    flag = {"ok": tokens_ok}
    if clean is not None:  # transforms.score: cleaned (app.transforms.export.worker_texts)
        from app.transforms.export import worker_options, worker_texts

        out = score_slices(worker_texts(texts, clean), families, flag, None, worker_options(clean, families))
    else:
        out = score_slices(texts, families, flag, None)
    # the columns go back as the Arrow arrays the driver builds from them: a few buffers to pickle, not 100,000s
    # of numbers; the driver's pa.array(...) returns them unchanged (app.engine.columns)
    out = to_arrow(out, {"size_tokens": "int64"})
    if near:
        out[NEAR_SIG] = signatures(texts)
    if exact:
        out[EXACT_COL] = exact_keys(texts)
    if semantic is not None:  # "" = the default embedder (app.export.semantic)
        from app.export.semantic import SEM_VEC, embed_batch

        out[SEM_VEC] = embed_batch(texts, semantic or None)
    return out, flag["ok"]
