"""Which embedder a ``--model`` / ``--fast`` choice means (kept apart from :mod:`app.embed.models` and
:mod:`app.embed.static`, which the fast static embedder builds on: no import cycle between them)."""

from __future__ import annotations

from collections.abc import Callable

from app.embed.models import Embedder, HashEmbedder, TransformerEmbedder
from app.embed.static import StaticEmbedder
from app.errors import EmbedError


def get_embedder(
    model: str | None = None,
    *,
    fast: bool = False,
    device: str = "auto",
    batch_size: int = 64,
    max_length: int | None = None,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> Embedder:
    """The embedder for a ``--model``/``--fast`` choice. ``hash[:DIM]`` is the model-free test embedder."""
    if model and (model == "hash" or model.startswith("hash:")):
        try:
            dim = int(model.split(":", 1)[1]) if ":" in model else 64
        except ValueError as e:
            raise EmbedError(f"bad hash embedder spec {model!r}: use hash or hash:DIM") from e
        return HashEmbedder(dim)
    if fast:
        return StaticEmbedder.for_model(model, max_length=max_length, progress=progress)
    return TransformerEmbedder(model, device=device, max_length=max_length, batch_size=batch_size)
