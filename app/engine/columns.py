"""A worker's score columns sent back as Arrow arrays instead of Python lists.

Why: a batch's scores are a dict of one list per column (6,000 realmix documents, 22 Gopher + C4 + FineWeb
columns: about 130,000 Python numbers). Sent as lists they are pickled one number at a time in the worker,
unpickled one at a time in the driver and then turned into Arrow arrays there; the driver, the one serial
process however many workers run, spent about 11 ms per such batch on them (6.0 ms to unpickle, 4.7 to
convert, ``bench/bench_engine.py`` era measurements on this machine). Converted in the worker with the very
call the driver would make, the arrays travel as a few buffers (0.3 ms to pickle, 0.2 to unpickle) and the
driver's own ``pa.array(arr)`` / ``pa.array(arr, type)`` returns them unchanged, so the written rows are the
same bytes.

A column that the conversion rejects (a mixed-type list, an integer out of range) stays a list: the driver
then converts it itself and reports the problem exactly as it did before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def to_arrow(cols: Mapping[str, Any], types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``cols`` with every list replaced by ``pa.array(list, type)``, the Arrow array that the driver's own
    conversion builds from it: ``types`` names the type the driver gives a column (a pyarrow factory:
    ``"int64"``, ``"float64"``, ``"bool_"``, ``"string"``); a column without one is inferred, as the driver does.
    Anything else (an array already, ``None``, a column the conversion rejects) is passed on as it is."""
    import pyarrow as pa

    types = types or {}
    out: dict[str, Any] = {}
    for name, values in cols.items():
        if isinstance(values, list):
            try:
                values = pa.array(values, getattr(pa, types[name])() if name in types else None)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                pass  # left to the driver, which reports it as before
        out[name] = values
    return out
