"""Optional transformer LM scorer: mean token log-likelihood under a causal LM the user has on disk.

``winnow lm fit NAME --model PATH`` stores a reference to a local Hugging Face causal LM directory (config,
weights, tokenizer; loaded with ``local_files_only``: nothing is downloaded) and scores every document with
``lp_NAME`` (mean natural-log probability of each token given the ones before it) and ``ppl_NAME``
(``e^-lp``), the same columns an n-gram model gives, so recipes and the MiniPLM-style difference read alike.

Truncation: each document is scored on its first ``max_tokens`` tokens (default 512) only; the first token
has no context and is not scored, so a text of fewer than 2 tokens gets NULL. Batched (``batch_size``, right
padding masked out), on the GPU when torch sees one, else the CPU. The stored row keeps the path, the
settings and a digest of the directory's file names, sizes and config: a moved or changed model directory is
a one-line error when scoring, not a silent different model.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import LearnError, MissingDependency
from app.learn.store import StoredModel, loader, pack

KIND = "transformer_lm"
DEFAULT_MAX_TOKENS = 512
DEFAULT_BATCH = 16


def model_digest(path: str | Path) -> str:
    """Hash of a model directory: every file's relative name and size, and config.json's bytes."""
    p = Path(path)
    if not (p / "config.json").is_file():
        raise LearnError(f"{p} is not a local Hugging Face model directory (no config.json)")
    h = hashlib.sha256((p / "config.json").read_bytes())
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(f"{f.relative_to(p)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any, Any]:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise MissingDependency("transformers", "the transformer LM scorer") from e
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except Exception as e:  # a missing file, a foreign architecture
        raise LearnError(f"cannot load the causal LM in {path}: {str(e).splitlines()[0][:200]}") from e
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.unk_token
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    return tok, model, device


def mean_logprobs(path: str, texts: list[str], *, max_tokens: int = DEFAULT_MAX_TOKENS,
                  batch_size: int = DEFAULT_BATCH) -> np.ndarray:  # fmt: skip
    """Mean log-probability per scored token of each text (NaN when it has fewer than 2 tokens)."""
    import torch

    tok, model, device = _load(path)
    out = np.full(len(texts), np.nan)
    for start in range(0, len(texts), batch_size):
        chunk = [t if isinstance(t, str) else "" for t in texts[start : start + batch_size]]
        enc = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens)
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        if ids.shape[1] < 2:
            continue
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
        lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        m = mask[:, 1:].float() * mask[:, :-1].float()
        n = m.sum(1)
        mean = (lp * m).sum(1) / n.clamp(min=1)
        vals = mean.cpu().numpy().astype(np.float64)
        vals[n.cpu().numpy() == 0] = np.nan
        out[start : start + len(chunk)] = vals
    return out


def model_row(name: str, path: str, *, max_tokens: int, batch_size: int) -> StoredModel:
    p = str(Path(path).resolve())
    digest = hashlib.sha256(f"{KIND}:{model_digest(p)}:{max_tokens}".encode()).hexdigest()[:16]
    settings = {"model_path": p, "model_digest": model_digest(p), "max_tokens": max_tokens, "batch_size": batch_size}
    cols = {f"ppl_{name}": "DOUBLE", f"lp_{name}": "DOUBLE"}
    return StoredModel(name=name, kind=KIND, digest=digest, settings=settings, metrics={}, columns=cols,
                       blob=pack({"max_tokens": np.array(max_tokens)}))  # fmt: skip


class TransformerScorer:
    def __init__(self, m: StoredModel):
        s = m.settings
        self.path, self.max_tokens, self.batch = s["model_path"], int(s["max_tokens"]), int(s["batch_size"])
        if model_digest(self.path) != s.get("model_digest"):
            raise LearnError(f"the model directory {self.path} changed since {m.name} was fitted; fit it again")
        self.ppl, self.lp = f"ppl_{m.name}", f"lp_{m.name}"
        self.columns = {self.ppl: "DOUBLE", self.lp: "DOUBLE"}

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        lp = mean_logprobs(self.path, texts, max_tokens=self.max_tokens, batch_size=self.batch)
        return {self.lp: [None if np.isnan(x) else float(x) for x in lp.tolist()],
                self.ppl: [None if np.isnan(x) else float(np.exp(-x)) for x in lp.tolist()]}  # fmt: skip


@loader(KIND)
def load(m: StoredModel) -> TransformerScorer:
    return TransformerScorer(m)


def describe(path: str) -> dict[str, Any]:
    """The architecture names of a model directory (for the fit summary)."""
    cfg = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    return {"architectures": cfg.get("architectures"), "model_type": cfg.get("model_type")}
