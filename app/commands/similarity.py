"""``winnow similarity``: target similarity (CiT / RDS+) of every document to example texts or labelled docs."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, print_json_last

NAME = "similarity"
HELP = "score every document by cosine similarity to good (and bad) examples: sim_NAME_max, _mean [, _bad_max, _margin]"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    p.add_argument(
        "--targets", metavar="FILE", help="target examples: .txt (one per line) or .jsonl with a 'text' field"
    )
    p.add_argument("--label", metavar="L", help="use the documents labelled L in the workspace as targets")
    p.add_argument(
        "--name",
        default="target",
        metavar="NAME",
        help="name of this similarity: columns sim_NAME_max, sim_NAME_mean (default: target); others are kept",
    )
    p.add_argument(
        "--bad-label", metavar="L", help="documents labelled L (e.g. bad) are examples of what is not wanted"
    )
    p.add_argument("--bad-targets", metavar="FILE", help="texts of what is not wanted (.txt or .jsonl, like --targets)")
    add_json(p)


def read_targets(path: str) -> list[str]:
    """Texts from a .txt (one per non-empty line) or .jsonl/.json file (field ``text``)."""
    import json
    from pathlib import Path

    from app.errors import MapError

    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MapError(f"cannot read targets file {p}: {e}") from e
    if p.suffix in (".jsonl", ".json"):
        out = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise MapError(f"{p}:{n}: not a JSON line ({e.msg})") from e
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise MapError(f"{p}:{n}: expected an object with a string 'text' field")
            out.append(obj["text"])
        return out
    return [line.strip() for line in raw.splitlines() if line.strip()]


def run(args: argparse.Namespace) -> int:
    from app.errors import MapError
    from app.maps import target_similarity
    from app.maps.target import check_name
    from app.workspace import Workspace

    if not args.targets and not args.label:
        raise MapError("give --targets FILE and/or --label L")
    check_name(args.name)
    texts = read_targets(args.targets) if args.targets else None
    bad = read_targets(args.bad_targets) if args.bad_targets else None
    with Workspace.open(args.workspace) as ws:
        out = target_similarity(
            ws, texts=texts, label=args.label, name=args.name, bad_texts=bad, bad_label=args.bad_label
        )
    if args.json:
        print_json_last(out)
        return 0
    print(
        f"{out['documents']:,} documents scored against {out['targets']:,} targets ({out['model']}):"
        f" {', '.join(out['columns'])}"
    )
    if "bad_targets" in out:
        print(
            f"{out['bad_targets']:,} bad examples; {out['closer_to_good']:,} documents are closer to a good example"
            f" than to any bad one (sim_{out['name']}_margin > 0)"
        )
    return 0
