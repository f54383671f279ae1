"""The transform contract: one cleaning step per file, found by name in a registry.

A transform rewrites one document's text: ``apply(text) -> text`` is pure and deterministic (the same text and
options give the same bytes on every machine and in every worker), so a workspace export, a headless export and
an engine worker all produce the same cleaned text. A transform declares a ``name``, a ``version`` (bumped when
its output changes, recorded in the export manifest), an ``label`` for the dashboard and the report, and
validates its options in :meth:`Transform.check_options`, raising :class:`OptionError` with one line naming
the option. The recipe section that lists transforms is parsed by :mod:`app.transforms.spec`.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any, ClassVar

from app.errors import RecipeError

REGISTRY: dict[str, type[Transform]] = {}


class OptionError(RecipeError):
    """A transform option is invalid (the recipe parser prefixes the YAML line and field)."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.detail = message


class Transform:
    """Base class of a cleaning step. Subclass, set the class variables, decorate with :func:`register`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: option -> default value; an option not listed here is refused
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        unknown = [k for k in options if k not in self.defaults]
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise OptionError(unknown[0], f"unknown option for transform {self.name!r} (options: {known})")
        self.options = self.check_options({**self.defaults, **options})

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate and normalise ``options`` (every default filled in); raise :class:`OptionError`."""
        return options

    def apply(self, text: str) -> str:
        """The cleaned ``text`` (pure and deterministic)."""
        raise NotImplementedError

    def given_options(self) -> dict[str, Any]:
        """The options that differ from the defaults (what a recipe needs to write down)."""
        return {k: v for k, v in self.options.items() if v != self.defaults.get(k)}

    def describe(self) -> dict[str, Any]:
        """``{name, version, label, options}`` for the export manifest (every option, defaults included)."""
        return {"name": self.name, "version": self.version, "label": self.label, "options": dict(self.options)}


def register(cls: type[Transform]) -> type[Transform]:
    """Class decorator adding a transform to :data:`REGISTRY` under ``cls.name``."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise RecipeError(f"two transforms are named {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Transform]]:
    """Import every transform module of :mod:`app.transforms` so they register; return the registry."""
    # the package's folder, not ``import app.transforms`` (whose __init__ imports this module: a cycle)
    for m in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if m.name not in {"base", "spec", "export"} and not m.name.startswith("_"):
            importlib.import_module(f"app.transforms.{m.name}")
    return REGISTRY


def get_transform(name: str) -> type[Transform]:
    """The transform class registered as ``name``, or a RecipeError listing the known names."""
    reg = load_all()
    if name not in reg:
        raise RecipeError(f"unknown transform {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]


# ---------------------------------------------------------------------- option checks shared by transforms
def want_bool(options: dict[str, Any], key: str) -> bool:
    v = options[key]
    if not isinstance(v, bool):
        raise OptionError(key, f"expected true or false, got {v!r}")
    return v


def want_int(options: dict[str, Any], key: str, *, lo: int = 0, allow_none: bool = False) -> int | None:
    v = options[key]
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise OptionError(key, f"expected an integer, got {v!r}")
    if v < lo:
        raise OptionError(key, f"must be >= {lo}, got {v}")
    return v


def want_choice(options: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    v = options[key]
    if v not in choices:
        raise OptionError(key, f"expected one of {', '.join(choices)}, got {v!r}")
    return str(v)
