"""``winnow apply``: write exactly the documents a recipe keeps (from a workspace, or headless from raw shards)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from app.commands import add_engine, add_json, add_workspace, emit, say

NAME = "apply"
HELP = "apply a recipe: export the kept documents (parquet/jsonl/jsonl.gz/jsonl.zst/hf) with a manifest"
DESCRIPTION = (
    "Apply a recipe (a YAML file, or the name of a recipe saved in the workspace) and write exactly the documents "
    "it keeps to DIR, ordered by id, with DIR/__winnow__/manifest.json. Output is byte-identical for the same workspace and "
    "recipe. With --input, the recipe runs headless over raw files that were never ingested (one or two streaming "
    "passes; only the signals the recipe needs are computed, tokens with the same counter as the size signal) and "
    "writes the same files a workspace export of the same documents would. The manifest cites every input file by "
    "sha256, the code revision, the recipe's hash and the models behind its signals. Progress goes to stderr: a "
    "bar on a terminal, a line every 10 s otherwise. The last stdout line is JSON with kept and total."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument("--recipe", "-r", required=True, metavar="R", help="recipe YAML file or saved recipe name")
    p.add_argument("--out", "-o", metavar="DIR", help="output directory (must be empty or absent)")
    p.add_argument("--format", "-f", default="parquet", choices=["parquet", "jsonl", "jsonl.gz", "jsonl.zst", "hf"])
    p.add_argument(
        "--schema",
        choices=["messages"],
        help="write every record as id, source, messages (a list of {role, content}): Alpaca fields and chat "
        "records alike; records without either are counted in the manifest (workspace only)",
    )
    p.add_argument("--shard-size", type=int, metavar="N", help="documents per output file (default: one file)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it holds files")
    p.add_argument("--push-to-hub", metavar="REPO", help="upload the export to this Hugging Face dataset repo")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        metavar="SRC",
        help="headless: raw files/globs to stream instead of a workspace (repeatable)",
    )
    p.add_argument("--source", help="headless: source name for all inputs")
    p.add_argument("--text-field", metavar="F", help="headless: field holding the text")
    p.add_argument("--id-field", metavar="F", help="headless: field holding unique ids")
    p.add_argument("--limit", type=int, metavar="N", help="headless: stop after N input documents")
    p.add_argument(
        "--benchmark",
        action="append",
        metavar="NAME=FILE",
        help="headless: a benchmark file (read as `winnow decontam add` does; repeatable, a repeated NAME adds "
        "files) to compute decon_hits/decon_max_overlap/decon_benchmarks for every document",
    )
    p.add_argument(
        "--benchmark-field",
        action="append",
        metavar="F",
        help="headless: benchmark field(s) to render (as `winnow decontam add --field`; default: the usual names)",
    )
    p.add_argument(
        "--benchmark-near",
        type=float,
        metavar="J",
        help="headless: also count light rewrites of a benchmark text (estimated Jaccard >= J, as "
        "`winnow decontam run --near J`) and compute decon_near_jaccard",
    )
    p.add_argument(
        "--workers",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="processes (or Ray workers) scoring batches: headless, or a workspace recipe's transforms.score: "
        "cleaned; output is identical whatever N",
    )
    add_engine(p)
    p.add_argument(
        "--dry-run",
        nargs="?",
        type=int,
        const=4000,
        metavar="N",
        help="headless: apply the recipe to the first N documents (default 4000) and forecast the whole run's "
        "time and peak memory on this machine; writes nothing",
    )
    p.add_argument(
        "--models",
        metavar="WS",
        help="headless: a workspace whose trained models (winnow classify train, winnow lm fit) compute the "
        "recipe's model columns (clf_*, ppl_*, ...) for every document; the manifest cites them by hash",
    )
    p.add_argument(
        "--tokenizer",
        metavar="PATH",
        help="headless: also count size_tokens_NAME under the target model's tokenizer (tokenizer.json, a tokenizer "
        "directory or a .model file; offline), as `winnow score --tokenizer` does, e.g. for a mixture's tokens_column",
    )
    p.add_argument(
        "--tokenizer-name", metavar="NAME", help="headless: NAME of size_tokens_NAME (default: from the path)"
    )
    p.add_argument(
        "--semantic-model",
        metavar="M",
        help="headless dedup.semantic: the embedder (default: the fast static model, as `winnow embed --fast`)",
    )
    p.add_argument(
        "--semantic-eps",
        type=float,
        default=0.05,
        metavar="E",
        help="headless dedup.semantic: duplicates have cosine > 1-E within a k-means cluster (as `winnow map --eps`)",
    )
    p.add_argument(
        "--tokens",
        choices=["size_tokens", "estimate"],
        default="size_tokens",
        help="headless: count tokens with the size signal's tokenizer (default, as a scored workspace) or "
        "estimate characters / 4 (faster; named in the manifest)",
    )


def resolve_recipe(spec: str, ws=None):
    """A recipe from a YAML file path, or a recipe saved in ``ws`` under that name."""
    from app.errors import RecipeError
    from app.recipes import get_recipe, load_recipe

    p = Path(spec)
    if p.exists():
        return load_recipe(p)
    if ws is not None and not spec.endswith((".yaml", ".yml")):
        return get_recipe(ws, spec)
    raise RecipeError(f"recipe file {spec} does not exist")


def _workspace_engine(args: argparse.Namespace, recipe: Any) -> Any:
    """The engine a workspace export re-scores the cleaned text on (``transforms.score: cleaned``); elsewhere
    the per-document work is already stored, so --engine/--workers are refused with one line."""
    from app.engine import make_engine
    from app.errors import EngineError

    tx = getattr(recipe, "transforms", None)
    if tx is None or not tx.cleaned_scoring:
        raise EngineError(
            "--engine/--workers are for headless apply (--input) and, in a workspace, for a recipe with "
            "transforms.score: cleaned; otherwise the per-document work is done by winnow score --engine ..."
        )
    return make_engine(args.engine, workers=args.workers or 1, address=args.ray_address)


def _print(m: dict, out: object) -> None:
    c = m["counts"]
    pct = 100 * c["kept_docs"] / c["total_docs"] if c["total_docs"] else 0.0
    print(
        f"kept {c['kept_docs']:,} of {c['total_docs']:,} documents ({pct:.1f}%),"
        f" {c['kept_tokens']:,} of {c['total_tokens']:,} tokens ({c['tokens']})"
    )
    for r in m["rules"]:
        print(f"  {r['label']}: removes {r['removed']:,} ({r['removed_only']:,} only this one)")
    from app.recipes.stages import stage_lines

    for line in stage_lines(m.get("stages", []), m.get("shortfalls", [])):
        print(line)
    from app.export.shape import describe

    for line in describe(m):  # the mixture's achieved shares, the annotated documents
        print(line)
    print(f"{len(m['files'])} file(s), {sum(f['bytes'] for f in m['files']) / 1e6:.1f} MB in {out}")


def run(args: argparse.Namespace) -> int:
    from app.progress import tqdm_progress

    common = {
        "fmt": args.format,
        "shard_size": args.shard_size,
        "overwrite": args.overwrite,
        "push_to_hub_repo": args.push_to_hub,
    }
    if (args.benchmark or args.benchmark_field) and not args.input:
        from app.decontam import DecontamError

        raise DecontamError("--benchmark is for headless apply (--input); in a workspace use winnow decontam add")
    pooled = args.engine != "local" or args.ray_address or args.workers  # a workspace: for transforms.score: cleaned
    if args.dry_run is not None and not args.input:
        from app.errors import ExportError

        raise ExportError("--dry-run forecasts a headless run (--input SHARDS)")
    if not args.out and args.dry_run is None:
        from app.errors import ExportError

        raise ExportError("give --out DIR (or --dry-run with --input for a forecast)")
    if (args.tokenizer or args.tokenizer_name) and not args.input:
        from app.errors import ExportError

        raise ExportError("--tokenizer is for headless apply (--input); in a workspace use winnow score --tokenizer")
    if args.input:
        from app.decontam.headless import parse_specs
        from app.export.headless import apply_headless

        if Path(args.recipe).exists() or args.recipe.endswith((".yaml", ".yml")):
            recipe = resolve_recipe(args.recipe)
        else:  # a recipe saved in the workspace (e.g. from the dashboard), applied to raw shards
            from app.workspace import Workspace

            with Workspace.open(args.workspace, read_only=True) as ws:
                recipe = resolve_recipe(args.recipe, ws)
        from app.export import plan_check

        opts = {"source": args.source, "text_field": args.text_field, "id_field": args.id_field,
                "tokens": args.tokens, "benchmarks": parse_specs(args.benchmark) if args.benchmark else None,
                "benchmark_fields": args.benchmark_field, "models": args.models, "tokenizer": args.tokenizer,
                "tokenizer_name": args.tokenizer_name, "semantic_model": args.semantic_model,
                "semantic_eps": args.semantic_eps}  # fmt: skip
        key = plan_check.forecast_key(recipe, args.input, opts)
        if args.dry_run is not None:
            from app.export.plan import describe, forecast

            f = forecast(recipe, args.input, sample=args.dry_run, workers=args.workers or 1, engine=args.engine, **opts)
            say(args, describe(f))
            plan_check.save(f, key)  # the real run (same recipe, inputs, options) compares itself with this
            emit(args, f)
            return 0
        from app.engine import make_engine

        eng = None
        if args.engine != "local" or (args.workers or 1) > 1:
            eng = make_engine(args.engine, workers=args.workers or 1, address=args.ray_address)
        with tqdm_progress("apply") as progress, eng or contextlib.nullcontext():
            m = apply_headless(
                recipe,
                args.input,
                args.out,
                source=args.source,
                text_field=args.text_field,
                id_field=args.id_field,
                limit=args.limit,
                tokens=args.tokens,
                benchmarks=parse_specs(args.benchmark) if args.benchmark else None,
                benchmark_fields=args.benchmark_field,
                benchmark_near=args.benchmark_near,
                models=args.models,
                tokenizer=args.tokenizer,
                tokenizer_name=args.tokenizer_name,
                engine=eng,
                forecast=plan_check.load(key),
                semantic_model=args.semantic_model,
                semantic_eps=args.semantic_eps,
                schema=args.schema,
                progress=progress,
                **common,
            )
    else:
        from app.export import apply
        from app.workspace import Workspace

        with Workspace.open(args.workspace, read_only=True) as ws, tqdm_progress("apply") as progress:
            recipe = resolve_recipe(args.recipe, ws)
            eng = _workspace_engine(args, recipe) if pooled else None
            with eng or contextlib.nullcontext():
                m = apply(ws, recipe, args.out, progress=progress, schema=args.schema, engine=eng, **common)
    if not args.json:
        _print(m, args.out)
    if "forecast" in m.get("source", {}):
        from app.export.plan_check import line

        say(args, line(m["source"]["forecast"]))
    c = m["counts"]
    emit(
        args,
        {
            "kept": c["kept_docs"],
            "total": c["total_docs"],
            "kept_tokens": c["kept_tokens"],
            "total_tokens": c["total_tokens"],
            "out": str(args.out),
            "files": len(m["files"]),
            **({"pushed_to": m["pushed_to"]} if "pushed_to" in m else {}),
        },
    )
    return 0
