"""The Thresholds page's ``annotate:`` section kept in step with the panel's rules.

A loaded recipe's ``annotate:`` names rules by label or by number (from 1). The panel edits the rules while the
section waits aside in the page's stage base, so removing rule 1 would silently turn ``annotate: {rules: [3]}``
into a reference to another rule (or to none, an error far from its cause). Instead the page remembers which
panel rules (by their uid) the section named when the recipe was opened (:func:`anchor`), and before every use
rewrites the references to where those rules are now (:func:`sync`): a removed rule leaves the section with a
visible note, and a section left with no rule is dropped, also with a note.
"""

from __future__ import annotations

from typing import Any


def _recipe_rules(rules: list[Any]) -> list[Any]:
    """The panel rules that are recipe rules (dedup steps are not numbered by ``annotate:``)."""
    return [r for r in rules if getattr(r, "in_rules", True)]


def anchor(rules: list[Any], base: dict[str, Any] | None) -> list[str | None]:
    """The uid of the panel rule each ``annotate.rules`` reference of ``base`` names (None: names none)."""
    from app.export.annotate import rule_index

    refs = ((base or {}).get("annotate") or {}).get("rules") or []
    current = _recipe_rules(rules)
    out: list[str | None] = []
    for ref in refs:
        i = rule_index(ref, current)
        out.append(None if i is None else current[i].uid)
    return out


def sync(rules: list[Any], base: dict[str, Any] | None, uids: list[str | None]) -> tuple[dict[str, Any], list[str]]:
    """``(base, notes)``: ``base`` with ``annotate.rules`` naming the same rules where they now are (a label that
    still names its rule stays, else the rule's number), references to removed rules dropped, and the section
    dropped when none is left; one note per change, for the page to show."""
    base = dict(base or {})
    ann = base.get("annotate")
    if not ann:
        return base, []
    refs = list(ann.get("rules") or [])
    current = _recipe_rules(rules)
    pos = {r.uid: i for i, r in enumerate(current)}
    kept: list[str | int] = []
    gone: list[str] = []
    for ref, uid in zip(refs, uids, strict=False):
        if uid is None or uid not in pos:
            gone.append(str(ref))
            continue
        i = pos[uid]
        r = current[i]
        kept.append(ref if isinstance(ref, str) and ref in (r.label, r.describe()) else i + 1)
    gone += [str(ref) for ref in refs[len(uids) :]]
    notes = []
    if not kept:
        base.pop("annotate")
        notes.append(
            f"annotate: rule{'s' * (len(gone) != 1)} {', '.join(gone)} no longer in the rules, so the annotate "
            "section was dropped (nothing is tagged now)"
        )
    else:
        base["annotate"] = {**ann, "rules": kept}
        if gone:
            notes.append(
                f"annotate: rule{'s' * (len(gone) != 1)} {', '.join(gone)} no longer in the rules, so "
                f"{'they no longer tag' if len(gone) != 1 else 'it no longer tags'}; still tagging: "
                + ", ".join(str(k) for k in kept)
            )
    return base, notes


def tagged_lines(summary: dict[str, Any]) -> list[str]:
    """One line per annotated rule of ``summary`` (:func:`app.recipes.summarize`): tagged documents and tokens."""
    ann = summary.get("annotations")
    if not ann:
        return []
    how = f"token {ann['token']!r}" if ann.get("token") is not None else f"column {ann['column']!r}"
    out = [f"annotate ({how}): {ann['tagged_docs']:,} kept documents tagged, {ann['tagged_tokens']:,} tokens"]
    out += [
        f"rule {r['rule']} {r['label']}: {r['tagged_docs']:,} documents, {r['tagged_tokens']:,} tokens"
        for r in ann["rules"]
    ]
    return out


def for_rules(rules: list[Any], section: dict[str, Any] | None, uids: list[str | None] | None) -> dict[str, Any] | None:
    """``section`` (a recipe's ``annotate:``) naming, by number, the rules of ``rules`` whose uid is in ``uids``
    (:func:`anchor`'s): the panel posts its current rules, which may already lack one the page still knows, so
    references follow the rules themselves, not their old numbers. None when none of them is left."""
    if not section or not uids:
        return None
    want = {u for u in uids if u}
    refs = [i + 1 for i, r in enumerate(_recipe_rules(rules)) if r.uid in want]
    return {**section, "rules": refs} if refs else None
