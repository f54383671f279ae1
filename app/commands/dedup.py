"""``winnow dedup``: tune and inspect near-duplicate detection (threshold, S-curve, why two documents match)."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import add_json, add_workspace, print_json_last

NAME = "dedup"
HELP = "near duplicates: set the Jaccard threshold, show its S-curve, explain why two documents (do not) match"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    near = sub.add_parser("near", help="set the workspace's near-duplicate threshold and re-cluster (dedup_near)")
    near.add_argument("--threshold", "-t", type=float, metavar="J", help="Jaccard of word 5-gram shingles, 0-1")
    near.add_argument(
        "--workers", "-j", type=int, default=1, metavar="N", help="processes computing signatures (default 1)"
    )
    ex = sub.add_parser("explain", help="why two documents are (not) near duplicates: Jaccard, estimate, bands")
    ex.add_argument("ids", nargs=2, metavar="ID")
    ex.add_argument("--threshold", "-t", type=float, metavar="J", help="default: the workspace's threshold")
    curve = sub.add_parser("curve", help="bands x rows for a threshold and the chance that a pair becomes a candidate")
    curve.add_argument("--threshold", "-t", type=float, metavar="J", help="default: 0.6")
    for s in (near, ex):
        add_workspace(s)
        s.add_argument(
            "--fields", metavar="NAMES", help="the fields compared (e.g. instruction,output; default: winnow fields)"
        )
    for s in (near, ex, curve):
        add_json(s)


def _clean(value: object) -> str:
    """An id or a text for the terminal: control characters shown escaped, at most 200 characters."""
    s = str(value)
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return s if len(s) <= 200 else s[:199] + "…"


def _curve_lines(c: dict[str, Any]) -> list[str]:
    from app.signals._lsh import margin

    probs = ", ".join(f"{s}: {p:.3f}" for s, p in c["p_candidate"].items())
    return [
        f"threshold {c['threshold']:g}: {c['bands']} bands x {c['rows']} rows of 128 MinHash values; "
        f"P(candidate) = 1 - (1 - s^{c['rows']})^{c['bands']}, 50% at s = {c['half_point']:.3f}",
        f"P(candidate) by Jaccard s: {probs}; candidates are linked only when their Jaccard >= "
        f"{c['threshold']:g} (exact when the estimate is within {margin(c['threshold'], 128):.3f} of it)",
    ]


def _doc(ws: Any, doc_id: str, flds: Any = None) -> tuple[str, dict[str, Any]]:
    """A document's text (made from ``flds``, :mod:`app.fields`) and its current near-duplicate columns."""
    from app import fields
    from app.errors import SignalError

    rel = fields.relation(ws.con, flds)
    row = ws.con.execute(f"SELECT coalesce(text, '') FROM {rel} WHERE id = ?", [doc_id]).fetchone()
    if row is None:
        raise SignalError(f"no document with id {_clean(doc_id)!r} in {ws.path}")
    info: dict[str, Any] = {}
    cols = [d[0] for d in ws.con.execute("SELECT * FROM corpus LIMIT 0").description]
    want = [c for c in ("dup_near_cluster", "dup_near_size", "dup_near_jaccard") if c in cols]
    if want:
        got = ws.con.execute(f"SELECT {', '.join(want)} FROM corpus WHERE id = ?", [doc_id]).fetchone()
        info = dict(zip(want, got or ()))
    return row[0], info


def run(args: argparse.Namespace) -> int:
    from app.signals import _lsh
    from app.signals import dedup_near as dn

    if args.action not in ("near", "explain", "curve"):
        print("usage: winnow dedup {near,explain,curve} ... (see winnow dedup --help)")
        return 2
    if args.action == "curve":
        c = _lsh.s_curve(_lsh.check_threshold(args.threshold or dn.DEFAULT_THRESHOLD), dn.NUM_PERM)
        if args.json:
            print_json_last(c)
        else:
            print("\n".join(_curve_lines(c)))
        return 0
    from app.workspace import Workspace

    if args.action == "near":
        return _near(args)
    from app import fields

    with Workspace.open(args.workspace, read_only=True) as ws:
        t = args.threshold if args.threshold is not None else dn.workspace_threshold(ws.con)
        flds = fields.resolve(ws.con, args.fields)
        (ta, ia), (tb, ib) = _doc(ws, args.ids[0], flds), _doc(ws, args.ids[1], flds)
    res = dn.explain(ta, tb, threshold=t)
    res["ids"] = list(args.ids)
    res["fields"] = fields.label(flds)
    res["stored"] = [ia, ib]
    if args.json:
        print_json_last(res)
        return 0
    a, b = (_clean(i) for i in args.ids)
    jac = "-" if res["jaccard"] is None else f"{res['jaccard']:.3f}"
    est = "-" if res["minhash_estimate"] is None else f"{res['minhash_estimate']:.3f}"
    print(
        f"{a} vs {b} at threshold {res['threshold']:g} ({res['bands']} bands x {res['rows']} rows), fields {res['fields']}"
    )
    print(f"  word 5-gram shingles: {res['shingles'][0]:,} / {res['shingles'][1]:,}, shared {res['shared_shingles']:,}")
    print(f"  exact Jaccard {jac}; MinHash estimate {est}; equal bands {len(res['shared_bands'])} of {res['bands']}")
    m, t = res["verify_margin"], res["threshold"]
    err = "" if res["estimate_error"] is None else f" (estimate - exact = {res['estimate_error']:+.3f})"
    how = "the exact Jaccard decides" if res["verified_exactly"] else "the estimate decides"
    print(f"  estimates in [{t - m:.3f}, {t + m:.3f}) are verified exactly: {how}{err}")
    if res["p_candidate_at_jaccard"] is not None:
        print(f"  P(candidate | Jaccard {jac}) = {res['p_candidate_at_jaccard']:.3f}")
    print(f"  -> {res['why']}")
    for i, info in zip((a, b), (ia, ib)):
        if info:
            sim = info.get("dup_near_jaccard")
            print(
                f"  stored: {i} in the cluster of {_clean(info.get('dup_near_cluster'))} "
                f"(size {info.get('dup_near_size')}, Jaccard to it {'-' if sim is None else f'{sim:.3f}'})"
            )
    return 0


def _near(args: argparse.Namespace) -> int:
    from app.progress import tqdm_progress
    from app.signals import _lsh, engine
    from app.signals import dedup_near as dn
    from app.workspace import Workspace

    with Workspace.open(args.workspace) as ws:
        if args.threshold is None and args.fields is None:
            t = dn.workspace_threshold(ws.con)
            res: dict[str, Any] = {"threshold": t, "changed": False}
        elif args.threshold is None:  # the same threshold over other fields (the fingerprint says which)
            t = dn.workspace_threshold(ws.con)
            res = {"threshold": t, "changed": False}
            with tqdm_progress("dedup") as prog:
                engine.score(ws, signals="dedup_near", progress=prog, fields=args.fields, workers=args.workers)
        else:
            old = dn.workspace_threshold(ws.con)
            t = dn.set_workspace_threshold(ws.con, args.threshold)
            res = {"threshold": t, "changed": t != old}
            with tqdm_progress("dedup") as prog:
                # the family's fingerprint names "the workspace's threshold": force re-clustering
                engine.score(
                    ws, signals="dedup_near", progress=prog, force=t != old, fields=args.fields, workers=args.workers
                )
        res["curve"] = _lsh.s_curve(t, dn.NUM_PERM)
        cols = [d[0] for d in ws.con.execute("SELECT * FROM corpus LIMIT 0").description]
        if "dup_near_keep" in cols:
            row = ws.con.execute(
                "SELECT count(*) FILTER (WHERE NOT dup_near_keep), count(DISTINCT dup_near_cluster) FILTER "
                "(WHERE dup_near_size > 1) FROM corpus"
            ).fetchone()
            res["duplicates"], res["clusters"] = int(row[0] or 0), int(row[1] or 0)
            res["scored_threshold"] = dn.scored_threshold(ws.con)  # what recipes' dedup.near is served from
    if args.json:
        print_json_last(res)
        return 0
    print("\n".join(_curve_lines(res["curve"])))
    if "duplicates" in res:
        print(f"{res['duplicates']:,} near duplicates removable in {res['clusters']:,} clusters of 2 or more")
        t = res["scored_threshold"]
        print(f"recipes: dedup: {{near: J}} with any J >= {t:g} is served from these clusters without re-scoring")
    else:
        print("not scored yet: run winnow dedup near --threshold J (or winnow score --signals dedup_near)")
    return 0
