"""``winnow score``: compute signal families for every document of a workspace."""

from __future__ import annotations

import argparse

from app.commands import add_engine, add_json, add_workspace, emit, print_json_last

NAME = "score"
HELP = "compute quality, repetition, language, duplicate, PII and size signals (only what is missing or stale)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument(
        "--signals", "-s", default=None, metavar="NAMES", help="comma-separated families or 'all' (the default)"
    )
    p.add_argument("--workers", "-j", type=int, default=1, metavar="N", help="processes scoring batches (default 1)")
    p.add_argument("--batch-size", type=int, default=2000, metavar="N", help="documents per batch (default 2000)")
    p.add_argument("--force", action="store_true", help="recompute even what is up to date")
    p.add_argument("--blocklist", metavar="FILE", help="word list (one per line) for pii_blocklist_hits")
    p.add_argument("--lid-model", metavar="PATH", help="fastText lid.176.bin/.ftz model file for lang_code")
    p.add_argument(
        "--lang-backend",
        choices=["ensemble", "py3langid", "fasttext", "cld2", "lingua"],
        help="language identifier (default ensemble: py3langid, CLD2 and fastText lid.176 by majority)",
    )
    p.add_argument("--quality-weights", metavar="FILE", help="JSON list of 14 weights for quality_score")
    p.add_argument(
        "--tokenizer",
        metavar="PATH",
        help="also count tokens under the target model's tokenizer (tokenizer.json, a tokenizer directory or a "
        ".model file) as size_tokens_NAME; alone (without --signals) only that is computed",
    )
    p.add_argument("--tokenizer-name", metavar="NAME", help="NAME of size_tokens_NAME (default: from the path)")
    p.add_argument(
        "--fields",
        metavar="NAMES",
        help="the text the signals see: comma-separated fields (e.g. instruction,output; default: winnow fields)",
    )
    p.add_argument("--list", action="store_true", help="list the families and their columns, then exit")
    p.add_argument(
        "--dry-run",
        type=int,
        nargs="?",
        const=4000,
        metavar="N",
        help="score a random N documents (default 4000) in a scratch copy and forecast the whole run's time and "
        "memory with --workers; nothing is written. The real run then prints how close the forecast was",
    )
    add_engine(p)
    add_json(p)


def options_from_args(args: argparse.Namespace) -> dict[str, dict]:
    """Scorer options from the command line."""
    opts: dict[str, dict] = {}
    if args.blocklist:
        opts.setdefault("pii", {})["blocklist"] = args.blocklist
    if args.lid_model:
        opts.setdefault("lang", {})["model_path"] = args.lid_model
    if args.lang_backend:
        opts.setdefault("lang", {})["backend"] = args.lang_backend
    if args.quality_weights:
        opts.setdefault("quality", {})["weights"] = args.quality_weights
    return opts


def suggest(name: str, known: list[str]) -> list[str]:
    """The families a mistyped ``name`` probably meant: those it is a prefix or a part of
    (``gopher`` -> ``gopher_quality, gopher_repetition``), else the closest spellings."""
    import difflib

    low = name.lower()
    return [k for k in known if k.startswith(low) or low in k] or difflib.get_close_matches(low, known, n=3)


def check_names(signals: str) -> None:
    """Raise a SignalError naming the likely families for every unknown name in ``signals``."""
    from app.errors import SignalError
    from app.signals import engine

    try:
        engine.resolve(signals)
    except SignalError as e:
        known = list(engine.families())
        for name in (n.strip() for n in str(signals).split(",")):
            if name and name != "all" and name not in known and (hints := suggest(name, known)):
                raise SignalError(
                    f"unknown signal family {name!r}; did you mean {', '.join(hints)}? (known: {', '.join(known)})"
                ) from e
        raise


def run(args: argparse.Namespace) -> int:
    from app.progress import tqdm_progress
    from app.signals import engine

    if args.list:
        fams = engine.families()
        for name, cls in fams.items():
            if not args.json:
                print(f"{name:18s} v{cls.version} {cls.scope:8s} {', '.join(cls.columns)}")
        emit(args, {n: list(c.columns) for n, c in fams.items()})
        return 0
    from app.engine import make_engine
    from app.workspace import Workspace

    if args.tokenizer_name and not args.tokenizer:
        from app.errors import SignalError

        raise SignalError("--tokenizer-name names the column of --tokenizer PATH; give the tokenizer too")
    if args.tokenizer and args.signals is None:
        return _tokens_only(args)
    signals = args.signals or "all"
    check_names(signals)  # a misspelt family is said before the workspace is opened
    import time

    from app.detached import Detached
    from app.export import plan_check
    from app.signals import forecast

    t_start = time.perf_counter()
    what = {"signals": signals, "options": options_from_args(args), "fields": args.fields}
    if args.dry_run is not None:
        return _dry_run(args, signals, forecast.forecast_key(args.workspace, what))
    det = Detached(args.workspace, purpose="score", tables=tables_read(engine.resolve(signals)))
    with (
        det as sw,
        make_engine(args.engine, workers=args.workers, address=args.ray_address) as eng,
        tqdm_progress("score") as prog,
    ):
        res = engine.score(
            sw,
            signals=signals,
            workers=args.workers,
            batch_size=args.batch_size,
            progress=prog,
            options=options_from_args(args),
            force=args.force,
            engine=eng,
            fields=args.fields,
        )
    res["workspace_held_s"] = det.timings
    if (f := forecast.stored(args.workspace, what)) is not None:
        res["forecast"] = forecast.versus(
            f,
            took=time.perf_counter() - t_start,
            documents=res["documents"],
            workers=args.workers,
            peak_rss=_peak_rss(),
        )
    if args.tokenizer:
        with Workspace.open(args.workspace) as ws, tqdm_progress("tokens") as prog:
            res["tokens_model"] = _count_tokens(ws, args, prog)
    if args.json:
        print_json_last(res)
        return 0
    print(f"{'family':18s} {'computed':>10s} {'reused':>10s} {'rows':>10s}")
    for name, r in res["families"].items():
        print(f"{name:18s} {r['computed'] or 0:>10,} {r['reused'] or 0:>10,} {r['rows'] or 0:>10,}")
    held = det.timings.get("commit_s", 0.0)
    wrote = f"held {held:.1f} s to write the results" if held else "nothing new to write"
    print(
        f"{res['documents']:,} documents scored in {res['seconds']:.1f} s; the workspace was copied in"
        f" {det.timings.get('snapshot_s', 0):.1f} s (read-only) and {wrote}"
    )
    if "tokens_model" in res:
        _print_tokens(res["tokens_model"])
    if "forecast" in res:
        print(plan_check.line(res["forecast"]))
    return 0


def _dry_run(args: argparse.Namespace, signals: str, key: str) -> int:
    """``--dry-run N``: measure a sample, print the forecast, store it for the real run to compare with."""
    from app.export import plan_check
    from app.signals import engine, forecast

    f = forecast.forecast_score(
        args.workspace,
        signals=signals,
        sample=args.dry_run,
        workers=args.workers,
        options=options_from_args(args),
        fields=args.fields,
        force=args.force,
        batch_size=args.batch_size,
        side_tables=[t for n in engine.resolve(signals) for t in SIDE_TABLES.get(n, ())],
    )
    if f.get("sample"):
        plan_check.save(f, key)
    if args.json:
        print_json_last(f)
    else:
        print(forecast.describe(f))
    return 0


def _peak_rss() -> int:
    """The peak resident memory of this process or of its largest worker process, in bytes (Linux: KiB units)."""
    import resource

    return 1024 * max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )


#: tables a family reads besides the documents (its caches, its inputs), copied into the scratch workspace
SIDE_TABLES = {"decontam": ("_decon_*",), "dedup_near": ("_dup_near_*",)}


def tables_read(names: list[str]) -> list[str]:
    """Table name patterns :class:`app.detached.Detached` copies for scoring ``names``: the run registry, each
    family's previous results (reused when still valid) and its side tables (:data:`SIDE_TABLES`)."""
    from app.signals.engine import RUNS, _hash_table, sig_table

    out = [RUNS]
    for n in names:
        out += [sig_table(n), _hash_table(n), *SIDE_TABLES.get(n, ())]
    return out


def _count_tokens(ws, args: argparse.Namespace, prog) -> dict:
    """``size_tokens_NAME`` under ``--tokenizer`` (:mod:`app.signals.tokens_model`) with its fertility table."""
    from app.signals import tokens_model as tm

    res = tm.score_workspace(
        ws, tokenizer=args.tokenizer, name=args.tokenizer_name, batch_size=args.batch_size, progress=prog,
        force=args.force,
    )  # fmt: skip
    res["fertility"] = tm.fertility(ws.cursor(), res["column"])
    return res


def _print_tokens(res: dict) -> None:
    what = f"{res['computed']:,} documents counted" if res["computed"] else "up to date"
    print(
        f"{res['column']} ({res['kind']} {res['tokenizer']}, sha256 {res['digest']}): {what} in {res['seconds']:.1f} s"
    )
    print(f"  {'lang':8s} {'docs':>8s} {'tokens/char':>12s} {'size_tokens/char':>17s}")
    for r in res["fertility"]:
        d = r["default_tokens_per_char"]
        print(
            f"  {r['lang']!s:8s} {r['docs']:>8,} {r['tokens_per_char'] or 0:>12.3f} {'' if d is None else f'{d:.3f}':>17s}"
        )


def _tokens_only(args: argparse.Namespace) -> int:
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    with Workspace.open(args.workspace) as ws, tqdm_progress("tokens") as prog:
        res = _count_tokens(ws, args, prog)
    if args.json:
        print_json_last(res)
    else:
        _print_tokens(res)
    return 0
