"""SQL pieces every stage of a recipe shares: frame column names, the exact-duplicate key, seeded uniform
draws, and named-parameter bookkeeping. No recipe logic here (it is imported by compile, cache and live)."""

from __future__ import annotations

import re
from typing import Any

from app.sql import qi

#: the name a recipe frame is registered under on a connection (see :mod:`app.recipes.cache`)
FRAME_NAME = "_winnow_recipe_frame"
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
#: Where the exact-dedup key comes from, in order of preference.
EXACT_KEYS = ("dup_exact_cluster",)
#: The exact-duplicate key when ``dup_exact_cluster`` is not scored: the same normalisation as the
#: ``dedup_exact`` scorer (lowercase, trim, collapse whitespace), so both paths agree.
EXACT_NORM_SQL = "md5(regexp_replace(lower(trim(coalesce(text, ''))), '\\s+', ' ', 'g'))"
#: Columns of a recipe frame (:meth:`app.recipes.cache.RecipeCache.frame`) that stand for wider corpus columns: the rank of the id in
#: id order, dense codes of the exact and near cluster keys, and the id rank of a semantic duplicate's target.
ID_RANK = "_id_rank"
EXACT_KEY = "_exact_key"
NEAR_KEY = "_near_key"
SEM_TARGET = "_sem_target"


def exact_key_sql(columns: dict[str, str]) -> str | None:
    """SQL of the exact-duplicate cluster key over a relation with ``columns`` (None: not computable)."""
    if "dup_exact_cluster" in columns:
        return qi("dup_exact_cluster")
    if "text" in columns:
        return EXACT_NORM_SQL
    return None


def uniform_sql(id_sql: str, seed_param: str, tag: str, *, seed: int | None = None) -> str:
    """A deterministic uniform number in (0, 1) from md5(id, tag, seed): 52 bits of the digest. The seed
    is the named parameter ``seed_param``, or the literal ``seed`` when given."""
    seed_sql = str(int(seed)) if seed is not None else f"CAST(${seed_param} AS VARCHAR)"
    return (
        f"((('0x' || substr(md5(CAST({id_sql} AS VARCHAR) || ':{tag}:' || {seed_sql}), 1, 13))"
        f"::BIGINT + 0.5) / 4503599627370496.0)"
    )


def uniform_columns(recipe: Any) -> dict[str, str]:
    """``{column: SQL}`` of the per-document uniform numbers the recipe's stages draw (precomputable)."""
    out = {
        f"_u_balance{i}_{b.seed}": uniform_sql("id", "", f"balance{i}", seed=b.seed)
        for i, b in enumerate(recipe.balance)
    }
    if recipe.sample is not None:
        out[f"_u_sample_{recipe.sample.seed}"] = uniform_sql("id", "", "sample", seed=recipe.sample.seed)
    return out


def first_row(result: Any) -> Any:
    """The first row of a result, consuming it fully (DuckDB 2 keeps a partly-fetched result open)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` that ``sql`` refers to (DuckDB rejects unused named parameters)."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}
