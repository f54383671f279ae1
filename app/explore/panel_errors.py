"""The Thresholds panel's request error, apart so that the panel's route modules (:mod:`app.explore.panel_api`,
:mod:`app.explore.panel_compare`) share it without importing each other."""

from __future__ import annotations

from app.errors import WinnowError


class ApiError(WinnowError):
    """A request the panel cannot answer (unknown token, malformed rules or shares)."""
