"""Resolve ``SRC`` arguments (files, globs, directories of shards, ``hf:`` ids, ``save_to_disk`` directories)
into a flat list of :class:`Input` records, each with a format, a stable relative path and a source name.

Nothing here reads document content; resolution fails early (before a workspace is touched) on a
missing path, an unsupported file or an empty match.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import IngestError

#: extension (after stripping a compression suffix) -> format
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",  # sniffed: '[' -> JSON array, else JSON lines
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
SUPPORTED = (
    "JSONL/.json (plain, .gz, .zst), JSON array, Parquet, CSV, TSV, plain text (.txt/.md), hf:NAME, save_to_disk dirs"
)
_MAGIC = re.compile(r"[*?\[]")


@dataclass
class Input:
    """One unit of reading: a file, a Hugging Face dataset, or a ``save_to_disk`` directory."""

    kind: str  # "file" | "hf" | "disk"
    path: str  # file path, hf spec, or directory
    rel: str  # stable name used in ids and the ``_file`` column (path relative to the SRC)
    source: str
    fmt: str = ""  # jsonl | json | parquet | csv | tsv | text | hf | disk
    compression: str | None = None
    size: int = 0
    hf: dict = field(default_factory=dict)


def split_ext(name: str) -> tuple[str, str | None, str]:
    """``("data.jsonl.gz") -> ("data", "gzip", ".jsonl")``: stem, compression, format extension."""
    low = name.lower()
    comp = None
    for ext, c in COMPRESSIONS.items():
        if low.endswith(ext):
            comp = c
            name, low = name[: -len(ext)], low[: -len(ext)]
            break
    stem, ext = os.path.splitext(name)
    return stem, comp, ext.lower()


def file_format(path: str) -> tuple[str | None, str | None]:
    """``(format, compression)`` of a path by its extension; format None when unsupported."""
    _stem, comp, ext = split_ext(os.path.basename(path))
    fmt = EXTENSIONS.get(ext)
    if fmt == "parquet" and comp:
        return None, comp
    return fmt, comp


def is_saved_dataset(path: Path) -> bool:
    """A directory written by ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return path.is_dir() and (
        (path / "dataset_dict.json").exists()
        or ((path / "state.json").exists() and (path / "dataset_info.json").exists())
    )


def parse_hf(spec: str) -> dict:
    """``hf:NAME[:CONFIG][/SPLIT]`` -> ``{"name", "config", "split"}``.

    NAME may be ``org/name``; without a config, a third path component is the split
    (``hf:org/name/validation``); a local directory or file after ``hf:`` is passed to ``load_dataset`` as is.
    """
    body = spec[3:].strip()
    if not body:
        raise IngestError("empty hf: spec; use hf:NAME[:CONFIG][/SPLIT]")
    if os.path.exists(body):
        return {"name": body, "config": None, "split": None}
    config = split = None
    if ":" in body:
        name, rest = body.split(":", 1)
        config, _, split = rest.partition("/")
    else:
        parts = body.split("/")
        if len(parts) >= 3:
            name, split = "/".join(parts[:2]), "/".join(parts[2:])
        else:
            name = body
    return {"name": name, "config": config or None, "split": split or None}


def derive_source_name(src: str) -> str:
    """A default source name from a SRC: file stem, directory name, glob base, or dataset name."""
    if src.startswith("hf:"):
        info = parse_hf(src)
        base = os.path.basename(os.path.normpath(info["name"])) or info["name"]
        return base + (f"-{info['config']}" if info["config"] else "")
    if _MAGIC.search(src):
        base = _glob_base(src)
        name = os.path.basename(os.path.abspath(base))
        return name or "corpus"
    p = Path(src)
    if p.is_dir():
        return p.resolve().name or "corpus"
    stem, _c, _e = split_ext(p.name)
    return stem or p.name


#: a shard's numbering at the end of a file stem: ``part-0003``, ``-00001-of-00004``, ``_2024_01``
_SHARD_TAIL = re.compile(r"(?:[._-]*\d+(?:-of-\d+)?)+$")


def shard_stem(path: str | Path) -> str:
    """A file's name without extensions and without its shard numbering (``cc_en_head-0091.jsonl`` ->
    ``cc_en_head``, ``part-00001-of-00004.parquet`` -> ``part``); "" for a name that is only numbers."""
    stem, _c, _e = split_ext(Path(path).name)
    return _SHARD_TAIL.sub("", stem)


def _per_file_sources(files: list[Path], name: str, used: dict[str, int], explicit: bool) -> list[str]:
    """The source of each file of a directory: the SRC's one ``name`` when its files are shards of one
    dataset (one shard stem, or ``--source`` given), else each file's shard stem (a folder of different datasets,
    e.g. a CSV of reviews beside a JSON of instructions, becomes one source per dataset), made unique like SRCs.
    Plain-text files (one document per file, or WikiText's paragraphs) stay together under ``name``: a folder of
    notes is one dataset of documents, not one dataset per note."""
    if explicit or any(not shard_stem(f) for f in files):  # numbers-only names: shards of the folder's dataset
        return [name] * len(files)
    stems = [name if file_format(f.name)[0] == "text" else shard_stem(f) for f in files]
    if len(set(stems)) == 1:  # shards of one dataset, or a folder of plain-text documents
        return [name] * len(files)
    names: dict[str, str] = {name: name}  # the SRC's own name is registered already
    for st in dict.fromkeys(x for x in stems if x != name):
        used[st] = used.get(st, 0) + 1
        names[st] = st if used[st] == 1 else f"{st}-{used[st]}"
    return [names[st] for st in stems]


def _glob_base(pattern: str) -> str:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _MAGIC.search(part):
            break
        base.append(part)
    return str(Path(*base)) if base else "."


def _dir_files(root: Path) -> tuple[list[Path], list[Path]]:
    files, ignored = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            (files if file_format(fn)[0] else ignored).append(p)
    return files, ignored


def resolve(srcs: list[str], *, source: str | None = None) -> tuple[list[Input], list[str]]:
    """All inputs of ``srcs`` in order, and the paths ignored (unsupported files inside a directory or glob).

    With ``source`` every input belongs to that source; otherwise each SRC gets a name derived from
    its path (made unique with ``-2``, ``-3``... when two SRCs derive the same name); the files of a directory
    that holds different datasets (several shard stems) get one source per stem (a glob is one dataset).
    """
    if not srcs:
        raise IngestError("no input given")
    inputs: list[Input] = []
    ignored: list[str] = []
    used: dict[str, int] = {}
    for src in srcs:
        name = source
        if name is None:
            base = derive_source_name(src)
            used[base] = used.get(base, 0) + 1
            name = base if used[base] == 1 else f"{base}-{used[base]}"
        if src.startswith("hf:"):
            info = parse_hf(src)
            p = Path(info["name"])
            if p.exists() and is_saved_dataset(p):
                inputs.append(Input("disk", str(p), "", name, fmt="disk", hf=info))
            else:
                rel = "/".join(x for x in (info["config"], info["split"]) if x)
                inputs.append(Input("hf", src, rel, name, fmt="hf", hf=info))
            continue
        if _MAGIC.search(src):
            base = Path(_glob_base(src))
            matches = sorted(glob.glob(src, recursive=True))
            files = []
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    continue
                (files if file_format(m)[0] else ignored).append(mp if file_format(m)[0] else str(mp))
            if not files:
                raise IngestError(f"no supported files match {src!r} (supported: {SUPPORTED})")
            inputs.extend(_file_input(f, base, name) for f in files)  # a glob names one dataset's shards
            continue
        p = Path(src)
        if not p.exists():
            raise IngestError(f"no such file or directory: {src}")
        if p.is_dir():
            if is_saved_dataset(p):
                inputs.append(Input("disk", str(p), "", name, fmt="disk"))
                continue
            files, ign = _dir_files(p)
            ignored.extend(str(x) for x in ign)
            if not files:
                raise IngestError(f"no supported files in directory {src} (supported: {SUPPORTED})")
            names = _per_file_sources(files, name, used, source is not None)
            inputs.extend(_file_input(f, p, n) for f, n in zip(files, names))
            continue
        if not os.access(p, os.R_OK):
            raise IngestError(f"cannot read {src}: permission denied")
        if not file_format(p.name)[0]:
            raise IngestError(f"unsupported file format: {src} (supported: {SUPPORTED})")
        inputs.append(_file_input(p, p.parent, name))
    return inputs, ignored


def _file_input(path: Path, base: Path, source: str) -> Input:
    fmt, comp = file_format(path.name)
    try:
        rel = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = path.name
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    return Input("file", str(path), rel, source, fmt=fmt or "", compression=comp, size=size)
