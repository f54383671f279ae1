"""Which lines of a document the line-level rules would flag, for highlighting in the document view.

Display only (the scores themselves come from ``app.signals``): the published line rules of C4 (Raffel et
al. 2020: terminal punctuation, fewer than 3 words, "javascript", "lorem ipsum", curly brackets, cookie and
policy notices), FineWeb's short lines, and Gopher's repeated lines (Rae et al. 2021). The text is escaped
here, so the result is safe to pass to ``st.markdown(..., unsafe_allow_html=True)``.
"""

from __future__ import annotations

import html
from collections import Counter

try:
    from app.signals._text import TERMINAL_PUNCTUATION
except ImportError:  # the signals area may rename its helpers; keep a minimal set
    TERMINAL_PUNCTUATION = frozenset(".!?。！？")

POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
SHORT_LINE_CHARS = 30


def line_flags(text: str) -> list[tuple[str, list[str]]]:
    """``[(line, [reasons])]`` for every line of ``text``; reasons are short names of the rules it trips."""
    lines = text.split("\n")
    counts = Counter(ln.strip() for ln in lines if ln.strip())
    out: list[tuple[str, list[str]]] = []
    for ln in lines:
        s = ln.strip()
        reasons: list[str] = []
        if s:
            low = s.lower()
            if counts[s] > 1:
                reasons.append("repeated line")
            if s[-1] not in TERMINAL_PUNCTUATION and not s.endswith(('"', "'", "”")):
                reasons.append("no terminal punctuation")
            if len(s.split()) < 3:
                reasons.append("< 3 words")
            if "javascript" in low:
                reasons.append("javascript")
            if "lorem ipsum" in low:
                reasons.append("lorem ipsum")
            if "{" in s:
                reasons.append("curly bracket")
            if any(p in low for p in POLICY):
                reasons.append("policy notice")
            if len(s) <= SHORT_LINE_CHARS:
                reasons.append("short line")
        out.append((ln, reasons))
    return out


def highlighted_html(text: str, *, highlight: bool = True, max_chars: int = 50_000) -> str:
    """The document as one escaped HTML block (no blank lines, so markdown leaves it alone), flagged lines
    marked with a tinted background and the reasons in a tooltip."""
    truncated = len(text) > max_chars
    body = text[:max_chars]
    parts = []
    for ln, reasons in line_flags(body) if highlight else [(ln, []) for ln in body.split("\n")]:
        esc = html.escape(ln, quote=True) or "&#8203;"
        if reasons:
            tip = html.escape(", ".join(reasons), quote=True)
            cls = "w-rep" if "repeated line" in reasons else "w-c4"
            parts.append(f'<span class="{cls}" title="{tip}">{esc}</span>')
        else:
            parts.append(f"<span>{esc}</span>")
    more = f"<br><em>… {len(text) - max_chars:,} more characters</em>" if truncated else ""
    return '<div class="w-doc">' + "<br>".join(parts) + more + "</div>"
