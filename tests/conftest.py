"""Shared fixtures: tiny workspaces built in code, and the shared real corpora when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared"))
REALMIX = SHARED / "corpora" / "realmix"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def realmix() -> Path:
    """``../shared/corpora/realmix`` or skip (a user's fresh clone has no shared/)."""
    if not (REALMIX / "realmix.parquet").exists():
        pytest.skip("../shared/corpora/realmix is absent")
    return REALMIX


TINY_DOCS = [
    {"id": "a1", "text": "The cat sat on the mat. It was a sunny day and the cat was happy.", "topic": "pets"},
    {"id": "a2", "text": "Buy now!!! Click here click here click here. Best deals. Best deals.", "topic": "spam"},
    {"id": "a3", "text": "Home\nAbout\nContact\nPrivacy policy\nCookie policy", "topic": "menu"},
    {"id": "a4", "text": "Der schnelle braune Fuchs springt über den faulen Hund.", "topic": "de"},
    {"id": "a5", "text": "The cat sat on the mat. It was a sunny day and the cat was happy.", "topic": "pets"},
    {"id": "a6", "text": "<script>alert('x')</script><img src=x onerror=alert(1)> hostile text", "topic": "xss"},
]


@pytest.fixture
def tiny_ws(tmp_path):
    """A workspace with two sources and six documents (one exact duplicate, one hostile HTML text)."""
    import pandas as pd

    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("web", pd.DataFrame(TINY_DOCS[:4]))
    ws.write_source("other", pd.DataFrame(TINY_DOCS[4:]))
    yield ws
    ws.close()
