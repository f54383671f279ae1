"""Dashboard entrypoint (``streamlit run app/ui/main.py -- --workspace WS``): navigation, URL state, sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # a plain checkout without the editable install still finds `app`
    sys.path.insert(0, str(ROOT))

from app.escaping import md_text  # noqa: E402
from app.explore import view_state  # noqa: E402
from app.ui import widgets  # noqa: E402

PAGES_DIR = ROOT / "pages"
PAGE_ICON = "\N{EAR OF RICE}"
PAGES = [
    ("workspace", "Workspace", ":material/folder_open:"),
    ("distributions", "Distributions", ":material/bar_chart:"),
    ("thresholds", "Thresholds", ":material/tune:"),
    ("map", "Map", ":material/scatter_plot:"),
    ("documents", "Documents", ":material/article:"),
    ("learn", "Learn", ":material/school:"),
    ("export", "Export", ":material/ios_share:"),
]


def main() -> None:
    # an emoji favicon is drawn by the browser from a data: URL; a ":material/...:" one is fetched from Google's
    # font CDN (an offline tool makes no outside request)
    st.set_page_config(page_title="Winnow", page_icon=PAGE_ICON, layout="wide")
    view_state.load_from_url(st.query_params, st.session_state)
    widgets.workspace_path()
    pages = {
        key: st.Page(PAGES_DIR / f"{key}.py", title=title, icon=icon, url_path=key, default=(key == "workspace"))
        for key, title, icon in PAGES
    }
    st.session_state["_pages"] = pages
    nav = st.navigation(list(pages.values()))
    with st.sidebar:
        st.markdown("**Winnow** · curation studio")
        st.caption("workspace " + md_text(st.session_state["ws"]))  # from the URL: plain text
    view_state.sync_to_url(st.query_params, st.session_state)
    nav.run()
    view_state.sync_to_url(st.query_params, st.session_state)


main()
