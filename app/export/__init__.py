"""Exact, reproducible exports of the documents a recipe keeps.

:func:`apply` compiles the recipe with :func:`app.recipes.compile_recipe` (the dashboard's SQL), lets
DuckDB ``COPY`` the selection ``ORDER BY id`` into fixed-setting files (zstd Parquet, JSON lines, gzip or
zstd JSON lines, or a ``datasets`` directory), and writes ``__winnow__/manifest.json`` (resolved recipe, counts before
and after per source and stage, per-rule removals, files with sha256, workspace fingerprint, Winnow version). No
timestamps anywhere: the same workspace and recipe give byte-identical directories.

The manifest lives in the folder ``__winnow__`` beside the data, not among it, so that readers given the export
folder read only the data: pyarrow (``pd.read_parquet(DIR)``) skips names starting with ``_`` or ``.``, and
``datasets.load_dataset("parquet"|"json", data_dir=DIR)`` skips hidden files and folders starting with ``__``
(a top-level ``_manifest.json`` would be read as data by ``datasets``: checked with the real clients in
tests/test_export_readers.py); DuckDB's ``read_parquet('DIR/*.parquet')`` and ``datasets.load_from_disk`` never
look there. Exports by Winnow before issue 20 have ``manifest.json`` at the top; it is still read
(:func:`read_manifest`) and an ``--overwrite`` still recognises them.

Everything is written into a temporary directory beside ``out`` and renamed into place at the end, so a
failed export leaves nothing half-written and nothing is written outside ``out``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import ExportError, WinnowError
from app.sql import qi, ql

FORMATS = {
    "parquet": ("parquet", "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"),
    "jsonl": ("jsonl", "(FORMAT json)"),
    "jsonl.gz": ("jsonl.gz", "(FORMAT json, COMPRESSION gzip)"),
    "jsonl.zst": ("jsonl.zst", "(FORMAT json, COMPRESSION zstd)"),
    "hf": ("parquet", "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"),
}
MANIFEST = "__winnow__/manifest.json"
#: the manifest's name in exports written before issue 20 (read, never written)
LEGACY_MANIFEST = "manifest.json"


def manifest_path(out: str | os.PathLike) -> Path:
    """The manifest of the export at ``out``: ``__winnow__/manifest.json``, or an older export's ``manifest.json``."""
    out = Path(out)
    return (
        out / LEGACY_MANIFEST if not (out / MANIFEST).exists() and (out / LEGACY_MANIFEST).exists() else out / MANIFEST
    )


def read_manifest(out: str | os.PathLike) -> dict[str, Any]:
    """The parsed manifest of the export at ``out`` (either name); ExportError when it is missing or not JSON."""
    p = manifest_path(out)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"{out} has no readable Winnow manifest ({MANIFEST}): {e}") from e


# ---------------------------------------------------------------------- output directory handling
def _foreign_files(out: Path) -> list[str]:
    """Paths under ``out`` that its manifest does not list (everything, when there is no readable Winnow
    manifest): what ``--overwrite`` would delete without having written it."""
    mpath = manifest_path(out)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        listed = {f["path"] for f in manifest["files"]} if "winnow_version" in manifest else None
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    foreign = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        unlisted = p.is_file() and rel != mpath.relative_to(out).as_posix() and (listed is None or rel not in listed)
        if p.is_symlink() or unlisted or not (p.is_dir() or p.is_file()):
            foreign.append(rel)
    if listed is None and not foreign:
        foreign.append(mpath.relative_to(out).as_posix() if mpath.exists() else f"(no {MANIFEST})")
    return foreign


def check_out(out: str | os.PathLike, *, overwrite: bool, protect: list[str | os.PathLike] | tuple = ()) -> Path:
    """``out`` as a Path, or ExportError when it is a file or a non-empty directory (without overwrite).

    ``--overwrite`` only ever replaces a previous Winnow export: a directory whose every file is listed in
    its own manifest (``__winnow__/manifest.json``, or ``manifest.json`` from an older Winnow). It refuses
    ``out`` when it is, or lies above, any path in ``protect`` (the
    workspace, the inputs), the current directory or the home directory, and when it holds anything the
    export did not write, so that a mistyped ``--out`` can never delete a workspace or someone's notes."""
    out = Path(out).expanduser()
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a directory")
        if any(out.iterdir()):
            if not overwrite:
                raise ExportError(f"{out} is not empty; pass --overwrite to replace it")
            real = out.resolve()
            guarded = [Path(p).expanduser().resolve() for p in protect]
            guarded += [Path.cwd().resolve(), Path.home().resolve()]
            for g in guarded:
                if g == real or real in g.parents:
                    raise ExportError(
                        f"refusing to overwrite {out}: it {'is' if g == real else 'contains'} {g}; "
                        "choose an empty or new directory for --out"
                    )
            if (real / "winnow.duckdb").exists():
                raise ExportError(f"refusing to overwrite {out}: it is a Winnow workspace")
            foreign = _foreign_files(real)
            if foreign:
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise ExportError(
                    f"refusing to overwrite {out}: it is not a previous Winnow export (it holds "
                    f"{', '.join(foreign[:3])}{more}, not listed in its {MANIFEST}); "
                    "choose an empty or new directory for --out"
                )
    return out


_TMP_TAG = ".tmp-"


def _remove_stale_tmp(parent: Path, name: str) -> None:
    """Remove ``.NAME.tmp-PID-*`` directories left by an export whose process no longer runs (killed)."""
    for p in parent.glob(f".{name}{_TMP_TAG}*"):
        pid = p.name[len(name) + 1 + len(_TMP_TAG) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def prepare_out(
    out: str | os.PathLike, *, overwrite: bool, protect: list[str | os.PathLike] | tuple = ()
) -> tuple[Path, Path]:
    """Check ``out`` may be written and make a temporary directory beside it: ``(out, tmp)``."""
    out = check_out(out, overwrite=overwrite, protect=protect)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(parent, out.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{_TMP_TAG}{os.getpid()}-", dir=parent))
    except OSError as e:
        raise ExportError(f"cannot write beside {out}: {e.strerror}") from e
    return out, tmp


def finalize_out(tmp: Path, out: Path) -> None:
    """Move ``tmp`` into place as ``out`` (replacing an existing ``out``, which :func:`check_out` has
    established is a previous export), with ordinary directory permissions (umask), not mkdtemp's 0700."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    trash = None
    if out.exists():
        trash = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(trash)
    try:
        tmp.rename(out)
    except OSError as e:
        if trash is not None:
            trash.rename(out)
        raise ExportError(f"cannot move the export into {out}: {e.strerror}") from e
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entries(root: Path, rows: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """``[{path, bytes, sha256, rows?}]`` for every file under ``root`` except the manifest, sorted."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.relative_to(root).as_posix() != MANIFEST:
            rel = p.relative_to(root).as_posix()
            e: dict[str, Any] = {"path": rel, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            if rows and rel in rows:
                e["rows"] = rows[rel]
            out.append(e)
    return out


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False, default=str) + "\n"
    (root / MANIFEST).parent.mkdir(exist_ok=True)
    (root / MANIFEST).write_text(text, encoding="utf-8")


def finish_export(
    tmp: Path,
    out: Path,
    dest: Path,
    rows: dict[str, int],
    *,
    n_kept: int,
    fmt: str,
    manifest: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[str, Any]:
    """The one end of every export (workspace and headless): check the count written against the selection,
    turn Parquet shards into a ``datasets`` directory for ``hf``, list every file with its sha256, write the
    manifest ``manifest(files)`` builds, and move ``tmp`` into place as ``out``. Returns the manifest."""
    written = sum(rows.values())
    if written != n_kept:
        raise ExportError(f"wrote {written} documents but the recipe selects {n_kept}")
    if fmt == "hf":
        to_hf(tmp, [dest / n for n in rows])
        rows = {}
    m = manifest(file_entries(tmp, rows))
    write_manifest(tmp, m)
    finalize_out(tmp, out)
    return m


def shard_name(i: int, n: int, ext: str) -> str:
    return f"data-{i:05d}-of-{n:05d}.{ext}"


# ---------------------------------------------------------------------- writing a selection
def _columns_sql(names: list[str], ext: str) -> str:
    """The output columns; for Parquet each marked nullable. DuckDB writes a column as ``required`` when its
    statistics prove no NULL, which depends on how the table was built (an ingested workspace and a headless
    scratch table differ), so the same values would give different bytes: every column is optional."""
    if ext != "parquet":
        return ", ".join(qi(c) for c in names)
    return ", ".join(f"if({qi(c)} IS NULL, NULL, {qi(c)}) AS {qi(c)}" for c in names)


def copy_selection(
    con: Any,
    sql: str,
    params: dict[str, Any],
    dest: Path,
    *,
    fmt: str,
    n_rows: int,
    shard_size: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, int]:
    """DuckDB ``COPY`` of ``sql`` (already ``ORDER BY id``) into shards under ``dest``: ``{file: rows}``."""
    ext, opts = FORMATS[fmt]
    n_shards = max(1, math.ceil(n_rows / shard_size)) if shard_size else 1
    rows: dict[str, int] = {}
    names = [d[0] for d in con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).description]
    if n_shards == 1:
        name = shard_name(0, 1, ext)
        order = " ORDER BY id" if "id" in names else ""
        q = f"SELECT {_columns_sql(names, ext)} FROM ({sql}){order}"
        res = con.execute(f"COPY ({q}) TO {ql(str(dest / name))} {opts}", params).fetchall()
        rows[name] = int(res[0][0]) if res and res[0] else n_rows
        if progress:
            progress(n_rows, n_rows, "write")
        return rows
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _winnow_export AS SELECT *, row_number() OVER (ORDER BY id) AS _rn FROM ({sql})",
        params,
    )
    try:
        done = 0
        for i in range(n_shards):
            name = shard_name(i, n_shards, ext)
            q = f"SELECT {_columns_sql(names, ext)} FROM _winnow_export WHERE _rn > $a AND _rn <= $b ORDER BY _rn"
            res = con.execute(
                f"COPY ({q}) TO {ql(str(dest / name))} {opts}", {"a": i * shard_size, "b": (i + 1) * shard_size}
            ).fetchall()
            rows[name] = int(res[0][0])
            done += rows[name]
            if progress:
                progress(done, n_rows, "write")
    finally:
        con.execute("DROP TABLE IF EXISTS _winnow_export")
    return rows


def to_hf(tmp: Path, parquet_files: list[Path]) -> None:
    """Turn parquet shards into a ``datasets`` ``save_to_disk`` directory at ``tmp`` (caches stay inside)."""
    try:
        import datasets
    except ImportError as e:
        raise ExportError("--format hf needs the package 'datasets': pip install datasets") from e
    cache = tmp / "_cache"
    with contextlib.suppress(Exception):
        datasets.disable_progress_bars()
    import pyarrow.parquet as pq

    try:
        if sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files) == 0:  # datasets cannot read "no data"
            ds = datasets.Dataset(pq.read_table(parquet_files[0]))
        else:
            ds = datasets.Dataset.from_parquet([str(p) for p in parquet_files], cache_dir=str(cache))
    except Exception as e:
        raise ExportError(f"cannot build the datasets directory: {str(e).splitlines()[0]}") from e
    stage = tmp / "_hf"
    ds.save_to_disk(str(stage), **({"num_shards": 1} if len(ds) == 0 else {}))
    del ds
    shutil.rmtree(cache, ignore_errors=True)
    for p in parquet_files:
        p.unlink()
    shutil.rmtree(tmp / "_parquet", ignore_errors=True)
    for p in stage.iterdir():
        p.rename(tmp / p.name)
    stage.rmdir()


def push_to_hub(out: Path, repo: str, *, fmt: str) -> str:
    """Upload an export to the Hugging Face Hub (needs network and a token; never used in tests)."""
    try:
        if fmt == "hf":
            import datasets

            datasets.load_from_disk(str(out)).push_to_hub(repo)
            from huggingface_hub import HfApi

            HfApi().upload_file(
                path_or_fileobj=str(out / MANIFEST), path_in_repo=MANIFEST, repo_id=repo, repo_type="dataset"
            )
        else:
            from huggingface_hub import HfApi

            HfApi().upload_folder(folder_path=str(out), repo_id=repo, repo_type="dataset")
    except WinnowError:
        raise
    except Exception as e:
        raise ExportError(f"push to the hub repo {repo!r} failed: {str(e).splitlines()[0] if str(e) else e!r}") from e
    return f"https://huggingface.co/datasets/{repo}"


def default_columns(columns: dict[str, str], docs_columns: list[str]) -> list[str]:
    """``id, source, text`` and the source metadata (not the internal ``text_hash`` or signals)."""
    base = ["id", "source", "text"]
    meta = [c for c in docs_columns if c not in (*base, "text_hash") and not c.startswith("_")]
    meta = [c if c in columns else f"meta_{c}" for c in meta]
    return base + [c for c in meta if c in columns]


# ---------------------------------------------------------------------- apply over a workspace
def apply(
    ws: Any,
    recipe: Any,
    out: str | os.PathLike,
    *,
    fmt: str = "parquet",
    shard_size: int | None = None,
    overwrite: bool = False,
    push_to_hub_repo: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    format: str | None = None,
    schema: str | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """Write exactly the documents ``recipe`` keeps from ``ws``'s ``corpus`` into ``out``; returns the
    manifest (also written to ``out/__winnow__/manifest.json``). ``format`` is an alias of ``fmt``.
    ``schema="messages"``: every record as ``id, source, messages`` (:mod:`app.export.messages`).
    ``engine`` (:func:`app.engine.make_engine`): where ``transforms.score: cleaned`` re-scores the cleaned text."""
    from app import __version__
    from app.recipes import compile_recipe, load_recipe, select_ids_sql, summarize

    fmt = format or fmt
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if shard_size is not None and shard_size < 1:
        raise ExportError("--shard-size must be a positive number of documents")
    recipe = load_recipe(recipe)
    protect = [ws.path]
    check_out(out, overwrite=overwrite, protect=protect)  # fail before the expensive part
    con = ws.cursor()
    from app.export.shape import split

    sel_recipe, shape = split(recipe)  # annotated rules tag instead of selecting; the mixture comes last
    tx = recipe.transforms  # cleaning steps (app.transforms): the selection's text is cleaned before writing
    relation, token, rescored = "corpus", None, []
    if tx is not None and tx.cleaned_scoring:  # the signals the recipe reads, recomputed on the cleaned text
        from app.transforms import export as txe

        wanted = [*recipe.signals_used(), *(recipe.output_columns or [])]
        relation, rescored, token = txe.rescore_workspace(con, tx, wanted, progress=progress, engine=engine)
    comp = compile_recipe(con, sel_recipe, relation=relation, token=token)
    summary = summarize(con, sel_recipe, compiled=comp)
    cols = recipe.output_columns or default_columns(comp.columns, list(ws.columns("docs", con)))
    if schema is not None:
        from app.export import messages as msg

        cols = msg.output_columns(schema, recipe)
    sql, params = select_ids_sql(comp, columns=cols)
    extra: dict[str, Any] = {}
    if tx is not None:  # the selected documents' cleaned text (before a mixture repeats or a tag prefixes it)
        from app.transforms import export as txe

        sql, extra["transforms"] = txe.clean_export(con, sql, params, tx, cols, rescored, progress=progress)
    sql, params, n_rows, out_cols = shape.apply(con, comp, sql, params, columns=cols, n_kept=summary["kept_docs"])
    from app.learn.store import entries_for

    if models := entries_for(con, [*recipe.signals_used(), *cols]):  # trained models behind the cut, by hash
        extra["models"] = models
    from app.decontam.report import for_export

    kept_sql, kept_params = select_ids_sql(comp, columns=["id"])
    if (decon := for_export(con, kept_sql, kept_params)) is not None:  # registered benchmarks, before and after
        extra["contamination"] = decon
    if schema is not None:  # one schema for every record; those without instruction fields are counted
        sql, out_cols = msg.wrap(con, sql), [*out_cols, "messages"]
        extra["schema"] = {"name": schema, "without_messages": msg.without_messages(con, sql, params)}
    out_path, tmp = prepare_out(out, overwrite=overwrite, protect=protect)
    try:
        dest = tmp / "_parquet" if fmt == "hf" else tmp
        dest.mkdir(exist_ok=True)
        rows = copy_selection(con, sql, params, dest, fmt=fmt, n_rows=n_rows, shard_size=shard_size, progress=progress)
        from app.export import provenance as pv

        fams = pv.families_of([*recipe.signals_used(), *cols, summary["token_column"]])
        manifest = finish_export(
            tmp,
            out_path,
            dest,
            rows,
            n_kept=n_rows,
            fmt=fmt,
            manifest=lambda files: (
                extra
                | shape.extend(
                    build_manifest(
                        recipe,
                        comp.resolved,
                        summary,
                        files=files,
                        fmt=fmt,
                        shard_size=shard_size,
                        columns=out_cols,
                        version=__version__,
                        source={"workspace": str(ws.path), "fingerprint": ws.fingerprint()},
                        provenance=pv.provenance(
                            recipe,
                            token_column=summary["token_column"],
                            inputs=pv.workspace_inputs(ws),
                            input_hashing=pv.WORKSPACE_HASHING,
                            fingerprints={  # the families re-scored on the cleaned text: as computed
                                **pv.workspace_fingerprints(ws, fams),
                                **(txe.fingerprints(tx, [f for f in rescored if f in fams]) if rescored else {}),
                            },
                        ),
                    )
                )
            ),
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if tx is not None:
            txe.drop_temp(con)
    if push_to_hub_repo:
        manifest["pushed_to"] = push_to_hub(out_path, push_to_hub_repo, fmt=fmt)
    return manifest


def build_manifest(
    recipe: Any,
    resolved: dict[str, Any],
    summary: dict[str, Any],
    *,
    files: list[dict[str, Any]],
    fmt: str,
    shard_size: int | None,
    columns: list[str],
    version: str,
    source: dict[str, Any],
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest: what was selected, from what, by which recipe, into which files (no timestamps).
    ``provenance`` (:func:`app.export.provenance.provenance`): input files by hash, code revision, recipe
    hash, token counter, signal families and their models."""
    return {
        "winnow_version": version,
        "format": fmt,
        "shard_size": shard_size,
        "columns": columns,
        "source": source,
        "recipe": recipe.to_dict(),
        "resolved": resolved,
        "counts": {
            "total_docs": summary["total_docs"],
            "kept_docs": summary["kept_docs"],
            "total_tokens": summary["total_tokens"],
            "kept_tokens": summary["kept_tokens"],
            "tokens": summary["token_column"],
            "token_counter": (provenance or {}).get("tokens", {}).get("counter"),
            "by_source": summary["by_source"],
            "by_lang": summary["by_lang"],
        },
        "rules": summary["rules"],
        "stages": summary["stages"],
        # what a stage could not deliver (a sample shorter than n, a balance cap that emptied values), in words
        "shortfalls": summary.get("shortfalls", []),
        "files": files,
        **({"provenance": provenance} if provenance is not None else {}),
    }
