"""The recipe: a versioned YAML document saying which documents to keep.

Schema (``version: 1``), every key but ``version`` optional::

    version: 1
    name: my-cut                      # free text
    description: ...
    rules:                            # a document is kept when it passes every rule
      - {signal: size_words, min: 5, max: 100000}
      - {signal: quality_score, min_quantile: 0.2}       # resolved to a value over corpus
      - {signal: lang_code, in: [en, de]}
      - {signal: source, not_in: [social]}
      - {expr: "gopher_word_count > 50 and not (c4_lorem_ipsum = 1)", label: custom}
    dedup: {exact: true, near: true, semantic: false}
    balance:                          # MetaCLIP (Xu et al. 2023): cap each value at `cap`
      - {column: source, cap: 1000, seed: 0}
    sample: {n: 5000, weight: quality_score, seed: 0}     # or fraction: 0.1; or log_weight: dsir_wiki
    output: {columns: [id, source, text, quality_score]}

Validation errors name the YAML line and the field (``recipe line 4, rules[1].min: ...``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import RecipeError
from app.recipes.rules.base import RuleKind

VERSION = 1
_YAML11_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_TOP_KEYS = {
    "version", "name", "description", "rules", "dedup", "balance", "sample", "output", "mixture", "annotate", "transforms"
}  # fmt: skip
_DEDUP_KEYS = {"exact", "near", "semantic", "over"}
DEDUP_OVER = ("survivors", "corpus")
_BALANCE_KEYS = {"column", "cap", "seed"}
_SAMPLE_KEYS = {"n", "fraction", "weight", "log_weight", "seed"}
_OUTPUT_KEYS = {"columns"}


def Rule(
    signal: str | None = None,
    min: float | None = None,
    max: float | None = None,
    min_quantile: float | None = None,
    max_quantile: float | None = None,
    in_: list[Any] | None = None,
    not_in: list[Any] | None = None,
    expr: str | None = None,
    label: str | None = None,
    keep_null: bool = False,
    by: str | None = None,
) -> RuleKind:
    """A rule of the kind its fields imply (expr, in, not_in, group quantile, quantile or range); the kinds
    themselves live in :mod:`app.recipes.rules`, one class per file."""
    from app.recipes.rules.expression import ExprRule
    from app.recipes.rules.group_quantile import GroupQuantileRule
    from app.recipes.rules.quantile import QuantileRule
    from app.recipes.rules.range import RangeRule
    from app.recipes.rules.sets import InRule, NotInRule

    common = {"label": label, "keep_null": keep_null}
    if expr is not None:
        return ExprRule(expr=expr, **common)
    if in_ is not None:
        return InRule(signal=signal or "", values=list(in_), **common)
    if not_in is not None:
        return NotInRule(signal=signal or "", values=list(not_in), **common)
    if by is not None:
        return GroupQuantileRule(
            signal=signal or "", by=by, min_quantile=min_quantile, max_quantile=max_quantile, **common
        )
    if min_quantile is not None or max_quantile is not None:
        return QuantileRule(
            signal=signal or "", min_quantile=min_quantile, max_quantile=max_quantile, min=min, max=max, **common
        )
    return RangeRule(signal=signal or "", min=min, max=max, **common)


@dataclass
class Dedup:
    """Keep one representative per duplicate cluster: ``exact`` (``dup_exact_cluster``, else the text's
    md5), ``near`` (MinHash, ``dup_near_keep``), ``semantic`` (embeddings, ``semdup_is_dup``)."""

    exact: bool = False
    #: ``True``: the workspace's near-duplicate clusters as scored; a number: a Jaccard threshold of its own
    #: (served from the stored ``dup_near_jaccard`` when at least the scored threshold; headless: clustered at it)
    near: bool | float = False
    semantic: bool = False
    #: ``survivors`` (default): each cluster keeps its smallest id among the documents that pass the rules, as
    #: DataTrove and FineWeb deduplicate what survived filtering; ``corpus``: the representative is chosen over
    #: the whole corpus before the rules (a cluster whose representative fails a rule loses every copy)
    over: str = "survivors"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: True for k in ("exact", "near", "semantic") if getattr(self, k)}
        if self.near_threshold is not None:
            out["near"] = self.near_threshold
        if out and self.over != "survivors":
            out["over"] = self.over
        return out

    @property
    def near_threshold(self) -> float | None:
        """The recipe's own near-duplicate Jaccard threshold (None: ``near`` is a plain true or false)."""
        return None if isinstance(self.near, bool) else float(self.near)


@dataclass
class Balance:
    """MetaCLIP balancing: each value of ``column`` keeps each of its ``count`` documents with
    probability ``min(1, cap / count)`` (a seeded hash of the id), so about ``cap`` survive per value."""

    column: str
    cap: int
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "cap": self.cap, "seed": self.seed}


@dataclass
class Sample:
    """Sample the survivors down to ``n`` documents (or ``fraction`` of them), uniformly or weighted by a
    non-negative column (Efraimidis-Spirakis keys), or with probability proportional to ``exp(log_weight)``
    (importance resampling, e.g. DSIR weights: Gumbel top-k), seeded and deterministic."""

    n: int | None = None
    fraction: float | None = None
    weight: str | None = None
    seed: int = 0
    log_weight: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.n is not None:
            out["n"] = self.n
        if self.fraction is not None:
            out["fraction"] = self.fraction
        if self.weight is not None:
            out["weight"] = self.weight
        if self.log_weight is not None:
            out["log_weight"] = self.log_weight
        out["seed"] = self.seed
        return out


@dataclass
class Recipe:
    """A curation recipe: rules, then dedup, then balancing, then sampling; plus output columns."""

    rules: list[RuleKind] = field(default_factory=list)
    dedup: Dedup = field(default_factory=Dedup)
    balance: list[Balance] = field(default_factory=list)
    sample: Sample | None = None
    output_columns: list[str] | None = None
    name: str | None = None
    description: str | None = None
    version: int = VERSION
    #: YAML path -> line number, when loaded from YAML (for compile-time messages; not part of equality)
    lines: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)
    #: a token-budget mixture (:class:`app.recipes.mixture.Mixture`) and rules that tag instead of drop
    #: (:class:`app.export.annotate.Annotate`); both None when absent
    mixture: Any = None
    annotate: Any = None
    #: cleaning steps applied on export (:class:`app.transforms.spec.Transforms`); None when absent
    transforms: Any = None

    def where(self, *path: Any) -> str:
        """``recipe line N, rules[1]`` (or just ``rules[1]``) for messages about ``path``."""
        name = "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(path))
        p = tuple(path)
        while p and p not in self.lines:
            p = p[:-1]
        return f"recipe line {self.lines[p]}, {name}" if p in self.lines and p else name

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, data: Any, *, marks: dict[tuple, int] | None = None) -> Recipe:
        """Build and validate a recipe from plain data (``marks``: YAML path -> line, for messages)."""
        return _Builder(marks or {}).recipe(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out["rules"] = [rule_dict(r) for r in self.rules]
        d = self.dedup.to_dict()
        if d:
            out["dedup"] = d
        if self.balance:
            out["balance"] = [b.to_dict() for b in self.balance]
        if self.sample is not None:
            out["sample"] = self.sample.to_dict()
        if self.output_columns is not None:
            out["output"] = {"columns": list(self.output_columns)}
        for k in ("mixture", "annotate", "transforms"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k).to_dict()
        return out

    def to_yaml(self) -> str:
        """YAML text with one rule per line (flow style), stable key order."""
        import yaml

        d = self.to_dict()
        rules = d.pop("rules")
        head = {k: d.pop(k) for k in ("version", "name", "description") if k in d}
        text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True)
        if rules:
            text += "rules:\n"
            for r in rules:
                line = yaml.safe_dump(r, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6)
                if yaml.safe_load(line) != r:  # exotic characters (e.g. U+0085): escaped, still one line
                    line = yaml.safe_dump(r, default_flow_style=True, sort_keys=False, width=10**6)
                text += "  - " + line.strip() + "\n"
        else:
            text += "rules: []\n"
        for k in ("dedup", "balance", "sample", "output", "mixture", "annotate", "transforms"):
            if k in d:
                text += yaml.safe_dump({k: d[k]}, sort_keys=False, allow_unicode=True, default_flow_style=None)
        if yaml.safe_load(text) != self.to_dict():  # never write YAML that reads back differently
            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=False, width=10**6)
        return text

    def panel_rules(self) -> list[RuleKind]:
        """The rules as the Thresholds panel and the URL hold them: the recipe's rules, then one ``dedup`` rule
        per dedup step (the parts a panel cannot edit -- balancing, sampling, output -- are not included)."""
        from app.recipes.rules import DEDUP_STEPS, DedupRule

        t = self.dedup.near_threshold
        steps = [s for s in DEDUP_STEPS if getattr(self.dedup, s)]
        return [*self.rules, *(DedupRule(step=s, threshold=t if s == "near" else None) for s in steps)]

    @classmethod
    def from_panel(cls, rules: list[RuleKind], *, name: str | None = None, description: str | None = None) -> Recipe:
        """The recipe a panel's rule list means (its dedup rules become the dedup section)."""
        steps: dict[str, Any] = {}
        for r in rules:
            if not r.in_rules and r.kind == "dedup":  # a near step may carry its Jaccard threshold
                t = getattr(r, "threshold", None)
                steps[r.step] = t if t is not None and r.step == "near" else True  # type: ignore[attr-defined]
        return cls(
            rules=[r for r in rules if r.in_rules],
            dedup=Dedup(**steps),
            name=name,
            description=description,
        )

    def signals_used(self) -> list[str]:
        """Every corpus column the recipe reads (rules, expressions, balance and weight columns)."""
        cols: list[str] = [c for r in self.rules for c in r.columns()]
        cols.extend(b.column for b in self.balance)
        if self.mixture is not None:
            cols.append(self.mixture.by)
        if self.sample and self.sample.weight:
            cols.append(self.sample.weight)
        if self.sample and self.sample.log_weight:
            cols.append(self.sample.log_weight)
        return list(dict.fromkeys(cols))


class _Builder:
    """Turns loaded YAML data into a :class:`Recipe`, raising RecipeError with line and field."""

    def __init__(self, marks: dict[tuple, int]):
        self.marks = marks

    def fail(self, path: tuple, msg: str) -> RecipeError:
        line = None
        p = path
        while p and line is None:
            line = self.marks.get(p)
            p = p[:-1]
        if line is None:
            line = self.marks.get(())
        where = "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(path))
        loc = f"recipe line {line}" if line is not None else "recipe"
        return RecipeError(f"{loc}, {where or 'top level'}: {msg}")

    def _keys(self, d: dict, allowed: set[str], path: tuple) -> None:
        for k in d:
            if k not in allowed:
                import difflib

                near = difflib.get_close_matches(str(k), sorted(allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else f" (allowed: {', '.join(sorted(allowed))})"
                raise self.fail((*path, k), f"unknown key {k!r}{hint}")

    def num(self, v: Any, path: tuple, *, lo: float | None = None, hi: float | None = None) -> float | int:
        if isinstance(v, str) and _YAML11_FLOAT.match(v.strip()):  # YAML 1.1 reads "1e-3" as a string
            v = float(v)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(path, f"expected a number, got {type(v).__name__} {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise self.fail(path, f"expected a finite number, got {v}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(path, f"{v!r} is outside [{lo}, {hi}]")
        return v

    def integer(self, v: Any, path: tuple, *, lo: int = 0) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(path, f"expected an integer, got {type(v).__name__} {v!r}")
        if v < lo:
            raise self.fail(path, f"must be >= {lo}, got {v}")
        return v

    def text(self, v: Any, path: tuple) -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.fail(path, f"expected a non-empty string, got {type(v).__name__} {v!r}")
        return v

    def boolean(self, v: Any, path: tuple) -> bool:
        if not isinstance(v, bool):
            raise self.fail(path, f"expected true or false, got {v!r}")
        return v

    def recipe(self, data: Any) -> Recipe:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.fail((), f"a recipe is a mapping with 'version' and 'rules', got {type(data).__name__}")
        self._keys(data, _TOP_KEYS, ())
        version = data.get("version", VERSION)
        if version != VERSION:
            raise self.fail(("version",), f"unsupported recipe version {version!r} (this Winnow reads version 1)")
        rules_data = data.get("rules") or []
        if not isinstance(rules_data, list):
            raise self.fail(("rules",), "expected a list of rules")
        rules = [self.rule(r, ("rules", i)) for i, r in enumerate(rules_data)]
        dedup = self.dedup(data.get("dedup"), ("dedup",))
        bal = data.get("balance") or []
        if isinstance(bal, dict):
            bal = [bal]
        if not isinstance(bal, list):
            raise self.fail(("balance",), "expected a list of {column, cap, seed}")
        balance = [self.balance(b, ("balance", i)) for i, b in enumerate(bal)]
        sample = self.sample(data["sample"], ("sample",)) if data.get("sample") is not None else None
        out_cols = None
        if data.get("output") is not None:
            o = data["output"]
            if not isinstance(o, dict):
                raise self.fail(("output",), "expected a mapping like {columns: [id, text]}")
            self._keys(o, _OUTPUT_KEYS, ("output",))
            cols = o.get("columns")
            if cols is not None:
                if not isinstance(cols, list) or not cols:
                    raise self.fail(("output", "columns"), "expected a non-empty list of column names")
                out_cols = [self.text(c, ("output", "columns", i)) for i, c in enumerate(cols)]
                if "id" not in out_cols:
                    out_cols.insert(0, "id")
        name = data.get("name")
        desc = data.get("description")
        if name is not None:
            name = self.text(str(name), ("name",))
        if desc is not None:
            desc = str(desc)
        r = Recipe(rules, dedup, balance, sample, out_cols, name, desc, VERSION, dict(self.marks))
        if data.get("mixture") is not None:
            from app.recipes.mixture import parse as parse_mixture

            r.mixture = parse_mixture(data["mixture"], self, ("mixture",))
        if data.get("annotate") is not None:
            from app.export.annotate import parse as parse_annotate

            r.annotate = parse_annotate(data["annotate"], self, ("annotate",), rules)
        if data.get("transforms") is not None:
            from app.transforms.spec import parse as parse_transforms

            r.transforms = parse_transforms(data["transforms"], self, ("transforms",))
        return r

    def rule(self, d: Any, path: tuple) -> RuleKind:
        """One ``rules:`` entry: checks common to every kind here, then the kind that claims it validates it."""
        from app.recipes import rules as kinds

        if not isinstance(d, dict):
            raise self.fail(path, "a rule is a mapping like {signal: size_words, min: 5} or {expr: '...'}")
        self._keys(d, kinds.RULE_KEYS, path)
        if "expr" not in d:
            if "signal" not in d:
                raise self.fail(
                    path, "a rule needs 'signal' (with min/max, min_quantile/max_quantile, in or not_in) or 'expr'"
                )
            signal = self.text(d["signal"], (*path, "signal"))
            forms = [k for k in ("min", "max", "min_quantile", "max_quantile", "in", "not_in") if k in d]
            if not forms:
                raise self.fail(
                    path, f"rule on {signal!r} needs one of min, max, min_quantile, max_quantile, in, not_in"
                )
            sets = [k for k in forms if k in ("in", "not_in")]
            if sets and len(forms) > 1:
                others = [k for k in forms if k != sets[0]]
                raise self.fail((*path, sets[0]), f"'{sets[0]}' cannot be combined with {', '.join(others)}")
        return kinds.from_dict(d, self, path)

    def dedup(self, d: Any, path: tuple) -> Dedup:
        if d is None:
            return Dedup()
        if isinstance(d, str):
            d = {d: True}
        elif isinstance(d, list):
            d = {str(x): True for x in d}
        if not isinstance(d, dict):
            raise self.fail(path, "expected a mapping like {exact: true, near: true}")
        self._keys(d, _DEDUP_KEYS, path)
        over = d.get("over", "survivors")
        if over not in DEDUP_OVER:
            raise self.fail((*path, "over"), f"expected one of {', '.join(DEDUP_OVER)}, got {over!r}")
        flags: dict[str, Any] = {k: self.boolean(v, (*path, k)) for k, v in d.items() if k not in ("over", "near")}
        if "near" in d:  # true/false, or a Jaccard threshold in (0, 1]
            v = d["near"]
            if isinstance(v, bool):
                flags["near"] = v
            elif isinstance(v, int | float):
                if not 0 < v <= 1:
                    raise self.fail((*path, "near"), f"a near-duplicate Jaccard threshold is in (0, 1], got {v!r}")
                flags["near"] = float(v)
            else:
                raise self.fail((*path, "near"), f"expected true, false or a Jaccard threshold in (0, 1], got {v!r}")
        return Dedup(**flags, over=over)

    def balance(self, d: Any, path: tuple) -> Balance:
        if not isinstance(d, dict):
            raise self.fail(path, "expected a mapping like {column: source, cap: 1000}")
        self._keys(d, _BALANCE_KEYS, path)
        if "column" not in d or "cap" not in d:
            raise self.fail(path, "balance needs 'column' and 'cap'")
        return Balance(
            self.text(d["column"], (*path, "column")),
            self.integer(d["cap"], (*path, "cap"), lo=1),
            self.integer(d.get("seed", 0), (*path, "seed")),
        )

    def sample(self, d: Any, path: tuple) -> Sample:
        if isinstance(d, int) and not isinstance(d, bool):
            d = {"n": d}
        if not isinstance(d, dict):
            raise self.fail(path, "expected a mapping like {n: 5000, seed: 0} or {fraction: 0.1}")
        self._keys(d, _SAMPLE_KEYS, path)
        if ("n" in d) == ("fraction" in d):
            raise self.fail(path, "sample needs exactly one of 'n' and 'fraction'")
        s = Sample(seed=self.integer(d.get("seed", 0), (*path, "seed")))
        if "n" in d:
            s.n = self.integer(d["n"], (*path, "n"))
        else:
            s.fraction = float(self.num(d["fraction"], (*path, "fraction"), lo=0.0, hi=1.0))
        if d.get("weight") is not None:
            s.weight = self.text(d["weight"], (*path, "weight"))
        if d.get("log_weight") is not None:
            if s.weight is not None:
                raise self.fail((*path, "log_weight"), "give either 'weight' or 'log_weight', not both")
            s.log_weight = self.text(d["log_weight"], (*path, "log_weight"))
        return s


def rule_dict(r: RuleKind) -> dict[str, Any]:
    """A rule's recipe form with its label and ``keep_null`` (the kinds write their own keys)."""
    out = r.to_dict()
    if r.label:
        out["label"] = r.label
    if r.keep_null:
        out["keep_null"] = True
    return out


# ---------------------------------------------------------------------- loading YAML with line marks
def _parse_yaml(text: str) -> tuple[Any, dict[tuple, int]]:
    """``(data, marks)``: bounded, alias-free YAML loading (see :mod:`app.recipes.yaml_safe`)."""
    from app.recipes.yaml_safe import parse_recipe_yaml

    return parse_recipe_yaml(text)


def load_recipe(text_or_path: str | Path | dict | Recipe) -> Recipe:
    """A :class:`Recipe` from YAML text, a path to a YAML file, a dict or a Recipe (returned as is)."""
    if isinstance(text_or_path, Recipe):
        return text_or_path
    from app.recipes.yaml_safe import check_limits, read_recipe_text

    if isinstance(text_or_path, dict):
        check_limits(text_or_path)
        return Recipe.from_dict(text_or_path)
    text = str(text_or_path)
    if isinstance(text_or_path, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        text = read_recipe_text(Path(text))  # never more than the size limit is read
    data, marks = _parse_yaml(text)
    check_limits(data, marks)
    return Recipe.from_dict(data, marks=marks)
