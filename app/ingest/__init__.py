"""Ingest: streaming readers per format, field detection, accounting of skipped rows."""
