"""Compare two recipes over one workspace: what each keeps that the other does not, and why.

A reviewer's question is "what does your change do?" (user story 3). :func:`compare_recipes` answers it with
one grouped SQL pass over the text-free ``corpus_fast``: both recipes are compiled by
:func:`app.recipes.compile_recipe` (the dashboard's and the export's own SQL, so the numbers equal theirs),
every document gets A's and B's keep decision and, when the two differ, the first check of the recipe that
drops it (the rule that flips it), and the rows are grouped by source, language and map cluster. Everything
else (totals, tables) is derived in Python from that small grouped result. A second, bounded query picks a
deterministic sample of flipped documents (ordered by md5 of the id) and reads only their text snippets.

Rule differences are matched by identity (kind, column, group column, or the expression itself): a rule
present on both sides whose bounds or values differ is *changed*; others are *only in A* / *only in B*.
Dedup, balancing, sampling and mixture sections are compared as wholes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from app.errors import RecipeError
from app.recipes.cache import CACHE, version_token
from app.recipes.compile import Compiled, compile_recipe
from app.recipes.schema import Recipe, load_recipe, rule_dict
from app.recipes.sqlparts import used_params
from app.sql import qi
from app.workspace import fast_relation

#: the three fates a document can have under two recipes (plus ``neither``)
SIDES = ("a_only", "b_only", "both", "neither")
#: "the rule that flips it" when every check passes but balancing/sampling/mixture drops the document
STAGE_LABEL = "balance/sample (a later stage)"
CLUSTER_COLUMNS = ("map_cluster", "cluster")
_IDENTITY = ("signal", "by", "expr")


def rename_params(sql: str, params: dict[str, Any], tag: str) -> tuple[str, dict[str, Any]]:
    """``sql`` with every named parameter ``$p`` of ``params`` renamed ``$<tag>p`` (both recipes compile their
    rules to the same names ``$r0_min``...; one query needs them apart)."""
    names = sorted(params, key=len, reverse=True)
    if not names:
        return sql, {}
    pat = re.compile(r"\$(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9_])")
    return pat.sub(lambda m: f"${tag}{m.group(1)}", sql), {f"{tag}{k}": v for k, v in params.items()}


def _compile_both(con: Any, a: Recipe, b: Recipe, relation: str | None) -> tuple[Compiled, Compiled]:
    """Both recipes compiled over ``relation`` (default: ``corpus_fast``, else ``corpus`` when a check needs
    the text, e.g. exact dedup of an unscored workspace)."""
    tried = [relation] if relation else list(dict.fromkeys([fast_relation(con), "corpus"]))
    err: RecipeError | None = None
    for rel in tried:
        token = version_token(con, rel)  # quantiles and column types cached for the next comparison
        try:
            return compile_recipe(con, a, relation=rel, token=token), compile_recipe(con, b, relation=rel, token=token)
        except RecipeError as e:
            err = e
    assert err is not None
    raise err


def _side_sql(comp: Compiled, tag: str) -> tuple[list[str], str | None, str, str, dict[str, Any]]:
    """``(base select items, stage join or None, keep SQL, first-failing-check SQL, params)`` for one side.

    Without balancing/sampling the checks are columns of the base scan; with them the compiled pipeline is
    joined by id (its ``_keep`` is the decision after the stages)."""
    k = len(comp.checks)
    if comp.has_stages:
        inner = comp.pipeline_sql(["id"], with_checks=True)
        inner, params = rename_params(inner, used_params(inner, comp.stage_params()), tag)
        cols = ", ".join([*(f"_c{i} AS {tag}c{i}" for i in range(k)), f"_keep AS {tag}keep"])
        join = f"LEFT JOIN (SELECT id AS {tag}id, {cols} FROM ({inner})) AS {tag}p ON {tag}p.{tag}id = r.id"
        keep = f"coalesce({tag}keep, false)"
        items = [*(f"coalesce({tag}c{i}, false) AS {tag}c{i}" for i in range(k)), f"{tag}keep"]
    else:
        items = []
        params = {}
        for c in comp.checks:
            sql, p = rename_params(c.sql, used_params(c.sql, comp.params), tag)
            params.update(p)
            items.append(f"coalesce({sql}, false) AS {tag}c{c.index}")
        join = None
        keep = " AND ".join(f"{tag}c{i}" for i in range(k)) or "true"
    first = "CASE " + "".join(f"WHEN NOT {tag}c{i} THEN {i} " for i in range(k)) + "ELSE -1 END" if k else "-1"
    return items, join, keep, first, params


def _rule_key(rule: Any) -> tuple:
    d = rule.to_dict()
    return (rule.kind, *(str(d.get(x)) for x in _IDENTITY))


def rule_changes(a: Compiled, b: Compiled) -> list[dict[str, Any]]:
    """Each rule of either recipe: ``same``, ``changed`` (same kind and column, other bounds or values),
    ``only_a`` or ``only_b``, with both sides' resolved thresholds (a quantile's value included)."""
    rest = {i: c for i, c in enumerate(b.checks) if c.kind == "rule"}
    out: list[dict[str, Any]] = []
    for ca in (c for c in a.checks if c.kind == "rule"):
        key = _rule_key(ca.rule)
        match = next((j for j, cb in rest.items() if _rule_key(cb.rule) == key), None)
        row: dict[str, Any] = {"a_index": ca.index, "a": ca.label, "a_threshold": _threshold(ca), "signal": ca.signal}
        if match is None:
            out.append({"status": "only_a", **row})
            continue
        cb = rest.pop(match)
        # a label is a name, not a cut: the same cut under another label is the same rule
        same = _threshold(ca) == _threshold(cb)
        out.append(
            {
                "status": "same" if same else "changed",
                **row,
                "b_index": cb.index,
                "b": cb.label,
                "b_threshold": _threshold(cb),
            }
        )
    for cb in rest.values():
        out.append(
            {"status": "only_b", "b_index": cb.index, "b": cb.label, "b_threshold": _threshold(cb), "signal": cb.signal}
        )
    return out


def _threshold(check: Any) -> dict[str, Any]:
    """What a rule's cut is: its recipe form without identity and label, plus resolved bounds."""
    d = {k: v for k, v in rule_dict(check.rule).items() if k not in (*_IDENTITY, "label")}
    for k in ("min", "max"):
        if check.threshold.get(k) is not None:
            d[k] = check.threshold[k]
    return d


def section_changes(a: Recipe, b: Recipe) -> list[dict[str, Any]]:
    """The non-rule sections (dedup, balance, sample, mixture, annotate, transforms) whose recipe forms differ."""
    da, db = a.to_dict(), b.to_dict()
    return [
        {"section": s, "a": da.get(s), "b": db.get(s)}
        for s in ("dedup", "balance", "sample", "mixture", "annotate", "transforms")
        if da.get(s) != db.get(s)
    ]


def compare_recipes(
    con: Any,
    a: Recipe | str | dict,
    b: Recipe | str | dict,
    *,
    relation: str | None = None,
    flipped: int = 20,
    text_chars: int = 300,
    snippets: bool = True,
) -> dict[str, Any]:
    """Compare recipe ``a`` (the current one) with ``b`` over the workspace on ``con``.

    Returns ``{a, b, total_docs, total_tokens, counts: {a_only, b_only, both, neither: {docs, tokens}},
    by_source, by_lang, by_cluster (rows with docs and tokens per fate), flips (per flipping rule), flipped
    (up to ``flipped`` documents per direction with their snippet of ``text_chars`` characters), rules,
    sections, same, relation, path, elapsed_ms}``. ``same`` is True when no document changes fate.
    ``snippets=False`` leaves the flipped documents' ``text`` None (reading texts by id is the slowest part
    at 1M documents; a dashboard can fetch them after the counts).

    Without ``relation`` the numbers come from cached per-check vectors when neither recipe balances or
    samples (:mod:`app.recipes.compare_live`), else from SQL over ``corpus_fast``; both give the same result."""
    t0 = time.perf_counter()
    from app.export.annotate import split

    full_a, full_b = load_recipe(a), load_recipe(b)
    # rules an annotate: section names tag instead of dropping: compared as the export applies them
    ra, rb = split(full_a)[0], split(full_b)[0]
    n = max(0, int(flipped))
    live = None
    if relation is None:  # interactive path: cached vectors over a recipe frame (same numbers)
        from app.recipes.compare_live import live_compare

        token = version_token(con, "corpus")
        for r in (ra, rb):  # checked against the corpus first, so errors name its columns
            compile_recipe(con, r, relation="corpus", bind=False, resolve=False, token=token)
        cl_col = next((c for c in CLUSTER_COLUMNS if c in CACHE.columns(con, "corpus", token)), None)
        live = live_compare(con, ra, rb, cluster=cl_col, n=n, token=token)
    if live is not None:
        ca, cb = live["a"], live["b"]
        rows, picked = live["rows"], live["picked"]
    else:
        ca, cb, cl_col, rows, picked = _sql_compare(con, ra, rb, relation, n)
    res = _tally(rows, ca, cb)
    res["flipped"] = _flipped(
        con, picked["a_only"], picked["b_only"], ca, cb, text_chars=text_chars if snippets else None
    )
    res["path"] = "live" if live is not None else "sql"
    res.update(
        a={"name": full_a.name, "kept_docs": res["counts"]["a_only"]["docs"] + res["counts"]["both"]["docs"],
           "kept_tokens": res["counts"]["a_only"]["tokens"] + res["counts"]["both"]["tokens"]},
        b={"name": full_b.name, "kept_docs": res["counts"]["b_only"]["docs"] + res["counts"]["both"]["docs"],
           "kept_tokens": res["counts"]["b_only"]["tokens"] + res["counts"]["both"]["tokens"]},
        rules=rule_changes(ca, cb),
        sections=section_changes(full_a, full_b),
        relation="corpus" if live is not None else ca.relation,
        cluster_column=cl_col,
        tokens=ca.resolved["tokens"],
        elapsed_ms=round((time.perf_counter() - t0) * 1000, 1),
    )  # fmt: skip
    res["same"] = res["counts"]["a_only"]["docs"] == 0 and res["counts"]["b_only"]["docs"] == 0
    return res


def _sql_compare(con: Any, ra: Recipe, rb: Recipe, relation: str | None, n: int) -> tuple:
    """``(compiled A, compiled B, cluster column, grouped rows, flipped sample)`` by SQL over ``relation``."""
    ca, cb = _compile_both(con, ra, rb, relation)
    rel = ca.relation
    cols = ca.columns
    lang = f"CAST({qi(ca.lang_column)} AS VARCHAR)" if ca.lang_column else "NULL::VARCHAR"
    cl_col = next((c for c in CLUSTER_COLUMNS if c in cols), None)
    cluster = f"CAST({qi(cl_col)} AS VARCHAR)" if cl_col else "NULL::VARCHAR"
    ia, ja, ka, fa, pa = _side_sql(ca, "a_")
    ib, jb, kb, fb, pb = _side_sql(cb, "b_")
    head = ["r.id AS id", "CAST(r.source AS VARCHAR) AS _src", f"{lang} AS _lang", f"{cluster} AS _cl"]
    base = ", ".join([*head, f"{ca.token_sql} AS _tok", *ia, *ib])
    joins = " ".join(j for j in (ja, jb) if j)
    why = f"CASE WHEN _ka AND NOT _kb THEN {fb} WHEN _kb AND NOT _ka THEN {fa} END"
    flagged = f"SELECT *, {ka} AS _ka, {kb} AS _kb FROM (SELECT {base} FROM {qi(rel)} AS r {joins})"
    rows, picked = _sql_pass(con, flagged, why, {**pa, **pb}, n=n)
    return ca, cb, cl_col, rows, picked


def _sql_pass(con: Any, flagged: str, why: str, params: dict[str, Any], *, n: int) -> tuple[list, dict]:
    """The SQL path: one grouped pass (grouping sets: by source with the flipping check, by language, by
    cluster) and one query for the flipped sample (the smallest sample key of each direction)."""
    from app.recipes.compare_live import SAMPLE_KEY

    grouped = (
        f"SELECT GROUPING(_src, _lang, _cl), _src, _lang, _cl, _ka, _kb, _why, count(*), coalesce(sum(_tok), 0)"
        f" FROM (SELECT *, {why} AS _why FROM ({flagged}))"
        " GROUP BY GROUPING SETS ((_src, _ka, _kb, _why), (_lang, _ka, _kb), (_cl, _ka, _kb))"
    )
    sample = (
        f"SELECT id, _src, _lang, _ka, {why} AS _why FROM ({flagged}) WHERE _ka <> _kb"
        f" QUALIFY row_number() OVER (PARTITION BY _ka ORDER BY {SAMPLE_KEY}, id) <= {n} ORDER BY {SAMPLE_KEY}, id"
    )
    try:
        rows = con.execute(grouped, used_params(grouped, params)).fetchall()
        got = con.execute(sample, used_params(sample, params)).fetchall() if n else []
    except Exception as e:
        raise RecipeError(f"cannot compare the recipes: {str(e).splitlines()[0]}") from e
    picked: dict[str, list[dict]] = {"a_only": [], "b_only": []}
    for doc_id, src, lang, ka, w in got:
        picked["a_only" if ka else "b_only"].append({"id": doc_id, "src": src, "lang": lang, "why": w})
    return rows, picked


def _fate(ka: bool, kb: bool) -> str:
    return "both" if ka and kb else "a_only" if ka else "b_only" if kb else "neither"


def _label(comp: Compiled, i: int | None) -> str:
    if i is None or i < 0:
        return STAGE_LABEL
    return comp.checks[i].label


def _tally(rows: Iterable[tuple], ca: Compiled, cb: Compiled) -> dict[str, Any]:
    """Totals, per-group tables and per-rule flip counts from the grouping-set rows (``gid`` 3: by source,
    5: by language, 6: by cluster, 7: the grand total, skipped here)."""
    counts = {s: {"docs": 0, "tokens": 0} for s in SIDES}
    groups: dict[str, dict[Any, dict[str, int]]] = {"source": {}, "lang": {}, "cluster": {}}
    flips: dict[tuple, list[int]] = {}
    sets = {3: ("source", 1), 5: ("lang", 2), 6: ("cluster", 3)}
    for row in rows:
        gid, ka, kb, why, n, tok = row[0], row[4], row[5], row[6], int(row[7]), int(row[8])
        if gid not in sets:
            continue
        name, col = sets[gid]
        fate = _fate(bool(ka), bool(kb))
        g = groups[name].setdefault(row[col], {f"{s}{x}": 0 for s in SIDES for x in ("", "_tokens")})
        g[fate] += n
        g[f"{fate}_tokens"] += tok
        if name != "source":
            continue
        counts[fate]["docs"] += n
        counts[fate]["tokens"] += tok
        if fate in ("a_only", "b_only"):
            f = flips.setdefault((fate, why), [0, 0])
            f[0] += n
            f[1] += tok

    def table(name: str) -> list[dict[str, Any]]:
        out = []
        for key, g in groups[name].items():
            total = sum(g[s] for s in SIDES)
            out.append(
                {name: key, "total": total, "kept_a": g["a_only"] + g["both"], "kept_b": g["b_only"] + g["both"], **g}
            )
        return sorted(out, key=lambda d: (-(d["a_only"] + d["b_only"]), -d["total"], str(d[name])))

    flip_rows = [
        {
            "direction": fate,
            # an A-only document is dropped by B (B's first failing check), a B-only one by A
            "side": "b" if fate == "a_only" else "a",
            "rule": _label(cb if fate == "a_only" else ca, why),
            "check_index": why if why is not None and why >= 0 else None,
            "docs": v[0],
            "tokens": v[1],
        }
        for (fate, why), v in flips.items()
    ]
    flip_rows.sort(key=lambda d: (-d["docs"], d["direction"], d["rule"]))
    return {
        "total_docs": sum(c["docs"] for c in counts.values()),
        "total_tokens": sum(c["tokens"] for c in counts.values()),
        "counts": counts,
        "by_source": table("source"),
        "by_lang": table("lang"),
        "by_cluster": table("cluster") if any(k is not None for k in groups["cluster"]) else [],
        "flips": flip_rows,
    }


def _flipped(
    con: Any, a_only: list[dict], b_only: list[dict], ca: Compiled, cb: Compiled, *, text_chars: int | None
) -> list[dict[str, Any]]:
    """The sampled flipped documents (A only, then B only) with the rule that flips each and the first
    ``text_chars`` characters of its text (read by id; never the whole corpus)."""
    ids = [d["id"] for d in (*a_only, *b_only)]
    texts = _texts(con, ids, text_chars) if text_chars is not None else {}
    return [
        {
            "id": d["id"],
            "source": d["src"],
            "lang": d["lang"],
            "direction": direction,
            "rule": _label(cb if direction == "a_only" else ca, d["why"]),
            "text": texts.get(d["id"]),
        }
        for direction, picked in (("a_only", a_only), ("b_only", b_only))
        for d in picked
    ]


def _texts(con: Any, ids: list[Any], chars: int) -> dict[Any, str | None]:
    """``{id: first chars of text}`` for ``ids``, read from ``docs`` (the text-free relation has none).

    An ``IN`` list of parameters, not a join: DuckDB filters the id column in the scan and reads the text of
    the matching rows only (a join reads every text); the list is at most a few dozen ids."""
    if not ids:
        return {}
    rel = "docs" if _has(con, "docs") else "corpus"
    marks = ", ".join("?" for _ in ids)
    try:
        rows = con.execute(f"SELECT id, substr(text, 1, {int(chars)}) FROM {rel} WHERE id IN ({marks})", ids).fetchall()
    except Exception as e:
        raise RecipeError(f"cannot read the flipped documents' texts: {str(e).splitlines()[0]}") from e
    return {r[0]: r[1] for r in rows}


def flipped_texts(con: Any, res: dict[str, Any], *, text_chars: int = 300) -> list[dict[str, Any]]:
    """``res["flipped"]`` (of :func:`compare_recipes` with ``snippets=False``) with each document's first
    ``text_chars`` characters: the dashboard draws the counts first and reads these few texts after."""
    texts = _texts(con, [d["id"] for d in res["flipped"]], text_chars)
    return [{**d, "text": texts.get(d["id"])} for d in res["flipped"]]


def _has(con: Any, name: str) -> bool:
    q = "SELECT count(*) FROM duckdb_views() WHERE view_name = $n AND NOT internal"
    q2 = "SELECT count(*) FROM duckdb_tables() WHERE table_name = $n"
    return bool(con.execute(q, {"n": name}).fetchall()[0][0] or con.execute(q2, {"n": name}).fetchall()[0][0])
