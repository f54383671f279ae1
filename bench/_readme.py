"""Shared by the benchmark scripts: rewrite a marked section of README.md with a fresh table."""

from __future__ import annotations

import platform
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(key: str, body: str) -> None:
    """Replace the text between ``<!-- bench:KEY:start -->`` and ``<!-- bench:KEY:end -->``."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    text = README.read_text(encoding="utf-8")
    if start not in text:
        text = text.replace("## Dependencies", f"{start}\n{end}\n\n## Dependencies", 1)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    README.write_text(pattern.sub(lambda _m: f"{start}\n{body.strip()}\n{end}", text), encoding="utf-8")


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
