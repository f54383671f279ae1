"""UMAP's numba functions compiled once per machine, not once per ``winnow map`` (a disk cache of machine code).

umap-learn and pynndescent compile their numba functions on first use in every process: about 30 CPU seconds
before a map's UMAP fit does any work (measured on 2,000 points: 31-34 CPU-s cold, 14 CPU-s with this cache,
9 of which are the fit itself). Only some of those functions ask numba to cache them (``cache=True``); here every
numba dispatcher of the two packages does, in a per-user folder (``$NUMBA_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/winnow/numba`` or ``~/.cache/winnow/numba``).

Safe offline and for results: the cache is written and read on this machine only (numba keys each entry by the
function's source file stamp, its argument types and the CPU), and a cached function is the same machine code the
compiler would produce, so the coordinates are identical with a cold or a warm cache (``tests/test_map_jit.py``).
A folder that cannot be created leaves numba's own defaults (nothing cached for those functions: slower, same map).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

_DONE = False


def cache_dir() -> Path:
    """The folder numba's compiled functions are cached in (see the module docstring)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "winnow" / "numba"


def umap_module() -> ModuleType:
    """``import umap`` with every numba function of umap-learn and pynndescent cached on disk (once a process)."""
    global _DONE
    if _DONE:
        import umap

        return umap
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        usable = os.access(folder, os.W_OK)
    except OSError:
        usable = False
    if usable:
        import numba

        numba.config.CACHE_DIR = str(folder)  # read when each function's cache is set up: before umap's import
    import umap
    from numba.core.registry import CPUDispatcher

    if usable:
        for name, mod in list(sys.modules.items()):
            if mod is None or not name.startswith(("umap", "pynndescent")):
                continue
            for obj in list(vars(mod).values()):
                if isinstance(obj, CPUDispatcher) and type(obj._cache).__name__ == "NullCache":
                    obj.enable_caching()
    _DONE = True
    return umap
