"""The last steps of an export after the recipe's selection: the token-budget mixture (repeats or samples per
group, :mod:`app.recipes.mixture`) and annotation instead of dropping (:mod:`app.export.annotate`).

Both exports (workspace and headless) call the same two hooks: :func:`split` before compiling (the recipe that
selects is the recipe without its annotated rules) and :meth:`Shape.apply` on the selection SQL before writing
(returns the SQL to write, its parameters and its row count, and fills :attr:`Shape.manifest`).
"""

from __future__ import annotations

from typing import Any

from app.errors import RecipeError
from app.recipes.sqlparts import used_params


class Shape:
    """Mixture and annotation of one export (either may be absent: then :meth:`apply` changes nothing)."""

    def __init__(self, recipe: Any, annotator: Any):
        self.mixture = recipe.mixture
        self.annotator = annotator
        #: blocks for the manifest (``mixture``, ``annotations``), filled by :meth:`apply`
        self.manifest: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        return self.mixture is not None or self.annotator is not None

    def apply(
        self,
        con: Any,
        comp: Any,
        sql: str,
        params: dict[str, Any],
        *,
        columns: list[str],
        n_kept: int,
        relation: str | None = None,
    ) -> tuple[str, dict[str, Any], int, list[str]]:
        """``(sql, params, rows, columns)`` to write: the selection ``sql`` (``columns`` ordered by id, from the
        compiled recipe ``comp``) mixed and annotated. ``relation`` holds the signals (default ``comp``'s)."""
        rel = relation or comp.relation
        if not self.active:
            return sql, params, n_kept, columns
        params = used_params(sql, params)
        rows = n_kept
        if self.mixture is not None:
            from app.recipes import mixture as mx

            if self.mixture.by not in comp.columns:
                raise RecipeError(f"mixture.by: no column {self.mixture.by!r} in {rel}")
            tok, tok_name = mx.token_sql(self.mixture, comp)  # the target tokenizer's column, when named
            if comp.has_stages or rel != comp.relation:
                group = mx.group_tokens(con, rel, self.mixture.by, tok, ids_sql=sql, params=params)
            else:  # one grouped scan with the recipe's own WHERE
                group = mx.group_tokens(con, rel, self.mixture.by, tok, where_sql=comp.where_sql, params=comp.params)
            the_plan = mx.plan(self.mixture, group)
            sql, p = mx.mixture_sql(self.mixture, the_plan, sql, relation=rel, token_sql=tok, columns=columns)
            params = {**params, **p}
            block = mx.achieved(con, self.mixture, the_plan, sql, params, relation=rel, token_sql=tok)
            block["tokens_counted_as"] = tok_name
            self.manifest["mixture"] = block
            rows = block["rows"]
            if self.mixture.repeat == "weight":
                columns = [*columns, mx.WEIGHT_COLUMN]
        if self.annotator is not None:
            plain = f"SELECT DISTINCT id FROM ({sql})"
            self.manifest["annotations"] = self.annotator.counts(
                con, plain, params, relation=rel, token_sql=comp.token_sql
            )
            sql, params = self.annotator.wrap(con, sql, params, relation=rel, columns=columns)
            if self.annotator.section.column is not None:
                columns = [*columns, self.annotator.section.column]
        return sql, params, rows, columns

    def extend(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """``manifest`` with this export's ``mixture`` / ``annotations`` blocks."""
        return {**manifest, **self.manifest}


def split(recipe: Any) -> tuple[Any, Shape]:
    """``(the recipe that selects, the shape)``: annotated rules leave the selecting recipe (they tag instead)."""
    from app.export.annotate import split as split_annotate

    sel, annotator = split_annotate(recipe)
    return sel, Shape(recipe, annotator)


def describe(m: dict[str, Any]) -> list[str]:
    """Lines for ``winnow apply``'s summary about the mixture and annotations in manifest ``m``."""
    out = []
    mix = m.get("mixture")
    if mix:
        out.append(
            f"mixture by {mix['by']}: {mix['tokens_achieved']:,} of {mix['tokens']:,} tokens in {mix['rows']:,} rows"
        )
        for g in mix["groups"]:
            share = g["share_achieved"]
            got = f"{100 * share:.2f}%" if share is not None else "-"
            ep = g["epochs"]
            out.append(
                f"  {g['group']}: target {100 * g['share']:.2f}%, achieved {got}; {g['tokens_available']:,} tokens "
                f"available, {'inf' if ep is None else f'{ep:.3g}'} epochs wanted, {g['epochs_used']:.3g} used"
            )
        out += [f"  warning: {w}" for w in mix["warnings"]]
    ann = m.get("annotations")
    if ann:
        how = f"token {ann['token']!r}" if ann["token"] is not None else f"column {ann['column']!r}"
        out.append(f"annotated ({how}): {ann['tagged_docs']:,} documents, {ann['tagged_tokens']:,} tokens")
        for r in ann["rules"]:
            out.append(
                f"  rule {r['rule']} {r['label']}: {r['tagged_docs']:,} documents, {r['tagged_tokens']:,} tokens"
            )
    return out
