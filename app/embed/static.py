"""Fast mode: a static embedding model distilled locally from the transformer (the Model2Vec idea).

Every vocabulary token is run through the transformer once as the one-token sentence ``[CLS] t [SEP]``
and mean-pooled exactly as the sentence model pools; the token vectors are PCA-reduced to 256
dimensions and weighted down for frequent tokens (SIF weights from a Zipf prior on vocabulary order). A document's vector is then the mean of its tokens' vectors (no attention, no
network): :mod:`app.embed.tokens` gives the token ids model2vec's ``StaticModel`` gets from the Rust tokenizer at
a fraction of the CPU, and one sparse product sums them, with the same vectors. Distilling takes
about 2 minutes on 2 CPU cores and is cached under ``$WINNOW_CACHE`` (default ``~/.cache/winnow``) keyed by a
digest of the source model folder, so it happens once per machine and model; ``make install`` runs it ahead
of first use (:func:`prepare`, ``winnow embed --prepare-fast``). Our own distillation
code: model2vec's ``distill`` extra pins an older transformers than the rest of Winnow needs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.embed.models import Embedder, embedding_dim, file_digest, load_sentence_transformer, normalise, resolve_model
from app.embed.tokens import TokenIds
from app.errors import EmbedError

PCA_DIMS = 256
STATIC_VERSION = 2
SIF_A = 1e-4
OTHER_RANK = 5000  # specials and single characters: a middling frequency rank
#: texts per sparse product in :meth:`StaticEmbedder.encode` (bounds its memory: <= 512 ids a text)
ENCODE_STEP = 4096


def cache_home() -> Path:
    """``$WINNOW_CACHE`` or ``~/.cache/winnow`` (``$XDG_CACHE_HOME`` respected)."""
    if os.environ.get("WINNOW_CACHE"):
        return Path(os.environ["WINNOW_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "winnow"


def zipf_weights(tokens: list[str], *, a: float = SIF_A) -> np.ndarray:
    """SIF weights ``a / (a + p)`` from a Zipf prior on vocabulary order. WordPiece vocabularies list the
    special tokens and single characters first, then words roughly by frequency starting at "the"; so a
    word's rank is its id minus the id of "the", and everything before gets a middling rank. Measured on
    realmix: 10-NN source purity 0.936 -> 0.961 (full model 0.970) on a 15k-document sample."""
    n = len(tokens)
    start = tokens.index("the") if "the" in tokens else 0
    rank = np.arange(n, dtype=np.float64) - start
    rank[:start] = OTHER_RANK
    p = 1.0 / (rank + 1.0)
    p /= p.sum()
    return (a / (a + p)).astype(np.float32)


def distill(
    model_path: str,
    out_dir: Path,
    *,
    pca_dims: int = PCA_DIMS,
    batch_size: int = 512,
    progress: Any = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Distil the sentence-transformers model at ``model_path`` into ``out_dir`` (vectors.npy,
    tokenizer.json, meta.json with ``provenance`` merged in), atomically."""
    import torch

    tok_file = Path(model_path) / "tokenizer.json"
    if not tok_file.exists():
        raise EmbedError(f"fast mode needs a fast tokenizer (tokenizer.json) in {model_path}")
    st = load_sentence_transformer(model_path, device="cpu")
    hf = st[0].auto_model  # the transformer module of the sentence model
    tokenizer = st.tokenizer
    vocab_size = int(tokenizer.vocab_size if hasattr(tokenizer, "vocab_size") else len(tokenizer))
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:  # models without BERT-style specials: the token alone
        prefix, suffix = [], []
    else:
        prefix, suffix = [cls_id], [sep_id]
    ids = torch.arange(vocab_size).unsqueeze(1)
    vecs = np.zeros((vocab_size, embedding_dim(st)), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, vocab_size, batch_size):
            block = ids[s : s + batch_size]
            seq = torch.cat(
                [
                    torch.tensor([prefix] * len(block), dtype=torch.long).reshape(len(block), -1),
                    block,
                    torch.tensor([suffix] * len(block), dtype=torch.long).reshape(len(block), -1),
                ],
                dim=1,
            )
            hidden = hf(input_ids=seq, attention_mask=torch.ones_like(seq)).last_hidden_state
            vecs[s : s + len(block)] = hidden.mean(dim=1).float().numpy()  # mean pooling, as the sentence model
            if progress:
                progress(min(s + batch_size, vocab_size), vocab_size, "distilling static model")
    # PCA (centred SVD) keeps the directions that separate tokens; the mean direction is noise for cosine.
    centred = vecs - vecs.mean(axis=0, keepdims=True)
    k = min(pca_dims, centred.shape[1])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = (centred @ vt[:k].T).astype(np.float32)
    reduced *= zipf_weights(tokenizer.convert_ids_to_tokens(list(range(vocab_size))))[:, None]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".distil-", dir=out_dir.parent))
    np.save(tmp / "vectors.npy", reduced)
    shutil.copy(tok_file, tmp / "tokenizer.json")
    meta = {"source": str(model_path), "dims": k, "version": STATIC_VERSION, **(provenance or {})}
    (tmp / "meta.json").write_text(json.dumps(meta))
    if out_dir.exists():
        shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir


def static_folder(model: str | None = None) -> tuple[str, str, Path]:
    """``(display name, source path, cache folder)`` of the static model distilled from ``model``. The folder
    name carries the source folder's digest and :data:`STATIC_VERSION`, so a changed model or distillation
    gets a new folder and an old one is never reused."""
    name, path = resolve_model(model)
    if not Path(path).is_dir():
        raise EmbedError(f"fast mode distils from a local model folder; {path!r} is not one")
    return name, path, cache_home() / "static" / f"{name}-{file_digest(Path(path))}-v{STATIC_VERSION}"


def prepare(model: str | None = None, *, progress: Any = None) -> dict[str, Any]:
    """Distil the static model for ``model`` into its cache folder unless it is already there, so the first
    ``winnow embed --fast`` does not pay the distillation. Returns ``name``, ``folder``, ``distilled`` (False
    when cached), ``seconds`` and ``bytes`` on disk."""
    name, path, folder = static_folder(model)
    t0 = time.perf_counter()
    distilled = not (folder / "vectors.npy").exists()
    if distilled:
        from app import __version__

        provenance = {"source_digest": file_digest(Path(path)), "winnow": __version__, "prepared_at": time.time()}
        try:
            distill(path, folder, progress=progress, provenance=provenance)
        except EmbedError:
            raise
        except Exception as e:
            raise EmbedError(f"cannot distil a fast model from {path}: {type(e).__name__}: {e}") from e
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {
        "name": name,
        "folder": str(folder),
        "distilled": distilled,
        "seconds": round(time.perf_counter() - t0, 2),
        "bytes": size,
    }


class StaticEmbedder(Embedder):
    """Mean of distilled static token vectors; see the module docstring."""

    kind = "static"
    step = ENCODE_STEP  # ~0.1 s of CPU a call: per-call overheads would show at 256
    length_sorted = False  # no padding: the sort of every text to embed (10M at scale) buys nothing

    def __init__(self, folder: Path, *, name: str, max_length: int | None = None):
        from tokenizers import Tokenizer

        vectors = np.load(folder / "vectors.npy")
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.max_length = int(max_length or 512)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.tokens = TokenIds(tokenizer, max_length=self.max_length)
        if self.tokens.vocab_size != len(self.vectors):
            raise EmbedError(
                f"static model {folder} is inconsistent: {len(self.vectors)} vectors for"
                f" {self.tokens.vocab_size} tokens; delete the folder and run `winnow embed --prepare-fast`"
            )
        self.folder = folder
        self.dim = int(vectors.shape[1])
        self.name = name
        # the folder name carries the source model's digest and the distillation version: new vectors, new key
        self.key = f"static:{folder.name}@{self.max_length}"

    @classmethod
    def for_model(
        cls, model: str | None = None, *, max_length: int | None = None, progress: Any = None
    ) -> StaticEmbedder:
        """The static model distilled from ``model`` (default: the packaged one), distilling it once."""
        out = prepare(model, progress=progress)
        return cls(Path(out["folder"]), name=out["name"], max_length=max_length)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "folder": str(self.folder), "max_length": self.max_length}

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(texts), ENCODE_STEP):
            chunk = texts[s : s + ENCODE_STEP]
            out[s : s + len(chunk)] = self._means(chunk)
            if progress:
                progress(s + len(chunk))
        return out

    def _means(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean token vector of each text (zeros for a text with no known token).

        A sparse (documents x vocabulary) matrix of ones times the vector table: no [tokens x dim] copy, and
        each row is summed one token after another in token order, as model2vec's ``StaticModel.encode``
        sums them, so the vectors are bit-equal to the ones it gave (and to those already in workspaces)."""
        from scipy.sparse import csr_matrix

        ids, counts = self.tokens.ids(texts)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        ones = np.ones(len(ids), dtype=np.float32)
        docs = csr_matrix((ones, ids, indptr), shape=(len(texts), len(self.vectors)), copy=False)
        total = np.asarray(docs @ self.vectors, dtype=np.float32)
        mean = np.zeros_like(total)
        some = counts > 0
        mean[some] = total[some] / counts[some, None].astype(np.float32)
        # model2vec normalised with norm + 1e-32, then :func:`normalise` again: both kept (bit-equal vectors)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True) + np.float32(1e-32)
        return normalise(mean)
