"""Models trained in the workspace (classifiers, n-gram LMs, DSIR weights): stored, listed, scored, reused.

One table, ``_models`` (``name, kind, digest, settings, metrics, columns, blob, created_at``), holds every model
a Winnow command trained. The model itself is ``blob`` (a NumPy ``.npz`` archive written by its kind), so a
workspace stays one DuckDB file, a save is one transaction (nothing half-written) and a copied workspace
carries its models. ``digest`` is a hash of the training data and settings: training again with the same
inputs finds the same digest and does nothing.

Each model kind registers a *loader* (:func:`loader`) that turns a :class:`StoredModel` into a
:class:`ModelScorer`: declared output columns and ``score(texts) -> {column: values}``. Everything that
scores with models goes through that one interface:

- :func:`score_workspace` writes a model's columns for every document as a ``corpus`` part
  (``_model_<name>``), with progress, so ``clf_toxicity`` or ``ppl_wiki`` appear in Distributions,
  Thresholds, the Map and recipes like any signal;
- :class:`ModelColumns` gives headless ``winnow apply --input SHARDS --models WS`` the same columns from the
  same stored models, per batch, and the entries (name, kind, digest, metrics) the manifest cites.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.errors import LearnError
from app.sql import qi, slug

TABLE = "_models"
BATCH = 2048
_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, digest VARCHAR NOT NULL, settings JSON, metrics JSON,
    columns JSON NOT NULL, blob BLOB, created_at TIMESTAMP)"""


class ModelScorer(Protocol):
    """What a loaded model offers: its output columns (name -> DuckDB type) and per-batch scores."""

    columns: dict[str, str]

    def score(self, texts: list[str]) -> dict[str, list[Any]]: ...


@dataclass
class StoredModel:
    """One row of ``_models``. ``arrays`` (from ``blob``) are loaded lazily by :meth:`arrays`."""

    name: str
    kind: str
    digest: str
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    blob: bytes = b""
    created_at: Any = None

    def arrays(self) -> dict[str, Any]:
        """The model's NumPy arrays (what its kind saved with :func:`pack`)."""
        return unpack(self.blob)

    def entry(self) -> dict[str, Any]:
        """What a manifest or report cites: name, kind, digest, columns, settings and metrics."""
        return {"name": self.name, "kind": self.kind, "digest": self.digest, "columns": sorted(self.columns),
                "settings": self.settings, "metrics": self.metrics}  # fmt: skip


LOADERS: dict[str, Callable[[StoredModel], ModelScorer]] = {}


def loader(kind: str) -> Callable[[Callable[[StoredModel], ModelScorer]], Callable[[StoredModel], ModelScorer]]:
    """Decorator registering the function that builds a :class:`ModelScorer` of ``kind`` from its row."""

    def deco(fn: Callable[[StoredModel], ModelScorer]) -> Callable[[StoredModel], ModelScorer]:
        LOADERS[kind] = fn
        return fn

    return deco


def _load_kinds() -> None:
    """Import the modules that register loaders (kept lazy: heavy imports stay inside them)."""
    import importlib
    import pkgutil

    import app.learn as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name not in {"store", "selectors"} and not m.name.startswith("_"):
            importlib.import_module(f"app.learn.{m.name}")


def pack(arrays: dict[str, Any]) -> bytes:
    """NumPy arrays -> ``.npz`` bytes (compressed) for ``blob``."""
    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def unpack(blob: bytes) -> dict[str, Any]:
    import numpy as np

    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a truncated or foreign blob
        raise LearnError(f"a stored model is unreadable ({type(e).__name__}); train it again") from e


def ensure_table(con: Any) -> None:
    """Create ``_models`` when missing (a read-only connection just sees none)."""
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
    if not con.execute(q, [TABLE]).fetchall()[0][0]:
        con.execute(_DDL)


def save(con: Any, m: StoredModel) -> None:
    """Insert or replace the model named ``m.name`` (one statement: nothing half-written)."""
    ensure_table(con)
    row = con.execute(f"SELECT kind FROM {TABLE} WHERE name = ?", [m.name]).fetchone()
    if row is not None and row[0] != m.kind:  # a name is one model: never replace a classifier with an LM
        raise LearnError(f"a {row[0]} model is already named {m.name!r}; remove it first or choose another name")
    con.execute(f"DELETE FROM {TABLE} WHERE name = ?", [m.name])
    con.execute(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [m.name, m.kind, m.digest, json.dumps(m.settings, default=str), json.dumps(m.metrics, default=str),
         json.dumps(m.columns), m.blob],
    )  # fmt: skip


def _row(r: tuple) -> StoredModel:
    return StoredModel(name=r[0], kind=r[1], digest=r[2], settings=json.loads(r[3] or "{}"),
                       metrics=json.loads(r[4] or "{}"), columns=json.loads(r[5]), blob=r[6] or b"",
                       created_at=r[7])  # fmt: skip


def get(con: Any, name: str, *, kind: str | None = None) -> StoredModel:
    """The stored model ``name`` (of ``kind`` when given), or a one-line error listing what exists."""
    ensure_table(con)
    r = con.execute(f"SELECT * FROM {TABLE} WHERE name = ?", [name]).fetchone()
    if r is None or (kind and r[1] != kind):
        have = [m.name for m in list_models(con, kind=kind)]
        what = f"{kind} model" if kind else "model"
        raise LearnError(f"no {what} named {name!r} in this workspace; have: {', '.join(have) or 'none'}")
    return _row(r)


def list_models(con: Any, *, kind: str | None = None) -> list[StoredModel]:
    """Every stored model (without its blob), oldest first."""
    ensure_table(con)
    q = f"SELECT name, kind, digest, settings, metrics, columns, NULL, created_at FROM {TABLE}"
    rows = con.execute(
        q + (" WHERE kind = ?" if kind else "") + " ORDER BY created_at", [kind] if kind else []
    ).fetchall()
    return [_row(r) for r in rows]


def entries_for(con: Any, columns: list[str]) -> list[dict[str, Any]]:
    """Manifest/report entries (name, kind, digest, settings, metrics) of the stored models whose columns are
    among ``columns`` (what a recipe reads or writes): an export names the models behind its cuts by hash."""
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
    if not con.execute(q, [TABLE]).fetchall()[0][0]:
        return []
    want = set(columns)
    return [m.entry() for m in list_models(con) if want & set(m.columns)]


def part_table(name: str) -> str:
    """The ``corpus`` part a model's scores live in."""
    return f"_model_{slug(name)}"


def remove(ws: Any, name: str) -> None:
    """Drop the model and its scores from ``corpus``."""
    with ws.transaction() as cur:
        get(cur, name)
        cur.execute(f"DELETE FROM {TABLE} WHERE name = ?", [name])
        if ws.has_table(part_table(name), con=cur):
            ws.unregister_part(part_table(name), con=cur)


def scorer(m: StoredModel) -> ModelScorer:
    """Build the :class:`ModelScorer` of a stored model through its kind's loader."""
    _load_kinds()
    if m.kind not in LOADERS:
        raise LearnError(f"model {m.name!r} is of kind {m.kind!r}, which this version of Winnow cannot load")
    return LOADERS[m.kind](m)


def score_workspace(ws: Any, name: str, *, progress: Any = None) -> int:
    """Score every document of ``ws`` with the stored model ``name`` into its ``corpus`` part; returns the count.

    Streams ``docs`` in batches (bounded memory) into a fresh table, swapped in atomically."""
    import pyarrow as pa

    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    m = get(ws.cursor(), name)
    sc = scorer(m)
    dest = part_table(name)
    tmp = dest + "__new"
    cur = ws.cursor()
    total = int(cur.execute("SELECT count(*) FROM docs").fetchall()[0][0])
    cols = ", ".join(f"{qi(c)} {t}" for c, t in sc.columns.items())
    cur.execute(f"CREATE OR REPLACE TABLE {qi(tmp)} (id VARCHAR, {cols})")
    stage = f"scoring with {m.kind} model {name}"
    if progress:
        progress(0, total, stage)
    reader = ws.cursor().sql("SELECT id, coalesce(text, '') FROM docs").to_arrow_reader(BATCH)
    done = 0
    for rb in reader:
        out = sc.score(rb.column(1).to_pylist())
        tbl = pa.table({"id": rb.column(0), **{c: pa.array(out[c]) for c in sc.columns}})
        cur.register("_m_batch", tbl)
        cur.execute(f"INSERT INTO {qi(tmp)} SELECT * FROM _m_batch")
        cur.unregister("_m_batch")
        done += rb.num_rows
        if progress:
            progress(done, total, stage)
    with ws.transaction() as tx:
        tx.execute(f"DROP TABLE IF EXISTS {qi(dest)}")
        tx.execute(f"ALTER TABLE {qi(tmp)} RENAME TO {qi(dest)}")
        ws.register_part(dest, kind="model", con=tx)
    return done


class ModelColumns:
    """Stored models that compute some of the columns a headless run wants (``--models WS``)."""

    def __init__(self, models: list[StoredModel]):
        self.models = models
        self.scorers = [scorer(m) for m in models]

    @classmethod
    def from_workspace(cls, path: str, wanted: list[str]) -> ModelColumns | None:
        """The workspace's models whose columns ``wanted`` names (read-only open); None when none does."""
        from app.workspace import Workspace

        with Workspace.open(path, read_only=True) as ws:
            con = ws.cursor()
            if not ws.has_table(TABLE, con=con):
                return None
            need = [m for m in list_models(con) if set(m.columns) & set(wanted)]
            full = [get(con, m.name) for m in need]
        return cls(full) if full else None

    @property
    def columns(self) -> list[str]:
        return [c for s in self.scorers for c in s.columns]

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for s in self.scorers:
            out.update(s.score(texts))
        return out

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [m.entry() for m in self.models]
