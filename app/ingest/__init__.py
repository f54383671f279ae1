"""Ingest: streaming readers per format, field detection, accounting of skipped rows.

Public API: :func:`read_documents` (stream Arrow batches of documents, no workspace) and :func:`ingest`
(write sources into a workspace atomically). See :mod:`app.ingest.core`.
"""

from app.ingest.core import DocumentReader, Stats, ingest, read_documents

__all__ = ["DocumentReader", "Stats", "ingest", "read_documents"]
