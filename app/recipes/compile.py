"""Compile a :class:`Recipe` to SQL over ``corpus`` and summarise what it keeps.

One compiled form serves the dashboard, ``winnow apply`` and the report, so what you see is what you
export. Stages, in order: rules (each a per-document boolean; NULL fails unless ``keep_null``), dedup
(per-document booleans: is this the representative of its cluster), balancing (MetaCLIP, over the
documents that passed the rules and dedup), sampling (over what balancing kept).

Randomness is a seeded md5 of the document id (:func:`uniform_sql`), so a selection is a pure function of
the corpus and the recipe: the same on every run, machine and DuckDB version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from app.errors import RecipeError
from app.recipes.rules import Context, DedupRule, RuleKind
from app.recipes.schema import Recipe, load_recipe
from app.sql import is_number_type, qi
from app.workspace import fast_relation

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
#: Where the exact-dedup key comes from, in order of preference.
EXACT_KEYS = ("dup_exact_cluster",)
#: The exact-duplicate key when ``dup_exact_cluster`` is not scored: the same normalisation as the
#: ``dedup_exact`` scorer (lowercase, trim, collapse whitespace), so both paths agree.
EXACT_NORM_SQL = "md5(regexp_replace(lower(trim(coalesce(text, ''))), '\\s+', ' ', 'g'))"
#: Columns of a recipe frame (:func:`recipe_frame`) that stand for wider corpus columns: the rank of the id in
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


def uniform_columns(recipe: Recipe) -> dict[str, str]:
    """``{column: SQL}`` of the per-document uniform numbers the recipe's stages draw (precomputable)."""
    out = {
        f"_u_balance{i}_{b.seed}": uniform_sql("id", "", f"balance{i}", seed=b.seed)
        for i, b in enumerate(recipe.balance)
    }
    if recipe.sample is not None:
        out[f"_u_sample_{recipe.sample.seed}"] = uniform_sql("id", "", "sample", seed=recipe.sample.seed)
    return out


def _first(result: Any) -> Any:
    """The first row of a result, consuming it fully (DuckDB 2 keeps a partly-fetched result open)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` that ``sql`` refers to (DuckDB rejects unused named parameters)."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


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
            last = nxt
        if r.sample is not None:
            if r.sample.weight:
                w = qi("_col_" + r.sample.weight)
                key = f"CASE WHEN {w} > 0 THEN -ln(_u_s) / {w} ELSE NULL END"
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


# ---------------------------------------------------------------------- quantile cache
_QCACHE: dict[tuple, dict[tuple[str, float], float | None]] = {}
_LOCK = threading.Lock()


def _version_token(con: Any, relation: str) -> tuple | None:
    """A cheap key that changes when the workspace's documents or parts change (None: don't cache)."""
    try:
        row = _first(
            con.execute(
                "SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),"
                " (SELECT max(registered_at)::VARCHAR || count(*) FROM _parts),"
                " (SELECT max(ingested_at)::VARCHAR || count(*) || sum(n_docs) FROM sources)"
            )
        )
        if not row or not row[0]:
            return None
        return (row[0], relation, *row[1:])
    except Exception:
        return None


_DESCRIBE: dict[tuple, dict[str, str]] = {}


def _columns(con: Any, relation: str, token: tuple | None = None) -> dict[str, str]:
    """``{column: type}`` of ``relation`` (cached under ``token`` when given: DESCRIBE of the joined
    ``corpus`` view costs a few ms, and an interactive summary would pay it several times)."""
    if token is not None and (token, relation) in _DESCRIBE:
        return _DESCRIBE[(token, relation)]
    try:
        cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {qi(relation)}").fetchall()}
    except Exception as e:
        raise RecipeError(f"cannot read {relation}: {str(e).splitlines()[0]}") from e
    if token is not None:
        with _LOCK:
            while len(_DESCRIBE) >= 16:
                _DESCRIBE.pop(next(iter(_DESCRIBE)))
            _DESCRIBE[(token, relation)] = cols
    return cols


def resolve_quantiles(
    con: Any, relation: str, wanted: list[tuple[str, float]], *, token: tuple | None = None
) -> dict[tuple[str, float], Any]:
    """``{(column, q): value}`` with one ``quantile_cont`` query over ``relation`` (cached per workspace state;
    pass ``token`` when it is already known)."""
    if not wanted:
        return {}
    token = token or _version_token(con, relation)
    cache = _QCACHE.setdefault(token, {}) if token else {}
    missing = [w for w in dict.fromkeys(wanted) if w not in cache]
    plain = [w for w in missing if len(w) == 2]
    if plain:
        sel = ", ".join(f"quantile_cont(CAST({qi(c)} AS DOUBLE), {float(q)!r})" for c, q in plain)
        row = _first(con.execute(f"SELECT {sel} FROM {qi(relation)}"))
        for w, v in zip(plain, row, strict=True):
            cache[w] = v
    for w in missing:  # (column, q, group column): {group value as text (None for NULL): quantile}
        if len(w) == 3:
            c, q, by = w
            rows = con.execute(
                f"SELECT CAST({qi(by)} AS VARCHAR), quantile_cont(CAST({qi(c)} AS DOUBLE), {float(q)!r}) "
                f"FROM {qi(relation)} GROUP BY 1"
            ).fetchall()
            cache[w] = dict(rows)
    if token and len(_QCACHE) > 64:
        with _LOCK, contextlib.suppress(StopIteration, KeyError, RuntimeError):
            _QCACHE.pop(next(iter(_QCACHE)))
    return {w: cache[w] for w in wanted}


# ---------------------------------------------------------------------- compile
def _unresolved(wanted: list[tuple]) -> dict[tuple, Any]:
    """Stand-in quantiles for a compile that only checks the recipe (``resolve=False``)."""
    return {w: ({} if len(w) == 3 else 0.0) for w in wanted}


def unknown_column(name: str, columns: dict[str, str], what: str) -> RecipeError:
    near = difflib.get_close_matches(name, list(columns), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    known = [c for c in columns if c not in ("text", "text_hash")]
    return RecipeError(
        f"{what}: unknown signal {name!r}{hint} (corpus has {len(known)} columns: "
        f"{', '.join(known[:25])}{' ...' if len(known) > 25 else ''}; run `winnow score` to add signals)"
    )


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
    version, see :func:`_version_token`) and ``columns`` let repeated compiles skip DESCRIBE and quantiles."""
    recipe = load_recipe(recipe)
    if columns is None:
        columns = _columns(con, relation, token)
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
    qvals = resolve_quantiles(con, relation, wanted, token=token) if resolve else _unresolved(wanted)

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

    def add(label: str, sql: str, signal: str | None, key: str | None) -> None:
        nonlocal base, after, k
        checks.append(Check(k, "dedup", label, sql, signal, key=key, after=after))
        if survivors:
            base = sql if base == "true" else f"{base} AND coalesce({sql}, false)"
            after = (*after, k)
        k += 1

    if d.exact:
        key = EXACT_KEY if EXACT_KEY in columns else exact_key_sql(columns)
        if key is None:
            raise RecipeError("dedup.exact needs dup_exact_cluster (winnow score --signals dedup_exact) or the text")
        signal = "dup_exact_cluster" if "dup_exact_cluster" in columns else None
        add(DedupRule(step="exact").describe(), representative(key, base), signal, key if key == EXACT_KEY else None)
    if d.near:
        key = NEAR_KEY if NEAR_KEY in columns else ("dup_near_cluster" if "dup_near_cluster" in columns else None)
        if key is None:
            raise RecipeError("dedup.near needs the column dup_near_cluster: run `winnow score --signals dedup_near`")
        signal = "dup_near_keep" if "dup_near_keep" in columns else None
        add(DedupRule(step="near").describe(), representative(key, base), signal, key if key == NEAR_KEY else None)
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
        add(DedupRule(step="semantic").describe(), sql, "semdup_is_dup", SEM_TARGET if SEM_TARGET in columns else None)

    for bi, b in enumerate(recipe.balance):
        if b.column not in columns:
            raise unknown_column(b.column, columns, recipe.where("balance", bi, "column"))
    if recipe.sample and recipe.sample.weight:
        w = recipe.sample.weight
        if w not in columns:
            raise unknown_column(w, columns, recipe.where("sample", "weight"))
        if not is_number_type(columns[w]):
            raise RecipeError(f"sample.weight: {w} is {columns[w]}, not a number")
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


# ---------------------------------------------------------------------- summarize
def _frac(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


_FRAMES: dict[tuple, Any] = {}
_FRAME_COLS: dict[tuple, dict[str, str]] = {}
FRAME_NAME = "_winnow_recipe_frame"


def _frame_columns(recipe: Recipe, columns: dict[str, str], extra: tuple[str, ...] = ()) -> list[str]:
    """The corpus columns a summary of ``recipe`` reads (validated later by :func:`compile_recipe`)."""
    # ids only when a stage draws per-document randomness (they are the frame's biggest column)
    want = ["id", "source"] if (recipe.balance or recipe.sample is not None) else ["source"]
    want += [c for c in ("lang_code", "size_tokens", *extra) if c in columns]
    if "size_tokens" not in columns:
        want.append("size_chars")  # computed from text when absent
    want += [c for c in recipe.signals_used() if c in columns]
    d = recipe.dedup
    if d.exact or d.near or (d.semantic and "semdup_dup_of" in columns):
        want.append(ID_RANK)
    if d.exact:
        want.append(EXACT_KEY)
    if d.near and "dup_near_cluster" in columns:
        want.append(NEAR_KEY)
    if d.semantic and "semdup_is_dup" in columns:
        want.append("semdup_is_dup")
        if "semdup_dup_of" in columns:
            want.append(SEM_TARGET)
    want += list(uniform_columns(recipe))
    return list(dict.fromkeys(want))


def recipe_frame(
    con: Any, recipe: Recipe, *, relation: str = "corpus", token: tuple | None = None, extra: tuple[str, ...] = ()
) -> tuple[str, Any, tuple] | None:
    """A cached Arrow table holding only the columns ``recipe`` reads, registered on ``con`` as
    :data:`FRAME_NAME`; returns ``(name, table, cache key)``. Scanning it is ~5x faster than ``corpus``
    (no joins, no text), and :mod:`app.recipes.live` keeps per-check vectors over it. None when the
    workspace state cannot be fingerprinted cheaply (then summaries read ``relation`` directly)."""
    token = token or _version_token(con, relation)
    if token is None:
        return None
    columns = _columns(con, relation, token)
    cols = _frame_columns(recipe, columns, extra)
    key = (token, tuple(sorted(cols)))
    frame = _FRAMES.get(key)
    if frame is None:
        rel = qi(relation)
        xkey = exact_key_sql(columns)
        needs_text = ("size_chars" in cols and "size_chars" not in columns) or (
            EXACT_KEY in cols and xkey == EXACT_NORM_SQL
        )
        if relation == "corpus" and not needs_text:  # corpus minus text: no join to scan
            rel = qi(fast_relation(con))
        sel = []
        for c in cols:
            if c == "size_chars" and c not in columns:
                sel.append("CAST(length(text) AS BIGINT) AS size_chars")
            elif c.startswith("_u_"):
                sel.append(f"{uniform_columns(recipe)[c]} AS {qi(c)}")
            elif c == ID_RANK:  # id order as an integer: what dedup's "smallest id" compares, 8 bytes a row
                sel.append(f"CAST(row_number() OVER (ORDER BY id) AS BIGINT) AS {ID_RANK}")
            elif c == EXACT_KEY:
                k = xkey or "NULL"
                sel.append(
                    f"CASE WHEN {k} IS NULL THEN NULL ELSE "
                    f"CAST(dense_rank() OVER (ORDER BY {k}) AS BIGINT) END AS {EXACT_KEY}"
                )
            elif c == NEAR_KEY:  # NULL keys stay NULL (dense_rank would give them a code)
                sel.append(
                    f"CASE WHEN dup_near_cluster IS NULL THEN NULL ELSE "
                    f"CAST(dense_rank() OVER (ORDER BY dup_near_cluster) AS BIGINT) END AS {NEAR_KEY}"
                )
            elif c == SEM_TARGET:  # the id rank of the document a semantic duplicate duplicates
                sel.append(f"CAST(_sem_rank AS BIGINT) AS {SEM_TARGET}")
            else:
                sel.append(qi(c))
        src = rel
        if SEM_TARGET in cols:
            src = (
                f"(SELECT _f.*, _t._sem_rank FROM {rel} AS _f LEFT JOIN (SELECT id AS _sem_id, row_number() "
                f"OVER (ORDER BY id) AS _sem_rank FROM {rel}) AS _t ON _t._sem_id = _f.semdup_dup_of)"
            )
        frame = con.sql(f"SELECT {', '.join(sel)} FROM {src}").to_arrow_table()
        with _LOCK:  # dashboard sessions summarise from several threads
            while len(_FRAMES) >= 2:
                _FRAMES.pop(next(iter(_FRAMES)))
            _FRAMES[key] = frame
    con.register(FRAME_NAME, frame)
    if key not in _FRAME_COLS:
        with _LOCK:
            while len(_FRAME_COLS) >= 8:
                _FRAME_COLS.pop(next(iter(_FRAME_COLS)))
            _FRAME_COLS[key] = {r[0]: r[1] for r in con.execute(f"DESCRIBE {FRAME_NAME}").fetchall()}
    return FRAME_NAME, frame, key


def summarize(
    con: Any,
    recipe: Recipe | str | dict,
    *,
    relation: str = "corpus",
    compiled: Compiled | None = None,
    cache: bool = True,
    group_by: str | None = None,
) -> dict[str, Any]:
    """Counts of what the recipe keeps: totals, per source and language, per rule (alone, only by it, and
    both by group), overlap. One grouped query over ``relation``; everything else is derived in Python from
    the small grouped result. ``group_by`` breaks retention and each rule's removals down by that column
    instead of the language (``by_group``; ``by_lang`` stays the language's table when it is the group).

    With ``cache`` (default) it runs over a cached column subset of ``relation`` (see :func:`recipe_frame`)
    and, when the recipe has no balancing or sampling, from cached per-check vectors and one bincount
    (:mod:`app.recipes.live`, ~25 ms at 1M documents); the numbers are identical on every path."""
    t0 = time.perf_counter()
    recipe = load_recipe(recipe) if compiled is None else compiled.recipe
    fr = None
    token = frame_token = frame_cols = None
    if compiled is None and cache:
        token = _version_token(con, relation)
        # compiled against the corpus first so errors name its columns
        compile_recipe(con, recipe, relation=relation, bind=False, resolve=False, token=token)
        fr = recipe_frame(con, recipe, relation=relation, token=token, extra=(group_by,) if group_by else ())
        if fr is not None:
            relation = fr[0]
            frame_cols = _FRAME_COLS.get(fr[2])
            frame_token = (token[0], FRAME_NAME, *token[2:])
    comp = compiled or compile_recipe(con, recipe, relation=relation, bind=False, token=frame_token, columns=frame_cols)
    relation = comp.relation
    if group_by is not None:
        if group_by not in comp.columns:
            raise unknown_column(group_by, comp.columns, "group_by")
        comp = dataclasses.replace(comp, lang_column=group_by)
    group_col = comp.lang_column
    lang = f"CAST({qi(comp.lang_column)} AS VARCHAR)" if comp.lang_column else "NULL::VARCHAR"
    sel = ["id"] if comp.has_stages else []
    sel += ["source", f"{lang} AS _lang", f"{comp.token_sql} AS _tok"]
    k = len(comp.checks)
    checks = [f"_c{i}" for i in range(k)]
    if comp.has_stages:
        inner = comp.pipeline_sql(sel, with_checks=True)
        params = comp.stage_params()
    else:
        body = ", ".join([*sel, *(f"coalesce({c.sql}, false) AS _c{c.index}" for c in comp.checks)])
        inner = f"SELECT *, {' AND '.join(checks) or 'true'} AS _keep FROM (SELECT {body} FROM {qi(relation)})"
        params = dict(comp.params)
    group = ", ".join(["source", "_lang", *checks, "_keep"])
    sql = f"SELECT {group}, count(*), coalesce(sum(_tok), 0) FROM ({inner}) GROUP BY ALL"
    try:
        rows = None
        if fr is not None:  # the interactive path: cached per-check vectors and one bincount
            from app.recipes import live

            rows = live.grouped_rows(con, comp, fr[2], fr[1])
        if rows is None:
            rows = con.execute(sql, used_params(sql, params)).fetchall()
    except Exception as e:
        raise RecipeError(f"cannot evaluate recipe: {str(e).splitlines()[0]}") from e

    total = kept = total_tok = kept_tok = after_checks = after_checks_tok = 0
    by_src: dict[Any, list[int]] = {}
    by_lang: dict[Any, list[int]] = {}
    removed = [[0, 0] for _ in range(k)]
    only = [[0, 0] for _ in range(k)]
    per_group: list[dict[Any, list[int]]] = [{} for _ in range(k)]  # rule -> group -> [removed, only]
    overlap = [[0] * k for _ in range(k)]
    for row in rows:
        src, lg = row[0], row[1]
        flags = row[2 : 2 + k]
        keep = bool(row[2 + k])
        n, tok = int(row[3 + k]), int(row[4 + k])
        total += n
        total_tok += tok
        if keep:
            kept += n
            kept_tok += tok
        fails = [i for i, f in enumerate(flags) if not f]
        if not fails:
            after_checks += n
            after_checks_tok += tok
        for i in fails:
            removed[i][0] += n
            removed[i][1] += tok
            g = per_group[i].setdefault(lg, [0, 0])
            g[0] += n
            if len(fails) == 1:
                g[1] += n
            for j in fails:
                overlap[i][j] += n
        if len(fails) == 1:
            only[fails[0]][0] += n
            only[fails[0]][1] += tok
        for key, acc in ((src, by_src), (lg, by_lang)):
            a = acc.setdefault(key, [0, 0, 0, 0])
            a[0] += n
            a[2] += tok
            if keep:
                a[1] += n
                a[3] += tok

    def table(acc: dict[Any, list[int]], name: str) -> list[dict[str, Any]]:
        out = [
            {
                name: key,
                "total": a[0],
                "kept": a[1],
                "removed": a[0] - a[1],
                "kept_frac": _frac(a[1], a[0]),
                "total_tokens": a[2],
                "kept_tokens": a[3],
                "kept_tokens_frac": _frac(a[3], a[2]),
            }
            for key, a in acc.items()
        ]
        return sorted(out, key=lambda d: (-d["total"], str(d[name])))

    group_total = {key: a[0] for key, a in by_lang.items()}
    rules = [
        {
            "index": c.index,
            "kind": c.kind,
            "label": c.label,
            "signal": c.signal,
            "removed": removed[c.index][0],
            "removed_frac": _frac(removed[c.index][0], total),
            "removed_tokens": removed[c.index][1],
            "removed_only": only[c.index][0],
            "removed_only_tokens": only[c.index][1],
            # what the rule removes in each group (language by default), alone and only by it (what would
            # come back if the rule were dropped): overlapping rules no longer hide each other
            "by_group": [
                {"group": g, "total": group_total.get(g, 0), "removed": a[0], "only": a[1]}
                for g, a in sorted(per_group[c.index].items(), key=lambda kv: (-group_total.get(kv[0], 0), str(kv[0])))
            ]
            if group_col
            else [],
        }
        for c in comp.checks
    ]
    stages = [{"stage": "rules+dedup", "kept": after_checks, "kept_tokens": after_checks_tok}]
    if comp.has_stages:
        stages.append(
            {"stage": "balance+sample", "kept": kept, "kept_tokens": kept_tok, "removed": after_checks - kept}
        )
    return {
        "total_docs": total,
        "kept_docs": kept,
        "removed_docs": total - kept,
        "kept_frac": _frac(kept, total),
        "total_tokens": total_tok,
        "kept_tokens": kept_tok,
        "kept_tokens_frac": _frac(kept_tok, total_tok),
        "tokens_estimated": comp.token_column is None,
        "token_column": comp.resolved["tokens"],
        "by_source": table(by_src, "source"),
        "by_lang": table(by_lang, "lang") if comp.lang_column and group_by is None else [],
        "by_group": table(by_lang, "group") if group_col else [],
        "group_column": group_col,
        "rules": rules,
        "overlap": overlap,
        "stages": stages,
        "resolved": comp.resolved,
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
    }


# ---------------------------------------------------------------------- borderline
def borderline(
    con: Any,
    recipe: Recipe | str | dict,
    rule_index: int,
    *,
    n: int = 5,
    relation: str = "corpus",
    text_chars: int = 2000,
) -> dict[str, Any]:
    """Documents just above and just below rule ``rule_index``'s threshold (for range and quantile
    rules); for set, expression and dedup checks: a deterministic sample that passes (``above``) and
    one that fails (``below``). Rows: ``id, source, value, text`` (text cut to ``text_chars``).
    The recipe compiled, then :func:`app.recipes.edges.edge_documents` (the dashboard's picker too)."""
    from app.recipes.edges import edge_documents

    comp = compile_recipe(con, recipe, relation=relation)
    choose = None if relation == "corpus" else relation  # corpus: chosen over the text-free relation
    return edge_documents(con, comp, rule_index, n=n, text_chars=text_chars, relation=choose)
