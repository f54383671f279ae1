"""Counts after each recipe stage (rules, each dedup step, each balance step, sample), and what a stage could
not deliver, said in words with the numbers.

A recipe is a pipeline: a ``sample: {n: 1000}`` after ``balance: cap 60`` over 16 clusters can only return
about 960 documents, and a weighted sample cannot pick documents whose weight is 0 or missing. These counts are
computed once, here, from :func:`app.recipes.summary.summarize`'s grouped rows (plus one small aggregate per
balance step), so ``winnow apply``, the manifest, the report and the dashboard show the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

from app.recipes.compile import Compiled
from app.recipes.sqlparts import used_params
from app.sql import qi


def stage_flag_sql(comp: Compiled) -> list[str]:
    """Extra grouping expressions over :meth:`Compiled.pipeline_sql`'s output: the decision after each balance
    step, then (weighted samples) whether the weight makes a document eligible (``> 0``)."""
    out = [f"_st_b{i}" for i in range(len(comp.recipe.balance))]
    s = comp.recipe.sample
    if s is not None and s.weight:
        out.append(f"coalesce({qi('_col_' + s.weight)} > 0, false) AS _st_w")
    elif s is not None and getattr(s, "log_weight", None):  # Gumbel keys need a finite log weight
        out.append(f"coalesce(isfinite(CAST({qi('_col_' + s.log_weight)} AS DOUBLE)), false) AS _st_w")
    return out


class StageCounter:
    """Accumulates documents and tokens after each stage from grouped rows (``add`` once per row)."""

    def __init__(self, comp: Compiled) -> None:
        self.comp = comp
        self.n_rules = sum(1 for c in comp.checks if c.kind == "rule")
        #: annotated rules (:mod:`app.recipes.annotated`) tag instead of dropping: they count as passing here
        self.tags = set(getattr(comp, "tags", ()) or ())
        self.k = len(comp.checks)
        self.after_check = [[0, 0] for _ in range(self.k)]  # docs/tokens passing checks 0..j
        self.n_balance = len(comp.recipe.balance)
        self.after_balance = [[0, 0] for _ in range(self.n_balance)]
        self.eligible = [0, 0]  # passing every earlier stage and with a positive weight

    def add(self, flags: tuple, stage_flags: tuple, n: int, tok: int) -> None:
        first_fail = next((j for j, f in enumerate(flags) if not f and j not in self.tags), self.k)
        for j in range(first_fail):
            self.after_check[j][0] += n
            self.after_check[j][1] += tok
        prev = first_fail == self.k
        for i in range(self.n_balance):
            prev = bool(stage_flags[i])
            if prev:
                self.after_balance[i][0] += n
                self.after_balance[i][1] += tok
        if len(stage_flags) > self.n_balance and prev and stage_flags[self.n_balance]:
            self.eligible[0] += n
            self.eligible[1] += tok

    def stages(self, *, total: int, total_tok: int, kept: int, kept_tok: int) -> list[dict[str, Any]]:
        """``[{stage, label, kept, kept_tokens, removed}]``: all documents, then after each stage in order."""
        out = [{"stage": "input", "label": "all documents", "kept": total, "kept_tokens": total_tok, "removed": 0}]

        def push(stage: str, label: str, n: int, tok: int, **extra: Any) -> None:
            out.append({"stage": stage, "label": label, "kept": n, "kept_tokens": tok, "removed": out[-1]["kept"] - n})
            out[-1].update(extra)

        if self.n_rules:
            n, tok = self.after_check[self.n_rules - 1]
            drops = self.n_rules - len(self.tags)
            label = f"{drops} rule{'s' * (drops != 1)}" + (
                f" ({len(self.tags)} more tag, not drop)" if self.tags else ""
            )
            push("rules", label, n, tok)
        for c in self.comp.checks[self.n_rules :]:
            n, tok = self.after_check[c.index]
            push("dedup", c.label, n, tok)
        r = self.comp.recipe
        for i, b in enumerate(r.balance):
            n, tok = self.after_balance[i]
            push("balance", f"balance {b.column}: cap {b.cap:,} per value", n, tok, column=b.column, cap=b.cap)
        if r.sample is not None:
            s = r.sample
            what = f"n={s.n:,}" if s.n is not None else f"fraction={s.fraction:g}"
            extra: dict[str, Any] = {"asked": s.n} if s.n is not None else {"fraction": s.fraction}
            weight = s.weight or getattr(s, "log_weight", None)
            if weight:
                extra.update(weight=weight, eligible=self.eligible[0])
            push("sample", f"sample {what}" + (f" weighted by {weight}" if weight else ""), kept, kept_tok, **extra)
        return out


def annotate_stage(comp: Compiled, *, kept: int, kept_tok: int, tagged: list[int]) -> dict[str, Any]:
    """The export's last stage for a recipe with ``annotate:``: nothing removed, ``tagged`` (``[docs, tokens]``)
    of the kept documents carry the control token or label column."""
    a = comp.recipe.annotate
    how = f"token {a.token!r}" if a.token is not None else f"column {a.column!r}"
    return {
        "stage": "annotate",
        "label": f"annotate ({how}): {tagged[0]:,} of {kept:,} kept documents tagged",
        "kept": kept,
        "kept_tokens": kept_tok,
        "removed": 0,
        "tagged": tagged[0],
        "tagged_tokens": tagged[1],
    }


def annotations(comp: Compiled, rules: list[dict[str, Any]], tagged: list[int]) -> dict[str, Any]:
    """The summary's ``annotations`` block, in the shape of the export manifest's (tagged documents and tokens
    among the kept ones, in total and per annotated rule, numbered from 1 as the recipe numbers them)."""
    a = comp.recipe.annotate
    return {
        "token": a.token,
        "column": a.column,
        "tagged_docs": tagged[0],
        "tagged_tokens": tagged[1],
        "rules": [
            {
                "rule": r["index"] + 1,
                "label": r["label"],
                "tagged_docs": r["tagged"],
                "tagged_tokens": r["tagged_tokens"],
            }
            for r in rules
            if r.get("annotate")
        ],
    }


def balance_details(con: Any, comp: Compiled, stages: list[dict]) -> None:
    """Add to each balance stage of ``stages`` how many values it saw, how many it capped or emptied, and
    the number it can keep at most on average (sum over values of min(count, cap)). One aggregate per step
    over the pipeline without its sample (cheaper); the result is one row, whatever the column's cardinality."""
    import dataclasses

    nosample = dataclasses.replace(comp, recipe=dataclasses.replace(comp.recipe, sample=None))
    inner = nosample.pipeline_sql(["id"], with_checks=True)
    params = nosample.stage_params()
    tags = set(getattr(comp, "tags", ()) or ())  # annotated rules never drop (app.recipes.annotated)
    checks = " AND ".join(f"_c{c.index}" for c in comp.checks if c.index not in tags) or "true"
    bal = [s for s in stages if s["stage"] == "balance"]
    for i, (b, st) in enumerate(zip(comp.recipe.balance, bal)):
        prev = checks if i == 0 else f"_st_b{i - 1}"
        cap = int(b.cap)
        sql = (
            f"SELECT count(*), count(*) FILTER (WHERE nb > {cap}), coalesce(sum(least(nb, {cap})), 0),"
            " count(*) FILTER (WHERE na = 0), coalesce(max(nb), 0)"
            f" FROM (SELECT {qi('_col_' + b.column)} AS g, count(*) FILTER (WHERE {prev}) AS nb,"
            f" count(*) FILTER (WHERE _st_b{i}) AS na FROM ({inner}) GROUP BY g) WHERE nb > 0"
        )
        groups, capped, expect, emptied, largest = con.execute(sql, used_params(sql, params)).fetchall()[0]
        st.update(
            groups=int(groups),
            capped=int(capped),
            expected_max=int(expect),
            emptied=int(emptied),
            largest=int(largest),
        )


def shortfalls(stages: list[dict[str, Any]]) -> list[str]:
    """One sentence per stage that could not deliver what the recipe asks, with the numbers and what to change
    to get it; empty when every stage delivered."""
    out: list[str] = []
    for i, st in enumerate(stages):
        if st["stage"] == "balance" and st.get("emptied"):
            out.append(
                f"{st['label']} emptied {st['emptied']:,} of {st['groups']:,} values of {st['column']} (a value's "
                f"documents are kept with probability cap / count, so a small cap can leave none); raise the cap"
            )
        if st["stage"] != "sample" or st.get("asked") is None or st["kept"] >= st["asked"]:
            continue
        asked, got, avail = st["asked"], st["kept"], stages[i - 1]["kept"]
        msg = f"sample asked for {asked:,} documents and got {got:,}: only {avail:,} survive the stages before it"
        if st.get("weight") and st.get("eligible", avail) < avail:
            msg += (
                f", of which {st['eligible']:,} have a usable {st['weight']} (a weighted sample skips a weight that is "
                "0 or NULL, a log weight that is not finite)"
            )
        bal = [s for s in stages[:i] if s["stage"] == "balance"]
        if bal and bal[-1]["removed"] > 0 and "groups" in bal[-1]:
            b = bal[-1]
            need = math.ceil(asked / max(b["groups"], 1))
            msg += (
                f"; {b['label']} left {b['kept']:,} of {b['kept'] + b['removed']:,} ({b['capped']:,} of "
                f"{b['groups']:,} values of {b['column']} capped, about {b['expected_max']:,} at most): to get "
                f"{asked:,}, raise the cap (to at least {need:,} if every value had that many) or drop the balance step"
            )
        else:
            msg += "; loosen the rules or lower n"
        out.append(msg)
    return out


def stage_lines(stages: list[dict[str, Any]], found: list[str]) -> list[str]:
    """Human lines for the CLI: the count after each stage, then each shortfall as a ``warning:`` line."""
    lines = []
    if len(stages) > 2 or any(s["stage"] in ("balance", "sample") for s in stages):
        lines.append("  stages: " + " -> ".join(f"{s['stage']} {s['kept']:,}" for s in stages))
    lines += [f"warning: {m}" for m in found]
    return lines
