"""Compile a :class:`Recipe` to SQL over ``corpus``: one compiled form for the dashboard, ``winnow apply``
and the report, so what you see is what you export.

Stages, in order: rules (each a per-document boolean from its kind, :mod:`app.recipes.rules`; NULL fails
unless ``keep_null``), dedup (over the documents that passed the rules: one representative per cluster),
balancing (MetaCLIP, over the survivors), sampling (over what balancing kept). Summaries are
:mod:`app.recipes.summary`'s, edge documents :mod:`app.recipes.edges`'s.

Randomness is a seeded md5 of the document id (:func:`app.recipes.sqlparts.uniform_sql`), so a selection is a
pure function of the corpus and the recipe: the same on every run, machine and DuckDB version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.errors import RecipeError
from app.recipes.cache import CACHE
from app.recipes.rules import Context, DedupRule, RuleKind
from app.recipes.rules.base import unknown_column
from app.recipes.schema import Recipe, load_recipe
from app.recipes.sqlparts import (  # noqa: F401  (EXACT_NORM_SQL, used_params: part of this module's API)
    EXACT_KEY,
    EXACT_NORM_SQL,
    ID_RANK,
    NEAR_KEY,
    SEM_TARGET,
    exact_key_sql,
    uniform_sql,
    used_params,
)
from app.sql import is_number_type, qi


@dataclass
class Check:
    """One per-document condition of the compiled recipe (a rule or a dedup step)."""

    index: int
    kind: str  # "rule" | "dedup"
    label: str
    sql: str  # boolean SQL: true = the document passes
    signal: str | None = None
    rule: RuleKind | None = None
    threshold: dict[str, Any] = field(default_factory=dict)
    #: dedup steps: the relation column holding the cluster key (semantic: the duplicated document's id
    #: rank) and the checks a document must pass to be a survivor this step deduplicates
    key: str | None = None
    after: tuple[int, ...] = ()
    #: near dedup at a recipe threshold: only members whose ``dup_near_jaccard`` is at least this are in their
    #: cluster (the others are singletons), :func:`near_key_sql`
    min_jaccard: float | None = None


@dataclass
class Compiled:
    """A recipe compiled against one relation. ``where_sql`` + ``params`` (named, ``$name``) select the
    documents passing rules and dedup; :meth:`pipeline_sql` adds balancing and sampling."""

    recipe: Recipe
    relation: str
    where_sql: str
    params: dict[str, Any]
    resolved: dict[str, Any]
    checks: list[Check]
    columns: dict[str, str]
    token_sql: str
    token_column: str | None
    lang_column: str | None

    @property
    def has_stages(self) -> bool:
        """True when balancing or sampling make the selection more than a WHERE clause."""
        return bool(self.recipe.balance) or self.recipe.sample is not None

    def pipeline_sql(self, select: list[str], *, with_checks: bool = False) -> str:
        """SQL of a relation with the ``select`` expressions plus ``_pass`` (rules and dedup) and
        ``_keep`` (final decision, after balancing and sampling); ``with_checks`` adds ``_c0..``."""
        r = self.recipe
        need = set()
        for b in r.balance:
            need.add(b.column)
        if r.sample and r.sample.weight:
            need.add(r.sample.weight)
        if r.sample and r.sample.log_weight:
            need.add(r.sample.log_weight)
        cols = list(select)
        extra = [f"{qi(c)} AS {qi('_col_' + c)}" for c in sorted(need)]
        if not any(c.strip('"') == "id" for c in select):
            cols.insert(0, "id")
        checks = [f"coalesce({c.sql}, false) AS _c{c.index}" for c in self.checks] if with_checks else []
        passing = self.where_sql
        # per-document uniform draws: precomputed columns in a recipe frame, else md5 of the id here
        unif = []
        for i, b in enumerate(r.balance):
            name = f"_u_balance{i}_{b.seed}"
            expr = qi(name) if name in self.columns else uniform_sql("id", f"bal{i}_seed", f"balance{i}")
            unif.append(f"{expr} AS _u_b{i}")
        if r.sample is not None:
            name = f"_u_sample_{r.sample.seed}"
            expr = qi(name) if name in self.columns else uniform_sql("id", "smp_seed", "sample")
            unif.append(f"{expr} AS _u_s")
        body = ", ".join([*cols, *extra, *unif, *checks, f"{passing} AS _pass"])
        ctes = [f"_s0 AS (SELECT {body} FROM {qi(self.relation)})"]
        last = "_s0"
        for i, b in enumerate(r.balance):
            cnt = f"count(*) OVER (PARTITION BY _pass, {qi('_col_' + b.column)})"
            nxt = f"_b{i}"
            ctes.append(f"{nxt} AS (SELECT * REPLACE (_pass AND _u_b{i} * {cnt} < $bal{i}_cap AS _pass) FROM {last})")
            # what survives this balance step, for the per-stage counts (app.recipes.summary)
            ctes.append(f"{nxt}s AS (SELECT *, _pass AS _st_b{i} FROM {nxt})")
            last = f"{nxt}s"
        if r.sample is not None:
            if r.sample.weight:
                w = qi("_col_" + r.sample.weight)
                key = f"CASE WHEN {w} > 0 THEN -ln(_u_s) / {w} ELSE NULL END"
            elif r.sample.log_weight:
                # Gumbel top-k: P(chosen) ~ exp(log weight) without replacement, exact without exp overflow
                lw = f"CAST({qi('_col_' + r.sample.log_weight)} AS DOUBLE)"
                key = f"CASE WHEN isfinite({lw}) THEN ln(-ln(_u_s)) - {lw} ELSE NULL END"
            else:
                key = "_u_s"
            ctes.append(f"_smp0 AS (SELECT *, {key} AS _smp_key FROM {last})")
            if r.sample.n is not None:
                # top-n by (key, id) among passing documents: the n-th pair is found with a top-N scan
                n = int(r.sample.n)
                if n <= 0:
                    cond = "false"
                else:
                    ctes.append(
                        "_smp_th AS (SELECT _smp_key AS tk, id AS tid FROM _smp0 WHERE _pass AND _smp_key IS NOT NULL"
                        f" ORDER BY _smp_key, id LIMIT 1 OFFSET {n - 1})"
                    )
                    cond = (
                        "(NOT EXISTS (SELECT 1 FROM _smp_th) OR _smp_key < (SELECT tk FROM _smp_th)"
                        " OR (_smp_key = (SELECT tk FROM _smp_th) AND id <= (SELECT tid FROM _smp_th)))"
                    )
            else:
                rank = "row_number() OVER (PARTITION BY _pass ORDER BY _smp_key ASC NULLS LAST, id)"
                cond = f"{rank} <= round($smp_frac * count(*) OVER (PARTITION BY _pass))"
            ctes.append(
                "_smp AS (SELECT * EXCLUDE (_smp_key) REPLACE "
                f"(_pass AND _smp_key IS NOT NULL AND {cond} AS _pass) FROM _smp0)"
            )
            last = "_smp"
        unif_cols = [f"_u_b{i}" for i in range(len(r.balance))] + (["_u_s"] if r.sample is not None else [])
        if unif_cols:
            last = f"(SELECT * EXCLUDE ({', '.join(unif_cols)}) FROM {last})"
        passing_cols = "_pass AS _keep"
        return f"WITH {', '.join(ctes)} SELECT *, {passing_cols} FROM {last}"

    def stage_params(self) -> dict[str, Any]:
        p = dict(self.params)
        for i, b in enumerate(self.recipe.balance):
            p[f"bal{i}_seed"] = b.seed
            p[f"bal{i}_cap"] = b.cap
        s = self.recipe.sample
        if s is not None:
            p["smp_seed"] = s.seed
            if s.n is not None:
                p["smp_n"] = s.n
            else:
                p["smp_frac"] = s.fraction
        return p


def _unresolved(wanted: list[tuple]) -> dict[tuple, Any]:
    """Stand-in quantiles for a compile that only checks the recipe (``resolve=False``)."""
    return {w: ({} if len(w) == 3 else 0.0) for w in wanted}


def compile_recipe(
    con: Any,
    recipe: Recipe | str | dict,
    *,
    relation: str = "corpus",
    bind: bool = True,
    resolve: bool = True,
    token: tuple | None = None,
    columns: dict[str, str] | None = None,
) -> Compiled:
    """Check the recipe against ``relation``'s columns and compile it to SQL with named parameters.

    Quantile thresholds are resolved to values here (``resolved['rules'][i]``). ``token`` (a workspace
    version, see :func:`app.recipes.cache.version_token`) and ``columns`` let repeated compiles skip DESCRIBE and quantiles."""
    recipe = load_recipe(recipe)
    if columns is None:
        columns = CACHE.columns(con, relation, token)
    params: dict[str, Any] = {}
    checks: list[Check] = []
    resolved_rules: list[dict[str, Any]] = []

    wanted: list[tuple] = []
    for i, r in enumerate(recipe.rules):
        where = recipe.where("rules", i, "signal" if r.kind != "expr" else "expr")
        for c in r.columns() if r.kind != "expr" else []:
            if c not in columns:
                raise unknown_column(c, columns, where)
        r.check(columns, where)
        wanted += r.quantiles()
    qvals = CACHE.resolve_quantiles(con, relation, wanted, token=token) if resolve else _unresolved(wanted)

    for i, r in enumerate(recipe.rules):
        ctx = Context(columns, params, f"r{i}_", recipe.where("rules", i), qvals)
        sql, info = r.compile(ctx)
        if r.keep_null:
            sql = f"coalesce({sql}, true)"
        info = {"index": i, "kind": r.kind, "signal": r.signal if hasattr(r, "signal") else None, **info}
        info["label"] = r.describe(info)
        resolved_rules.append(info)
        checks.append(Check(i, "rule", info["label"], sql, info["signal"], r, info))

    k = len(checks)
    d = recipe.dedup
    near_resolved: float | None = None
    rel = qi(relation)
    # Dedup runs over the survivors (as DataTrove and FineWeb do): a cluster's representative is its smallest
    # id among the documents that pass every rule (and the earlier dedup steps), so a cluster whose smallest
    # id fails a rule keeps another copy. A dedup check is true for documents it does not concern (those that
    # failed before it), so its "removed" count is exactly the redundant copies among the survivors.
    # ``dedup.over: corpus`` keeps the older choice (representative over the whole corpus) for those who ask.
    survivors = d.over == "survivors"
    after = tuple(range(k)) if survivors else ()
    base = " AND ".join(f"coalesce({c.sql}, false)" for c in checks) if after else "true"
    idc = ID_RANK if ID_RANK in columns else "id"

    def representative(key: str, base: str) -> str:
        among = "" if base == "true" else f" AND {base}"
        rep = f"{idc} IN (SELECT min({idc}) FROM {rel} WHERE {key} IS NOT NULL{among} GROUP BY {key})"
        return f"({key} IS NULL OR {rep})" if base == "true" else f"(NOT ({base}) OR {key} IS NULL OR {rep})"

    def dedup_label(step: str) -> str:
        if survivors:
            return DedupRule(step=step).describe()
        return f"{step} duplicates (one per cluster, chosen over the whole corpus before the rules: dedup.over corpus)"

    def add(label: str, sql: str, signal: str | None, key: str | None, min_j: float | None = None) -> None:
        nonlocal base, after, k
        checks.append(Check(k, "dedup", label, sql, signal, key=key, after=after, min_jaccard=min_j))
        if survivors:
            base = sql if base == "true" else f"{base} AND coalesce({sql}, false)"
            after = (*after, k)
        k += 1

    if d.exact:
        key = EXACT_KEY if EXACT_KEY in columns else exact_key_sql(columns)
        if key is None:
            raise RecipeError("dedup.exact needs dup_exact_cluster (winnow score --signals dedup_exact) or the text")
        signal = "dup_exact_cluster" if "dup_exact_cluster" in columns else None
        add(dedup_label("exact"), representative(key, base), signal, key if key == EXACT_KEY else None)
    if d.near:
        key = NEAR_KEY if NEAR_KEY in columns else ("dup_near_cluster" if "dup_near_cluster" in columns else None)
        if key is None:
            raise RecipeError("dedup.near needs the column dup_near_cluster: run `winnow score --signals dedup_near`")
        signal = "dup_near_keep" if "dup_near_keep" in columns else None
        t, min_j = near_threshold(con, d.near_threshold, columns)
        label = DedupRule(step="near", threshold=t).describe() if survivors else dedup_label("near")
        near_resolved = t
        add(label, representative(near_key_sql(key, min_j), base), signal, key if key == NEAR_KEY else None, min_j)
    if d.semantic:
        if "semdup_is_dup" not in columns:
            raise RecipeError("dedup.semantic needs the column semdup_is_dup (embed the corpus, then semantic dedup)")
        # a semantic duplicate is removed only when the earlier document it duplicates is itself kept
        if SEM_TARGET in columns:
            target = f"{SEM_TARGET} IN (SELECT {idc} FROM {rel} WHERE {base})"
        elif "semdup_dup_of" in columns:
            target = f"semdup_dup_of IN (SELECT id FROM {rel} WHERE {base})"
        else:
            target = "true"
        sql = f"NOT (coalesce(CAST(semdup_is_dup AS BOOLEAN), false) AND coalesce({target}, false))"
        add(dedup_label("semantic"), sql, "semdup_is_dup", SEM_TARGET if SEM_TARGET in columns else None)

    for bi, b in enumerate(recipe.balance):
        if b.column not in columns:
            raise unknown_column(b.column, columns, recipe.where("balance", bi, "column"))
    if recipe.sample and recipe.sample.weight:
        w = recipe.sample.weight
        if w not in columns:
            raise unknown_column(w, columns, recipe.where("sample", "weight"))
        if not is_number_type(columns[w]):
            raise RecipeError(f"sample.weight: {w} is {columns[w]}, not a number")
    if recipe.sample and recipe.sample.log_weight:
        w = recipe.sample.log_weight
        if w not in columns:
            raise unknown_column(w, columns, recipe.where("sample", "log_weight"))
        if not is_number_type(columns[w]):
            raise RecipeError(f"sample.log_weight: {w} is {columns[w]}, not a number")
    if recipe.output_columns:
        for c in recipe.output_columns:
            if c not in columns:
                raise unknown_column(c, columns, recipe.where("output", "columns"))

    where = " AND ".join(f"coalesce({c.sql}, false)" for c in checks) or "true"
    if "size_tokens" in columns:
        tok, tokcol = "coalesce(CAST(size_tokens AS BIGINT), 0)", "size_tokens"
    elif "size_chars" in columns:
        tok, tokcol = "CAST(coalesce(size_chars, 0) / 4 AS BIGINT)", None
    else:
        tok, tokcol = "CAST(coalesce(length(text), 0) / 4 AS BIGINT)", None
    resolved = {
        "rules": resolved_rules,
        "tokens": tokcol or "estimate: characters / 4",
        "dedup": [c.label for c in checks if c.kind == "dedup"],
    }
    if d.near:
        resolved["dedup_near_threshold"] = near_resolved
    comp = Compiled(
        recipe,
        relation,
        where,
        params,
        resolved,
        checks,
        columns,
        tok,
        tokcol,
        "lang_code" if "lang_code" in columns else None,
    )
    if not bind:
        return comp
    try:  # bind once so type errors in expressions surface here, as one line
        con.execute(f"SELECT count(*) FROM (SELECT {where} AS k FROM {qi(relation)} LIMIT 0)", params).fetchall()
    except Exception as e:
        raise RecipeError(f"recipe does not type-check against {relation}: {str(e).splitlines()[0]}") from e
    return comp


def near_threshold(con: Any, wanted: float | None, columns: dict[str, str]) -> tuple[float | None, float | None]:
    """``(threshold, min_jaccard)`` of a recipe's near dedup over stored clusters scored at ``T0``.

    ``wanted`` None (``near: true``): the clusters as scored, at ``T0`` (headless: the default), no filter. A recipe
    threshold ``T >= T0`` is served from the stored columns: a member is a near duplicate only when its estimated
    Jaccard with its cluster's representative (``dup_near_jaccard``) is at least ``T`` (the other members count
    as singletons). ``T < T0`` needs clusters the stored ones do not hold: a one-line error naming the command."""
    from app.signals.dedup_near import DEFAULT_THRESHOLD, scored_threshold

    t0 = scored_threshold(con)
    if wanted is None:  # no workspace (headless apply): clustered at the default
        return (DEFAULT_THRESHOLD if t0 is None else t0), None
    if "dup_near_jaccard" not in columns:
        raise RecipeError(
            f"dedup.near {wanted:g} needs dup_near_jaccard: run `winnow dedup near --threshold {wanted:g}`"
        )
    if t0 is not None and wanted < t0 - 1e-9:
        raise RecipeError(
            f"dedup.near {wanted:g} is below the threshold the near duplicates were scored at ({t0:g}): run "
            f"`winnow dedup near --threshold {wanted:g}` first (or use a threshold >= {t0:g})"
        )
    return wanted, wanted - 1e-9


def near_key_sql(key: str, min_jaccard: float | None) -> str:
    """The near-duplicate cluster key, NULL (a singleton) for a member below ``min_jaccard`` to its
    representative (no filter when None)."""
    if min_jaccard is None:
        return key
    return f"(CASE WHEN dup_near_jaccard >= {min_jaccard!r} THEN {key} END)"


def select_ids_sql(compiled: Compiled, *, columns: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` selecting the kept documents (``columns``, default ``id``) ordered by id."""
    cols = [qi(c) for c in (columns or ["id"])]
    if not compiled.has_stages:
        sql = f"SELECT {', '.join(cols)} FROM {qi(compiled.relation)} WHERE {compiled.where_sql} ORDER BY id"
        return sql, dict(compiled.params)
    inner = compiled.pipeline_sql(cols)
    out = ", ".join(qi(c) for c in (columns or ["id"]))
    sql = f"SELECT {out} FROM ({inner}) WHERE _keep ORDER BY id"
    return sql, used_params(sql, compiled.stage_params())
