"""``winnow demo``: build a demo workspace (a real public corpus when the network allows it, else the shared
realmix corpus, else the small sample that ships in ``app/sample/``), score it, and open the dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from app.commands import add_json, add_no_browser

NAME = "demo"
HELP = "build a demo workspace (hub sample, realmix or the shipped sample), score it and open the dashboard"
DESCRIPTION = (
    "Build a demo workspace and open the dashboard. Corpus: with network access (checked in ~3 s) a sample of "
    "FineWeb and Alpaca streamed from the Hugging Face hub; offline ../shared/corpora/realmix/realmix.parquet "
    "when present ($WINNOW_SHARED overrides ../shared); otherwise the small synthetic sample shipped in "
    "app/sample/. An existing demo workspace is reused unless --rebuild."
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample"
HUB_HOST = "huggingface.co"
#: (source name, hf spec, documents) streamed when the hub is reachable
HUB_SOURCES = [
    ("fineweb", "hf:HuggingFaceFW/fineweb:sample-10BT/train", 3000),
    ("alpaca", "hf:tatsu-lab/alpaca", 1000),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", "-w", default="data/demo", metavar="WS", help="demo workspace (default: %(default)s)")
    p.add_argument("--port", type=int, default=8501, help="dashboard port (default: %(default)s)")
    add_no_browser(p)
    add_json(p)
    p.add_argument("--no-ui", action="store_true", help="only build the workspace, do not start the dashboard")
    p.add_argument(
        "--corpus",
        choices=["auto", "hub", "realmix", "sample"],
        default="auto",
        help="which corpus (default: auto = hub if reachable, else realmix, else sample)",
    )
    p.add_argument(
        "--per-source", type=int, default=500, metavar="N", help="documents per realmix source (default: %(default)s)"
    )
    p.add_argument("--no-score", action="store_true", help="skip scoring, embedding and the map")
    p.add_argument("--rebuild", action="store_true", help="rebuild the demo workspace even if it exists")


def hub_reachable(host: str = HUB_HOST, *, port: int = 443, timeout: float = 2.5) -> bool:
    """A TCP connection to the hub within ``timeout`` seconds (never hangs); False when offline mode is set."""
    import socket

    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return False
    if port != 443:
        return True
    # a TCP answer can come from a proxy: ask for a real HTTPS response too (any status will do)
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(
            urllib.request.Request(f"https://{host}/api/datasets?limit=1", method="HEAD"), timeout=timeout
        )
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def find_realmix() -> Path | None:
    """``realmix.parquet`` under ``$WINNOW_SHARED`` or ``../shared`` next to the repository."""
    candidates = []
    if os.environ.get("WINNOW_SHARED"):
        candidates.append(Path(os.environ["WINNOW_SHARED"]) / "corpora" / "realmix" / "realmix.parquet")
    candidates += [
        ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet",
        Path.cwd().parent / "shared" / "corpora" / "realmix" / "realmix.parquet",
    ]
    return next((c for c in candidates if c.exists()), None)


def _say(msg: str) -> None:
    print(f"demo: {msg}", file=sys.stderr, flush=True)


def _hub_inputs(tmp: Path, *, timeout: float = 90.0) -> list[tuple[str, Path]]:
    """Stream each hub sample into a local Parquet file, in a worker thread with a deadline."""
    import threading

    import pyarrow as pa
    import pyarrow.parquet as pq

    from app.ingest import read_documents

    out: list[tuple[str, Path]] = []
    for name, spec, n in HUB_SOURCES:
        box: dict[str, Any] = {}

        def work(spec: str = spec, n: int = n, box: dict[str, Any] = box) -> None:
            try:
                box["tables"] = [pa.Table.from_batches([b]) for b in read_documents([spec], limit=n)]
            except Exception as e:  # network, auth, schema: fall back, never crash the demo
                box["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__

        t = threading.Thread(target=work, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive() or "error" in box or not box.get("tables"):
            _say(f"hub source {spec} unavailable ({box.get('error', 'timed out')}); skipping it")
            continue
        tbl = pa.concat_tables(box["tables"], promote_options="permissive")
        tbl = tbl.drop_columns([c for c in ("id", "source", "text_hash", "_file", "_row") if c in tbl.column_names])
        path = tmp / f"{name}.parquet"
        pq.write_table(tbl, path)
        out.append((name, path))
    return out


def _realmix_inputs(parquet: Path, tmp: Path, per_source: int) -> list[tuple[str, Path]]:
    """One Parquet file per realmix source (up to ``per_source`` documents each, a seeded sample)."""
    import duckdb

    con = duckdb.connect()
    out = []
    names = [
        r[0] for r in con.execute("SELECT DISTINCT source FROM read_parquet(?) ORDER BY 1", [str(parquet)]).fetchall()
    ]
    for name in names:
        path = tmp / f"{name}.parquet"
        con.execute(
            "COPY (SELECT * EXCLUDE (source) FROM read_parquet($p) WHERE source = $s "
            "ORDER BY hash(id) LIMIT $n) TO " + "'" + str(path).replace("'", "''") + "' (FORMAT parquet)",
            {"p": str(parquet), "s": name, "n": per_source},
        )
        out.append((name, path))
    con.close()
    return out


def build_demo(
    workspace: str | os.PathLike, *, corpus: str = "auto", per_source: int = 500, score: bool = True
) -> dict[str, Any]:
    """Build (replace the sources of) the demo workspace; return what was done."""
    import tempfile

    from app.errors import WinnowError
    from app.ingest import ingest
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    done: dict[str, Any] = {"workspace": str(workspace), "corpus": None, "sources": {}, "steps": []}
    with tempfile.TemporaryDirectory(prefix="winnow-demo-") as tmpd:
        tmp = Path(tmpd)
        inputs: list[tuple[str, Path]] = []
        id_field = None
        if corpus in ("auto", "hub"):
            if hub_reachable():
                _say("the Hugging Face hub is reachable: streaming a FineWeb and an Alpaca sample")
                inputs = _hub_inputs(tmp)
                done["corpus"] = "hub" if inputs else None
            else:
                _say("no network (hub unreachable within 2.5 s)")
            if corpus == "hub" and not inputs:
                raise WinnowError("demo: the hub corpus is not available (offline?); try --corpus realmix or sample")
        if not inputs and corpus in ("auto", "realmix"):
            parquet = find_realmix()
            if parquet:
                _say(f"using the shared realmix corpus {parquet} (up to {per_source} documents per source)")
                inputs, id_field, done["corpus"] = _realmix_inputs(parquet, tmp, per_source), "id", "realmix"
            elif corpus == "realmix":
                raise WinnowError("demo: realmix.parquet not found under $WINNOW_SHARED or ../shared/corpora/realmix")
        if not inputs:
            _say(f"using the small synthetic sample shipped in {SAMPLE_DIR}")
            inputs = [("sample_web", SAMPLE_DIR / "sample.jsonl"), ("sample_instruct", SAMPLE_DIR / "instruct.json")]
            done["corpus"] = "sample"
        with Workspace.open(workspace, create=True) as ws:
            if all(Path(path).stem == name for name, path in inputs):
                # one call: one transaction and one rebuild of the workspace's views for every source
                with tqdm_progress("ingest") as p:
                    s = ingest(ws, [str(path) for _n, path in inputs], id_field=id_field, progress=p)
                done["sources"].update({x["source"]: x["ingested"] for x in s["sources"]})
            else:
                for name, path in inputs:
                    with tqdm_progress(f"ingest {name}") as p:
                        s = ingest(ws, [str(path)], source=name, id_field=id_field, progress=p)
                    done["sources"][name] = s["ingested"]
            for name, n in done["sources"].items():
                _say(f"ingested {name}: {n:,} documents")
            if score:
                _score(ws, done)
                _toxicity(ws, done)
    return done


def _toxicity(ws: Any, done: dict[str, Any]) -> None:
    """realmix's tweets carry Davidson et al.'s hate/offensive/neither labels: import them as the workspace
    labels ``toxic`` / ``not_toxic`` and train the ``toxicity`` classifier on them (docs/classifiers.md)."""
    import time

    from app.errors import WinnowError
    from app.explore.labels import add_labels
    from app.learn.classifier import train
    from app.progress import tqdm_progress

    if "toxicity" not in ws.columns("docs"):
        return
    t0 = time.perf_counter()
    try:
        cur = ws.cursor()
        for label, cond in (("toxic", "IN ('hate', 'offensive')"), ("not_toxic", "= 'neither'")):
            ids = [r[0] for r in cur.execute(f"SELECT id FROM docs WHERE toxicity {cond} ORDER BY id").fetchall()]
            add_labels(cur, ids, label, "realmix tweet label (Davidson et al. 2017)", by="realmix")
        with tqdm_progress("toxicity classifier") as p:
            r = train(ws, name="toxicity", positive="label:toxic", negative="label:not_toxic", features="ngrams",
                      progress=p)  # fmt: skip
        done["steps"].append("toxicity classifier")
        _say(f"toxicity classifier: held-out AUC {r.metrics['auc']} on the tweets' labels, column clf_toxicity "
             f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    except WinnowError as e:
        _say(f"toxicity classifier: skipped ({str(e).splitlines()[0]})")


def _score(ws: Any, done: dict[str, Any]) -> None:
    """Signals, then embeddings and the map, each only if its area is installed; failures are one line."""
    from app.errors import WinnowError
    from app.progress import tqdm_progress

    steps = [
        ("signals", "app.signals.engine", "score", {"signals": ["all"]}),
        ("embeddings", "app.embed", "embed", {}),
        ("map", "app.maps", "build_map", {}),
        ("search index", "app.search", "build_index", {}),
    ]
    import importlib

    for label, module, fn, kwargs in steps:
        try:
            func = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError):
            _say(f"{label}: not available in this build, skipped")
            continue
        try:
            with tqdm_progress(label) as p:
                func(ws, progress=p, **kwargs)
            done["steps"].append(label)
            _say(f"{label}: done")
        except (WinnowError, ImportError) as e:
            _say(f"{label}: skipped ({str(e).splitlines()[0] if str(e) else type(e).__name__})")


def run(args: argparse.Namespace) -> int:
    from app.commands import emit, say

    ws_path = Path(args.workspace)
    if not args.no_ui:  # a busy port is said now, not after minutes of building
        from app.launch import check_port

        check_port("127.0.0.1", args.port)
    exists = (ws_path / "winnow.duckdb").exists()
    summary: dict[str, Any] = {"workspace": str(ws_path), "reused": False}
    if exists and not args.rebuild:
        from app.workspace import Workspace

        with Workspace.open(ws_path, read_only=True) as ws:
            n = ws.info()["documents"]
        if n:
            _say(f"reusing {ws_path} ({n:,} documents); --rebuild to start over")
            summary.update(reused=True, documents=n)
    if not summary["reused"]:
        summary.update(build_demo(ws_path, corpus=args.corpus, per_source=args.per_source, score=not args.no_score))
    if summary["reused"]:
        say(args, f"demo workspace {ws_path}: reused, {summary['documents']:,} documents")
    else:
        docs = sum(summary.get("sources", {}).values())
        steps = ", ".join(summary.get("steps", [])) or "no scoring"
        say(args, f"demo workspace {ws_path}: {docs:,} documents from the {summary['corpus']} corpus ({steps})")
    emit(args, summary)
    if args.no_ui:
        print(f"start the dashboard with: winnow ui --workspace {ws_path}", file=sys.stderr)
        return 0
    try:
        from app.launch import launch
    except ImportError:
        print(f"the dashboard is not installed; start it later with: winnow ui --workspace {ws_path}", file=sys.stderr)
        return 0
    return launch(ws_path, port=args.port, open_browser=not args.no_browser)
