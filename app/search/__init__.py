"""Finding documents, three ways, in one package:

- :mod:`app.search.bm25`: full-text search over a tantivy (BM25) index kept beside the workspace (whole words,
  phrases, ``OR``/``-word``, CJK characters); needs ``winnow index`` first. Its API is re-exported here
  (:func:`build_index`, :func:`search`, :func:`search_hits`, ...), the names ``app.search`` always had.
- :mod:`app.search.semantic`: the documents nearest to a query or to a document under the stored embedding model
  (:func:`semantic_search`, :func:`neighbours`); needs ``winnow embed`` (and ``winnow map`` for stored neighbours).
- :mod:`app.search.substring`: a case-insensitive substring scan (:func:`substring_search`); needs nothing built.

No Streamlit and nothing from ``app.ui`` here: the Documents page, ``winnow search`` and the benchmarks call these.
"""

from __future__ import annotations

from app.search import bm25, semantic, substring
from app.search.bm25 import (
    INDEX_DIR,
    SearchError,
    build_index,
    drop_index,
    index_info,
    index_state,
    ranked_docs,
    search,
    search_at,
    search_hits,
    write_index,
)
from app.search.semantic import neighbours
from app.search.semantic import search as semantic_search
from app.search.substring import search_docs as substring_search

__all__ = [
    "INDEX_DIR",
    "SearchError",
    "bm25",
    "build_index",
    "drop_index",
    "index_info",
    "index_state",
    "neighbours",
    "ranked_docs",
    "search",
    "search_at",
    "search_hits",
    "semantic",
    "semantic_search",
    "substring",
    "substring_search",
    "write_index",
]
