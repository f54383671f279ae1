"""The Thresholds page's recipe rows: start from a preset, a saved recipe or a file; save the rules as a recipe.
Streamlit only: loading and saving are :mod:`app.explore.recipe_bridge` and :mod:`app.recipes`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.errors import WinnowError
from app.explore import panel_api, recipe_bridge
from app.ui.recipe_stages import STAGE_KEYS


def bump() -> None:
    """The rules changed on the server side (added, loaded, log axis): the panel redraws its editors."""
    ss = st.session_state
    ss["_thr_gen"] = ss.get("_thr_gen", 0) + 1


def open_recipe(recipe: Any) -> None:
    """Replace the page's recipe with ``recipe``: its rules in the panel, every other stage kept aside."""
    ss = st.session_state
    ss["rules"], ss["recipe"], ss["recipe_description"] = recipe.panel_rules(), recipe.name, recipe.description
    ss["recipe_base"] = recipe_bridge.stage_base(recipe)
    ss.pop("_thr_ann_uids", None)  # anchored again to the new rules (app.ui.annotations)
    for k in STAGE_KEYS:
        ss.pop(k, None)
    ss["edge_uid"] = None
    bump()


def _load(ws: Any) -> None:
    """Replace the rules with a preset's (for the chosen language) or a saved recipe's."""
    ss = st.session_state
    choice = recipe_bridge.starting_points(ws).get(ss.get("w_load_from") or "")
    if choice is None:
        return
    try:
        recipe = recipe_bridge.load_starting_point(ws, choice, language=ss.get("w_load_lang"))
    except WinnowError as e:
        ss["_thr_load_error"] = str(e)
        return
    open_recipe(recipe)


def _load_file() -> None:
    """Replace the rules and stages with those of an uploaded recipe file."""
    ss = st.session_state
    up = ss.get("w_load_file")
    if up is None:
        return
    try:
        recipe = recipe_bridge.load_recipe_text(up.getvalue(), where=f"recipe file {up.name}")
    except WinnowError as e:
        ss["_thr_load_error"] = str(e)
        return
    if not recipe.name:
        recipe.name = up.name.rsplit(".", 1)[0]
    open_recipe(recipe)


def load_row(ws: Any) -> None:
    """Start from a published pipeline (DataTrove, FineWeb, C4, Gopher), a saved recipe or a recipe file."""
    with st.expander("Start from a preset, a recipe saved earlier or a recipe file"):
        c1, c2, c3 = st.columns([5, 2, 2], vertical_alignment="bottom")
        c1.selectbox("Load", list(recipe_bridge.starting_points(ws)), key="w_load_from", index=None)
        c2.text_input("language (presets)", key="w_load_lang", placeholder="e.g. en, de, zh", max_chars=8)
        c3.button("Load (replaces the rules)", key="btn_load", on_click=_load, args=(ws,))
        f1, f2 = st.columns([7, 2], vertical_alignment="bottom")
        f1.file_uploader("or a recipe YAML file", type=["yaml", "yml"], key="w_load_file")
        f2.button("Load the file", key="btn_load_file", on_click=_load_file)
        st.caption(
            "A link to this page with ?recipe=NAME opens the saved recipe NAME with every stage "
            "(save the recipe below, then share the page's URL)."
        )
        if err := st.session_state.pop("_thr_load_error", None):
            st.error(err)


def save_row(ws: Any) -> None:
    """The button reruns the page, which saves the rules as the panel last handed them back."""
    ss = st.session_state
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Save the rules as a recipe named", value=ss.get("recipe") or "my-recipe", key="w_recipe_name")
    if c2.button("Save recipe", key="btn_save"):
        try:
            from app.recipes import save_recipe

            rules, desc = panel_api.usable(ss["rules"]), ss.get("recipe_description")
            base = ss.get("recipe_base")
            save_recipe(ws, name, recipe_bridge.recipe_from_rules(rules, name=name, description=desc, base=base))
        except WinnowError as e:
            st.error(str(e))
        else:  # the YAML preview above was drawn with the old name: draw the page again with the new one
            ss["recipe"], ss["_thr_saved"] = name, f"saved recipe {name!r} in the workspace"
            st.rerun()
    if msg := ss.pop("_thr_saved", None):
        st.success(msg)
