"""Diff two exports: which documents one has that the other lacks, in tokens, and which recipe change explains it.

:func:`diff_exports` reads the two ``manifest.json`` files and the kept ids from the data files they list
(DuckDB reads Parquet, JSON lines and their gzip/zstd forms, and a ``datasets`` directory's Arrow files, within a
memory limit, spilling to a scratch directory), joins the id sets and counts added (in B only), removed (in A
only) and unchanged documents per source, and per map cluster when the workspace both exports came from is
available. Tokens come, in this order of preference, from that workspace's ``size_tokens`` (the counter the
manifests used), from a ``size_tokens`` column in the files, or from the text length / 4 (named an estimate).
The recipe differences are the manifests' own recipes and resolved thresholds, matched rule by rule as
:mod:`app.recipes.compare` matches them; the per-rule removal counts of both manifests sit beside them. Files
whose sha256 is the same on both sides are listed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.errors import ExportError, WinnowError
from app.sql import qi, ql

SECTIONS = ("dedup", "balance", "sample", "mixture", "annotate")


#: DuckDB's memory limit for the diff's scratch join unless ``WINNOW_HEADLESS_MEMORY`` says otherwise
DIFF_MEMORY = "512MB"
#: where an export's manifest is: beside the data in ``__winnow__/`` (issue 20), or at the top (older exports)
MANIFEST_NAMES = ("__winnow__/manifest.json", "manifest.json")


def read_manifest(out: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(export directory, manifest)``: the manifest's file paths are relative to the directory."""
    root = Path(out).expanduser()
    if not root.is_dir():
        raise ExportError(f"{root} is not an export directory")
    path = next((root / n for n in MANIFEST_NAMES if (root / n).is_file()), None)
    if path is None:
        raise ExportError(f"{root} has no {' or '.join(MANIFEST_NAMES)}: not a Winnow export")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"cannot read {path}: {e}") from e
    if not isinstance(m, dict) or "winnow_version" not in m or not isinstance(m.get("files"), list):
        raise ExportError(f"{path} is not a Winnow manifest (no winnow_version or files)")
    return root, m


def _data_files(root: Path, m: dict[str, Any]) -> tuple[str, list[Path]]:
    """``(reader kind, data files)`` the manifest lists; ExportError when one is missing."""
    paths = [root / str(f.get("path", "")) for f in m["files"] if isinstance(f, dict)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ExportError(f"{missing[0]} is listed in the manifest but missing")
    fmt = m.get("format")
    if fmt == "hf":
        return "arrow", [p for p in paths if p.suffix == ".arrow"]
    if fmt == "parquet":
        return "parquet", [p for p in paths if p.name.endswith(".parquet")]
    if fmt in ("jsonl", "jsonl.gz", "jsonl.zst"):
        return "json", [p for p in paths if p.name.endswith(f".{fmt}")]
    raise ExportError(f"{root}: unknown export format {fmt!r} in the manifest")


def _load_ids(con: Any, table: str, root: Path, m: dict[str, Any], *, text_tokens: bool) -> str:
    """Create ``table (id, source, _tok)`` from the export's files; returns where ``_tok`` came from."""
    kind, files = _data_files(root, m)
    if kind == "arrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        tables = []
        for p in files:  # memory-mapped; only ids, sources and token counts are kept (never the texts)
            with pa.memory_map(str(p)) as src:
                t = pa.ipc.open_stream(src).read_all()
            part = t.select([c for c in ("id", "source", "size_tokens") if c in t.column_names])
            if text_tokens and "size_tokens" not in t.column_names and "text" in t.column_names:
                part = part.append_column("_chars", pc.utf8_length(t.column("text")))
            tables.append(part)
        data = pa.concat_tables(tables) if tables else pa.table({"id": pa.array([], pa.string())})
        con.register("_diff_src", data)
        rel = "_diff_src"
    elif not files:
        rel = "(SELECT NULL::VARCHAR AS id WHERE false)"
    else:
        lst = "[" + ", ".join(ql(str(p)) for p in files) + "]"
        rel = f"read_parquet({lst})" if kind == "parquet" else f"read_json({lst}, format='newline_delimited')"
    try:
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        if "id" not in cols:
            raise ExportError(f"{root}: the export has no id column, so documents cannot be matched")
        src = "CAST(source AS VARCHAR)" if "source" in cols else "NULL::VARCHAR"
        if "size_tokens" in cols:
            tok, how = "CAST(size_tokens AS BIGINT)", "size_tokens (in the files)"
        elif "_chars" in cols:
            tok, how = "CAST(_chars / 4 AS BIGINT)", "estimate: characters / 4"
        elif "text" in cols and text_tokens:
            tok, how = "CAST(length(text) / 4 AS BIGINT)", "estimate: characters / 4"
        else:
            tok, how = "NULL::BIGINT", "unknown"
        con.execute(
            # a mixture's repeated rows are one document (counted once; its copies are the mixture's business)
            f"CREATE TABLE {table} AS SELECT CAST(id AS VARCHAR) AS id, any_value({src}) AS source,"
            f" any_value({tok}) AS _tok FROM {rel} GROUP BY 1"
        )
    except WinnowError:
        raise
    except Exception as e:
        raise ExportError(f"cannot read the documents of {root}: {str(e).splitlines()[0]}") from e
    finally:
        if kind == "arrow":
            con.unregister("_diff_src")
    return how


def _workspace_for(ma: dict[str, Any], mb: dict[str, Any], workspace: str | None) -> tuple[Any, str | None]:
    """The workspace both exports came from, opened read-only, when its documents still match both
    manifests' fingerprints (or ``workspace`` when given); ``(None, why not)`` otherwise."""
    sa, sb = ma.get("source") or {}, mb.get("source") or {}
    path = workspace or (sa.get("workspace") if sa.get("workspace") == sb.get("workspace") else None)
    if not path:
        return None, "the exports do not come from one workspace"
    from app.workspace import Workspace

    try:
        ws = Workspace.open(path, read_only=True)
    except WinnowError as e:
        return None, str(e)
    fp = ws.fingerprint()
    stale = [s.get("fingerprint") for s in (sa, sb) if s.get("fingerprint") not in (None, fp)]
    if stale and not workspace:
        ws.close()
        return None, f"workspace {path} changed since the exports were made"
    return ws, None


def _rule_key(d: dict[str, Any]) -> tuple:
    kind = "expr" if "expr" in d else "in" if "in" in d else "not_in" if "not_in" in d else "cut"
    return (kind, str(d.get("signal")), str(d.get("by")), str(d.get("expr")))


def recipe_changes(ma: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    """Rules (same/changed/only_a/only_b with thresholds resolved at export time and each side's removal
    counts) and non-rule sections that differ between the two manifests' recipes."""
    ra, rb = ma.get("recipe") or {}, mb.get("recipe") or {}

    def rules(m: dict[str, Any], r: dict[str, Any]) -> list[dict[str, Any]]:
        res = (m.get("resolved") or {}).get("rules") or []
        counts = {x.get("index"): x for x in m.get("rules") or [] if x.get("kind") != "dedup"}
        out = []
        for i, d in enumerate(r.get("rules") or []):
            info = res[i] if i < len(res) else {}
            th = {k: v for k, v in d.items() if k not in ("signal", "by", "expr", "label")}
            th.update({k: info[k] for k in ("min", "max") if info.get(k) is not None})
            c = counts.get(i, {})
            out.append({"key": _rule_key(d), "label": info.get("label") or str(d), "threshold": th, "recipe": d,
                        "removed": c.get("removed"), "removed_only": c.get("removed_only")})  # fmt: skip
        return out

    left, right = rules(ma, ra), rules(mb, rb)
    out: list[dict[str, Any]] = []
    for x in left:
        j = next((k for k, y in enumerate(right) if y["key"] == x["key"]), None)
        row = {"a": x["label"], "a_threshold": x["threshold"], "a_removed": x["removed"]}
        if j is None:
            out.append({"status": "only_a", **row})
            continue
        y = right.pop(j)
        same = x["threshold"] == y["threshold"]  # the same cut under another label is the same rule
        out.append({"status": "same" if same else "changed", **row, "b": y["label"], "b_threshold": y["threshold"],
                    "b_removed": y["removed"]})  # fmt: skip
    out += [
        {"status": "only_b", "b": y["label"], "b_threshold": y["threshold"], "b_removed": y["removed"]} for y in right
    ]
    sections = [{"section": s, "a": ra.get(s), "b": rb.get(s)} for s in SECTIONS if ra.get(s) != rb.get(s)]
    return {"rules": out, "sections": sections, "same_recipe": ra == rb}


def diff_exports(out_a: str | os.PathLike, out_b: str | os.PathLike, *, workspace: str | None = None) -> dict[str, Any]:
    """Compare export ``out_a`` (before) with ``out_b`` (after).

    Returns ``{a, b, added, removed, unchanged: {docs, tokens}, by_source, by_cluster, tokens (where counts
    came from), recipe: {rules, sections, same_recipe}, inputs_changed, files_unchanged, workspace}``."""
    root_a, ma = read_manifest(out_a)
    root_b, mb = read_manifest(out_b)
    import duckdb

    from app.export.headless_pass import memory_limit

    ws, why_not = _workspace_for(ma, mb, workspace)
    scratch = tempfile.TemporaryDirectory(prefix="winnow-diff-")
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit(default=DIFF_MEMORY)}'")
        con.execute(f"SET temp_directory = {ql(scratch.name)}")
        con.execute("SET enable_progress_bar = false")
        how_a = _load_ids(con, "_a", root_a, ma, text_tokens=ws is None)
        how_b = _load_ids(con, "_b", root_b, mb, text_tokens=ws is None)
        cluster, how = "NULL::VARCHAR", how_a if how_a == how_b else f"A: {how_a}; B: {how_b}"
        joined = (
            "SELECT coalesce(a.id, b.id) AS id, coalesce(a.source, b.source) AS source, coalesce(a._tok, b._tok) AS _tok,"
            " a.id IS NOT NULL AS in_a, b.id IS NOT NULL AS in_b FROM _a AS a FULL OUTER JOIN _b AS b ON a.id = b.id"
        )
        if ws is not None:
            rel, tok, cluster = _workspace_columns(con, ws)
            joined = (
                f"SELECT j.id, coalesce(CAST(w.source AS VARCHAR), j.source) AS source, {tok} AS _tok, {cluster} AS _cl,"
                f" j.in_a, j.in_b FROM ({joined}) AS j LEFT JOIN {rel} AS w ON CAST(w.id AS VARCHAR) = j.id"
            )
            how = "size_tokens (workspace)" if "size_tokens" in tok else "estimate: characters / 4 (workspace)"
        else:
            joined = f"SELECT *, NULL::VARCHAR AS _cl FROM ({joined})"
        rows = con.execute(
            f"SELECT source, _cl, in_a, in_b, count(*), coalesce(sum(_tok), 0), count(_tok) FROM ({joined}) GROUP BY ALL"
        ).fetchall()
    except duckdb.Error as e:
        raise ExportError(f"cannot diff the exports: {str(e).splitlines()[0]}") from e
    finally:
        con.close()
        if ws is not None:
            ws.close()
        scratch.cleanup()
    res = _tally(rows)
    res["tokens"] = how
    files_a = {f.get("sha256"): f.get("path") for f in ma["files"]}
    res.update(
        a=_side(out_a, ma),
        b=_side(out_b, mb),
        recipe=recipe_changes(ma, mb),
        inputs_changed=_inputs(ma) != _inputs(mb),
        files_unchanged=[{"path": f.get("path"), "sha256": f.get("sha256")} for f in mb["files"] if f.get("sha256") in files_a],
        workspace=None if ws is None else str(ws.path),
        workspace_note=why_not,
    )  # fmt: skip
    return res


def _workspace_columns(con: Any, ws: Any) -> tuple[str, str, str]:
    """Attach ``ws`` read-only to ``con``: ``(relation, token SQL, cluster SQL)`` over it."""
    from app.workspace import DB_FILE

    con.execute(f"ATTACH {ql(str(Path(ws.path) / DB_FILE))} AS _ws (READ_ONLY)")
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = '_ws'").fetchall()]
    rel = "_ws.main.corpus_fast" if "corpus_fast" in names else "_ws.main.corpus"
    cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
    if "size_tokens" in cols:
        tok = "CAST(w.size_tokens AS BIGINT)"
    elif "size_chars" in cols:
        tok = "CAST(w.size_chars / 4 AS BIGINT)"
    else:
        tok = "j._tok"
    cl = next((c for c in ("map_cluster", "cluster") if c in cols), None)
    return rel, tok, f"CAST(w.{qi(cl)} AS VARCHAR)" if cl else "NULL::VARCHAR"


def _inputs(m: dict[str, Any]) -> Any:
    s = m.get("source") or {}
    return s.get("fingerprint") or (m.get("provenance") or {}).get("inputs")


def _side(out: Any, m: dict[str, Any]) -> dict[str, Any]:
    c = m.get("counts") or {}
    return {
        "path": str(out),
        "recipe_name": (m.get("recipe") or {}).get("name"),
        "recipe_sha256": (m.get("provenance") or {}).get("recipe", {}).get("sha256")
        if isinstance((m.get("provenance") or {}).get("recipe"), dict)
        else None,
        "kept_docs": c.get("kept_docs"),
        "kept_tokens": c.get("kept_tokens"),
        "format": m.get("format"),
    }


def _tally(rows: list[tuple]) -> dict[str, Any]:
    fates = {
        "added": {"docs": 0, "tokens": 0},
        "removed": {"docs": 0, "tokens": 0},
        "unchanged": {"docs": 0, "tokens": 0},
    }
    groups: dict[str, dict[Any, dict[str, int]]] = {"source": {}, "cluster": {}}
    untokened = 0
    for src, cl, in_a, in_b, n, tok, with_tok in rows:
        fate = "unchanged" if in_a and in_b else "removed" if in_a else "added"
        fates[fate]["docs"] += int(n)
        fates[fate]["tokens"] += int(tok)
        untokened += int(n) - int(with_tok)
        for name, key in (("source", src), ("cluster", cl)):
            g = groups[name].setdefault(key, {f"{f}{x}": 0 for f in fates for x in ("", "_tokens")})
            g[fate] += int(n)
            g[f"{fate}_tokens"] += int(tok)

    def table(name: str) -> list[dict[str, Any]]:
        out = [{name: k, **g} for k, g in groups[name].items()]
        return sorted(out, key=lambda d: (-(d["added"] + d["removed"]), str(d[name])))

    return {
        **fates,
        "docs_without_tokens": untokened,
        "by_source": table("source"),
        "by_cluster": table("cluster") if any(k is not None for k in groups["cluster"]) else [],
    }
