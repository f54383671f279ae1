"""Shared plumbing of the instruction-data signals (``instruct_*`` families): where a record's instruction,
input and output are, and one bounded loop that scores them.

The fields come from the workspace's source metadata (``docs``), as ingest keeps them (app/ingest/normalize.py):

- Alpaca-style records: ``instruction`` (or ``prompt``), optional ``input`` (or ``context``) and ``output``
  (or ``response``, ``completion``, ``answer``) columns;
- chat records: a ``messages`` / ``conversations`` / ``conversation`` / ``chat`` list of ``{role, content}``
  (or ShareGPT ``{from, value}``) structs: the instruction is the first user turn, the output the last
  assistant turn (system prompts are not part of either).

A record with neither (a web page in the same workspace, or a corpus ingested from text alone) gets NULL in
every ``instruct_*`` column: the rendered text is never split back into fields, because an Alpaca text
``instruction\\n\\ninput\\n\\noutput`` cannot be split reliably (inputs and outputs contain blank lines too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.sql import qi

INSTRUCTION = ("instruction", "prompt")
INPUT = ("input", "context")
OUTPUT = ("output", "response", "completion", "answer")
CHAT = ("messages", "conversations", "conversation", "chat")
USER_ROLES = ("user", "human")
ASSISTANT_ROLES = ("assistant", "gpt", "bot", "model", "chatgpt")
BATCH = 20_000

_WORD = re.compile(r"\w+", re.UNICODE)


def norm(text: str | None) -> str:
    """Lowercased words joined by one space (punctuation and whitespace differences removed)."""
    return " ".join(_WORD.findall((text or "").lower()))


def _find(cols: dict[str, str], names: tuple[str, ...]) -> str | None:
    low = {c.lower(): c for c in cols}
    return next((low[n] for n in names if n in low), None)


def chat_fields(typ: str) -> tuple[str, str] | None:
    """``(role field, content field)`` of a chat list column's DuckDB type (``{role, content}`` or ShareGPT
    ``{from, value}`` structs), or None when the type is not a chat list. Shared by signals and exports."""
    t = typ.lower()
    if not (t.startswith("struct(") and t.endswith("[]")):
        return None
    if "role" in t and "content" in t:
        return "role", "content"
    if "from" in t and "value" in t:
        return "from", "value"
    return None


def _chat_exprs(col: str, typ: str) -> tuple[str, str] | None:
    """SQL (first user turn, last assistant turn) of a chat list column, or None when it is not one."""
    if (fields := chat_fields(typ)) is None:
        return None
    role, content = fields

    def turn(roles: tuple[str, ...], pos: int) -> str:
        inlist = ", ".join(f"'{r}'" for r in roles)
        picked = f"list_filter({qi(col)}, lambda m: lower(CAST(m.{qi(role)} AS VARCHAR)) IN ({inlist}))"
        return f"CAST(({picked})[{pos}].{qi(content)} AS VARCHAR)"

    return turn(USER_ROLES, 1), turn(ASSISTANT_ROLES, -1)


def field_sql(cols: dict[str, str]) -> tuple[str, str, str] | None:
    """SQL ``(instruction, input, output)`` over ``docs`` with columns ``cols``, or None when the workspace has
    no instruction fields at all. Alpaca fields win over a chat column on records that have both."""
    ins, out = _find(cols, INSTRUCTION), _find(cols, OUTPUT)
    inp = _find(cols, INPUT)
    chat = next((e for c in CHAT if (f := _find(cols, (c,))) and (e := _chat_exprs(f, cols[f]))), None)
    if not (ins and out) and chat is None:
        return None
    parts_i, parts_o = [], []
    if ins and out:
        parts_i.append(f"CAST({qi(ins)} AS VARCHAR)")
        parts_o.append(f"CAST({qi(out)} AS VARCHAR)")
    if chat is not None:
        parts_i.append(chat[0])
        parts_o.append(chat[1])
    has_alpaca = f"{qi(ins)} IS NOT NULL OR {qi(out)} IS NOT NULL" if ins and out else "false"
    i_sql = f"coalesce({', '.join(parts_i)})" if len(parts_i) > 1 else parts_i[0]
    o_sql = f"coalesce({', '.join(parts_o)})" if len(parts_o) > 1 else parts_o[0]
    # the input belongs to Alpaca records only: a chat record's input is NULL (not a system prompt)
    p_sql = f"CASE WHEN {has_alpaca} THEN CAST({qi(inp)} AS VARCHAR) END" if inp else "NULL::VARCHAR"
    return i_sql, p_sql, o_sql


def docs_columns(con: Any) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute("DESCRIBE docs").fetchall()}


Row = Callable[[str | None, str | None, str | None], tuple]


def score_fields(
    con: Any,
    dest: str,
    columns: dict[str, str],
    row: Row,
    *,
    progress: Any = None,
    label: str = "instruction fields",
) -> int:
    """Write ``dest(id, *columns)`` for every document of ``docs``: ``row(instruction, input, output)`` gives
    one tuple of column values; records without instruction fields get NULLs. Reads in batches of
    :data:`BATCH` (bounded memory); returns the number of rows."""
    import pyarrow as pa

    total = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
    coldefs = ", ".join(f"{qi(c)} {t}" for c, t in columns.items())
    con.execute(f"CREATE OR REPLACE TABLE {qi(dest)} (id VARCHAR, {coldefs})")
    fields = field_sql(docs_columns(con))
    if fields is None:
        con.execute(f"INSERT INTO {qi(dest)} (id) SELECT id FROM docs")
        if progress:
            progress(total, total, label)
        return int(total)
    reader = con.cursor()
    done = 0
    try:
        sql = f"SELECT id, {fields[0]}, {fields[1]}, {fields[2]} FROM docs ORDER BY id"
        for batch in reader.sql(sql).to_arrow_reader(BATCH):
            ids, ins, inp, out = (batch.column(i).to_pylist() for i in range(4))
            rows = [
                row(a, b, c) if a is not None or c is not None else (None,) * len(columns)
                for a, b, c in zip(ins, inp, out)
            ]
            data = {"id": pa.array(ids, pa.string())}
            for j, c in enumerate(columns):
                data[c] = [r[j] for r in rows]
            con.register("_instruct_batch", pa.table(data))
            try:
                con.execute(f"INSERT INTO {qi(dest)} SELECT * FROM _instruct_batch")
            finally:
                con.unregister("_instruct_batch")
            done += len(ids)
            if progress:
                progress(done, total, label)
    finally:
        reader.close()
    return int(done)
