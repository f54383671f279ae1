"""README's ``cli`` block, generated from the argparse parser of :mod:`app.cli`: every command with what it
does and its usage line, so the README cannot drift from the options. ``python -m app.cli_doc --write``
rewrites the block; ``tests/test_first_hour.py`` fails when it is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- cli:start -->", "<!-- cli:end -->"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``{name: parser}`` of a parser's subcommands (nested ones as ``"recipe preset"``)."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse offers no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subcommands(sub)
                out.update({f"{name} {k}": v for k, v in nested.items()} if nested else {name: sub})
    return out


def markdown() -> str:
    """The block's Markdown (without the markers)."""
    from app.cli import build_parser

    commands = _subcommands(build_parser())
    # one line per command whatever the terminal width argparse wrapped it at
    usages = [
        " ".join(p.format_usage().split()).removeprefix("usage: ").replace(" [-h]", "") for p in commands.values()
    ]
    lines = [
        "Every command and its options, generated from the parser (`python -m app.cli_doc --write`; "
        "`winnow COMMAND --help` says what each option does). Recipes, their rules and presets: "
        "[docs/recipes.md](docs/recipes.md).",
        "",
        "```text",
        *usages,
        "```",
    ]
    return "\n".join(lines)


def readme_section() -> str:
    """The whole block, markers included, as it must appear in README.md."""
    return f"{START}\n{markdown()}\n{END}"


def write_readme(path: Path = ROOT / "README.md") -> bool:
    """Replace the block in ``path``; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(START), text.index(END) + len(END)
    new = text[:start] + readme_section() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        print("README.md updated" if write_readme() else "README.md already up to date")
    else:
        print(readme_section())
