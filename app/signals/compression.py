"""Compression ratio: zlib-compressed bytes / raw UTF-8 bytes, a model-free repetition and noise signal.

Text that repeats itself (boilerplate, spam, keyword lists) compresses far better than prose; random
characters compress worse. zlib (DEFLATE, level 6, the standard library) is used rather than zstd because it
needs no dependency and its values are stable across versions. The ratio includes zlib's fixed overhead
(about 8 bytes), so very short texts (under ~50 bytes) sit near or above 1 whatever their content.
"""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

from app.signals._text import without_gc
from app.signals.base import Scorer, register

LEVEL = 6


def compression_ratio(text: str) -> float | None:
    """Compressed / raw UTF-8 size (None for an empty text)."""
    raw = text.encode("utf-8", "surrogatepass") if text else b""
    return len(zlib.compress(raw, LEVEL)) / len(raw) if raw else None


@register
class Compression(Scorer):
    name = "compression"
    version = 1
    description = "zlib compression ratio (repetition / noise)"
    columns: ClassVar[dict[str, str]] = {"compression_ratio": "DOUBLE"}
    docs: ClassVar[dict[str, str]] = {
        "compression_ratio": "zlib (level 6) compressed bytes / UTF-8 bytes: low = repetitive, near 1 = dense or "
        "random; includes ~8 bytes of header (short texts read high); NULL for empty text",
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        return {"compression_ratio": [compression_ratio(t if isinstance(t, str) else "") for t in texts]}
