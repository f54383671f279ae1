"""Target similarity (CiT, Xu et al. 2023; RDS+): how close each document is to examples of what is wanted, and
(optionally) to examples of what is not.

Each similarity has a name, so several coexist (``winnow similarity --name code``, ``--name safety``): the
columns are ``sim_<name>_max`` and ``sim_<name>_mean`` (cosine similarity to the nearest good example and
the mean over them), in a table of their own joined into ``corpus``. With bad examples (``--bad-label L`` for
documents labelled ``L``, e.g. ``bad``; ``--bad-targets FILE``) two more: ``sim_<name>_bad_max`` (cosine
similarity to the nearest bad example) and ``sim_<name>_margin`` = ``max - bad_max`` (> 0: closer to a good
example than to any bad one), a contrastive score in the spirit of RDS+. The default name ``target`` keeps the
historical columns ``sim_target_max``/``sim_target_mean`` and table ``emb_target``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from app.errors import MapError
from app.sql import qi

DEFAULT_NAME = "target"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
META = "similarity."


def check_name(name: str) -> str:
    """A similarity name: lowercase letters, digits and ``_``, starting with a letter (it becomes a column)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise MapError(f"similarity name {str(name)[:40]!r}: use 1-31 lowercase letters, digits or _, a letter first")
    return name


def table_of(name: str) -> str:
    """The part table of similarity ``name`` (``emb_target`` for the default name)."""
    return "emb_target" if name == DEFAULT_NAME else f"emb_sim_{name}"


def columns_of(name: str, *, bad: bool) -> list[str]:
    """The columns similarity ``name`` writes."""
    cols = [f"sim_{name}_max", f"sim_{name}_mean"]
    return [*cols, f"sim_{name}_bad_max", f"sim_{name}_margin"] if bad else cols


def _examples(
    ws: Any, ids: np.ndarray, vecs: np.ndarray, key: str, texts: list[str] | None, label: str | None, what: str
) -> tuple[list[np.ndarray], int, int]:
    """Vectors of example texts and of the documents labelled ``label``: ``(arrays, n_texts, n_labelled)``."""
    from app.search.semantic import query_embedder

    out: list[np.ndarray] = []
    texts = [t for t in (texts or []) if t and t.strip()]
    if texts:
        out.append(np.asarray(query_embedder(ws, key).encode(texts), dtype=np.float32))
    n_label = 0
    if label:
        rows = ws.cursor().execute("SELECT DISTINCT id FROM labels WHERE label = ?", [label]).fetchall()
        mask = np.isin(ids, [r[0] for r in rows])
        n_label = int(mask.sum())
        if n_label:
            out.append(vecs[mask])
        elif not texts:
            raise MapError(f"no embedded documents carry the label {label!r} ({what} examples)")
    return out, len(texts), n_label


def target_similarity(
    ws: Any,
    *,
    texts: list[str] | None = None,
    label: str | None = None,
    name: str = DEFAULT_NAME,
    bad_texts: list[str] | None = None,
    bad_label: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Similarity of every embedded document to good examples (``texts`` and/or documents labelled ``label``)
    and, when given, to bad ones (``bad_texts`` / ``bad_label``); written as similarity ``name``'s columns
    (:func:`columns_of`), a part of ``corpus``. Returns counts and the columns written."""
    import pyarrow as pa

    from app.embed import load_vectors
    from app.maps.signals import target_similarity as ts

    name = check_name(name)
    if ws.read_only:
        raise MapError(f"workspace {ws.path} is open read-only")
    if label and bad_label and label == bad_label:
        raise MapError(f"label {label!r} cannot be both the good and the bad examples")
    ids, vecs, key = load_vectors(ws)
    good, n_text, n_label = _examples(ws, ids, vecs, key, texts, label, "good")
    if not good:
        raise MapError("no target examples: give a file of texts and/or a label")
    has_bad = bool(bad_label or bad_texts)
    bad, n_bad_text, n_bad_label = _examples(ws, ids, vecs, key, bad_texts, bad_label, "bad") if has_bad else ([], 0, 0)
    if has_bad and not bad:
        raise MapError("no bad examples: the bad targets file has no text")
    tv = np.vstack(good).astype(np.float32)
    mx, mean = ts(vecs, tv)
    cols = columns_of(name, bad=has_bad)
    data: dict[str, Any] = {"id": pa.array(ids.tolist(), pa.string()), cols[0]: mx, cols[1]: mean}
    if has_bad:
        bmx, _ = ts(vecs, np.vstack(bad).astype(np.float32))
        data[cols[2]], data[cols[3]] = bmx, (mx - bmx).astype(np.float32)
    spec = {
        "name": name,
        "model": key,
        "texts": n_text,
        "label": label,
        "labelled": n_label,
        "bad_texts": n_bad_text,
        "bad_label": bad_label,
        "bad_labelled": n_bad_label,
        "columns": cols,
    }
    table = table_of(name)
    with ws.transaction() as cur:
        taken = _taken(ws, cur, table, cols)
        if taken:
            raise MapError(
                f"similarity {name!r}: column {taken} already comes from another part; choose another --name"
            )
        cur.register("_winnow_sim", pa.table(data))
        cur.execute(f"CREATE OR REPLACE TABLE {qi(table)} AS SELECT * FROM _winnow_sim")
        cur.unregister("_winnow_sim")
        ws.set_meta(META + name, json.dumps(spec), con=cur)
        if name == DEFAULT_NAME:
            ws.set_meta("target.spec", json.dumps(spec), con=cur)
        ws.register_part(table, kind="embed", con=cur, order=220)
    res = {"model": key, "documents": len(ids), "targets": len(tv), "from_texts": n_text, "from_label": n_label}
    res.update({"name": name, "columns": cols, "max_mean": float(mx.mean()) if len(mx) else None})
    if has_bad:
        res.update({"bad_targets": sum(len(b) for b in bad), "from_bad_texts": n_bad_text})
        res.update({"from_bad_label": n_bad_label, "closer_to_good": int((data[cols[3]] > 0).sum())})
    return res


def _taken(ws: Any, cur: Any, table: str, cols: list[str]) -> str | None:
    """A column of ``cols`` that another part of ``corpus`` already provides (it would shadow ours), or None."""
    for t, _kind in ws.parts(cur):
        if t == table or not ws.has_table(t, cur):
            continue
        clash = set(ws.columns(t, cur)) & set(cols)
        if clash:
            return sorted(clash)[0]
    return None


def similarities(ws: Any) -> dict[str, dict[str, Any]]:
    """``{name: spec}`` of the similarities stored in ``ws``."""
    rows = ws.cursor().execute("SELECT key, value FROM _meta WHERE starts_with(key, ?)", [META]).fetchall()
    return {k[len(META) :]: json.loads(v) for k, v in sorted(rows)}
