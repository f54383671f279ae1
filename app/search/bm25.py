"""Full-text search: a tantivy (BM25) index of every document, kept beside the workspace's DuckDB file.

- :func:`build_index` streams ``id, source, text`` from the ``docs`` view in Arrow batches (bounded memory)
  into a new index under ``<workspace>/fts.tmp``, swaps it into ``<workspace>/fts`` when complete, and records
  what it indexed in ``_meta`` (key ``fts.index``: the documents version, counts, timings).
- :func:`index_state` says ``missing``, ``current`` or ``stale`` (the documents changed since the build:
  a source was ingested again, added or dropped).
- :func:`search` / :func:`search_hits` run a query in tantivy's syntax: words (all required by default),
  ``"exact phrases"``, ``"phrase prefi"*``, ``OR``, ``AND``, ``-excluded``, ``(groups)``, ``source:NAME``.
  Matching is on whole words, case-insensitive, without stemming. Results are ``(id, score)`` best first; the
  score is BM25 summed over the matched fields.

Fields: ``text`` uses tantivy's default analyzer (split on non-alphanumerics, lowercase, drop tokens of 40+
bytes), which sees a run of Chinese or Japanese characters as one "word". So the same text also goes into
``cjk``, analysed by a regex tokenizer that emits each Han/Kana/Hangul character as its own token and drops
everything else while keeping its position: a query's CJK characters become a phrase of single characters,
which matches exactly the documents containing that character sequence (on realmix ``酒店``, ``不错`` and
``房间 -干净`` match the same documents as the ILIKE scan), ranked by BM25 over characters. Queries mixing Latin
words and CJK characters work; no CJK query falls back to a scan. Limit: a CJK phrase that spans other
characters (``酒店，房间``) matches only where the text has those same characters, and a run of more than 4 bytes
of them (``，，``, a Latin word) is a gap no query crosses (``酒店，`` matches 963 documents, ILIKE 966).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import WinnowError, WorkspaceError
from app.sql import qi

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INDEX_DIR",
    "SearchError",
    "build_index",
    "index_info",
    "index_state",
    "ranked_docs",
    "search",
    "search_at",
    "search_hits",
    "write_index",
]

INDEX_DIR = "fts"
META_KEY = "fts.index"
STAMP_FILE = "winnow-fts.json"
FORMAT = 1
BATCH_ROWS = 4096
PREVIEW_CHARS = 200
WRITER_HEAP = 256_000_000
CJK_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
#: one token per CJK character; a run of anything else is one token, dropped when over 4 bytes (its position stays,
#: so a phrase of CJK characters never matches across a sentence of Latin text; short runs such as a comma or a
#: space between CJK characters stay tokens, so a query must repeat them to match across them)
CJK_PATTERN = rf"[{CJK_CLASS}]|[^{CJK_CLASS}]+"
DEFAULT_FIELDS = ["text", "cjk"]
_LOCK = threading.Lock()
#: opened indexes by directory: (build id, tantivy.Index)
_CACHE: dict[str, tuple[str, Any]] = {}


class SearchError(WinnowError):
    """The full-text index is missing or cannot be built or read, or a query is malformed."""


def _tantivy() -> Any:
    try:
        import tantivy
    except ImportError as e:
        from app.errors import MissingDependency

        raise MissingDependency("tantivy", "full-text search") from e
    return tantivy


def _schema(tantivy: Any) -> Any:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("source", stored=True, tokenizer_name="raw", index_option="basic")
    # the first PREVIEW_CHARS characters, stored only: a result list needs no read of the documents' text
    sb.add_bytes_field("preview", stored=True, indexed=False)
    sb.add_text_field("text", stored=False, tokenizer_name="default", index_option="position")
    sb.add_text_field("cjk", stored=False, tokenizer_name="winnow_cjk", index_option="position")
    return sb.build()


def _register(tantivy: Any, index: Any) -> None:
    analyzer = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(CJK_PATTERN))
        # a CJK character is 3-4 bytes in UTF-8; longer runs of other text are dropped, keeping their position
        .filter(tantivy.Filter.remove_long(5))
        .build()
    )
    index.register_tokenizer("winnow_cjk", analyzer)


def index_dir(ws: Any) -> Path:
    return Path(ws.path) / INDEX_DIR


def documents_version(ws: Any) -> str:
    """What the documents are, cheaply: every source's name, document count and ingest time. Re-ingesting,
    adding or dropping a source changes it."""
    cur = ws.cursor()
    try:
        rows = cur.execute("SELECT name, n_docs, ingested_at::VARCHAR FROM sources ORDER BY name").fetchall()
    finally:
        cur.close()
    return json.dumps([list(r) for r in rows], default=str)


def index_info(ws: Any) -> dict[str, Any] | None:
    """What the last build recorded (``_meta`` key ``fts.index``), or None."""
    raw = ws.get_meta(META_KEY)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def index_state(ws: Any) -> str:
    """``missing`` (never built, or its files are gone), ``current`` or ``stale`` (documents changed since)."""
    info = index_info(ws)
    stamp = _stamp(index_dir(ws))
    if not info or not stamp:
        return "missing"
    if stamp.get("build") != info.get("build") or info.get("format") != FORMAT:
        return "stale"
    return "current" if info.get("version") == documents_version(ws) else "stale"


# ---------------------------------------------------------------- build
def build_index(ws: Any, *, progress: Any = None) -> dict[str, Any]:
    """Index every document of ``docs`` (``id, source, text``) into ``<workspace>/fts``; returns a summary.

    Documents are read in Arrow batches of 4,096 rows and handed to tantivy's writer (its own threads, a
    256 MB heap), so memory stays bounded whatever the corpus size. The new index is built beside the old one
    and swapped in only when complete; searches keep using the old one until then. What was indexed (the
    documents version) is recorded in ``_meta`` for :func:`index_state`."""
    if ws.read_only:
        raise WorkspaceError(f"workspace {ws.path} is open read-only; building the index records it in the workspace")
    version = documents_version(ws)
    cur = ws.cursor()
    try:
        info = write_index(cur, index_dir(ws), version=version, progress=progress)
        ws.set_meta(META_KEY, json.dumps(info), con=cur)
    finally:
        cur.close()
    if progress:
        progress(info["documents"], info["documents"], "done")
    return {"workspace": str(ws.path), "index": str(index_dir(ws)), **{k: v for k, v in info.items() if k != "version"}}


def write_index(con: Any, dest: Path, *, version: str = "", progress: Any = None) -> dict[str, Any]:
    """Build an index of ``SELECT id, source, text FROM docs`` on ``con`` into ``dest`` (atomically replaced).
    Returns what was built (also written to ``dest/winnow-fts.json``). :func:`build_index` is the usual entry;
    this one also serves a read-only workspace (the benchmark) since it records nothing in the database."""
    tantivy = _tantivy()
    t0 = time.perf_counter()
    dest = Path(dest)
    root = dest.parent
    total = int(con.execute("SELECT count(*) FROM docs").fetchall()[0][0])
    for old in root.glob(f"{dest.name}.tmp-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = root / f"{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    n = 0
    chars = 0
    try:
        index = tantivy.Index(_schema(tantivy), path=str(tmp))
        _register(tantivy, index)
        writer = index.writer(WRITER_HEAP, max(1, min(4, os.cpu_count() or 2)))
        if progress:
            progress(0, total, "index")
        Document = tantivy.Document
        add = writer.add_document
        reader = con.sql("SELECT id, source, text FROM docs").to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            ids = batch.column(0).to_pylist()
            srcs = batch.column(1).to_pylist()
            texts = batch.column(2).to_pylist()
            for i, s, t in zip(ids, srcs, texts, strict=True):
                t = t or ""
                chars += len(t)
                add(Document(id=i, source=s or "", text=t, cjk=t, preview=t[:PREVIEW_CHARS].encode()))
            n += len(ids)
            if progress:
                progress(n, total, "index")
        if progress:
            progress(n, total, "commit")
        writer.commit()
        writer.wait_merging_threads()
        info = {
            "format": FORMAT,
            "build": uuid.uuid4().hex,
            "version": version,
            "documents": n,
            "characters": chars,
            "bytes": sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()),
            "seconds": round(time.perf_counter() - t0, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / STAMP_FILE).write_text(json.dumps(info), encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with _LOCK:
        if dest.exists():
            old = root / f"{dest.name}.old-{uuid.uuid4().hex[:8]}"
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)  # open readers keep their (unlinked) files until they let go
        else:
            tmp.rename(dest)
        _CACHE.pop(str(dest.resolve()), None)
    return info


# ---------------------------------------------------------------- search
def _open(path: Path) -> Any:
    """The opened index at ``path`` (cached per build; reopened when a new build is swapped in)."""
    tantivy = _tantivy()
    stamp = _stamp(path)
    if not stamp:
        ws_dir = path.parent
        raise SearchError(f"no full-text index in {ws_dir}: build it with: winnow index --workspace {ws_dir}")
    key = str(path.resolve())
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and hit[0] == stamp.get("build"):
            return hit[1]
        try:
            index = tantivy.Index.open(str(path))
        except (ValueError, OSError) as e:
            raise SearchError(f"cannot open the full-text index in {path}: {_one_line(e)}; rebuild it") from e
        _register(tantivy, index)
        _CACHE[key] = (stamp.get("build"), index)
        return index


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def search_hits(ws: Any, query: str, *, limit: int = 200, conjunction: bool = True) -> dict[str, Any]:
    """Run ``query``; returns ``{"total": matching documents, "hits": [(id, score)...] best first, "rows":
    [{"id", "source", "score", "preview"}...] in the same order}`` (``preview``: the first 200 characters).

    ``conjunction``: plain words are all required (``a b`` = ``a AND b``); ``OR`` and ``-word`` as written.
    A stale index is still searched (the page says so); a missing one raises :class:`SearchError`."""
    return search_at(index_dir(ws), query, limit=limit, conjunction=conjunction)


def search_at(path: Path, query: str, *, limit: int = 200, conjunction: bool = True) -> dict[str, Any]:
    """:func:`search_hits` on the index directory ``path`` (for an index built by :func:`write_index`)."""
    q = (query or "").strip()
    if not q:
        raise SearchError("empty search query")
    index = _open(Path(path))
    try:
        parsed = index.parse_query(q, DEFAULT_FIELDS, conjunction_by_default=conjunction)
    except ValueError as e:
        msg = _one_line(e)
        hint = ""
        if "Field does not exist" in msg:
            hint = " (put words containing ':' in double quotes; fields: source)"
        elif "Only excluding" in msg:
            hint = " (a query needs at least one word that is not excluded)"
        raise SearchError(f"bad search query {q!r}: {msg}{hint}") from e
    searcher = index.searcher()
    try:
        res = searcher.search(parsed, max(1, int(limit)), count=True)
    except ValueError as e:
        raise SearchError(f"search failed for {q!r}: {_one_line(e)}") from e
    rows = []
    for score, addr in res.hits:
        d = searcher.doc(addr)
        rows.append(
            {
                "id": d["id"][0],
                "source": d["source"][0],
                "score": float(score),
                "preview": bytes(d["preview"][0]).decode(),
            }
        )
    return {"total": int(res.count or 0), "hits": [(r["id"], r["score"]) for r in rows], "rows": rows}


def search(ws: Any, query: str, *, limit: int = 200) -> list[tuple[str, float]]:
    """The ``limit`` best documents for ``query`` as ``(id, BM25 score)``, best first (see module doc)."""
    return search_hits(ws, query, limit=limit)["hits"]


def drop_index(ws: Any) -> None:
    """Remove the index files and its ``_meta`` record (used by tests and when a workspace is reset)."""
    path = index_dir(ws)
    with _LOCK:
        _CACHE.pop(str(path.resolve()), None)
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(Exception):
        ws.con.execute("DELETE FROM _meta WHERE key = ?", [META_KEY])


def ranked_docs(
    con: Any, rows: list[dict[str, Any]], *, columns: list[str], order: str | None = None, desc: bool = True
) -> pd.DataFrame:
    """Full-text hits (:func:`search_hits` rows: id, source, score, preview; best first) with the chosen
    signal columns, read from the aggregate relation for those ids only (no text read, no join chain). Ids no
    longer in the workspace (a stale index) are dropped; ``order`` re-sorts the hits by a column."""
    import pandas as pd

    from app.workspace import fast_relation

    cols = [c for c in dict.fromkeys(columns) if c and c not in ("id", "source", "score", "preview")]
    base = pd.DataFrame(rows, columns=["id", "source", "score", "preview"])
    sel = ", ".join(qi(c) for c in ["id", *cols])
    sig = con.execute(
        f"SELECT {sel} FROM {qi(fast_relation(con))} WHERE id IN (SELECT unnest(?::VARCHAR[]))",
        [base["id"].astype(str).tolist()],
    ).df()
    out = base.merge(sig, on="id", how="inner")  # keeps the hits' order
    if order and order in out.columns:
        out = out.sort_values(order, ascending=not desc, na_position="last", kind="stable")
    return out[["id", "score", "source", *cols, "preview"]].reset_index(drop=True)
