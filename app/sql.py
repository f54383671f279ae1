"""Small SQL helpers. Identifiers are always quoted with :func:`qi`; values always go as parameters."""

from __future__ import annotations

import re

_SLUG = re.compile(r"[^a-z0-9]+")


def qi(name: str) -> str:
    """Quote a DuckDB identifier (column or table name) safely, whatever it contains."""
    return '"' + str(name).replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote a string literal. Only for DDL that cannot take parameters (e.g. view bodies)."""
    return "'" + str(value).replace("'", "''") + "'"


def slug(name: str, *, maxlen: int = 40) -> str:
    """A lowercase ``[a-z0-9_]`` slug of ``name`` for table names (not unique on its own)."""
    s = _SLUG.sub("_", str(name).lower()).strip("_")
    return (s or "x")[:maxlen]
