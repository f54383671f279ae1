"""The Streamlit dashboard. Only this package and ``pages/`` import streamlit."""
