"""Which fields make the text that signals, dedup and embeddings see (a per-workspace setting).

By default every derived column is computed from a document's ``text``: for instruction data that is the rendered
record, e.g. ``user: ...\\n\\nassistant: ...`` plus a system prompt for a chat, ``instruction\\n\\ninput\\n\\noutput``
for Alpaca. Role prefixes and a system prompt dominate short examples, so the same item in two formats does not
look alike. ``winnow fields set "instruction,input,output"`` (or ``--fields`` on ``score``, ``dedup near`` and
``embed``) makes them see the chosen fields instead, joined by a blank line:

- ``instruction``, ``input``, ``output``: the Alpaca columns, or a chat's first user turn / last assistant turn
  (:func:`app.signals._instruct.field_sql`: no role names, no system prompt; a chat has no ``input``);
- ``prompt``: what the user asked, in either format: an Alpaca record's instruction and input, a chat's first
  user turn (which carries the input too), so ``prompt,output`` compares the formats like for like;
- ``text``: the document's text as ingested;
- any other name: that metadata column of ``docs`` (cast to text).

A document with none of the chosen fields (blank or absent: a web page in the same workspace) is seen by its
``text``, so no document is dropped. The composed text is hashed (``md5``) like ingest hashes ``text``, so every
cache keyed by ``text_hash`` (signal rows, MinHash signatures, embeddings) follows the fields; the fields are also
part of each family's recorded fingerprint (:func:`tag`), so changing them recomputes the derived columns and
``winnow info`` shows what they were computed from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from app.errors import WorkspaceError
from app.sql import qi

META_KEY = "fields.text"
#: the names resolved from instruction records (Alpaca columns or chat turns)
INSTRUCTION_FIELDS = ("instruction", "input", "output")
PROMPT = "prompt"
MAX_FIELDS = 16
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

Fields = tuple[str, ...] | None


def parse(spec: str | Sequence[str] | None) -> Fields:
    """``"instruction, output"`` or a list -> a tuple of field names; None, ``""`` and ``"text"`` mean the
    default (the document's text). Raises WorkspaceError on an empty name, a bad name or a repeated name."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else [str(s) for s in spec]
    names = [s.strip() for s in items]
    if isinstance(spec, str) and not spec.strip():
        return None
    if any(not n for n in names):
        raise WorkspaceError(f"fields {spec!r}: an empty name (write e.g. instruction,input,output)")
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise WorkspaceError(f"fields: {bad[0][:40]!r} is not a field name (letters, digits, _ . -)")
    if len(set(names)) != len(names):
        raise WorkspaceError(f"fields {', '.join(names)}: a field is named twice")
    if len(names) > MAX_FIELDS:
        raise WorkspaceError(f"fields: at most {MAX_FIELDS} names, got {len(names)}")
    return None if names == ["text"] else tuple(names)


def label(fields: Fields) -> str:
    """``instruction,output`` or ``text`` (the default), for messages and ``winnow info``."""
    return ",".join(fields) if fields else "text"


def tag(fields: Fields) -> str:
    """The suffix added to a derived column's fingerprint: ``""`` for the default text, else ``;fields=a,b``
    (so values computed from other fields are stale, and the stored fingerprint says what they saw)."""
    return f";fields={label(fields)}" if fields else ""


def from_tag(fingerprint: str | None) -> str:
    """The fields a stored fingerprint was computed from (``text`` when it carries no tag)."""
    if not fingerprint or ";fields=" not in fingerprint:
        return "text"
    return fingerprint.split(";fields=", 1)[1].split(";", 1)[0].split("@", 1)[0]


def get(con: Any) -> Fields:
    """The workspace's fields (``_meta``), None when unset (the text)."""
    row = con.execute("SELECT value FROM _meta WHERE key = ?", [META_KEY]).fetchone()
    if row is None:
        return None
    try:
        return parse(json.loads(row[0]))
    except (ValueError, TypeError) as e:
        raise WorkspaceError(f"the workspace's fields setting is unreadable ({row[0][:60]!r}); set it again") from e


def put(con: Any, fields: Fields) -> None:
    """Store (or, with None, clear) the workspace's fields after checking them against ``docs``."""
    if fields is None:
        con.execute("DELETE FROM _meta WHERE key = ?", [META_KEY])
        return
    check(con, fields)
    con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [META_KEY, json.dumps(list(fields))])


def resolve(con: Any, override: str | Sequence[str] | None = None) -> Fields:
    """The fields a command uses: ``override`` (``--fields``) when given, else the workspace's setting."""
    return parse(override) if override is not None else get(con)


def _docs_columns(con: Any) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute("DESCRIBE docs").fetchall()}


def field_exprs(con: Any, fields: Sequence[str]) -> list[str]:
    """One SQL expression (VARCHAR) over ``docs`` per field; WorkspaceError names a field no document has."""
    from app.signals._instruct import field_sql

    cols = _docs_columns(con)
    low = {c.lower(): c for c in cols}
    instr = field_sql(cols) if any(f.lower() in (*INSTRUCTION_FIELDS, PROMPT) for f in fields) else None
    out = []
    for f in fields:
        key = f.lower()
        if key in (*INSTRUCTION_FIELDS, PROMPT):
            if instr is None:
                raise WorkspaceError(
                    f"field {f!r}: no instruction records here (no instruction/output columns or chat messages)"
                )
            if key == PROMPT:  # the instruction and the input, as a chat's user turn holds them
                out.append(f"concat_ws(chr(10) || chr(10), nullif(trim({instr[0]}), ''), nullif(trim({instr[1]}), ''))")
            else:
                out.append(instr[INSTRUCTION_FIELDS.index(key)])
        elif key == "text":
            out.append("text")
        elif key in low:
            out.append(f"CAST({qi(low[key])} AS VARCHAR)")
        else:
            known = ", ".join(
                [*INSTRUCTION_FIELDS, PROMPT, "text", *(c for c in cols if c not in ("id", "source"))][:20]
            )
            raise WorkspaceError(f"no field {f!r} in the documents; known: {known}")
    return out


def check(con: Any, fields: Fields) -> None:
    """Raise WorkspaceError when a field cannot be resolved over this workspace's documents."""
    if fields:
        field_exprs(con, fields)


def text_sql(con: Any, fields: Fields) -> str:
    """SQL of the text the fields make (VARCHAR, never NULL), over ``docs``."""
    if not fields:
        return "coalesce(text, '')"
    parts = ", ".join(f"nullif(trim({e}), '')" for e in field_exprs(con, fields))
    return f"coalesce(nullif(concat_ws(chr(10) || chr(10), {parts}), ''), text, '')"


def relation(con: Any, fields: Fields) -> str:
    """A ``docs``-like relation for ``FROM``: ``docs`` itself by default, else a subquery with every ``docs``
    column but ``text`` and ``text_hash`` replaced by the composed text and its md5 (the hash ingest uses)."""
    if not fields:
        return "docs"
    t = text_sql(con, fields)
    return f"(SELECT * REPLACE ({t} AS text, md5({t}) AS text_hash) FROM docs)"


def counts(con: Any, fields: Fields) -> dict[str, Any]:
    """How many documents have each field (non-blank) and how many fall back to their text."""
    if not fields:
        n = con.execute("SELECT count(*) FROM docs").fetchone()[0]
        return {"documents": int(n), "fields": {"text": int(n)}, "fallback": 0}
    exprs = field_exprs(con, fields)
    has = [f"count(*) FILTER (WHERE nullif(trim({e}), '') IS NOT NULL)" for e in exprs]
    none = " AND ".join(f"nullif(trim({e}), '') IS NULL" for e in exprs)
    row = con.execute(f"SELECT count(*), {', '.join(has)}, count(*) FILTER (WHERE {none}) FROM docs").fetchone()
    return {"documents": int(row[0]), "fields": dict(zip(fields, map(int, row[1:-1]))), "fallback": int(row[-1])}
