"""The rule model: one class per kind of threshold rule, each owning every form the rule takes.

A rule travels from the Thresholds panel to an exported file through these representations, and no others:

1. its **JSON** (:meth:`RuleKind.to_json` / :func:`from_json`): the panel's object, the POST body, the hand-back;
2. the **rule object** itself (a :class:`RuleKind` subclass): session state, :class:`app.recipes.Recipe`;
3. its **URL** form (:meth:`RuleKind.url_arg` / :func:`decode_url`): ``kind:column:argument``;
4. its **recipe** form (:meth:`RuleKind.to_dict` / :func:`from_dict`): YAML and the manifest;
5. its **compiled check** (:meth:`RuleKind.compile` -> :class:`app.recipes.compile.Check`): SQL with named
   parameters, the resolved thresholds, and a numpy evaluation (:meth:`RuleKind.vector`) for the live path.

A new kind is one module in this package defining one ``@register``-ed subclass: validation, SQL, vector
evaluation, label and every form live there (the package imports its modules itself).
"""

from __future__ import annotations

import difflib
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from app.errors import RecipeError
from app.sql import is_number_type, is_text_type  # noqa: F401  (re-exported for kinds)

#: rule kinds by name, filled by :func:`register` (in the order their modules are imported)
KINDS: dict[str, type[RuleKind]] = {}
#: older names still read from URLs and panel JSON (links shared before the vocabulary was unified)
ALIASES = {"qrange": "quantile", "notin": "not_in"}


class Validator(Protocol):
    """What a kind needs to validate its recipe form (``app.recipes.schema._Builder``): errors with the YAML
    line and field path, and typed readers."""

    def fail(self, path: tuple, msg: str) -> RecipeError: ...
    def num(self, v: Any, path: tuple, *, lo: float | None = None, hi: float | None = None) -> float | int: ...
    def text(self, v: Any, path: tuple) -> str: ...
    def boolean(self, v: Any, path: tuple) -> bool: ...


@dataclass
class Context:
    """What compiling one rule may use: the relation's columns and types, the shared named parameters (each rule
    adds its own under ``prefix``), resolved quantiles, and where to say an error is."""

    columns: dict[str, str]
    params: dict[str, Any]
    prefix: str
    where: str
    quantiles: dict[tuple, Any] = field(default_factory=dict)


def fmt(v: Any) -> str:
    """A number as people read it in a label: ``5`` not ``5.0``, four significant digits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass(eq=False, kw_only=True)
class RuleKind:
    """One threshold rule. Subclasses are keyword-only dataclasses with their own fields and set ``kind``.
    ``label`` is the user's name for the rule; ``keep_null``: a document whose column is NULL passes."""

    label: str | None = None
    keep_null: bool = False

    kind: ClassVar[str] = ""
    #: whether the rule is part of ``Recipe.rules`` (False: it stands for another recipe section, e.g. dedup)
    in_rules: ClassVar[bool] = True
    #: whether a document's fate under the rule depends on its own values only (no corpus-wide statistic)
    per_document: ClassVar[bool] = True

    # ------------------------------------------------------------------ identity
    def __post_init__(self) -> None:
        #: widget/panel key, stable while the rule lives; not part of the rule's meaning
        self.uid: str = uuid.uuid4().hex[:8]

    def meaning(self) -> dict[str, Any]:
        """What the rule means (its recipe form plus kind): equality and hashing go by this, never by uid."""
        return {"kind": self.kind, **self.to_dict(), "label": self.label, "keep_null": self.keep_null}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleKind) and self.meaning() == other.meaning()

    def __hash__(self) -> int:
        return hash(repr(self.meaning()))

    # ------------------------------------------------------------------ forms
    @classmethod
    def claims(cls, d: dict[str, Any]) -> bool:
        """Whether the recipe mapping ``d`` is this kind's form."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any], v: Validator, path: tuple) -> RuleKind:
        """The rule from its recipe form, validated (errors name the YAML line and field)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The recipe form (YAML, manifest), keys in a stable order."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The panel's form: ``{kind, col, lo, hi, values, expr, by, label, keep_null, text, uid}`` (every key
        always present): ``label`` is the user's own name (kept through the panel), ``text`` what to show."""
        return {
            "kind": self.kind,
            "col": self.col,
            "lo": None,
            "hi": None,
            "values": [],
            "expr": "",
            "by": None,
            "label": self.label,
            "keep_null": self.keep_null,
            "text": self.describe(),
            "uid": self.uid,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RuleKind:
        """The rule from the panel's form; RecipeError when malformed (the panel shows the message)."""
        raise NotImplementedError

    def url_arg(self) -> str:
        """The third part of the rule's URL form ``kind:column:argument`` (percent-encoding is the caller's)."""
        raise NotImplementedError

    @classmethod
    def from_url(cls, col: str, arg: str) -> RuleKind | None:
        """The rule from its URL parts (already percent-decoded where the kind says so); None when malformed."""
        raise NotImplementedError

    # ------------------------------------------------------------------ meaning
    @property
    def col(self) -> str:
        """The column the rule is about ("" when none)."""
        return getattr(self, "signal", None) or ""

    def describe(self, resolved: dict[str, Any] | None = None) -> str:
        """The human label (the user's own ``label`` when given); ``resolved`` adds compiled values."""
        return self.label or self.auto_label(resolved)

    def auto_label(self, resolved: dict[str, Any] | None = None) -> str:
        raise NotImplementedError

    def columns(self) -> list[str]:
        """Every corpus column the rule reads."""
        return [self.col] if self.col else []

    def quantiles(self) -> list[tuple]:
        """Quantiles to resolve before compiling: ``(column, q)`` or ``(column, q, group column)``."""
        return []

    def check(self, columns: dict[str, str], where: str) -> None:
        """Raise RecipeError when the rule does not fit the relation's columns and types."""

    def compile(self, ctx: Context) -> tuple[str, dict[str, Any]]:
        """``(boolean SQL, resolved info)``: SQL true when a document passes (NULL fails unless ``keep_null``
        is applied by the caller), named parameters added to ``ctx.params``; info goes into the manifest."""
        raise NotImplementedError

    def vector(self, state: Any, info: dict[str, Any]) -> Any:
        """The check as a numpy boolean vector over a recipe frame (:class:`app.recipes.live._State`), with
        the SQL's exact semantics, or None to let DuckDB evaluate the SQL over the frame."""
        return None


def register(cls: type[RuleKind]) -> type[RuleKind]:
    """Class decorator: make a rule kind known to recipes, the panel and URLs."""
    if not cls.kind or cls.kind in KINDS:
        raise ValueError(f"rule kind {cls.kind!r} is empty or registered twice")
    KINDS[cls.kind] = cls
    return cls


def finite(v: Any, *, quantile: bool = False) -> float | int | None:
    """A bound from the panel or a URL: None/"" or a finite number (in [0, 1] for a quantile)."""
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise RecipeError(f"not a number: {v!r}")
    try:
        x = float(v)
    except ValueError as e:
        raise RecipeError(f"not a number: {v!r}") from e
    if not math.isfinite(x) or (quantile and not 0 <= x <= 1):
        raise RecipeError(f"not a finite number{' in [0, 1]' if quantile else ''}: {v!r}")
    if isinstance(v, int) and not quantile and abs(v) < 2**53:
        return v  # an integer stays one (a saved recipe says min: 50, not min: 50.0)
    return x


def string_list(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RecipeError("malformed value list")
    return list(v)


def unknown_column(name: str, columns: dict[str, str], what: str) -> RecipeError:
    """The error for a column the relation lacks, with close names and what the corpus has."""
    near = difflib.get_close_matches(name, list(columns), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    known = [c for c in columns if c not in ("text", "text_hash")]
    return RecipeError(
        f"{what}: unknown signal {name!r}{hint} (corpus has {len(known)} columns: "
        f"{', '.join(known[:25])}{' ...' if len(known) > 25 else ''}; run `winnow score` to add signals)"
    )
