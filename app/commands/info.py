"""``winnow info``: what a workspace holds."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, print_json_last

NAME = "info"
HELP = "show counts of documents, characters, sources and signals in a workspace"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)


#: clusters listed in the human summary (all of them under --json)
SHOW_CLUSTERS = 30


def clusters(ws) -> list[dict]:
    """The map's clusters, largest first: ``[{cluster, label, documents}]`` (empty without a map)."""
    from app.sql import qi

    con = ws.cursor()
    cols = {r[0] for r in con.execute("DESCRIBE corpus_fast").fetchall()}
    if "map_cluster" not in cols:
        return []
    label = "any_value(map_cluster_label)" if "map_cluster_label" in cols else "NULL"
    rows = con.execute(
        f"SELECT {qi('map_cluster')}, {label}, count(*) AS n FROM corpus_fast WHERE map_cluster IS NOT NULL"
        " GROUP BY 1 ORDER BY n DESC, 1"
    ).fetchall()
    out = [{"cluster": c, "label": lab, "documents": int(n)} for c, lab, n in rows]
    if "instruct_template" in cols and out:  # instruction data: the commonest openings name the cluster's tasks
        tasks = con.execute(
            "SELECT map_cluster, list(instruct_template ORDER BY n DESC, instruct_template)[1:3] FROM"
            " (SELECT map_cluster, instruct_template, count(*) AS n FROM corpus_fast"
            "  WHERE map_cluster IS NOT NULL AND instruct_template IS NOT NULL GROUP BY 1, 2) GROUP BY 1"
        ).fetchall()
        by = dict(tasks)
        for c in out:
            c["tasks"] = by.get(c["cluster"], [])
    return out


def _fields(ws) -> dict:
    """The text fields signals, dedup and embeddings see (:mod:`app.fields`) and which stored ones differ."""
    from app import fields
    from app.commands.fields import computed_from

    label = fields.label(fields.get(ws.cursor()))
    done = computed_from(ws)
    return {
        "fields": label,
        "fields_computed_from": done,
        "fields_stale": sorted(k for k, v in done.items() if v != label),
    }


def run(args: argparse.Namespace) -> int:
    from app.workspace import Workspace

    with Workspace.open(args.workspace, read_only=True) as ws:
        info = ws.info()
        info["clusters"] = clusters(ws)
        info.update(_fields(ws))
    if args.json:
        print_json_last(info)
        return 0
    print(f"workspace   {info['workspace']}")
    print(f"documents   {info['documents']:,}")
    print(f"characters  {info['characters']:,}")
    for name, n in info["sources"].items():
        print(f"  source    {name}: {n:,}")
    print(
        f"signals     {len(info['signals'])} columns"
        + (f": {', '.join(info['signals'][:12])}" if info["signals"] else "")
    )
    if len(info["signals"]) > 12:
        print(f"            ... and {len(info['signals']) - 12} more")
    stale = f"  (computed from other fields: {', '.join(info['fields_stale'])})" if info["fields_stale"] else ""
    print(f"fields      {info['fields']}{stale}")
    cl = info["clusters"]
    if cl:
        print(f"clusters    {len(cl)} (map)")
        for c in cl[:SHOW_CLUSTERS]:
            tasks = f"  [{' / '.join(c['tasks'])}]" if c.get("tasks") else ""
            print(f"  {c['cluster']!s:>4}  {c['documents']:>9,}  {c['label'] or ''}{tasks}")
        if len(cl) > SHOW_CLUSTERS:
            print(f"            ... and {len(cl) - SHOW_CLUSTERS} more (--json lists all)")
    return 0
