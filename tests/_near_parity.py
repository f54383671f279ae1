"""Near dedup kept by a workspace and by headless apply on the same rows (tests hold the two equal)."""

from __future__ import annotations

import json
from pathlib import Path


def kept_ids(tmp_path: Path, rows: list[dict]) -> tuple[list[str], list[str]]:
    """``(workspace's kept ids, headless apply's kept ids)`` of ``rows`` (``id``, ``text``) under
    ``dedup: {near: true}``: the workspace ingests, scores ``dedup_near`` and exports; headless reads the file."""
    from app.export import apply
    from app.export.headless import apply_headless
    from app.ingest import ingest
    from app.signals import engine
    from app.workspace import Workspace

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = "version: 1\ndedup: {near: true}\n"
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [str(src)], source="in", id_field="id")
        engine.score(w, signals="dedup_near")
        apply(w, recipe, tmp_path / "ws_out", fmt="jsonl")
    apply_headless(recipe, [str(src)], tmp_path / "hl", fmt="jsonl", source="in", id_field="id", tokens="estimate")

    def ids(out: Path) -> list[str]:
        return sorted(json.loads(x)["id"] for f in sorted(out.glob("*.jsonl")) for x in f.open())

    return ids(tmp_path / "ws_out"), ids(tmp_path / "hl")
