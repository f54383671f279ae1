"""The Thresholds panel's comparison with recipe B and its mixture plan, answered over the panel's own routes.

A threshold change used to reach the compare numbers and the mixture plan through a Streamlit rerun (re-sending
and repainting every element of the fragment: over a second at 1M documents on a loaded machine). The page now
registers, per panel token, what the reviewer chose in the Streamlit widgets (recipe B, the mixture's grouping,
budget, cap and token column: :func:`set_context`); the panel then posts its rules to ``compare`` with every
threshold change and draws the answer itself, and posts a share edit to ``plan``.

Every number comes from the functions the CLI and the export use: :func:`app.recipes.compare.compare_recipes`
(the cached-vector path of :mod:`app.recipes.compare_live`) and :func:`app.recipes.mixture.plan` over
:func:`group_totals`. A share edit replans from the token totals of the last ``compare`` answer (kept per token),
so it costs the arithmetic and one round trip, never a query.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from app.errors import WinnowError
from app.explore.panel_errors import ApiError

#: at most this many groups get a default share (the largest by tokens), as the Streamlit planner does
MAX_GROUPS = 30
_MAX_SHARES = 1000


@dataclass
class Context:
    """What the page's Streamlit widgets chose for one panel token."""

    name: str | None = None
    base: dict[str, Any] | None = None
    b: Any = None  # recipe B (a Recipe) or None
    b_label: str | None = None
    mix: dict[str, Any] | None = None  # {by, tokens, max_epochs, tokens_column}
    version: Any = None  # the workspace's data version when registered (part of the totals' cache key)
    totals: dict[tuple, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def key(self) -> str:
        """A short fingerprint: the panel asks again when it changes."""
        b = self.b.to_yaml() if self.b is not None else None
        return str(hash((self.b_label, b, repr(sorted((self.mix or {}).items())), str(self.version))))


_lock = threading.Lock()
_contexts: dict[str, Context] = {}


def set_context(token: str, ctx: Context, *, alive: Any = None) -> str:
    """Register ``ctx`` for ``token`` (keeping its cached totals when nothing they depend on changed) and
    return its fingerprint. ``alive``: the tokens still registered (contexts of the others are dropped)."""
    with _lock:
        if alive is not None:
            for t in [t for t in _contexts if t not in alive]:
                del _contexts[t]
        old = _contexts.get(token)
        if old is not None and old.mix == ctx.mix and old.version == ctx.version:
            ctx.totals = old.totals
        _contexts[token] = ctx
    return ctx.key()


def context(token: Any) -> Context | None:
    with _lock:
        return _contexts.get(token) if isinstance(token, str) else None


def group_totals(con: Any, recipe: Any, by: str, tokens_column: str | None = None) -> dict[str, tuple[int, int]]:
    """``{group: (documents, tokens)}`` of what ``recipe`` keeps (annotated rules keep their documents), tokens
    in ``tokens_column`` when given: the summary's cached per-check vectors for a recipe without stages and the
    recipe's own token count, else one grouped query."""
    from app.export.annotate import split
    from app.recipes import compile_recipe, summarize
    from app.recipes.mixture import Mixture, group_tokens, token_sql
    from app.workspace import fast_relation

    sel = split(recipe)[0]
    recipe = recipe.__class__(rules=sel.rules, dedup=sel.dedup)
    if tokens_column is None and not (recipe.balance or recipe.sample):
        s = summarize(con, recipe, group_by=by)
        return {str(g["group"]): (g["kept"], g["kept_tokens"]) for g in s["by_group"] if g["kept"]}
    try:
        comp = compile_recipe(con, recipe, relation=fast_relation(con))
    except WinnowError:  # a check that needs the text (exact dedup of an unscored workspace)
        comp = compile_recipe(con, recipe)
    tok = token_sql(Mixture(by, 1, tokens_column=tokens_column), comp)[0]
    got = group_tokens(con, comp.relation, by, tok, where_sql=comp.where_sql, params=comp.params)
    return {str(k): v for k, v in got.items()}


def default_shares(totals: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Equal shares over the (at most :data:`MAX_GROUPS`) groups with the most tokens."""
    top = sorted(totals, key=lambda g: (-totals[g][1], g))[:MAX_GROUPS]
    return {g: round(1 / len(top), 4) for g in top}


def clean_shares(raw: Any) -> dict[str, float]:
    """The panel's shares (``{group: number >= 0}``), zero shares dropped; a malformed mapping is an error."""
    if not isinstance(raw, dict) or len(raw) > _MAX_SHARES:
        raise ApiError("malformed shares")
    out = {}
    for g, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not (v >= 0) or v == float("inf"):
            raise ApiError(f"share of {str(g)[:40]!r} must be a number >= 0")
        if v:
            out[str(g)] = float(v)
    return out


def mixture_payload(ctx: Context, totals: dict[str, tuple[int, int]], shares: dict[str, float] | None) -> dict:
    """The plan the panel draws: :func:`app.recipes.mixture.plan` for the normalised ``shares`` (the defaults
    when None), the shares as entered, and the recipe's ``mixture:`` section as YAML."""
    import yaml

    from app.recipes.mixture import Mixture, plan

    mix = ctx.mix or {}
    entered = default_shares(totals) if shares is None else shares
    total = sum(entered.values())
    out: dict[str, Any] = {
        "by": mix["by"],
        "entered": entered,
        "available": {g: v[1] for g, v in sorted(totals.items(), key=lambda kv: -kv[1][1])[:MAX_GROUPS]},
    }
    if not total:
        out["plan"] = None
        return out
    norm = {g: v / total for g, v in entered.items()}  # the recipe requires shares summing to 1
    m = Mixture(mix["by"], int(mix["tokens"]), norm, mix.get("max_epochs"), tokens_column=mix.get("tokens_column"))
    out["plan"] = plan(m, totals)
    spec = {
        "by": m.by,
        "tokens": m.tokens,
        **({"max_epochs": m.max_epochs} if m.max_epochs is not None else {}),
        "shares": {g: round(v, 4) for g, v in norm.items()},
        **({"tokens_column": m.tokens_column} if m.tokens_column else {}),
    }
    out["yaml"] = yaml.safe_dump({"mixture": spec}, default_flow_style=None, sort_keys=False, allow_unicode=True)
    return out


def _recipe_a(ctx: Context, rules: list[Any]) -> Any:
    from app.explore import recipe_bridge

    return recipe_bridge.recipe_from_rules(rules, name=ctx.name, base=ctx.base)


def _fingerprint(recipe: Any) -> str:
    """What the totals depend on, cheaper than the recipe's YAML (a threshold change is on the hot path)."""
    import json

    return json.dumps(recipe.to_dict(), sort_keys=True, default=str)


def _totals_for(con: Any, ctx: Context, recipe: Any) -> dict[str, tuple[int, int]]:
    mix = ctx.mix or {}
    key = (_fingerprint(recipe), mix.get("by"), mix.get("tokens_column"))
    with _lock:
        hit = ctx.totals.get(key)
    if hit is None:
        hit = group_totals(con, recipe, mix["by"], mix.get("tokens_column"))
        with _lock:
            ctx.totals.clear()  # one recipe at a time: the one the panel shows
            ctx.totals[key] = hit
    return hit


def _shares_for(ctx: Context, shares: Any, shares_by: Any) -> dict[str, float] | None:
    """The panel's shares when they were entered for the current grouping (None: the defaults)."""
    if shares is None or shares_by != (ctx.mix or {}).get("by"):
        return None
    return clean_shares(shares)


def compare_payload(
    con: Any, rules: list[Any], ctx: Context, *, shares: Any = None, shares_by: Any = None
) -> dict[str, Any]:
    """After a threshold change: A (the panel's rules) against B, counts per fate and per source, and the mixture
    plan over what A keeps (shares as the panel holds them; None: the defaults)."""
    import time

    t0 = time.perf_counter()
    a = _recipe_a(ctx, rules)
    out: dict[str, Any] = {"compare": None, "mix": None}
    if ctx.b is not None:
        from app.recipes.compare import compare_recipes

        res = compare_recipes(con, a, ctx.b, flipped=0, snippets=False)
        out["compare"] = {
            "b": ctx.b_label,
            "total_docs": res["total_docs"],
            "counts": {k: res["counts"][k] for k in ("a_only", "b_only", "both")},
            "a": {k: res["a"][k] for k in ("kept_docs", "kept_tokens")},
            "b_kept": {k: res["b"][k] for k in ("kept_docs", "kept_tokens")},
            "tokens": res["tokens"],
            "by_source": [
                {
                    k: r.get(k)
                    for k in ("source", "kept_a", "kept_b", "a_only", "b_only", "a_only_tokens", "b_only_tokens")
                }
                for r in res["by_source"][:15]
            ],
            "flips": [
                {"direction": f["direction"], "rule": f["rule"], "docs": f["docs"], "tokens": f["tokens"]}
                for f in res["flips"][:12]
            ],
            "same": res["same"],
            "elapsed_ms": res["elapsed_ms"],
        }
    if ctx.mix:
        out["mix"] = mixture_payload(ctx, _totals_for(con, ctx, a), _shares_for(ctx, shares, shares_by))
    out["server_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    return out


def plan_payload(con: Any, rules: list[Any], ctx: Context, *, shares: Any, shares_by: Any = None) -> dict[str, Any]:
    """After a share edit: the plan from the totals the last ``compare`` answer counted (counted now if none)."""
    if not ctx.mix:
        raise ApiError("no mixture planner open: reload the page")
    totals = _totals_for(con, ctx, _recipe_a(ctx, rules))
    return {"mix": mixture_payload(ctx, totals, _shares_for(ctx, shares, shares_by))}
