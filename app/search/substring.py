"""Substring search: documents whose text contains a string, as the Documents page lists them.

A case-insensitive ``ILIKE`` scan of ``docs`` (the string is a parameter, its wildcards escaped), then only the
matching ids joined to the signal columns of :func:`app.workspace.fast_relation`. It needs no index, so it works
on every workspace; :mod:`app.search.bm25` ranks whole words and is far faster once its index is built.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from app.sql import qi
from app.workspace import fast_relation

__all__ = ["search_docs"]


def search_docs(
    con: Any, text: str, *, columns: list[str], limit: int = 200, order: str | None = None, desc: bool = True
) -> pd.DataFrame:
    """Documents whose text contains ``text`` (case-insensitive ILIKE, parameterised; wildcards escaped).

    The text scan runs over ``docs`` (no joins); only the matching ids are joined to the signal columns."""
    rel = qi(fast_relation(con))
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sel = ", ".join(f"f.{qi(c)}" for c in dict.fromkeys(["id", "source", *columns]) if c)
    order_sql = f"ORDER BY f.{qi(order)} {'DESC' if desc else 'ASC'} NULLS LAST" if order else ""
    if text:
        inner = "SELECT id, left(text, 200) AS preview FROM docs WHERE text ILIKE ? ESCAPE '\\'"
        if not order:
            inner += " LIMIT ?"
        params: list[Any] = [like, int(limit)] if not order else [like]
        sql = f"SELECT {sel}, h.preview FROM ({inner}) h JOIN {rel} f ON f.id = h.id {order_sql} LIMIT ?"
        return con.execute(sql, [*params, int(limit)]).df()
    ids = f"SELECT f.id FROM {rel} f {order_sql} LIMIT ?"
    sql = (
        f"SELECT {sel}, left(d.text, 200) AS preview FROM ({ids}) k JOIN {rel} f ON f.id = k.id "
        f"JOIN docs d ON d.id = k.id {order_sql}"
    )
    return con.execute(sql, [int(limit)]).df()
