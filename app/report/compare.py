"""The report's optional *compare* section: this recipe (A) against another (B), for a reviewer asking "what does
your change do?" (issue 19, user story 3).

The numbers are :func:`app.recipes.compare.compare_recipes`'s (the same as ``winnow compare`` and the dashboard's
compare panel): documents and tokens kept by A only, B only and both, per source, language and map cluster; the
rule that flips each flipped document; the changed rules with both resolved thresholds; other sections that
differ; and a deterministic sample of flipped documents. Everything shown is escaped by the template.
"""

from __future__ import annotations

import json
from typing import Any

#: the section's id and heading (inserted after the summary when the report is built with ``compare``)
SECTION = ("compare", "Compared with another recipe")
#: groups listed per table (largest change first); the rest are counted
MAX_ROWS = 30
FATES = (("a_only", "A only"), ("b_only", "B only"), ("both", "both"), ("neither", "neither"))


def compare_data(con: Any, a: Any, b: Any, *, flipped: int = 5, text_chars: int = 600) -> dict[str, Any]:
    """The report data's ``compare`` block: :func:`compare_recipes` of ``a`` and ``b`` without its timing (so the
    same workspace and recipes give the same JSON) and with B's recipe."""
    from app.recipes import load_recipe
    from app.recipes.compare import compare_recipes

    rb = load_recipe(b)
    c = compare_recipes(con, a, rb, flipped=flipped, text_chars=text_chars)
    c.pop("elapsed_ms", None)
    c.pop("path", None)  # which (equal) way it was counted is not part of the result
    c["b_recipe"] = rb.to_dict()
    return c


def _n(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else str(x)


def _name(v: Any) -> str:
    return "(none)" if v is None else str(v)


def _cut(t: dict[str, Any] | None) -> str:
    """A rule's cut as compact text (resolved bounds included)."""
    if not t:
        return ""
    return json.dumps(t, ensure_ascii=False, sort_keys=True, default=str)


def _table(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    headers = [key, "documents", "kept by A", "kept by B", "A only", "B only", "both", "A-only tokens", "B-only tokens"]
    body = [
        [_name(r[key]), _n(r["total"]), _n(r["kept_a"]), _n(r["kept_b"]), _n(r["a_only"]), _n(r["b_only"]),
         _n(r["both"]), _n(r["a_only_tokens"]), _n(r["b_only_tokens"])]
        for r in rows[:MAX_ROWS]
    ]  # fmt: skip
    return {"key": key, "headers": headers, "rows": body, "more": max(0, len(rows) - MAX_ROWS)}


def compare_view(c: dict[str, Any] | None) -> dict[str, Any] | None:
    """Plain values for the template's compare section (None: the report was built without ``compare``)."""
    if c is None:
        return None
    a, b = c["a"], c["b"]
    counts = [[label, _n(c["counts"][k]["docs"]), _n(c["counts"][k]["tokens"])] for k, label in FATES]
    tables = [_table(c["by_source"], "source"), _table(c["by_lang"], "lang")]
    if c.get("by_cluster"):
        tables.append({**_table(c["by_cluster"], "cluster"), "key": c.get("cluster_column") or "cluster"})
    flips = [
        ["A only (B drops)" if f["direction"] == "a_only" else "B only (A drops)", f"{f['side'].upper()}: {f['rule']}",
         _n(f["docs"]), _n(f["tokens"])]
        for f in c["flips"]
    ]  # fmt: skip
    rules = [
        [r["status"].replace("_", " "), r.get("a") or "", _cut(r.get("a_threshold")), r.get("b") or "",
         _cut(r.get("b_threshold"))]
        for r in c["rules"]
        if r["status"] != "same"
    ]  # fmt: skip
    sections = [[s["section"], _cut(s["a"]) or "(none)", _cut(s["b"]) or "(none)"] for s in c["sections"]]
    docs = [
        {
            "id": d["id"],
            "source": d["source"],
            "text": d["text"] or "",
            "extra": f" · {'kept by A only' if d['direction'] == 'a_only' else 'kept by B only'} · flipped by {d['rule']}",
            "failed": "",
            "cls": "kept" if d["direction"] == "a_only" else "removed",
        }
        for d in c["flipped"]
    ]
    return {
        "a_name": a.get("name") or "this recipe",
        "b_name": b.get("name") or "the other recipe",
        "a_kept": _n(a["kept_docs"]),
        "b_kept": _n(b["kept_docs"]),
        "a_tokens": _n(a["kept_tokens"]),
        "b_tokens": _n(b["kept_tokens"]),
        "tokens": c.get("tokens") or "",
        "same": bool(c["same"]),
        "counts": counts,
        "tables": tables,
        "flips": flips,
        "rules": rules,
        "sections": sections,
        "docs": docs,
    }
