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

# No forced full garbage collection after every script run. Streamlit's ``runner.postScriptGC`` calls
# ``gc.collect(2)`` when a run ends, which walks every container object of this process while holding the GIL. With
# the dashboard warm at 10M documents that was 115-190 ms of CPU (170-960 ms of wall time at a load average of 8)
# after the small rerun that takes the panel's rules back on every threshold change, and the next change's summary
# request waited for the GIL meanwhile. Python's own generational collector still runs: over a first load and 14
# threshold changes, 3 full collections instead of 18.
st.config.set_option("runner.postScriptGC", False)

app = st.App(str(Path(__file__).resolve().with_name("main.py")), routes=panel_api.routes())
