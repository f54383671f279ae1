"""Small SQL helpers. Identifiers are always quoted with :func:`qi`; values always go as parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

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


def setting(con: Any, name: str) -> Any:
    """DuckDB's current value of the setting ``name`` on ``con`` (None when this DuckDB has no such setting)."""
    try:
        rows = con.execute("SELECT current_setting(?)", [name]).fetchall()
    except Exception:  # duckdb.Error (no such setting) without importing duckdb here
        return None
    return rows[0][0] if rows else None


@contextmanager
def setting_held(con: Any, name: str, value: object) -> Iterator[Any]:
    """``SET name = value`` on ``con`` for the block, the old value restored after it (even on error); yields it.

    Settings such as ``memory_limit`` print rounded (``3.7 GiB``), so the restore first ``RESET``s the setting
    and sets the printed old value again only when the default differs from it: a connection that had the
    default keeps exactly the default. Why one place: eight call sites did read-change-restore by hand, each
    slightly differently (quoting, rounding, booleans). When the block fails, a restore that fails too (a database
    the failure left unusable) is not allowed to hide the block's error."""
    if not _SETTING.fullmatch(name):
        raise ValueError(f"not a DuckDB setting name: {name!r}")
    old = setting(con, name)
    con.execute(f"SET {name} = {_literal(value)}")
    try:
        yield old
    except BaseException:
        # the block's own error is the one to report: a restore on a database its failure left unusable may fail too
        with suppress(Exception):
            _restore(con, name, old)
        raise
    _restore(con, name, old)


def _restore(con: Any, name: str, old: Any) -> None:
    con.execute(f"RESET {name}")
    if old is not None and setting(con, name) != old:
        con.execute(f"SET {name} = {_literal(old)}")


_SETTING = re.compile(r"[a-z_]+")
_UNITS = {"B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


def amount_bytes(amount: str) -> float | None:
    """A DuckDB memory amount (``'1.5 GiB'``, ``'512MB'``) in bytes; None when it is not one DuckDB prints or
    accepts."""
    s = str(amount).strip().upper().replace(" ", "")
    num = s.rstrip("ABEGIKMTYS")
    try:
        return float(num) * _UNITS[s[len(num) :] or "B"]
    except (KeyError, ValueError):
        return None


def _literal(value: object) -> str:
    """A setting's value as SQL: booleans and integers bare, everything else a quoted string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return ql(str(value))


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
