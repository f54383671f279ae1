"""Browser-drawn dashboard panels (Streamlit components v2, inline JS and CSS from this folder).

The Thresholds panel draws its rule editors and every result itself and asks the server for counts through
:mod:`app.explore.panel_api`; see ``thresholds.js``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

#: mount with ``thresholds_panel(key=..., data=..., on_rules_change=...)``; the panel's DOM lives in the page
#: (not a shadow root), so it shares the page's ``w-*`` table and snippet styles
thresholds_panel = st.components.v2.component(
    "winnow_thresholds",
    # one inline module: the panel, then its comparison and mixture-plan views (compare_view.js)
    js="\n".join((HERE / f).read_text(encoding="utf-8") for f in ("thresholds.js", "compare_view.js")),
    css=(HERE / "thresholds.css").read_text(encoding="utf-8"),
    isolate_styles=False,
)
