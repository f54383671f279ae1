"""Reference language models in a workspace: fit (``winnow lm fit``), difference (``winnow lm diff``), list.

The typed API the CLI and the dashboard share: :func:`fit` fits a hashed n-gram model
(:mod:`app.learn.ngram_lm`) on the documents a selector picks, stores it in ``_models``, computes its CCNet
tercile thresholds over the workspace (:mod:`app.learn.ccnet`) and scores every document
(``ppl_NAME``, ``lp_NAME``, ``ccnet_bucket_NAME``). Fitting again with the same data and settings finds the
same digest and does nothing. :func:`diff` stores ``diff_A_B`` (:mod:`app.learn.lm_diff`).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from app.errors import LearnError
from app.learn import ccnet, lm_diff, ngram_lm, store
from app.learn.selectors import Selection, iter_texts, resolve

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
BATCH = 2048


def check_name(name: str) -> str:
    """A model name becomes part of column names: letters, digits and underscores, starting with a letter."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise LearnError(f"bad model name {name!r}: use letters, digits and '_' (starting with a letter, <= 40)")
    if name.lower().startswith(("dsir_", "diff_")):
        raise LearnError(f"bad model name {name!r}: dsir_ and diff_ name the DSIR and difference models")
    return name


def _texts(con: Any, sel: Selection, seed: int) -> Iterator[list[str]]:
    """The selection's texts in a seeded random order (the token cap then reads a random subset)."""
    ids = sel.ids
    if len(ids) > 1:
        perm = np.random.default_rng(seed).permutation(len(ids))
        ids = [ids[i] for i in perm]
    for _, texts in iter_texts(con, ids, batch=BATCH):
        yield texts
    for i in range(0, len(sel.texts), BATCH):
        yield sel.texts[i : i + BATCH]


def _workspace_batches(ws: Any) -> Iterator[list[str]]:
    reader = ws.cursor().sql("SELECT coalesce(text, '') FROM docs").to_arrow_reader(BATCH)
    for rb in reader:
        yield rb.column(0).to_pylist()


def fit(ws: Any, *, name: str, on: str, order: int = ngram_lm.DEFAULT_ORDER, bits: int = ngram_lm.DEFAULT_BITS,
        seed: int = 0, progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """Fit the n-gram model ``name`` on the selection ``on`` and score the workspace with it.

    Returns a summary (name, digest, unchanged, documents scored, metrics). Raises :class:`LearnError` with
    one line for a bad name, selector, order or bucket count, or a read-only workspace."""
    check_name(name)
    ngram_lm.check_settings(order, bits)
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    con = ws.cursor()
    sel = resolve(con, on, seed=seed)
    settings = {"on": str(sel.selector), "order": order, "bits": bits, "seed": seed,
                "max_tokens": ngram_lm.MAX_TRAIN_TOKENS, "tokens": "words + CJK characters (v1)"}  # fmt: skip
    key = f"{ngram_lm.KIND}:{sel.digest()}:" + ":".join(f"{k}={settings[k]}" for k in sorted(settings))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    old = {m.name: m for m in store.list_models(con)}.get(name)
    if (
        old is not None
        and old.kind == ngram_lm.KIND
        and old.digest == digest
        and ws.has_table(store.part_table(name), con=con)
    ):
        return {"name": name, "digest": digest, "unchanged": True, "metrics": old.metrics}
    t0 = time.perf_counter()
    tables, metrics = ngram_lm.fit_tables(_texts(con, sel, seed), order=order, bits=bits, progress=progress,
                                          total=len(sel))  # fmt: skip
    metrics["fit_seconds"] = round(time.perf_counter() - t0, 2)
    metrics["selected"] = len(sel)
    # CCNet terciles over the whole workspace, per script, stored with the model
    total = int(con.execute("SELECT count(*) FROM docs").fetchall()[0][0])
    ppl_all: list[np.ndarray] = []
    groups: list[str] = []
    done = 0
    for texts in _workspace_batches(ws):
        ppl_all.append(np.exp(-ngram_lm.mean_logprob(tables, texts)))
        groups.extend(ccnet.scripts(texts))
        done += len(texts)
        if progress:
            progress(done, total, "perplexity terciles")
    ppl = np.concatenate(ppl_all) if ppl_all else np.zeros(0)
    settings["ccnet_thresholds"] = ccnet.thresholds(ppl, groups)
    row = ngram_lm.model_row(name, tables, metrics, settings, digest)
    if settings["ccnet_thresholds"]:
        row.columns[f"ccnet_bucket_{name}"] = "VARCHAR"
    with ws.transaction() as tx:
        store.save(tx, row)
    n = store.score_workspace(ws, name, progress=progress)
    return {"name": name, "digest": digest, "unchanged": False, "documents": n, "metrics": metrics}


def diff(ws: Any, *, a: str, b: str, progress: Any = None) -> dict[str, Any]:
    """Store ``diff_A_B = lp_A - lp_B`` as a model of its own and score the workspace with it."""
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    if a == b:
        raise LearnError("lm diff needs two different models")
    con = ws.cursor()
    ma = store.get(con, a, kind=ngram_lm.KIND)
    mb = store.get(con, b, kind=ngram_lm.KIND)
    row = lm_diff.model_row(ma, mb)
    old = {m.name: m for m in store.list_models(con)}.get(row.name)
    if old is not None and old.digest == row.digest and ws.has_table(store.part_table(row.name), con=con):
        return {"name": row.name, "digest": row.digest, "unchanged": True}
    with ws.transaction() as tx:
        store.save(tx, row)
    n = store.score_workspace(ws, row.name, progress=progress)
    return {"name": row.name, "digest": row.digest, "unchanged": False, "documents": n}


def listing(con: Any) -> list[dict[str, Any]]:
    """The reference models (n-gram, difference) with their settings, metrics and staleness."""
    models = store.list_models(con)
    digests = {m.name: m.digest for m in models}
    out = []
    for m in models:
        if m.kind not in (ngram_lm.KIND, lm_diff.KIND, "transformer_lm"):
            continue
        e = m.entry()
        if m.kind == lm_diff.KIND:
            s = m.settings
            e["stale"] = digests.get(s.get("a")) != s.get("a_digest") or digests.get(s.get("b")) != s.get("b_digest")
        out.append(e)
    return out


def fit_transformer(ws: Any, *, name: str, model: str, max_tokens: int = 512, batch_size: int = 16,
                    progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """Store a local causal LM as the model ``name`` (``lp_NAME``, ``ppl_NAME``) and score the workspace."""
    from app.learn import transformer_lm

    check_name(name)
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    if max_tokens < 2 or batch_size < 1:
        raise LearnError("--max-tokens must be >= 2 and --batch-size >= 1")
    row = transformer_lm.model_row(name, model, max_tokens=max_tokens, batch_size=batch_size)
    con = ws.cursor()
    old = {m.name: m for m in store.list_models(con)}.get(name)
    if old is not None and old.digest == row.digest and ws.has_table(store.part_table(name), con=con):
        return {"name": name, "digest": row.digest, "unchanged": True, "metrics": old.metrics}
    row.metrics = transformer_lm.describe(model)
    store.scorer(row)  # loads the model now: a bad directory fails before anything is stored
    with ws.transaction() as tx:
        store.save(tx, row)
    n = store.score_workspace(ws, name, progress=progress)
    return {"name": name, "digest": row.digest, "unchanged": False, "documents": n, "metrics": row.metrics}
