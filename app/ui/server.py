"""The dashboard server: Streamlit's ``st.App`` running ``app/ui/main.py`` plus the Thresholds panel's routes.

``streamlit run app/ui/server.py -- --workspace WS`` (what ``winnow ui`` runs) finds the ``app`` object below and
serves it with uvicorn; every Streamlit page works as under ``streamlit run app/ui/main.py``, and
``/winnow/api/...`` answers the panel's requests (:mod:`app.explore.panel_api`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # a plain checkout without the editable install still finds `app`
    sys.path.insert(0, str(ROOT))

from app.explore import panel_api  # noqa: E402

app = st.App(str(Path(__file__).resolve().with_name("main.py")), routes=panel_api.routes())
