"""Export instruction data in one schema: ``messages`` (a list of ``{role, content}``), whatever each record's
source format was (issue 20.9).

An Alpaca record becomes ``[{user: instruction + blank line + input}, {assistant: output}]`` (no input: the
instruction alone); a chat record keeps its turns, with ShareGPT's ``from``/``value`` and roles ``human``/``gpt``
mapped to ``role``/``content`` and ``user``/``assistant``. A record with neither (a web page) has no messages:
``messages`` is NULL there and the manifest counts such records (``schema.without_messages``), never silently.
The fields are found as the ``instruct_*`` signals find them (:mod:`app.signals._instruct`).
"""

from __future__ import annotations

from typing import Any

from app.errors import ExportError
from app.sql import qi

SCHEMAS = ("messages",)
_ROLE_MAP = {"human": "user", "gpt": "assistant", "bot": "assistant", "chatgpt": "assistant", "model": "assistant"}


def _chat_list(col: str, typ: str) -> str | None:
    from app.signals._instruct import chat_fields

    if (fields := chat_fields(typ)) is None:
        return None
    role, content = fields
    r = f"lower(CAST(m.{qi(role)} AS VARCHAR))"
    mapped = "CASE " + " ".join(f"WHEN {r} = '{a}' THEN '{b}'" for a, b in _ROLE_MAP.items()) + f" ELSE {r} END"
    return f"list_transform({qi(col)}, lambda m: struct_pack(role := {mapped}, content := CAST(m.{qi(content)} AS VARCHAR)))"


def messages_sql(cols: dict[str, str]) -> str:
    """SQL of the ``messages`` column over ``docs`` with columns ``cols``; ExportError when the workspace has
    neither instruction fields nor a chat column."""
    from app.signals._instruct import CHAT, INPUT, INSTRUCTION, OUTPUT

    low = {c.lower(): c for c in cols}

    def find(names: tuple[str, ...]) -> str | None:
        return next((low[n] for n in names if n in low), None)

    ins, inp, out = find(INSTRUCTION), find(INPUT), find(OUTPUT)
    chat = next((e for n in CHAT if (c := find((n,))) and (e := _chat_list(c, cols[c]))), None)
    cases = []
    if ins and out:
        i, o = f"CAST({qi(ins)} AS VARCHAR)", f"CAST({qi(out)} AS VARCHAR)"
        prompt = i
        if inp:
            p = f"CAST({qi(inp)} AS VARCHAR)"
            prompt = f"CASE WHEN trim(coalesce({p}, '')) = '' THEN {i} ELSE {i} || chr(10) || chr(10) || {p} END"
        pair = f"[struct_pack(role := 'user', content := {prompt}), struct_pack(role := 'assistant', content := {o})]"
        cases.append(f"WHEN {qi(ins)} IS NOT NULL AND {qi(out)} IS NOT NULL THEN {pair}")
    if chat:
        cases.append(f"WHEN {chat} IS NOT NULL THEN {chat}")
    if not cases:
        raise ExportError(
            "--schema messages needs instruction fields (instruction/output) or a chat column (messages) in the "
            "records; these have neither"
        )
    return f"CASE {' '.join(cases)} END"


def output_columns(schema: str, recipe: Any) -> list[str]:
    """The columns selected before the ``messages`` column is added (``id, source``); ExportError for an unknown
    schema or a recipe that names its own output columns (the two would disagree)."""
    if schema not in SCHEMAS:
        raise ExportError(f"unknown schema {schema!r}; choose one of {', '.join(SCHEMAS)}")
    if recipe.output_columns:
        raise ExportError("--schema messages chooses the output columns; remove output.columns from the recipe")
    return ["id", "source"]


def wrap(con: Any, sql: str) -> str:
    """``sql`` (the selection, with ``id``) plus the ``messages`` column built from each record's fields."""
    cols = {r[0]: r[1] for r in con.execute("DESCRIBE docs").fetchall()}
    return f"SELECT s.*, {messages_sql(cols)} AS messages FROM ({sql}) AS s JOIN docs AS d ON d.id = s.id"


def without_messages(con: Any, sql: str, params: dict[str, Any]) -> int:
    """How many of the selected records have no messages (no instruction fields and no chat)."""
    return int(con.execute(f"SELECT count(*) FROM ({sql}) WHERE messages IS NULL", params).fetchall()[0][0])
