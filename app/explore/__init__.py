"""Headless exploration: what the dashboard's pages, the CLI and the report compute alike over a workspace.

No Streamlit and nothing from ``app.ui`` here: a page draws what these functions return, and the report draws the
same numbers, so the two cannot disagree. Everything is DuckDB SQL over a relation; no column is pulled into Python.
"""

from __future__ import annotations

from app.explore.histogram import Bins, Histogram, histogram

__all__ = ["Bins", "Histogram", "histogram"]
