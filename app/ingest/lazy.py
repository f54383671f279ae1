"""A module imported on first use (:class:`LazyModule`): the ingest modules name pyarrow at the top but
need it only on the Python readers' path. DuckDB's own readers (JSON lines, Parquet) never touch it, and
importing pyarrow costs about 0.13 CPU s in a fresh process beyond numpy (which the line count needs):
2% of ingesting 1M realmix lines, paid by every ``winnow ingest`` of JSON lines or Parquet."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for module ``name``; the first attribute looked up imports it (``import_module``) and every
    lookup is then the module's own attribute (``pa.Table`` is pyarrow's class: ``isinstance`` and
    ``except pa.ArrowInvalid`` behave as with the module itself)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        # only called for names not found on the instance: never for _name / _module
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r}, {state}>"
