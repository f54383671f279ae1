"""A token-budget mixture: target shares of *tokens* per group and a total budget, met exactly at export.

Blend weights that count documents turn a 1:1 web-to-books weight into about 10:1 in tokens (Megatron-Energon
#212, axolotl #1508); this plans in tokens (``size_tokens``, or characters / 4 when the workspace has none; or
``tokens_column: size_tokens_<name>``, the target model's tokenizer: :mod:`app.signals.tokens_model`)::

    mixture: {by: source, tokens: 2000000, max_epochs: 2, shares: {wiki: 0.34, instruct: 0.33, web: 0.33},
              repeat: rows, seed: 0}

The mixture is the last stage, over what the rest of the recipe keeps. For each group: ``available`` tokens,
``wanted = tokens * share``, ``epochs = wanted / available``. A group with ``epochs <= 1`` is sampled; above 1 it
is repeated ``floor(epochs)`` times plus a sample for the fraction; past ``max_epochs`` (data-constrained scaling:
repeats beyond ~4 epochs lose value, Muennighoff et al. 2023) it is capped there and a warning says so. A sample
takes the group's documents in the order of a seeded md5 of their id and keeps each one whose token interval's
midpoint lies within the target, so a group misses its target by at most half a document. Groups without a share
are left out (counted). ``repeat: rows`` writes a document once per copy; ``repeat: weight`` writes it once with
its copy count in ``mix_weight``; either way the achieved tokens are ``sum(copies * tokens)``.

:func:`plan` is pure Python over per-group totals (:func:`group_tokens`, one grouped query), so a dashboard
recomputes it in microseconds as shares change; :func:`mixture_sql` applies it to an export's selection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.errors import RecipeError
from app.recipes.sqlparts import uniform_sql
from app.sql import qi

REPEAT = ("rows", "weight")
WEIGHT_COLUMN = "mix_weight"
_KEYS = {"by", "tokens", "shares", "max_epochs", "repeat", "seed", "tokens_column"}
#: shares must sum to 1 within this
SHARE_TOLERANCE = 1e-3


@dataclass
class Mixture:
    """The ``mixture:`` section (see the module docstring)."""

    by: str
    tokens: int
    shares: dict[str, float] = field(default_factory=dict)
    max_epochs: float | None = None
    repeat: str = "rows"
    seed: int = 0
    #: the column tokens are counted in (e.g. ``size_tokens_llama3`` from ``winnow score --tokenizer``); None:
    #: the recipe's own token count (``size_tokens``, else characters / 4)
    tokens_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"by": self.by, "tokens": self.tokens, "shares": dict(self.shares)}
        if self.max_epochs is not None:
            out["max_epochs"] = self.max_epochs
        out["repeat"] = self.repeat
        out["seed"] = self.seed
        if self.tokens_column is not None:
            out["tokens_column"] = self.tokens_column
        return out


def token_sql(mix: Mixture, comp: Any) -> tuple[str, str]:
    """``(SQL of a document's tokens, what it is called)`` for planning ``mix`` over the compiled recipe ``comp``:
    the mixture's ``tokens_column`` when it names one (the target model's tokenizer), else the recipe's count."""
    col = mix.tokens_column
    if col is None:
        return comp.token_sql, comp.resolved["tokens"]
    if col not in comp.columns:
        hint = " (winnow score --tokenizer PATH --tokenizer-name NAME adds size_tokens_NAME; headless apply takes the same options)"
        raise RecipeError(f"mixture.tokens_column: no column {col!r} in the workspace{hint}")
    return f"coalesce(CAST({qi(col)} AS BIGINT), 0)", col


def parse(d: Any, v: Any, path: tuple) -> Mixture:
    """Validate the section (``v`` the recipe validator: errors name the YAML line and field)."""
    if not isinstance(d, dict):
        raise v.fail(path, "expected a mapping like {by: source, tokens: 2000000, shares: {wiki: 0.5, web: 0.5}}")
    v._keys(d, _KEYS, path)
    for k in ("by", "tokens", "shares"):
        if k not in d:
            raise v.fail(path, f"mixture needs '{k}'")
    by = v.text(d["by"], (*path, "by"))
    tokens = v.integer(d["tokens"], (*path, "tokens"), lo=1)
    sh = d["shares"]
    if not isinstance(sh, dict) or not sh:
        raise v.fail((*path, "shares"), "expected a mapping of group value to share of tokens, e.g. {wiki: 0.5}")
    shares = {str(k): float(v.num(x, (*path, "shares", k), lo=0.0, hi=1.0)) for k, x in sh.items()}
    if abs(sum(shares.values()) - 1.0) > SHARE_TOLERANCE:
        raise v.fail((*path, "shares"), f"shares must sum to 1, they sum to {sum(shares.values()):.4g}")
    cap = d.get("max_epochs")
    if cap is not None:
        cap = float(v.num(cap, (*path, "max_epochs"), lo=1.0))
    repeat = d.get("repeat", "rows")
    if repeat not in REPEAT:
        raise v.fail((*path, "repeat"), f"expected one of {', '.join(REPEAT)}, got {repeat!r}")
    seed = v.integer(d.get("seed", 0), (*path, "seed"))
    tcol = d.get("tokens_column")
    if tcol is not None:
        tcol = v.text(tcol, (*path, "tokens_column"))
    return Mixture(by, tokens, shares, cap, repeat, seed, tcol)


def group_tokens(
    con: Any,
    relation: str,
    by: str,
    token_sql: str,
    *,
    where_sql: str | None = None,
    ids_sql: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str | None, tuple[int, int]]:
    """``{group: (documents, tokens)}`` over the documents of ``relation`` that ``where_sql`` keeps (a recipe
    without stages: one grouped scan) or whose ids ``ids_sql`` selects (a recipe with balancing or sampling)."""
    from app.recipes.sqlparts import used_params

    where = f" WHERE {where_sql}" if where_sql else ""
    if ids_sql:
        where = f" WHERE id IN (SELECT id FROM ({ids_sql}))"
    q = f"SELECT CAST({qi(by)} AS VARCHAR), count(*), coalesce(sum({token_sql}), 0) FROM {qi(relation)}{where} GROUP BY 1"
    try:
        rows = con.execute(q, used_params(q, params or {})).fetchall()
    except Exception as e:
        raise RecipeError(f"mixture: cannot count tokens by {by}: {str(e).splitlines()[0]}") from e
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def plan(mix: Mixture, available: dict[str | None, tuple[int, int]]) -> dict[str, Any]:
    """The plan for ``available`` (``{group: (documents, tokens)}``): per group the tokens available and
    wanted, epochs (sampling rate below 1), the capped epochs used, full copies and the fraction's token
    target; warnings (a group past the cap or with nothing to give, groups left out)."""
    groups, warnings = [], []
    for g, share in mix.shares.items():
        docs, avail = available.get(g, (0, 0))
        wanted = mix.tokens * share
        epochs = wanted / avail if avail else (math.inf if wanted else 0.0)
        used = epochs
        if avail == 0 and wanted > 0:
            warnings.append(f"{g}: {wanted:,.0f} tokens wanted but none available")
            used = 0.0
        elif mix.max_epochs is not None and epochs > mix.max_epochs:
            warnings.append(
                f"{g}: {epochs:.2f} epochs needed for {wanted:,.0f} tokens; capped at {mix.max_epochs:g}"
                f" ({avail * mix.max_epochs:,.0f} tokens)"
            )
            used = mix.max_epochs
        full = math.floor(used)
        groups.append(
            {
                "group": g,
                "share": share,
                "docs_available": docs,
                "tokens_available": avail,
                "tokens_wanted": round(wanted),
                "epochs": round(epochs, 6) if math.isfinite(epochs) else None,
                "epochs_used": used,
                "full_copies": full,
                "fraction_tokens": (used - full) * avail,
                "capped": used < epochs,
                "tokens_planned": round(used * avail),
            }
        )
    left_out = {g: v for g, v in available.items() if g not in mix.shares}
    if left_out:
        n = sum(v[0] for v in left_out.values())
        names = ", ".join(sorted(str(g) for g in left_out)[:5]) + (" ..." if len(left_out) > 5 else "")
        warnings.append(f"{n:,} kept documents in {len(left_out)} group(s) without a share are left out ({names})")
    planned = sum(g["tokens_planned"] for g in groups)
    for g in groups:  # what the export will give, before the half-document rounding of each sample
        g["share_planned"] = round(g["tokens_planned"] / planned, 6) if planned else None
    return {"by": mix.by, "tokens": mix.tokens, "tokens_planned": planned, "groups": groups, "warnings": warnings}


def mixture_sql(
    mix: Mixture, the_plan: dict[str, Any], sql: str, *, relation: str, token_sql: str, columns: list[str]
) -> tuple[str, dict[str, Any]]:
    """The export's selection ``sql`` (``columns``, ordered by id) mixed: each document with its copies (rows
    repeated, or one row with ``mix_weight``), documents with no copy dropped; ordered by id."""
    params: dict[str, Any] = {"mix_seed": mix.seed}
    vals = []
    for i, g in enumerate(the_plan["groups"]):
        params[f"mix_g{i}"], params[f"mix_f{i}"], params[f"mix_t{i}"] = (
            g["group"],
            g["full_copies"],
            g["fraction_tokens"],
        )
        vals.append(f"($mix_g{i}, $mix_f{i}, $mix_t{i})")
    if not vals:
        vals.append("(NULL::VARCHAR, 0, 0.0)")
    u = uniform_sql("s.id", "mix_seed", "mixture")
    keyed = (
        f"SELECT s.*, p.pf AS _full, p.pt AS _frac, t._tok, t._g, {u} AS _u FROM ({sql}) AS s"
        f" JOIN (SELECT id AS _tid, CAST({qi(mix.by)} AS VARCHAR) AS _g, {token_sql} AS _tok FROM {qi(relation)}) AS t"
        f" ON t._tid = s.id JOIN (VALUES {', '.join(vals)}) AS p(pg, pf, pt) ON p.pg = t._g"
    )
    # a document is in the fraction's sample when the midpoint of its token interval (in the seeded order of
    # its group) lies within the target: each group misses by at most half a document
    cum = "sum(_tok) OVER (PARTITION BY _g ORDER BY _u, id ROWS UNBOUNDED PRECEDING)"
    copies = f"_full + CASE WHEN {cum} - _tok / 2.0 < _frac THEN 1 ELSE 0 END"
    counted = f"SELECT * EXCLUDE (_full, _frac, _u, _g), {copies} AS _copies FROM ({keyed})"
    cols = ", ".join(qi(c) for c in columns)
    if mix.repeat == "weight":
        out = f"SELECT {cols}, CAST(_copies AS BIGINT) AS {qi(WEIGHT_COLUMN)} FROM ({counted}) WHERE _copies > 0 ORDER BY id"
    else:
        out = (
            f"SELECT {cols} FROM ({counted}) AS m, range(CAST(m._copies AS BIGINT)) AS r(_k)"
            " WHERE m._copies > 0 ORDER BY id, _k"
        )
    return out, params


def achieved(
    con: Any, mix: Mixture, the_plan: dict[str, Any], sql: str, params: dict[str, Any], *, relation: str,
    token_sql: str,
) -> dict[str, Any]:  # fmt: skip
    """The manifest's ``mixture`` block: the plan with each group's achieved documents, rows and tokens and
    achieved vs target token shares (``sql`` the mixed selection :func:`mixture_sql` returned)."""
    from app.recipes.sqlparts import used_params

    weight = f"{qi(WEIGHT_COLUMN)}" if mix.repeat == "weight" else "1"
    q = (
        f"SELECT t._g, count(DISTINCT m.id), count(*), sum({weight}), coalesce(sum({weight} * t._tok), 0) FROM ({sql}) AS m JOIN "
        f"(SELECT id AS _tid, CAST({qi(mix.by)} AS VARCHAR) AS _g, {token_sql} AS _tok FROM {qi(relation)}) AS t"
        " ON t._tid = m.id GROUP BY 1"
    )
    got = {r[0]: tuple(int(x) for x in r[1:]) for r in con.execute(q, used_params(q, params)).fetchall()}
    total = sum(v[3] for v in got.values())
    groups = []
    for g in the_plan["groups"]:
        docs, rows, copies, tok = got.get(g["group"], (0, 0, 0, 0))
        groups.append(
            {
                **{k: v for k, v in g.items() if k != "fraction_tokens"},
                "docs": docs,
                "rows": rows,  # written (repeat: weight writes each document once)
                "copies": copies,
                "tokens_achieved": tok,
                "share_achieved": round(tok / total, 6) if total else None,
            }
        )
    return {
        **mix.to_dict(),
        "tokens_achieved": total,
        "rows": sum(g["rows"] for g in groups),
        "groups": groups,
        "warnings": the_plan["warnings"],
    }
