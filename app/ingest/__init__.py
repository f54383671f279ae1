"""Ingest: streaming readers per format, field detection, accounting of skipped rows.

Public API: :func:`read_documents` (stream Arrow batches of documents, no workspace) and :func:`ingest`
(write sources into a workspace atomically). Modules: ``sources`` (resolve SRC arguments), ``streams``
(decompression that detects truncation), ``formats``/``csvfmt`` (per-format readers), ``normalize`` (the
SQL that makes documents), ``reader`` (accounting, :class:`DocumentReader`), ``core`` (staging and the
atomic swap), ``sample`` (``--sample N --seed S``).
"""

from app.ingest.core import DocumentReader, Stats, ingest, read_documents

__all__ = ["DocumentReader", "Stats", "ingest", "read_documents"]
