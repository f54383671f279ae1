"""The write tail of headless apply (:mod:`app.export.headless`): the kept rows into files, and the manifest.

After the passes, the kept documents sit in the scratch table ``kept_rows``. :func:`write_kept` writes them with
the workspace export's own :func:`app.export.copy_selection` (``ORDER BY id``, same shard names and sizes), so the
same decisions over the same documents give byte-identical data files; :func:`manifest_for` is the manifest
that :func:`app.export.finish_export` writes next to them, with the headless run's source block (inputs, passes,
signal families, what computed the columns) and the provenance of the inputs and signals.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from app.errors import ExportError
from app.export import build_manifest, copy_selection
from app.export import provenance as pv
from app.sql import qi

HASHING = "a separate streamed read of each expanded input file, concurrent with the first pass"


@dataclasses.dataclass
class Written:
    """What :func:`write_kept` wrote: the shards' folder, ``{file: rows}``, the rows and columns written, and the
    manifest's ``schema`` block (empty unless ``--schema``)."""

    dest: Path
    rows: dict[str, int]
    n_rows: int
    columns: list[str]
    schema_block: dict[str, Any]


def write_kept(
    con: Any,
    *,
    recipe: Any,
    comp: Any,
    shape: Any,
    tmp: Path,
    fmt: str,
    schema: str | None,
    shard_size: int | None,
    progress: Any,
    n_kept: int,
) -> Written:
    """Write ``kept_rows`` (the recipe's output columns, else id, source, text and the rest; every record as
    ``id, source, messages`` with ``schema``; shaped by the recipe's mixture/annotations ``shape``) into ``tmp``
    (``tmp/_parquet`` for ``hf``) with the workspace's own writer."""
    have = [r[0] for r in con.execute("DESCRIBE kept_rows").fetchall()]
    out_cols = list(
        recipe.output_columns or ["id", "source", "text", *[c for c in have if c not in ("id", "source", "text")]]
    )
    missing = [c for c in out_cols if c not in have]
    if missing:
        raise ExportError(f"output column {missing[0]!r} is not in the input")
    dest = tmp / "_parquet" if fmt == "hf" else tmp
    dest.mkdir(exist_ok=True)
    sel = f"SELECT {', '.join(qi(c) for c in out_cols)} FROM kept_rows ORDER BY id"
    schema_block: dict[str, Any] = {}
    if schema:  # every record as id, source, messages, as a workspace export writes it
        from app.export import messages as msg

        out_cols = [*msg.output_columns(schema, recipe), "messages"]
        kept_types = {r[0]: r[1] for r in con.execute("DESCRIBE kept_rows").fetchall()}
        sel = f"SELECT id, source, {msg.messages_sql(kept_types)} AS messages FROM kept_rows ORDER BY id"
        schema_block = {"schema": {"name": schema, "without_messages": msg.without_messages(con, sel, {})}}
    sel, sel_params, n_rows, out_cols = shape.apply(con, comp, sel, {}, columns=out_cols, n_kept=n_kept)
    rows = copy_selection(
        con,
        sel,
        sel_params,
        dest,
        fmt="parquet" if fmt == "hf" else fmt,
        n_rows=n_rows,
        shard_size=shard_size,
        progress=progress,
    )
    return Written(dest=dest, rows=rows, n_rows=n_rows, columns=out_cols, schema_block=schema_block)


def manifest_for(
    files: list[dict[str, Any]],
    *,
    recipe: Any,
    comp: Any,
    summary: dict[str, Any],
    shape: Any,
    written: Written,
    head: dict[str, Any],
    fmt: str,
    shard_size: int | None,
    source: dict[str, Any],
    hasher: Any,
    families: set[str],
    tx: Any,
    forecast: dict[str, Any] | None,
    t_start: float,
    engine: Any,
) -> dict[str, Any]:
    """The headless manifest of ``files``: ``head`` (the transforms block), the schema block, then the
    workspace's :func:`app.export.build_manifest` with ``source`` (and the forecast next to what the run took,
    measured now) and the provenance (the inputs' hashes, waited for here; each family's fingerprint)."""
    from app import __version__

    return (
        head
        | written.schema_block
        | shape.extend(
            build_manifest(
                recipe,
                comp.resolved,
                summary,
                files=files,
                fmt=fmt,
                shard_size=shard_size,
                columns=written.columns,
                version=__version__,
                source={**source, **_versus(forecast, t_start, summary, engine)},
                provenance=pv.provenance(
                    recipe,
                    token_column=summary["token_column"],
                    inputs=hasher.result(),
                    input_hashing=HASHING,
                    fingerprints={f: _fingerprint(f, tx and tx.signal_options([f])) for f in families},
                ),
            )
        )
    )


def source_block(
    *,
    inputs: list[str],
    stats: dict[str, Any],
    passes: int,
    families: set[str],
    token_column: str,
    decon: Any,
    ins: Any,
    ins_info: dict[str, Any] | None,
    learned: Any,
    target: Any,
    sem_info: dict[str, Any] | None,
) -> tuple[set[str], dict[str, Any]]:
    """``(signal families whose provenance the manifest cites, the manifest's source block)`` of a headless run:
    its inputs and what they read, its passes, the families it computed and what computed the other columns
    (benchmarks, trained models, the target tokenizer, the semantic embedder)."""
    computed = families | ({"decontam"} if decon else set()) | set(ins.families if ins else [])
    fams = computed | ({"size"} if token_column == "size_tokens" else set())
    source = {
        "inputs": list(inputs),
        "read": stats,
        "headless": True,
        "passes": passes,
        "signal_families": sorted(computed),
        **({"instruct": ins_info} if ins_info else {}),
        **({"benchmarks": decon.entries} if decon else {}),
        **({"models": learned.entries} if learned else {}),
        **({"tokenizer": target.entry} if target else {}),
        **({"semantic": sem_info} if sem_info else {}),
    }
    return fams, source


def _versus(forecast: dict[str, Any] | None, t_start: float, summary: dict[str, Any], engine: Any) -> dict:
    """``{"forecast": ...}``: the dry run's forecast of this run next to what it took (empty without one)."""
    if not forecast:
        return {}
    import resource
    import time

    from app.export.plan_check import versus

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    took = time.perf_counter() - t_start
    workers = engine.workers if engine is not None else 1
    return {"forecast": versus(forecast, took=took, documents=summary["total_docs"], workers=workers, peak_rss=rss)}


def _fingerprint(family: str, options: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The fingerprint of ``family`` with the options headless scoring used (default, or ``options[family]``)."""
    from app.signals.base import get_scorer

    try:
        return get_scorer(family)(**(options or {}).get(family, {})).fingerprint()
    except Exception:
        return None
