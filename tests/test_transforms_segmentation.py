"""``transforms.segmentation``: the segmentation of what the transforms section recomputes (the signals on the
cleaned text, the steps that take the option), in every recipe form and on every export path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.errors import RecipeError
from app.export import apply
from app.export.headless import apply_headless
from app.recipes import Recipe, load_recipe

# six Chinese sentences, one per line: five sentences or more for C4 when 。 ends a sentence (the language-aware
# default), none under DataTrove's English rules
ZH = (
    "今天早上，我们一家人去公园散步，天气非常晴朗。\n"
    "公园里有很多人在锻炼身体，有的跑步，有的打太极拳。\n"
    "湖边的柳树已经发芽了，看起来充满了春天的气息。\n"
    "孩子们在草地上放风筝，笑声传得很远很远。\n"
    "我们在长椅上坐了一会儿，一边喝茶一边聊天。\n"
    "中午的时候，大家都觉得有点累了，于是决定回家吃饭。\n"
)
EN = (
    "The river flooded the valley after three days of heavy rain.\n"
    "Farmers moved their animals to higher ground before the water rose.\n"
    "The council opened the school gym as a shelter for families.\n"
    "Volunteers brought blankets, food and dry clothes for the children.\n"
    "By Sunday the water had started to fall and roads were opened again.\n"
    "Engineers will inspect the old bridge before it is used again.\n"
)
DOCS = {"en": EN, "zh": ZH, "menu": "Home\nNews\nSport\n" + EN}


def recipe(steps: str, seg: str | None) -> str:
    extra = f", segmentation: {seg}" if seg else ""
    return (
        "version: 1\nrules:\n  - {signal: c4_sentences, min: 5}\n"
        f"transforms: {{steps: [{steps}], score: cleaned{extra}}}\n"
    )


def write_input(d: Path) -> str:
    d.mkdir(parents=True, exist_ok=True)
    with gzip.open(d / "in.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, t in DOCS.items():
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
    return str(d / "in.jsonl.gz")


def kept(out: Path) -> dict[str, str]:
    rows = [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()]
    return {r.get("orig_id", r["id"]): r["text"] for r in rows}


# ---------------------------------------------------------------------- the recipe forms
def test_segmentation_round_trips_through_yaml_json_and_the_link():
    from app.explore.recipe_bridge import stage_base
    from app.explore.view_state import decode_stages, encode_stages

    r = load_recipe(recipe("c4_lines", "datatrove"))
    assert r.transforms.segmentation == "datatrove"
    assert r.transforms.to_dict() == {"steps": ["c4_lines"], "score": "cleaned", "segmentation": "datatrove"}
    assert load_recipe(r.to_yaml()).transforms == r.transforms
    assert Recipe.from_dict(json.loads(json.dumps(r.to_dict()))).transforms == r.transforms
    rb = decode_stages(encode_stages(stage_base(r)))
    assert load_recipe({"version": 1, **rb}).transforms == r.transforms
    # the default is not written down: recipes (and their digests) from before the option read the same
    plain = load_recipe(recipe("c4_lines", None)).transforms
    assert "segmentation" not in plain.to_dict() and plain.segmentation == "aware"
    assert load_recipe(recipe("c4_lines", "aware")).transforms == plain
    assert plain.digest() != r.transforms.digest()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "{steps: [c4_lines], score: cleaned, segmentation: spacy}",
            r"^recipe line 2, transforms.segmentation: expected one of aware, datatrove, got 'spacy'$",
        ),
        (
            "{steps: [c4_lines], segmentation: datatrove}",
            r"transforms.segmentation: datatrove needs score: cleaned",
        ),
    ],
)
def test_bad_segmentation_is_one_line(section, message):
    with pytest.raises(RecipeError, match=message) as e:
        load_recipe(f"version: 1\ntransforms: {section}\n")
    assert "\n" not in str(e.value)


def test_steps_take_the_sections_segmentation_unless_they_set_their_own():
    tx = load_recipe(recipe("normalize, c4_lines", "datatrove")).transforms
    desc = tx.pipeline().describe()
    assert desc[1]["options"]["segmentation"] == "datatrove" and "segmentation" not in desc[0]["options"]
    assert tx.pipeline().apply(ZH) == ""  # DataTrove's C4: no line ends in . ? ! " '
    own = load_recipe(recipe("{c4_lines: {segmentation: aware}}", "datatrove")).transforms
    assert own.pipeline().describe()[0]["options"]["segmentation"] == "aware"
    assert own.pipeline().apply(ZH) == ZH.strip()
    assert load_recipe({"version": 1, "transforms": own.to_dict()}).transforms == own
    # line_filter's min_words: a Chinese line is one whitespace word under datatrove, one word per letter else
    lf = "{line_filter: {min_words: 3}}"
    assert load_recipe(recipe(lf, "datatrove")).transforms.pipeline().apply(ZH) == ""
    assert load_recipe(recipe(lf, None)).transforms.pipeline().apply(ZH) == ZH
    # the signals: only the families that take the option get it
    assert tx.signal_options(["c4", "fineweb", "size"]) == {
        "c4": {"segmentation": "datatrove"},
        "fineweb": {"segmentation": "datatrove"},
    }
    assert load_recipe(recipe("c4_lines", None)).transforms.signal_options(["c4"]) is None


# ---------------------------------------------------------------------- every export path
@pytest.fixture
def ws_src(tmp_path):
    from app.ingest import ingest
    from app.signals import engine
    from app.workspace import Workspace

    src = write_input(tmp_path / "raw")
    w = Workspace.open(tmp_path / "ws", create=True)
    ingest(w, [src], source="raw")
    engine.score(w, signals=["size", "c4"])
    yield w, src
    w.close()


@pytest.mark.parametrize("steps", ["normalize", "c4_lines"])
def test_every_export_path_scores_with_the_sections_segmentation(ws_src, tmp_path, steps):
    from app.engine import make_engine

    ws, src = ws_src
    name = "data-00000-of-00001.jsonl"
    out: dict[str, bytes] = {}
    with make_engine("local", workers=2) as eng:
        runs = {}
        for seg in ("aware", "datatrove"):  # the same worker processes for both: nothing cached between them
            r = recipe(steps, seg)
            runs[seg] = apply_headless(r, [src], tmp_path / f"pool_{seg}", fmt="jsonl", source="raw", engine=eng)
    for seg in ("aware", "datatrove"):
        r = recipe(steps, seg)
        mw = apply(ws, r, tmp_path / f"ws_{seg}", fmt="jsonl")
        mh = apply_headless(r, [src], tmp_path / f"one_{seg}", fmt="jsonl", source="raw")
        mp = runs[seg]
        data = [(tmp_path / f"{p}_{seg}" / name).read_bytes() for p in ("ws", "one", "pool")]
        assert data[0] == data[1] == data[2]
        out[seg] = data[0]
        for m in (mw, mh, mp):
            assert m["transforms"]["segmentation"] == seg
        assert mh["transforms"] == mp["transforms"]
        for m in (mw, mh):  # the workspace cites the re-scored family as computed, not as stored
            c4 = next(s for s in m["provenance"]["signals"] if s["family"] == "c4")
            assert c4["fingerprint"].endswith(f":{seg}")
    aware, faithful = kept(tmp_path / "one_aware"), kept(tmp_path / "one_datatrove")
    # the Chinese prose: five sentences and more when 。 ends one; none under DataTrove's English rules
    assert set(aware) == {"en", "zh", "menu"} and set(faithful) == {"en", "menu"}
    assert out["aware"] != out["datatrove"]
