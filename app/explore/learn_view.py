"""What the dashboard's Learn page reads: labels, classifiers and reference models, shaped for drawing.

Headless (no streamlit): every function takes a DuckDB connection first, so a page calls it through
``widgets.cached`` / ``widgets.now``, and a test calls it directly. Nothing here trains or writes; the page
starts :func:`app.learn.classifier.train`, :func:`app.learn.reference.fit` and :func:`app.learn.dsir.fit` as
background jobs and writes labels with :mod:`app.explore.labels`.

The confusion at a threshold other than the one the model was trained with comes from the stored held-out
precision/recall curve (:func:`confusion_at`): its points are exact cuts of the held-out predictions, so the
counts are the cross-validated ones, not a refit's in-sample guess.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from app.errors import LearnError
from app.explore.columns import learned_column
from app.sql import qi

#: a classifier's selectors when nothing better is known (the labels the Documents and Map pages write)
DEFAULT_POSITIVE, DEFAULT_NEGATIVE = "label:good", "label:bad"
MODELS = "_models"


def _has_models(con: Any) -> bool:
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
    return bool(con.execute(q, [MODELS]).fetchall()[0][0])


def _models(con: Any) -> list[Any]:
    from app.learn import store

    return store.list_models(con) if _has_models(con) else []


def default_selectors(con: Any) -> tuple[str, str]:
    """The positive and negative selectors a new classifier form offers: ``label:good`` / ``label:bad`` when those
    labels exist (or none do yet), else the two most used labels, else the one label against ``random:N``."""
    from app.explore.labels import label_counts

    have = [r["label"] for r in label_counts(con)]
    if not have or (DEFAULT_POSITIVE[6:] in have and DEFAULT_NEGATIVE[6:] in have):
        return DEFAULT_POSITIVE, DEFAULT_NEGATIVE
    if len(have) >= 2:
        return f"label:{have[0]}", f"label:{have[1]}"
    n = int(con.execute("SELECT count(*) FROM labels WHERE label = ?", [have[0]]).fetchall()[0][0])
    return f"label:{have[0]}", f"random:{max(20, 2 * n)}"


def check_pair(con: Any, positive: str, negative: str, *, seed: int = 0) -> dict[str, Any]:
    """Resolve a classifier's two selectors now (a one-line :class:`LearnError` when one matches nothing, they
    are the same, or a class is too small to cross-validate) and count what each side holds."""
    import numpy as np

    from app.learn.metrics import folds_for
    from app.learn.selectors import resolve_pair

    pair = resolve_pair(con, positive, negative, seed=seed)
    n_pos, n_neg = len(pair.positive), len(pair.negative)
    folds_for(np.array([1] * n_pos + [0] * n_neg), 5)
    return {"positive": n_pos, "negative": n_neg, "notes": list(pair.notes)}


def check_selector(con: Any, spec: str, *, seed: int = 0) -> int:
    """How many documents (or file texts) the selector ``spec`` picks; a one-line error when none."""
    from app.learn.selectors import resolve

    return len(resolve(con, spec, seed=seed))


def classifiers(con: Any) -> list[dict[str, Any]]:
    """The workspace's classifiers, oldest first: name, digest, features, held-out AUC/AP, class sizes, settings."""
    out = []
    for m in _models(con):
        if m.kind != "classifier":
            continue
        mt = m.metrics
        out.append({"name": m.name, "digest": m.digest, "features": mt.get("features"), "auc": mt.get("auc"),
                    "ap": mt.get("ap"), "positive": m.settings.get("positive"), "negative": m.settings.get("negative"),
                    "n_positive": mt.get("n_positive"), "n_negative": mt.get("n_negative"),
                    "created": str(m.created_at or ""), "settings": m.settings, "metrics": mt})  # fmt: skip
    return out


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "?"


def _summary(kind: str, s: dict[str, Any], mt: dict[str, Any]) -> str:
    if kind == "classifier":
        return f"{s.get('positive')} vs {s.get('negative')}: held-out AUC {mt.get('auc')}, AP {mt.get('ap')}"
    if kind == "dsir":
        return (f"target {s.get('target')} ({_n(mt.get('target_docs'))} docs) vs raw {s.get('raw')} "
                f"({_n(mt.get('raw_docs'))} docs), 2^{s.get('bits')} buckets")  # fmt: skip
    if kind == "lm_diff":
        return f"lp_{s.get('a')} - lp_{s.get('b')}"
    if "on" in s:
        docs, toks = mt.get("docs"), mt.get("tokens")
        size = f"{docs:,} docs, {toks:,} tokens" if isinstance(docs, int) and isinstance(toks, int) else ""
        return f"order {s.get('order')} on {s.get('on')}" + (f" ({size})" if size else "")
    return ", ".join(f"{k} {v}" for k, v in list(s.items())[:3])


def models_table(con: Any) -> list[dict[str, Any]]:
    """Every stored model as a row to list: name, kind, digest, columns, a one-line summary of data and metrics."""
    return [{"name": m.name, "kind": m.kind, "digest": m.digest, "columns": ", ".join(sorted(m.columns)),
             "summary": _summary(m.kind, m.settings, m.metrics), "created": str(m.created_at or "")[:19]}
            for m in _models(con)]  # fmt: skip


def confusion_at(metrics: dict[str, Any], point: int) -> dict[str, Any]:
    """The held-out confusion at point ``point`` of the stored PR curve (its points are cuts of the held-out
    predictions, highest threshold first): ``{threshold, tp, fp, fn, tn, precision, recall, approximate}``.
    Counts come back from the stored recall and precision (rounded to 4 decimals): exact unless ``approximate``
    says a rounding could move them (tens of thousands of examples). Points are chosen by index, not threshold:
    stored thresholds are rounded too, and near 0 or 1 several points share one."""
    curve = metrics.get("pr_curve") or []
    if not curve:
        raise LearnError("this classifier stores no precision/recall curve; train it again")
    if not 0 <= point < len(curve):
        raise LearnError(f"no point {point} on a curve of {len(curve)}")
    n_pos, n_neg = int(metrics.get("n_positive") or 0), int(metrics.get("n_negative") or 0)
    pt = curve[point]
    r, p = float(pt["recall"]), float(pt["precision"])
    eps = 5e-5  # half of the last stored decimal
    tp_lo, tp_hi = round((r - eps) * n_pos), round((r + eps) * n_pos)
    tp = round(r * n_pos)
    if p > 0 and tp > 0:
        fp = round(tp / p - tp)
        fp_lo, fp_hi = round(tp / min(1.0, p + eps) - tp), round(tp / max(p - eps, 1e-9) - tp)
        approx = fp_lo != fp_hi or tp_lo != tp_hi
        fp = max(0, min(n_neg, fp))
    else:  # no positive above the cut: the stored precision says nothing about the negatives there
        fp, approx = None, tp_lo != tp_hi
    return {"threshold": pt["threshold"], "tp": tp, "fp": fp, "fn": n_pos - tp,
            "tn": None if fp is None else n_neg - fp, "precision": p, "recall": r, "approximate": approx}  # fmt: skip


def error_examples(con: Any, errors: list[dict[str, Any]], *, chars: int = 600) -> list[dict[str, Any]]:
    """The false positives/negatives a model stored (``{id, p}``) with their text cut to ``chars`` characters.
    Ids from a ``file:`` selector (``file:PATH#k``) are not documents: their text is said to be outside."""
    ids = [str(e["id"]) for e in errors]
    texts = dict(
        con.execute(
            f"SELECT id, left(coalesce(text, ''), {int(chars)}) FROM docs WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall()
    ) if ids else {}  # fmt: skip
    return [{"id": e["id"], "p": e.get("p"), "text": texts.get(str(e["id"]), "(a text from outside the corpus)")}
            for e in errors]  # fmt: skip


def learned_columns(con: Any) -> list[str]:
    """Numeric corpus columns written by stored models (``ppl_``, ``lp_``, ``dsir_``, ``diff_``, ``clf_``)."""
    from app.explore.queries import numeric_columns

    return [c for c in numeric_columns(con) if learned_column(c) and not c.startswith("ccnet_bucket_")]


def scatter_sample(con: Any, *, x: str, y: str, color: str | None, n: int = 4000, seed: int = 7) -> pd.DataFrame:
    """Up to ``n`` documents with both ``x`` and ``y`` (a seeded sample beyond that): ``id, x, y, color``."""
    from app.workspace import fast_relation

    rel = qi(fast_relation(con))
    col = f"CAST({qi(color)} AS VARCHAR)" if color else "NULL"
    where = f"isfinite(CAST({qi(x)} AS DOUBLE)) AND isfinite(CAST({qi(y)} AS DOUBLE))"
    inner = f"SELECT id, {qi(x)} AS x, {qi(y)} AS y, {col} AS color FROM {rel} WHERE {where}"
    return con.execute(
        f"SELECT * FROM ({inner}) USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)}) ORDER BY id"
    ).df()
