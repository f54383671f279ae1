"""Labels: good/bad tags a person puts on documents (the Documents and Map pages), read and written here.

Tags go to the workspace's ``labels`` table (``id, label, note, created_at``); the table is part of the data
version, so cached views refresh after a write. Reads and writes stay apart from :mod:`app.explore.queries`,
which only reads.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["add_label", "add_labels", "labels_of"]


def add_label(con: Any, doc_id: str, label: str, note: str | None = None) -> None:
    """Store a good/bad tag in ``labels``."""
    con.execute("INSERT INTO labels VALUES (?, ?, ?, now()::TIMESTAMP)", [doc_id, label, note])


def labels_of(con: Any, doc_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT label, note, created_at FROM labels WHERE id = ? ORDER BY created_at DESC", [doc_id]
    ).df()


def add_labels(con: Any, ids: list[str], label: str, note: str | None = None) -> int:
    """Tag many documents at once (a map selection); returns how many rows were added."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return 0
    con.execute("INSERT INTO labels SELECT unnest(?::VARCHAR[]), ?, ?, now()::TIMESTAMP", [ids, label, note])
    return len(ids)
