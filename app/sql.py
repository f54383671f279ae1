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


#: DuckDB's integer type names (the one table of them; floats, decimals and booleans are added below)
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
#: types a threshold compares as a number (booleans compare as 0/1)
NUMBER_TYPES = (*INTEGER_TYPES, "FLOAT", "DOUBLE", "DECIMAL", "REAL", "BOOLEAN")
#: types a set rule compares as text
TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "ENUM")


def is_number_type(t: str) -> bool:
    """Whether a DuckDB type name (``DECIMAL(18,3)`` included) is a number or a boolean; a list or array of
    numbers (``DOUBLE[]``, ``FLOAT[384]``) is not."""
    t = str(t).upper()
    return t.startswith(NUMBER_TYPES) and not t.endswith("]")


def is_text_type(t: str) -> bool:
    return str(t).upper().startswith(TEXT_TYPES)
