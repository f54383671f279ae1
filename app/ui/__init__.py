"""The Streamlit dashboard: only this package and ``pages/`` import streamlit, and everything here does.

``main.py`` (navigation, URL state), ``server.py`` (the ``st.App`` with the panel's routes), ``db.py`` (the cached
workspace connection), ``widgets.py`` (cached queries, job buttons, safe document rendering) and ``live/`` (the
Thresholds panel component with its JS/CSS). What the pages compute is headless: :mod:`app.explore`,
:mod:`app.search`, :mod:`app.recipes`; the dashboard is started by :mod:`app.launch`.
"""
