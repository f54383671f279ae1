"""Untrusted strings shown through markup that would otherwise interpret them.

Document ids, sources, field names, labels, paths and URL parameters come from data or from a shared link.
Streamlit renders most text (titles, captions, notices, labels) as markdown, where ``![i](http://host/x.png)``
makes the reader's browser fetch an image; Plotly renders chart text as its own rich-text subset, where
``<a href=...>`` becomes a link. These helpers turn such a string into markup that shows exactly its
characters and nothing else. Headless: no Streamlit or Plotly import.
"""

from __future__ import annotations

import html
import re
import string

# CommonMark lets a backslash escape any ASCII punctuation character, and an escaped character never starts or
# ends a construct (link, image, emphasis, code span, HTML, entity, heading, list, table cell, autolink, math,
# Streamlit's ``:emoji:``/``:material/icon:``/``:color[text]`` shortcuts): escaping all of them is simplest and safe.
_MD = {ord(c): "\\" + c for c in string.punctuation}
# Control characters (newlines above all: a new line could start a new block) are shown as their visible
# Unicode "symbol for" glyphs (U+2400 block): one line in, one line out.
_MD.update({i: chr(0x2400 + i) for i in range(0x20)})
_MD[0x7F] = "\u2421"
_AUTOLINK = re.compile(r"(?i)(?<=http)(?=s?:)|(?<=www)(?=\.)|(?=@)")


def md_text(value: object) -> str:
    """``value`` as markdown that renders as its own characters: no link, image, emphasis, HTML or icon.

    ``None`` shows as an empty string; invisible word joiners (U+2060) break bare URLs and e-mail addresses. Control characters (newlines, tabs) appear as visible symbols (U+2400 block),
    so the result is always one line and can be put anywhere inside a markdown sentence.
    """
    if value is None:
        return ""
    # GitHub-flavoured markdown also links bare URLs and e-mail addresses found in the text *after* escapes are
    # resolved (Streamlit's remark-gfm): an invisible word joiner inside ``http:``, ``www.`` and before ``@``
    # breaks those patterns without changing what is shown
    out = _AUTOLINK.sub("\u2060", str(value)).translate(_MD)
    # four leading spaces would start an indented code block: a character reference is not indentation
    return "&#32;" + out[1:] if out.startswith(" ") else out


def plotly_text(value: object) -> str:
    """``str(value)`` as Plotly text that shows its own characters (``<b>``, ``<a href>``, ``<br>`` stay literal).

    Plotly parses a subset of HTML in every text it draws (category ticks, legend names, hover labels) and
    decodes ``&lt;``, ``&gt;``, ``&amp;`` and numeric references, not ``&quot;``: quotes stay as they are (with
    ``<`` escaped no tag, hence no attribute, can form).
    """
    return html.escape(str(value), quote=False)
