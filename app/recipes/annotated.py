"""A recipe with an ``annotate:`` section, compiled so that every count agrees with what ``winnow apply`` writes.

``apply`` selects with the recipe *without* its annotated rules (:func:`app.export.annotate.split`): those rules
tag the documents they would remove instead of dropping them, and dedup, balancing and sampling run over the
selection that keeps them. :func:`summarize <app.recipes.summary.summarize>`, the report and the dashboard used
to compile the whole recipe, so they counted the annotated rules as drops. :func:`compile_counted` compiles the
selecting recipe (its ``where_sql``, dedup and stages are the export's) and puts the annotated rules back among
the checks, in their recipe positions, as *tag checks*: evaluated like any rule (so per-rule numbers, edges and
histograms still exist) but never part of the keep decision. :attr:`Tagged.tags` names them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.recipes.compile import Compiled, compile_recipe
from app.recipes.schema import Recipe, load_recipe


@dataclass
class Tagged(Compiled):
    """A :class:`Compiled` whose checks ``tags`` (check indices) tag instead of dropping."""

    tags: tuple[int, ...] = ()


def tag_indices(comp: Any) -> tuple[int, ...]:
    """The check indices of ``comp`` that tag instead of drop (empty for a plain :class:`Compiled`)."""
    return tuple(getattr(comp, "tags", ()) or ())


def compile_counted(con: Any, recipe: Recipe | str | dict, **kw: Any) -> Compiled:
    """:func:`compile_recipe` for counting: a recipe without ``annotate:`` compiles as usual; one with it
    compiles to a :class:`Tagged` whose keep decision (``where_sql``, stages) is the export's selection and
    whose checks hold every rule in recipe order, the annotated ones listed in ``tags``. ``kw`` as
    :func:`compile_recipe` (``relation``, ``bind``, ``resolve``, ``token``, ``columns``)."""
    from app.export.annotate import split
    from app.recipes.compare import rename_params
    from app.recipes.sqlparts import used_params

    recipe = load_recipe(recipe)
    if recipe.annotate is None:
        return compile_recipe(con, recipe, **kw)
    sel, annotator = split(recipe)
    comp = compile_recipe(con, sel, **kw)
    # the annotated rules alone, over the same relation (quantiles resolved there, as the export's tags are)
    ann = compile_recipe(con, Recipe(rules=list(annotator.rules)), **{**kw, "bind": False})
    chosen = dict(zip(annotator.indices, ann.checks, strict=True))
    params = dict(comp.params)
    sel_rules = iter(c for c in comp.checks if c.kind == "rule")
    order, remap, tags, resolved = [], {}, [], []
    for i in range(len(recipe.rules)):
        if i in chosen:
            c = chosen[i]
            sql, p = rename_params(c.sql, used_params(c.sql, ann.params), "ann_")
            params.update(p)
            c = dataclasses.replace(c, sql=sql)
            tags.append(i)
        else:
            c = next(sel_rules)
            remap[c.index] = i
        info = {**c.threshold, "index": i, **({"annotate": True} if i in chosen else {})}
        resolved.append(info)
        order.append(dataclasses.replace(c, index=i, threshold=info))
    for c in comp.checks[len(sel.rules) :]:  # dedup steps: after every rule, over the selection's survivors
        remap[c.index] = len(order)
        order.append(dataclasses.replace(c, index=len(order), after=tuple(remap[j] for j in c.after)))
    fields = {f.name: getattr(comp, f.name) for f in dataclasses.fields(Compiled)}
    fields.update(
        recipe=recipe,
        params=params,
        checks=order,
        resolved={**comp.resolved, "rules": resolved, "annotate": [c.label for c in order if c.index in tags]},
    )
    return Tagged(**fields, tags=tuple(tags))
