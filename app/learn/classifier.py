"""Classifiers trained in the workspace: ``clf_NAME`` = P(positive) for every document.

:func:`train` resolves two selectors (:mod:`app.learn.selectors`) into disjoint positive/negative sets, fits a
logistic regression (the project's own L-BFGS fit, :mod:`app.learn._logreg`, with balanced class weights so a 1:50
imbalance does not collapse into "always negative") on one of two feature sets, measures it by stratified k-fold cross-validation
(:mod:`app.learn.metrics`: held-out predictions only), refits on everything, stores it in ``_models`` and
scores the workspace into the ``corpus`` part ``_model_NAME``.

Features:

- ``ngrams``: hashed word uni+bigrams (:mod:`app.learn.features`; character bigrams for scripts without
  spaces). Per-document features with no fitted vocabulary or IDF, so computing them once before the folds
  leaks nothing. Scores any text anywhere: headless ``winnow apply --models WS`` gives the same values.
- ``embeddings``: the workspace's stored vectors (:func:`app.embed.load_vectors`, never re-embedded). In the
  workspace the scores come from the stored vectors; a headless run has only texts, so the scorer rebuilds the
  embedder the vectors came from (its ``embed_models`` spec, checked by key) and embeds each batch; when that
  embedder cannot be loaded offline it refuses with one line rather than guess. ``file:`` selectors have no
  stored vectors: use ``ngrams`` with them.
- ``auto``: both when the workspace has embeddings for every training document, the better cross-validated
  AUC wins (ties go to ``ngrams``, the faster one); otherwise ``ngrams``.

The model's ``digest`` hashes the selected ids/texts and every setting: training again with the same inputs is
a no-op (:attr:`TrainResult.unchanged`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import LearnError
from app.learn import store
from app.learn._logreg import fit_logreg, sigmoid
from app.learn.features import BITS

KIND = "classifier"
#: bumped when the stored arrays or settings change meaning; older models are refused with one line
FORMAT = 1
#: the fitting code's version: part of the digest, so a changed trainer retrains rather than says "unchanged"
TRAINER = 2
FEATURES = ("ngrams", "embeddings", "auto")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: inverse regularisation strength per feature set (rows are L2-normalised in both)
C = {"ngrams": 4.0, "embeddings": 1.0}


@dataclass
class TrainResult:
    """What :func:`train` did: the model (name, digest, features), its metrics and the documents scored."""

    name: str
    column: str
    digest: str
    features: str
    unchanged: bool
    metrics: dict[str, Any]
    scored: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    candidates: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "digest": self.digest, "features": self.features,
                "unchanged": self.unchanged, "scored": self.scored, "seconds": round(self.seconds, 2),
                "notes": self.notes, "candidates": self.candidates, "metrics": self.metrics}  # fmt: skip


def column_of(name: str) -> str:
    return f"clf_{name}"


def check_name(name: str) -> str:
    """A classifier name makes the column ``clf_NAME``: lowercase letters, digits and ``_``."""
    if not NAME_RE.match(str(name)):
        raise LearnError(f"bad classifier name {str(name)[:60]!r}: use 1-40 lowercase letters, digits or '_', "
                         "starting with a letter (it names the column clf_NAME)")  # fmt: skip
    return str(name)


def _fit(x: Any, y: np.ndarray, features: str) -> tuple[np.ndarray, float]:
    return fit_logreg(x, y, c=C[features])


def _predict(x: Any, w: np.ndarray, b: float) -> np.ndarray:
    return sigmoid(np.asarray(x @ w, dtype=np.float64).ravel() + b)


def _embed_source(ws: Any, ids: list[str], notes: list[str]) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Stored vectors of ``ids`` (in order) and the embedder's spec, or None when some lack a vector."""
    from app.embed import active_model, load_vectors

    key = active_model(ws)
    if not key:
        notes.append("this workspace has no embeddings (winnow embed)")
        return None
    all_ids, vecs, key = load_vectors(ws, model=key)
    pos = {i: k for k, i in enumerate(all_ids.tolist())}
    missing = sum(1 for i in ids if i not in pos)
    if missing:
        notes.append(f"{missing:,} training documents have no stored embedding ({key}): run winnow embed")
        return None
    row = ws.cursor().execute("SELECT spec FROM embed_models WHERE model = ?", [key]).fetchone()
    spec = json.loads(row[0]) if row and row[0] else {"key": key}
    return vecs[[pos[i] for i in ids]], {**spec, "key": key}


def train(
    ws: Any,
    *,
    name: str,
    positive: str,
    negative: str,
    features: str = "auto",
    folds: int = 5,
    seed: int = 0,
    threshold: float = 0.5,
    progress: Any = None,
) -> TrainResult:
    """Train (or find unchanged) the classifier ``name`` and score the workspace; see the module docstring.

    Raises :class:`LearnError` (one line, nothing written) for a bad name, selector or feature choice, a class
    with fewer than 2 examples, or a model of that name of another kind."""
    from app.learn.metrics import cv_predict, evaluate, folds_for
    from app.learn.selectors import resolve_pair, texts_of

    t0 = time.perf_counter()
    check_name(name)
    if features not in FEATURES:
        raise LearnError(f"unknown features {features!r}: use {', '.join(FEATURES)}")
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    con = ws.cursor()
    other = [m for m in store.list_models(con) if m.name == name and m.kind != KIND]
    if other:
        raise LearnError(f"a {other[0].kind} model is already named {name!r}; choose another name or remove it")
    pair = resolve_pair(con, positive, negative, seed=seed)
    notes = list(pair.notes)
    ids = pair.positive.ids + [f"{pair.positive.selector}#{k}" for k in range(len(pair.positive.texts))]
    ids += pair.negative.ids + [f"{pair.negative.selector}#{k}" for k in range(len(pair.negative.texts))]
    y = np.concatenate([np.ones(len(pair.positive), np.int8), np.zeros(len(pair.negative), np.int8)])
    folds_for(y, folds)  # one line now when a class is too small, before any work
    has_files = bool(pair.positive.texts or pair.negative.texts)
    emb = None
    if features in ("embeddings", "auto") and not has_files:
        emb = _embed_source(ws, pair.positive.ids + pair.negative.ids, notes)
    if features == "embeddings" and emb is None:
        why = "file: selectors have no stored vectors" if has_files else notes[-1]
        raise LearnError(f"cannot train on embeddings: {why}; or use --features ngrams")
    settings = {"format": FORMAT, "trainer": TRAINER, "features": features, "folds": int(folds),
                "seed": int(seed), "bits": BITS, "C": C, "threshold": threshold, "positive": str(pair.positive.selector),
                "negative": str(pair.negative.selector), "embedder": emb[1] if emb else None}  # fmt: skip
    digest = _digest(pair, settings)
    prev = next((m for m in store.list_models(con, kind=KIND) if m.name == name), None)
    if prev and prev.digest == digest and ws.has_table(store.part_table(name)):
        return TrainResult(name, column_of(name), digest, prev.settings.get("chosen", features), True, prev.metrics,
                           notes=notes, seconds=time.perf_counter() - t0)  # fmt: skip
    mats: dict[str, Any] = {}
    if features in ("ngrams", "auto"):
        from app.learn.features import featurize_batches

        mats["ngrams"] = featurize_batches(texts_of(con, pair.positive) + texts_of(con, pair.negative),
                                           progress=progress)  # fmt: skip
    if emb is not None:
        mats["embeddings"] = emb[0]
    held: dict[str, np.ndarray] = {}
    for feat, x in mats.items():

        def fit_predict(tr: np.ndarray, te: np.ndarray, x: Any = x, feat: str = feat) -> np.ndarray:
            w, b = _fit(x[tr], y[tr], feat)
            return _predict(x[te], w, b)

        held[feat] = cv_predict(y, fit_predict, folds=folds, seed=seed, progress=progress)
    from app.learn.metrics import auc_ap

    cands = {f: round(auc_ap(y, p)[0], 4) for f, p in held.items()}
    chosen = max(cands, key=lambda f: (cands[f], f == "ngrams"))
    if len(cands) > 1:
        notes.append("features by cross-validated AUC: " + ", ".join(f"{f} {a}" for f, a in cands.items()))
    metrics = evaluate(y, held[chosen], ids=ids, threshold=threshold, seed=seed)
    metrics["features"] = chosen
    metrics["folds"] = folds_for(y, folds)
    w, b = _fit(mats[chosen], y, chosen)
    settings["chosen"] = chosen
    if chosen != "embeddings":
        settings["embedder"] = None
    model = store.StoredModel(name=name, kind=KIND, digest=digest, settings=settings, metrics=metrics,
                              columns={column_of(name): "DOUBLE"},
                              blob=store.pack({"w": w, "b": np.array([b]), "format": np.array([FORMAT])}))  # fmt: skip
    before = store.get(con, name) if prev else None
    with ws.transaction() as tx:
        store.save(tx, model)
    try:
        if chosen == "embeddings":
            scored = _score_from_vectors(ws, name, w, b, progress=progress)
        else:
            scored = store.score_workspace(ws, name, progress=progress)
    except BaseException:  # interrupted or failed: the stored model goes back to the one its scores came from
        with ws.transaction() as tx:
            if before is not None:
                store.save(tx, before)
            else:
                tx.execute(f"DELETE FROM {store.TABLE} WHERE name = ?", [name])
        raise
    return TrainResult(name, column_of(name), digest, chosen, False, metrics, scored,
                       time.perf_counter() - t0, notes, cands)  # fmt: skip


def _digest(pair: Any, settings: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(pair.positive.digest().encode() + b"|" + pair.negative.digest().encode())
    return h.hexdigest()[:16]


def _score_from_vectors(ws: Any, name: str, w: np.ndarray, b: float, *, progress: Any = None) -> int:
    """Write ``clf_NAME`` from the stored vectors (documents without one get NULL), swapped in atomically."""
    import pyarrow as pa

    from app.embed import load_vectors
    from app.sql import qi

    ids, vecs, _key = load_vectors(ws)
    col = column_of(name)
    p = np.full(len(ids), np.nan)
    for s in range(0, len(ids), store.BATCH * 8):
        p[s : s + store.BATCH * 8] = _predict(vecs[s : s + store.BATCH * 8], w, b)
        if progress:
            progress(min(s + store.BATCH * 8, len(ids)), len(ids), f"scoring with classifier {name}")
    dest = store.part_table(name)
    tbl = pa.table({"id": pa.array(ids.tolist(), pa.string()), col: pa.array(p)})
    with ws.transaction() as tx:
        tx.register("_clf_batch", tbl)
        tx.execute(f"DROP TABLE IF EXISTS {qi(dest)}")
        tx.execute(f"CREATE TABLE {qi(dest)} AS SELECT d.id, b.{qi(col)} FROM docs AS d "
                   f"LEFT JOIN _clf_batch AS b USING (id)")  # fmt: skip
        tx.unregister("_clf_batch")
        ws.register_part(dest, kind="model", con=tx)
    return len(ids)


class ClassifierScorer:
    """A stored classifier as a :class:`app.learn.store.ModelScorer` (workspace parts and headless apply)."""

    def __init__(self, m: store.StoredModel):
        fmt = m.settings.get("format")
        if fmt != FORMAT:
            raise LearnError(f"classifier {m.name!r} was stored in format {fmt!r} by another version of Winnow "
                             f"(this one reads {FORMAT}); train it again")  # fmt: skip
        a = m.arrays()
        if "w" not in a or "b" not in a:
            raise LearnError(f"classifier {m.name!r} is incomplete (no weights); train it again")
        self.name = m.name
        self.w, self.b = a["w"].astype(np.float32), float(a["b"][0])
        self.features = m.settings.get("chosen", "ngrams")
        self.bits = int(m.settings.get("bits", BITS))
        if self.features == "ngrams" and len(self.w) != 1 << self.bits:
            raise LearnError(f"classifier {m.name!r} has {len(self.w)} weights for {1 << self.bits} buckets; "
                             "train it again")  # fmt: skip
        self.spec = m.settings.get("embedder") or {}
        self.embedder: Any = None
        self.columns = {column_of(m.name): "DOUBLE"}

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        if self.features == "ngrams":
            from app.learn.features import featurize

            x = featurize(texts, bits=self.bits)
        else:
            x = self._embedder().encode(texts)
        return {column_of(self.name): _predict(x, self.w, self.b).tolist()}

    def _embedder(self) -> Any:
        """The embedder the training vectors came from, rebuilt from its spec and checked by key."""
        if self.embedder is None:
            from pathlib import Path

            key, kind = self.spec.get("key"), self.spec.get("kind")
            try:
                if kind == "hash":
                    from app.embed.models import HashEmbedder

                    emb = HashEmbedder(int(self.spec["dim"]))
                elif kind == "static":
                    from app.embed.static import StaticEmbedder

                    emb = StaticEmbedder(Path(self.spec["folder"]), name=str(self.spec.get("name", key)),
                                         max_length=self.spec.get("max_length"))  # fmt: skip
                else:
                    from app.embed.models import TransformerEmbedder

                    emb = TransformerEmbedder(
                        self.spec.get("path"), device="cpu", max_length=self.spec.get("max_length")
                    )
            except Exception as e:  # a missing model folder or package: say which embedder is needed
                raise LearnError(f"classifier {self.name!r} needs the embedder {key!r} to score new texts and it "
                                 f"cannot be loaded here ({type(e).__name__}); retrain with --features ngrams") from e  # fmt: skip
            if emb.key != key:
                raise LearnError(f"classifier {self.name!r} was trained on {key!r} vectors but the embedder here "
                                 f"is {emb.key!r}; retrain it")  # fmt: skip
            if int(emb.dim) != len(self.w):
                raise LearnError(f"classifier {self.name!r} has {len(self.w)} weights for {emb.dim}-dimensional "
                                 "vectors; retrain it")  # fmt: skip
            self.embedder = emb
        return self.embedder


@store.loader(KIND)
def _load(m: store.StoredModel) -> ClassifierScorer:
    return ClassifierScorer(m)
