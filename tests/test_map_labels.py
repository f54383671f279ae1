"""Map legibility (issue 17.5): cluster labels without tokenizer artefacts and in one script, a legend
whose colours never repeat, and a map toolbar that is always shown and does not cover the legend."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.explore.palette import BASE, RESERVED, categorical
from app.maps.labels import ctfidf_labels, script, terms


# ------------------------------------------------------------------------------------------- labels
def test_terms_drop_tokenizer_artefacts():
    text = "The <unk> river @-@ side , 1990 @,@ 000 well @.@ known </s> <|endoftext|> 東京・大阪 ・ 2024 ."
    got = terms(text)
    assert "unk" not in got and "endoftext" not in got
    assert got == ["river", "side", "well", "known", "東京", "大阪"]  # no numbers, no lone punctuation
    assert terms("unk unk <unk> @-@ @,@ 1234 5678 ... ・・ -- ''") == []


def test_script_of_terms():
    assert script("river") == "LATIN" and script("диета") == "CYRILLIC" and script("지만") == "HANGUL"
    assert script("東京") == script("ひら") == script("カタ") == "CJK"  # Japanese mixes ideographs and kana
    assert script("1990") == ""


def test_label_keeps_the_dominant_script():
    # a Russian cluster with a few Korean documents: the "диета · что · 지만"
    ru = ["диета и здоровое питание", "диета для похудения", "что едят на диете: диета и питание"]
    ko = ["지만 다이어트 식단 지만", "지만 식단 다이어트"]
    other = ["football match goal team", "team goal league football"]
    labels = ctfidf_labels({0: ru + ko, 1: other}, top=3)
    assert labels[0][1] and all(script(t) == "CYRILLIC" for t in labels[0][1])
    assert "что" not in labels[0][1]  # a Russian stop word never names a cluster
    assert "диета" in labels[0][1]
    # the minority script wins where it is the majority
    labels = ctfidf_labels({0: ko * 3 + ru[:1], 1: other}, top=3)
    assert all(script(t) == "HANGUL" for t in labels[0][1])


def test_wikitext_cluster_is_not_named_unk():
    wiki = [
        " = Valkyria Chronicles III = \n Senjō no Valkyria 3 : <unk> Chronicles ( Japanese : 戦場のヴァルキュリア3 )",
        " The game @-@ play <unk> of Valkyria Chronicles <unk> began development in 2010 @,@ 000 <unk>",
        " <unk> <unk> Chronicles III was released in Japan <unk> , <unk> , game",
    ]
    cooking = ["onion soup with salt", "soup recipe: onion, salt"]
    label, best = ctfidf_labels({0: wiki, 1: cooking}, top=3)[0]
    assert best and "unk" not in label and all(script(t) == "LATIN" for t in best)
    assert "chronicles" in best


_TEXT = st.text(
    alphabet=st.sampled_from(list("ab cд жя東京ひらカタ지만 1 2 <>@-,.・'unk")) | st.characters(), max_size=80
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.integers(0, 5), st.lists(_TEXT, max_size=5), min_size=1, max_size=4))
def test_labels_are_clean_and_single_script(docs):
    out = ctfidf_labels(docs, top=3)
    assert set(out) == set(docs)
    for c, (label, best) in out.items():
        assert len({script(t) for t in best}) <= 1
        for t in best:
            assert t != "unk" and script(t) and any(ch.isalpha() for ch in t)
        assert label == (" · ".join(best) if best else f"cluster {c}")


# ------------------------------------------------------------------------------------------ palette
@pytest.mark.parametrize("n", [1, 10, 11, 12, 13, 21, 40, 250])
def test_palette_never_repeats_within_a_legend(n):
    names = [f"cluster {i}" for i in range(n)]
    colours = categorical([*names, "(other)"])
    assert len(set(colours.values())) == n + 1
    assert colours["(other)"] == RESERVED["(other)"]
    assert [colours[x] for x in names[: len(BASE)]] == list(BASE[:n])
    assert categorical([*names, "(other)"]) == colours  # deterministic


def test_palette_reserved_names_and_duplicates():
    got = categorical(["removed", "kept", "kept"])
    assert got == {"removed": RESERVED["removed"], "kept": RESERVED["kept"]}


# --------------------------------------------------------------------------------------------- page
def test_map_page_legend_colours_and_toolbar(tmp_path):
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace
    from tests.app.test_pages import app_at

    path = build_ui_workspace(tmp_path / "ws")
    ws = Workspace.open(path)
    try:  # 24 clusters: the legend shows the 20 largest and an "(other)" tail
        with ws.transaction() as cur:
            cur.execute("UPDATE map_ui SET map_cluster = hash(id) % 24")
            cur.execute("UPDATE map_ui SET map_cluster_label = 'topic ' || map_cluster")
            ws.register_part("map_ui", kind="map", con=cur)  # re-materializes corpus_fast
    finally:
        ws.close()
    at = app_at(path, "map", c="map_cluster_label")
    chart = at.get("plotly_chart")[0].proto
    fig, config = json.loads(chart.spec), json.loads(chart.config)
    names = [t["name"] for t in fig["data"]]
    colours = [t["marker"]["color"] for t in fig["data"]]
    assert len(names) == 21 and "(other)" in names
    assert len(set(colours)) == len(colours)
    assert colours[names.index("(other)")] == RESERVED["(other)"]
    assert fig["layout"]["legend"]["orientation"] == "h" and fig["layout"]["legend"]["y"] < 0
    assert config["displayModeBar"] is True
    assert {"select2d", "lasso2d"} <= set(config["modeBarButtonsToAdd"])
