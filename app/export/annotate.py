"""Annotate instead of drop: conditional training (Korbak et al. 2023, "Pretraining Language Models with Human
Preferences") keeps the documents a rule would remove and tags them, so the model learns what the tag means
instead of never seeing such text; at inference the tag is left out.

It is a recipe section, not an ``apply`` flag, so the recipe stays the one artefact behind the dashboard, the
CLI, the report and the manifest's recipe hash (two exports of the same recipe never differ by a flag)::

    annotate:
      rules: [c4-punct, 3]      # rules by label or by number (from 1, as the Thresholds panel numbers them)
      token: "<|bad|>"          # prefixed to the text of every tagged document (optional)
      column: annotations       # a list column naming the failed rules (default when no token is given)

Export: the chosen rules no longer drop anything (the selection is the recipe without them, so dedup,
balancing and sampling see the tagged documents too); a kept document that fails one of them gets the token
before its text and/or the rules' labels in ``column``. The manifest's ``annotations`` block counts the tagged
documents and their tokens, in total and per rule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.errors import ExportError
from app.sql import qi

DEFAULT_COLUMN = "annotations"
_KEYS = {"rules", "token", "column"}
MAX_TOKEN = 256


@dataclass
class Annotate:
    """The ``annotate:`` section: which rules tag instead of drop (labels or 1-based numbers) and how."""

    rules: list[str | int]
    token: str | None = None
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rules": list(self.rules)}
        if self.token is not None:
            out["token"] = self.token
        if self.column is not None:
            out["column"] = self.column
        return out


def rule_index(ref: str | int, rules: list[Any]) -> int | None:
    """The 0-based index of the rule ``ref`` names (1-based number, its label, or its automatic label)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref - 1 if 1 <= ref <= len(rules) else None
    for i, r in enumerate(rules):
        if ref in (r.label, r.describe()):
            return i
    return None


def parse(d: Any, v: Any, path: tuple, rules: list[Any]) -> Annotate:
    """Validate the section (``v`` the recipe validator: errors name the YAML line and field)."""
    if not isinstance(d, dict):
        raise v.fail(path, "expected a mapping like {rules: [my-rule], token: '<|bad|>'}")
    v._keys(d, _KEYS, path)
    refs = d.get("rules")
    if isinstance(refs, str | int) and not isinstance(refs, bool):
        refs = [refs]
    if not isinstance(refs, list) or not refs:
        raise v.fail((*path, "rules"), "expected a non-empty list of rule labels or numbers (from 1)")
    seen: set[int] = set()
    for j, ref in enumerate(refs):
        if isinstance(ref, bool) or not isinstance(ref, str | int):
            raise v.fail((*path, "rules", j), f"expected a rule label or number, got {ref!r}")
        i = rule_index(ref, rules)
        if i is None:
            names = ", ".join(f"{k + 1}: {r.describe()}" for k, r in enumerate(rules)) or "none"
            raise v.fail((*path, "rules", j), f"no rule {ref!r} in this recipe (rules are {names})")
        if i in seen:
            raise v.fail((*path, "rules", j), f"rule {ref!r} is named twice")
        seen.add(i)
    token = d.get("token")
    if token is not None:
        token = v.text(token, (*path, "token"))
        if len(token) > MAX_TOKEN or any(ord(c) < 32 and c not in " \t\n" for c in token):
            raise v.fail((*path, "token"), f"a control token is at most {MAX_TOKEN} printable characters")
    column = d.get("column")
    if column is not None:
        column = v.text(column, (*path, "column"))
    elif token is None:
        column = DEFAULT_COLUMN
    return Annotate(list(refs), token, column)


def split(recipe: Any) -> tuple[Any, Annotator | None]:
    """``(the recipe that selects, its annotator)``: the selecting recipe is ``recipe`` without the annotated
    rules (they tag instead of dropping); ``(recipe, None)`` without an ``annotate:`` section."""
    ann = getattr(recipe, "annotate", None)
    if ann is None:
        return recipe, None
    idx = [rule_index(r, recipe.rules) for r in ann.rules]
    if any(i is None for i in idx):
        raise ExportError(f"annotate: a rule it names is not in the recipe ({ann.rules})")
    chosen = [recipe.rules[i] for i in idx if i is not None]
    sel = dataclasses.replace(recipe, rules=[r for i, r in enumerate(recipe.rules) if i not in idx], annotate=None)
    return sel, Annotator(ann, chosen, [i for i in idx if i is not None])


class Annotator:
    """Tags the kept documents that fail the annotated rules, in the export's own SQL."""

    def __init__(self, section: Annotate, rules: list[Any], indices: list[int]):
        self.section = section
        self.rules = rules
        self.indices = indices

    def _checks(self, con: Any, relation: str) -> tuple[list[str], list[str], dict[str, Any]]:
        """``(per-rule failing SQL, labels, params)`` of the annotated rules compiled over ``relation`` (quantiles
        resolved there, as the whole recipe's are)."""
        from app.recipes.compare import rename_params
        from app.recipes.compile import compile_recipe
        from app.recipes.schema import Recipe
        from app.recipes.sqlparts import used_params

        comp = compile_recipe(con, Recipe(rules=list(self.rules)), relation=relation)
        fails, params = [], {}
        for c in comp.checks:
            sql, p = rename_params(c.sql, used_params(c.sql, comp.params), "ann_")
            params.update(p)
            fails.append(f"NOT coalesce({sql}, false)")
        return fails, [c.label for c in comp.checks], params

    def wrap(
        self, con: Any, sql: str, params: dict[str, Any], *, relation: str, columns: list[str]
    ) -> tuple[str, dict[str, Any]]:
        """The export's selection ``sql`` (``columns``, ordered by id) with the tag applied: the token before
        ``text`` and/or the failed rules' labels in the annotation column."""
        s = self.section
        if s.token is not None and "text" not in columns:
            raise ExportError("annotate.token prefixes the text, but the output columns have no 'text'")
        if s.column is not None and s.column in columns:
            raise ExportError(f"annotate.column {s.column!r} is already an output column")
        fails, labels, p = self._checks(con, relation)
        p = {**params, **p, **{f"ann_label{j}": lab for j, lab in enumerate(labels)}}
        lst = "list_concat(" + ", ".join(
            f"CASE WHEN {f} THEN [$ann_label{j}] ELSE []::VARCHAR[] END" for j, f in enumerate(fails)
        )
        lst += ", []::VARCHAR[])" if len(fails) == 1 else ")"
        tags = f"SELECT id AS _ann_id, {lst} AS _ann FROM {qi(relation)}"
        outs = [f"s.{qi(c)}" for c in columns]
        if s.token is not None:
            p["ann_token"] = s.token
            outs = [
                "CASE WHEN len(t._ann) > 0 THEN $ann_token || s.text ELSE s.text END AS text" if c == "text" else o
                for c, o in zip(columns, outs, strict=True)
            ]
        if s.column is not None:
            outs.append(f"t._ann AS {qi(s.column)}")
        out = f"SELECT {', '.join(outs)} FROM ({sql}) AS s JOIN ({tags}) AS t ON t._ann_id = s.id ORDER BY s.id"
        return out, p

    def counts(self, con: Any, sql: str, params: dict[str, Any], *, relation: str, token_sql: str) -> dict[str, Any]:
        """The manifest's ``annotations`` block: tagged documents and tokens among the kept ones (``sql`` the
        export's selection of ids), in total and per rule."""
        from app.recipes.sqlparts import used_params

        fails, labels, p = self._checks(con, relation)
        per = ", ".join(f"count(*) FILTER (WHERE {f}), coalesce(sum(_tok) FILTER (WHERE {f}), 0)" for f in fails)
        anyf = " OR ".join(fails)
        q = (
            f"SELECT count(*) FILTER (WHERE {anyf}), coalesce(sum(_tok) FILTER (WHERE {anyf}), 0), {per} FROM "
            f"(SELECT c.*, {token_sql} AS _tok FROM {qi(relation)} AS c WHERE c.id IN (SELECT id FROM ({sql})))"
        )
        allp = {**params, **p}
        row = con.execute(q, used_params(q, allp)).fetchall()[0]
        s = self.section
        return {
            "token": s.token,
            "column": s.column,
            "tagged_docs": int(row[0]),
            "tagged_tokens": int(row[1]),
            "rules": [
                {"rule": i + 1, "label": lab, "tagged_docs": int(row[2 + 2 * j]), "tagged_tokens": int(row[3 + 2 * j])}
                for j, (i, lab) in enumerate(zip(self.indices, labels, strict=True))
            ],
        }
