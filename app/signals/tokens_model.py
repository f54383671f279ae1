"""Tokens in the target model's tokenizer: ``size_tokens_<name>``, so budgets count what the trained model reads.

``size_tokens`` counts the default embedding model's WordPiece tokens; a token budget (``mixture:``) is about the
model being *trained*, whose vocabulary can cost several times more tokens per character in another script
(tokenizer fertility: the reason of the Chinese LLaMA work). The user names a tokenizer that exists locally:

- a ``tokenizer.json`` file (Hugging Face ``tokenizers`` format), or a directory holding one;
- a Hugging Face tokenizer directory without it (``vocab.json`` + ``merges.txt``, ``tokenizer.model``...),
  loaded by ``transformers`` with ``local_files_only`` (nothing is downloaded);
- a SentencePiece ``.model`` file (with the ``sentencepiece`` package).

Counts are without special tokens, texts encoded in slices of at most 200,000 characters (cut at whitespace).

Why not an engine signal family: the column's name depends on the tokenizer, several tokenizers may be kept side
by side (one workspace part each, ``tok_<name>``), and ``winnow score --signals all`` must not need a tokenizer
file. :func:`score_workspace` writes the part ``tok_<name>`` (``id``, ``size_tokens_<name>``) and records the
tokenizer's digest and the documents' fingerprint in ``_meta``, so a second run with neither changed is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from app.errors import MissingDependency, SignalError
from app.sql import qi

PREFIX = "size_tokens_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_HF_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "vocab.txt", "spiece.model")


def check_name(name: str) -> str:
    """``name`` when it can be part of a column name (lower-case letters, digits, ``_``; a letter first)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SignalError(
            f"tokenizer name {name!r} cannot name a column: use 1-40 lower-case letters, digits or _ (a letter first)"
        )
    return name


def default_name(path: str | Path) -> str:
    """A tokenizer name from its path (``.../llama3/tokenizer.json`` -> ``llama3``)."""
    p = Path(path)
    stem = p.parent.name if p.is_file() and p.name == "tokenizer.json" else p.stem if p.is_file() else p.name
    name = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")
    return name if _NAME.match(name or "") else "target"


class TokenCounter:
    """Counts tokens of texts under one local tokenizer (see the module docstring for what loads)."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if not p.exists():
            raise SignalError(f"no tokenizer at {p}: give a tokenizer.json, a tokenizer directory or a .model file")
        self.path = p
        self.digest = _digest(p)
        self._fast: Any = None  # a tokenizers.Tokenizer
        self._hf: Any = None  # a transformers tokenizer
        self._spm: Any = None  # a sentencepiece processor
        target = p / "tokenizer.json" if p.is_dir() and (p / "tokenizer.json").exists() else p
        try:
            if target.is_file() and target.suffix == ".json":
                from tokenizers import Tokenizer

                self._fast = Tokenizer.from_file(str(target))
                self._fast.no_truncation()
                self._fast.no_padding()
                self.kind = "tokenizers"
            elif target.is_file() and target.suffix == ".model":
                try:
                    import sentencepiece as spm
                except ImportError as e:
                    raise MissingDependency("sentencepiece", f"the SentencePiece tokenizer {p.name}") from e
                self._spm = spm.SentencePieceProcessor(model_file=str(target))
                self.kind = "sentencepiece"
            elif p.is_dir():
                from transformers import AutoTokenizer

                self._hf = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
                self.kind = "transformers"
            else:
                raise SignalError(f"{p} is not a tokenizer: expected tokenizer.json, a .model file or a directory")
        except (SignalError, MissingDependency):
            raise
        except Exception as e:  # a corrupt or foreign file: one line, not a traceback
            raise SignalError(
                f"cannot load the tokenizer {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            ) from e

    def _encode(self, pieces: list[str]) -> list[int]:
        if self._fast is not None:
            return [len(e.ids) for e in self._fast.encode_batch(pieces, add_special_tokens=False)]
        if self._spm is not None:
            return [len(x) for x in self._spm.encode(pieces)]
        ids = self._hf(pieces, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def count(self, texts: list[str]) -> list[int]:
        """Tokens per text, without special tokens; long texts are encoded in slices cut at whitespace."""
        from app.signals.size import slices

        pieces, owner = slices(texts)
        try:
            lens = self._encode(pieces)
        except (TypeError, UnicodeEncodeError):  # lone surrogates: replaced, as a UTF-8 reader would
            lens = self._encode([x.encode("utf-8", "replace").decode("utf-8") for x in pieces])
        out = [0] * len(texts)
        for i, n in zip(owner, lens, strict=True):
            out[i] += n
        return out


class TargetTokens:
    """``size_tokens_<name>`` per batch, for headless ``winnow apply --input ... --tokenizer PATH``: the same
    counter and column as :func:`score_workspace` writes into a workspace, so a ``mixture:`` counted in the target
    model's tokens plans and exports the same way without one."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.counter = TokenCounter(path)
        self.name = check_name(name or default_name(path))
        self.column = PREFIX + self.name

    def score(self, texts: list[str]) -> list[int]:
        """Tokens of each text (without special tokens)."""
        return self.counter.count(texts)

    @property
    def entry(self) -> dict[str, Any]:
        """How the manifest cites the tokenizer: column, path, loader and sha256 (16 hex) of its files."""
        c = self.counter
        return {"column": self.column, "tokenizer": str(c.path), "kind": c.kind, "digest": c.digest}


def _digest(p: Path) -> str:
    """sha256 (16 hex) of the tokenizer file, or of a directory's tokenizer files (name and bytes)."""
    h = hashlib.sha256()
    files = (
        [p]
        if p.is_file()
        else sorted(
            f
            for f in p.iterdir()
            if f.is_file() and f.name in (*_HF_FILES, "tokenizer_config.json", "special_tokens_map.json")
        )
    )
    for f in files:
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def score_workspace(
    ws: Any, *, tokenizer: str | Path, name: str | None = None, batch_size: int = 2000, progress: Any = None,
    force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Compute ``size_tokens_<name>`` for every document of ``ws`` under ``tokenizer`` as part ``tok_<name>``.

    Returns ``{column, table, tokenizer, kind, digest, documents, computed, seconds}`` (``computed`` 0 when the
    stored counts are for the same tokenizer file and the same documents)."""
    if ws.read_only:
        raise SignalError(f"workspace {ws.path} is open read-only; counting tokens writes a table")
    name = check_name(name or default_name(tokenizer))
    counter = TokenCounter(tokenizer)
    col, table = PREFIX + name, f"tok_{name}"
    t0 = time.perf_counter()
    key = f"tokens_model.{name}"
    state = {"digest": counter.digest, "fingerprint": ws.fingerprint()}
    row = ws.con.execute("SELECT value FROM _meta WHERE key = ?", [key]).fetchall()
    out = {
        "column": col,
        "table": table,
        "tokenizer": str(counter.path),
        "kind": counter.kind,
        "digest": counter.digest,
    }
    n = ws.con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
    if not force and row and ws.has_table(table) and json.loads(row[0][0]).get("state") == state:
        return {**out, "documents": int(n), "computed": 0, "seconds": round(time.perf_counter() - t0, 3)}
    import pyarrow as pa

    stage = f"_stage_{table}"
    ws.con.execute(f"CREATE OR REPLACE TABLE {qi(stage)} (id VARCHAR, {qi(col)} BIGINT)")
    done = 0
    if progress:
        progress(0, n, f"tokens ({name})")
    reader = ws.con.cursor().sql("SELECT id, coalesce(text, '') AS text FROM docs").to_arrow_reader(batch_size)
    cur = ws.con.cursor()
    try:
        for rb in reader:
            ids, texts = rb.column(0), rb.column(1).to_pylist()
            cur.register("_tok_batch", pa.table({"id": ids, "n": pa.array(counter.count(texts), pa.int64())}))
            cur.execute(f"INSERT INTO {qi(stage)} SELECT id, n FROM _tok_batch")
            cur.unregister("_tok_batch")
            done += len(texts)
            if progress:
                progress(done, n, f"tokens ({name})")
        with ws.transaction() as tx:
            tx.execute(f"DROP TABLE IF EXISTS {qi(table)}")
            tx.execute(f"ALTER TABLE {qi(stage)} RENAME TO {qi(table)}")
            meta = json.dumps({"state": state, "tokenizer": str(counter.path), "kind": counter.kind})
            tx.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [key, meta])
            ws.register_part(table, kind="tokens", con=tx)
    finally:
        cur.close()
        ws.con.execute(f"DROP TABLE IF EXISTS {qi(stage)}")
    return {**out, "documents": int(n), "computed": done, "seconds": round(time.perf_counter() - t0, 3)}


def fertility(con: Any, column: str, *, relation: str = "corpus", top: int = 12) -> list[dict[str, Any]]:
    """Tokens per character by language under ``column`` (and under ``size_tokens`` when the workspace has it):
    ``[{lang, docs, chars, tokens, tokens_per_char, default_tokens_per_char}]``, largest languages first."""
    from app.recipes.cache import CACHE

    cols = CACHE.columns(con, relation, None)
    if column not in cols:
        raise SignalError(f"no column {column!r}: run winnow score --tokenizer PATH first")
    lang = "CAST(lang_code AS VARCHAR)" if "lang_code" in cols else "NULL::VARCHAR"
    chars = "size_chars" if "size_chars" in cols else "length(text)"
    dflt = "sum(size_tokens)" if "size_tokens" in cols else "NULL"
    q = (
        f"SELECT {lang} AS g, count(*), coalesce(sum({chars}), 0), coalesce(sum({qi(column)}), 0), {dflt}"
        f" FROM {qi(relation)} WHERE {qi(column)} IS NOT NULL GROUP BY g ORDER BY count(*) DESC, g LIMIT {int(top)}"
    )
    out = []
    for g, docs, ch, tok, dt in con.execute(q).fetchall():
        out.append(
            {
                "lang": g,
                "docs": int(docs),
                "chars": int(ch),
                "tokens": int(tok),
                "tokens_per_char": round(tok / ch, 4) if ch else None,
                "default_tokens_per_char": round(dt / ch, 4) if ch and dt is not None else None,
            }
        )
    return out
