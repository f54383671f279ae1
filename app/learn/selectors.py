"""Selectors: one small language for "which documents" shared by classifiers, reference LMs and DSIR.

``SEL`` is one of

- ``label:L``   documents carrying the label ``L`` (the workspace's ``labels`` table; the latest label of a
  document among the labels a training run names wins, see :func:`app.learn.selectors.resolve_pair`);
- ``source:S``  documents of the source ``S``;
- ``expr:EXPR`` documents where the recipe expression ``EXPR`` is true (the grammar of
  :mod:`app.recipes.expr`, over ``corpus`` columns);
- ``file:PATH`` texts from a file outside the corpus (``.txt`` one per line; ``.jsonl``/``.json``/``.csv``/
  ``.parquet`` with a ``text`` field): reference examples such as DCLM's or GPT-3's positives;
- ``random:N``  ``N`` documents drawn uniformly at random (seeded, reproducible: ordered by a hash of the id and
  the seed), the usual negatives.

A :class:`Selection` holds document ids (from the corpus) and/or external texts. Every selector that matches
nothing raises one :class:`LearnError` line naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import LearnError, RecipeError

KINDS = ("label", "source", "expr", "file", "random")
#: a file selector reads at most this many texts (bounded memory); more is an error, not a silent cut
MAX_FILE_TEXTS = 2_000_000


@dataclass(frozen=True)
class Selector:
    """A parsed ``kind:arg`` selector."""

    kind: str
    arg: str

    @classmethod
    def parse(cls, spec: str) -> Selector:
        """``"label:toxic"`` -> ``Selector("label", "toxic")``; a one-line error for anything else."""
        kind, sep, arg = str(spec).partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in KINDS or not arg.strip():
            raise LearnError(f"bad selector {spec!r}: use one of {', '.join(k + ':…' for k in KINDS)}")
        arg = arg.strip()
        if kind == "random":
            try:
                n = int(arg.replace("_", "").replace(",", ""))
            except ValueError as e:
                raise LearnError(f"bad selector {spec!r}: random:N needs a whole number") from e
            if n <= 0:
                raise LearnError(f"bad selector {spec!r}: random:N needs N > 0")
            arg = str(n)
        if kind == "expr":
            _parse_expr(arg, spec)
        return cls(kind, arg)

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}"


@dataclass
class Selection:
    """What a selector matched: corpus ids and/or texts from outside the corpus (``file:``)."""

    selector: Selector
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids) + len(self.texts)

    def digest(self) -> str:
        """Content hash of what was selected (ids, or the texts themselves): part of a model's version."""
        h = hashlib.sha256(str(self.selector).encode())
        for i in sorted(self.ids):
            h.update(b"\x00i" + i.encode())
        for t in self.texts:
            h.update(b"\x00t" + t.encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:16]


def _parse_expr(text: str, spec: str) -> Any:
    from app.recipes.expr import parse_expr

    try:
        return parse_expr(text)
    except RecipeError as e:
        raise LearnError(f"bad selector {spec!r}: {e}") from e


def resolve(con: Any, sel: Selector | str, *, seed: int = 0, exclude: set[str] | None = None) -> Selection:
    """The documents (or texts) ``sel`` selects in the workspace open on ``con``.

    ``exclude``: ids never returned (``random:N`` then draws N among the rest, so negatives do not overlap the
    positives). Raises :class:`LearnError` when nothing matches."""
    sel = Selector.parse(sel) if isinstance(sel, str) else sel
    out = Selection(sel)
    if sel.kind == "file":
        out.texts = read_texts(sel.arg)
    elif sel.kind == "label":
        rows = con.execute("SELECT DISTINCT id FROM labels WHERE label = ? ORDER BY id", [sel.arg]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute("SELECT DISTINCT label FROM labels ORDER BY 1").fetchall()]
            hint = f"; labels in this workspace: {', '.join(known)}" if known else "; this workspace has no labels"
            raise LearnError(f"selector {sel}: no document carries the label {sel.arg!r}{hint}")
        out.ids = [r[0] for r in rows]
    elif sel.kind == "source":
        rows = con.execute("SELECT id FROM docs WHERE source = ? ORDER BY id", [sel.arg]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute("SELECT name FROM sources ORDER BY 1").fetchall()]
            raise LearnError(f"selector {sel}: no source named {sel.arg!r}; sources: {', '.join(known) or 'none'}")
        out.ids = [r[0] for r in rows]
    elif sel.kind == "expr":
        from app.workspace import fast_relation

        e = _parse_expr(sel.arg, str(sel))
        rel = "corpus" if "text" in e.columns else fast_relation(con)
        params: dict[str, Any] = {}
        where = e.to_sql(params)
        try:
            rows = con.execute(f"SELECT id FROM {rel} WHERE {where} ORDER BY id", params).fetchall()
        except Exception as ex:  # duckdb.BinderException: an unknown column
            msg = str(ex).splitlines()[0]
            raise LearnError(f"selector {sel}: {msg}") from ex
        out.ids = [r[0] for r in rows]
    else:  # random
        n = int(sel.arg)
        # hash(id || seed) orders the corpus reproducibly; excluded ids are skipped before the limit
        q = "SELECT id FROM docs"
        params2: list[Any] = [str(seed)]
        if exclude:
            q += " WHERE id NOT IN (SELECT unnest(?::VARCHAR[]))"
            params2 = [sorted(exclude), str(seed)]
        q += " ORDER BY md5(id || '#' || ?), id LIMIT " + str(n)
        out.ids = [r[0] for r in con.execute(q, params2).fetchall()]
    if exclude and sel.kind != "random":
        out.ids = [i for i in out.ids if i not in exclude]
    if not len(out):
        raise LearnError(f"selector {sel} matches no document")
    return out


def iter_texts(con: Any, ids: list[str], *, batch: int = 4096) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, texts)`` batches for ``ids`` in the given order (missing texts become ``''``): bounded memory."""
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        rows = con.execute(
            "SELECT id, coalesce(text, '') FROM docs WHERE id IN (SELECT unnest(?::VARCHAR[]))", [chunk]
        ).fetchall()
        by_id = dict(rows)
        yield chunk, [by_id.get(i, "") for i in chunk]


def texts_of(con: Any, sel: Selection) -> list[str]:
    """Every text of a selection, corpus documents first then external texts (for training sets)."""
    out: list[str] = []
    for _, texts in iter_texts(con, sel.ids):
        out.extend(texts)
    return out + list(sel.texts)


def read_texts(path: str | Path) -> list[str]:
    """Texts from ``.txt`` (one per non-empty line), ``.jsonl``/``.json`` (objects with a string ``text``),
    ``.csv`` or ``.parquet`` (a ``text`` column). One-line errors name the file and the line."""
    import json

    p = Path(path)
    if not p.is_file():
        raise LearnError(f"file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".csv"):
        return _read_table_texts(p)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LearnError(f"cannot read {p}: {e}") from e
    out: list[str] = []
    if suffix in (".jsonl", ".json"):
        stripped = raw.lstrip()
        if suffix == ".json" and stripped.startswith("["):
            try:
                records = json.loads(raw)
            except json.JSONDecodeError as e:
                raise LearnError(f"{p}: not JSON ({e.msg})") from e
            lines = [(n, r) for n, r in enumerate(records, 1)]
        else:
            lines = []
            for n, line in enumerate(raw.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    lines.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise LearnError(f"{p}:{n}: not a JSON line ({e.msg})") from e
        for n, obj in lines:
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise LearnError(f"{p}:{n}: expected an object with a string 'text' field")
            out.append(obj["text"])
    else:
        out = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(out) > MAX_FILE_TEXTS:
        raise LearnError(f"{p}: {len(out):,} texts, more than the {MAX_FILE_TEXTS:,} a selector reads")
    return out


def _read_table_texts(p: Path) -> list[str]:
    import duckdb

    reader = "read_parquet" if p.suffix.lower() == ".parquet" else "read_csv_auto"
    con = duckdb.connect()
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [str(p)]).fetchall()]
        if "text" not in cols:
            raise LearnError(f"{p}: no 'text' column (columns: {', '.join(cols[:12])})")
        rows = con.execute(
            f"SELECT text FROM {reader}(?) WHERE text IS NOT NULL LIMIT {MAX_FILE_TEXTS + 1}", [str(p)]
        ).fetchall()
    except LearnError:
        raise
    except Exception as e:  # duckdb IO/parse errors
        raise LearnError(f"cannot read {p}: {str(e).splitlines()[0]}") from e
    finally:
        con.close()
    if len(rows) > MAX_FILE_TEXTS:
        raise LearnError(f"{p}: more than the {MAX_FILE_TEXTS:,} texts a selector reads")
    return [str(r[0]) for r in rows]


@dataclass
class Pair:
    """Positive and negative selections for training, made disjoint; ``dropped`` counts ids removed from both."""

    positive: Selection
    negative: Selection
    dropped: int = 0
    notes: list[str] = field(default_factory=list)


def resolve_pair(con: Any, positive: Selector | str, negative: Selector | str, *, seed: int = 0) -> Pair:
    """Resolve two selectors into disjoint training sets.

    A document selected by both sides cannot teach anything: when both selectors are ``label:``, the document's
    latest label of the two wins (relabelling works); otherwise it is removed from both and counted in
    ``dropped``. ``random:N`` negatives are drawn among the documents the positive side did not select."""
    pos_sel = Selector.parse(positive) if isinstance(positive, str) else positive
    neg_sel = Selector.parse(negative) if isinstance(negative, str) else negative
    if pos_sel == neg_sel:
        raise LearnError(f"the positive and the negative selector are the same ({pos_sel})")
    pos = resolve(con, pos_sel, seed=seed)
    neg = resolve(con, neg_sel, seed=seed, exclude=set(pos.ids) if neg_sel.kind == "random" else None)
    pair = Pair(pos, neg)
    both = set(pos.ids) & set(neg.ids)
    if both and pos_sel.kind == neg_sel.kind == "label":
        rows = con.execute(
            "SELECT id, arg_max(label, created_at) FROM labels WHERE label IN (?, ?) "
            "AND id IN (SELECT unnest(?::VARCHAR[])) GROUP BY id",
            [pos_sel.arg, neg_sel.arg, sorted(both)],
        ).fetchall()
        latest = dict(rows)
        pos.ids = [i for i in pos.ids if i not in both or latest.get(i) == pos_sel.arg]
        neg.ids = [i for i in neg.ids if i not in both or latest.get(i) == neg_sel.arg]
        pair.notes.append(f"{len(both)} documents carry both labels: the latest label of each was used")
    elif both:
        pos.ids = [i for i in pos.ids if i not in both]
        neg.ids = [i for i in neg.ids if i not in both]
        pair.dropped = len(both)
        pair.notes.append(f"{len(both)} documents matched both selectors and were left out of training")
    for name, s in (("positive", pos), ("negative", neg)):
        if not len(s):
            raise LearnError(f"the {name} selector {s.selector} has no document left once overlaps are removed")
    return pair
