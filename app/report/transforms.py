"""The report's optional *transforms* section: what the recipe's cleaning steps do to the documents it keeps.

Shown only for a recipe with a ``transforms:`` section. The steps are run over a deterministic sample of the kept
documents (``ORDER BY hash(id), id``, as the report's other samples): per step, how many of the sampled documents
it changed and the characters it removed; and a few documents before and after (the changed ones with the smallest
ids, cut to :data:`TEXT_CHARS`), which the template escapes like every document text. The export manifest holds the
same counts over every exported document (``transforms``).
"""

from __future__ import annotations

from typing import Any

#: the section's id and heading (inserted after the recipe when the recipe has transforms)
SECTION = ("transforms", "Cleaning transforms: before and after")
#: kept documents the steps are run over, and characters shown of each side of an example
SAMPLE = 500
TEXT_CHARS = 600


def transforms_data(con: Any, recipe: Any, *, keep_table: str, sample: int = SAMPLE) -> dict[str, Any] | None:
    """The report data's ``transforms`` block (None: the recipe has no transforms). ``keep_table``: the report's
    temporary table of every document's decision (``id, _keep``)."""
    from app.sql import qi
    from app.transforms.spec import Stats, manifest_entry

    spec = getattr(recipe, "transforms", None)
    if spec is None:
        return None
    rows = con.execute(
        f"SELECT c.id, c.text FROM corpus AS c JOIN (SELECT id FROM {qi(keep_table)} WHERE _keep"
        " ORDER BY hash(id), id LIMIT $n) AS k USING (id) ORDER BY hash(c.id), c.id",
        {"n": sample},
    ).fetchall()
    stats = Stats(len(spec.steps))
    spec.pipeline().run([r[1] for r in rows], ids=[str(r[0]) for r in rows], stats=stats)
    out = manifest_entry(spec, stats)
    out["sampled"] = out.pop("docs")
    return out


def transforms_view(d: dict[str, Any] | None) -> dict[str, Any] | None:
    """Plain values for the template's transforms section (None: no transforms)."""
    if not d:
        return None
    steps = [
        [
            i + 1,
            s.get("label") or s["name"],
            f"{s['name']} v{s['version']}",
            ", ".join(f"{k}={v}" for k, v in s["options"].items()),
            f"{s['docs_changed']:,}",
            f"{s['chars_removed']:,}",
        ]
        for i, s in enumerate(d["steps"])
    ]
    examples = [
        {"id": e["id"], "before": e["before"][:TEXT_CHARS], "after": e["after"][:TEXT_CHARS]} for e in d["examples"]
    ]
    scored = (
        "The export computes the signals the rules read on the cleaned text (score: cleaned); the counts in this "
        "report use the workspace's stored signals of the text as ingested."
        if d["score"] == "cleaned"
        else "The rules read the signals of the text as ingested (score: raw); only the exported text is cleaned."
    )
    if d.get("segmentation", "aware") != "aware":
        scored += (
            f" Segmentation: {d['segmentation']} (DataTrove's English tokenisation) for the signals computed on the"
            " cleaned text and for the steps that segment words."
        )
    return {
        "steps": steps,
        "examples": examples,
        "sampled": f"{d['sampled']:,}",
        "changed": f"{d['docs_changed']:,}",
        "removed": f"{d['chars_removed']:,}",
        "scored": scored,
    }
