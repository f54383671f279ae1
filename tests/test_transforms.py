"""Cleaning transforms (app/transforms): each step's behaviour, option errors, the recipe section's round trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.recipes import load_recipe
from app.signals.fineweb import FineWeb
from app.signals.pii import EMAIL, Pii
from app.transforms import get_transform, load_all
from app.transforms.spec import Stats, manifest_entry


def make(name: str, **options):
    return get_transform(name)(**options)


def test_registry_has_the_four_steps():
    assert {"normalize", "c4_lines", "pii_redact", "line_filter"} <= set(load_all())
    for cls in load_all().values():
        assert cls.label and cls.version >= 1


# ---------------------------------------------------------------------- normalize
def test_normalize_crlf_nfc_and_spaces():
    n = make("normalize")
    assert n.apply("  A line.  \r\nB\u0065\u0301.\r\n\r\n\r\n\r\nC.\rD. ") == "A line.\nBé.\n\nC.\nD."
    assert make("normalize", unicode="NFKC").apply("ﬁ１") == "fi1"
    assert (
        make("normalize", collapse_spaces=True).apply("  keep  indent\tbut  not\tinside")
        == "keep indent but not inside"
    )
    assert make("normalize", collapse_spaces=True, strip=False).apply("    x  y") == "    x y"
    assert make("normalize", max_blank_lines=None).apply("a\n\n\n\nb") == "a\n\n\n\nb"


def test_all_crlf_clean_text_passes_fineweb_line_punct_after_normalising():
    lines = [f"This is sentence number {i} of a clean paragraph." for i in range(12)]
    crlf = "\r\n".join(lines) + "\r\n"
    fw = FineWeb(segmentation="datatrove")
    before = fw.score_batch([crlf])["fineweb_line_punct_ratio"][0]
    after = fw.score_batch([make("normalize").apply(crlf)])["fineweb_line_punct_ratio"][0]
    assert before < 0.12 <= after  # DataTrove's default line_punct_thr
    assert after == 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .\t\r\n\u00e9e\u0301 ﬁ")), max_size=60))
def test_normalize_is_idempotent(text):
    for opts in ({}, {"collapse_spaces": True}, {"unicode": "NFKC", "max_blank_lines": 0}):
        n = make("normalize", **opts)
        once = n.apply(text)
        assert n.apply(once) == once
        assert "\r" not in once


# ---------------------------------------------------------------------- c4_lines
PAGE = (
    "Home | About | Contact\n"
    "Welcome to our site\n"
    "The river flooded the valley after three days of heavy rain.\n"
    "Please enable JavaScript to view the comments.\n"
    "This website uses cookies to improve your experience.\n"
    "Farmers moved their animals to higher ground before nightfall.[1]\n"
    "Wait for it...\n"
    "Ok.\n"
)


def test_c4_lines_removes_c4_lines_and_keeps_prose():
    out = make("c4_lines").apply(PAGE)
    assert out == (
        "The river flooded the valley after three days of heavy rain.\n"
        "Farmers moved their animals to higher ground before nightfall."
    )


def test_c4_lines_options():
    assert "Ok." in make("c4_lines", min_words=1).apply(PAGE)
    assert "JavaScript" in make("c4_lines", javascript=False).apply(PAGE)
    assert "Home | About" in make("c4_lines", terminal_punct=False).apply(PAGE)
    assert "[1]" in make("c4_lines", remove_citations=False, terminal_punct=False).apply(PAGE)


def test_c4_lines_page_markers_keep_what_makes_c4_drop_the_page():
    text = "A line with lorem ipsum dolor sit.\nA line that has a { bracket in it.\nGood words end here."
    assert make("c4_lines").apply(text) == text  # kept: the c4 rules then drop the page, as C4 does
    assert make("c4_lines", page_markers="drop").apply(text) == "Good words end here."
    # C4 looks at javascript before '{': such a line is just removed
    assert make("c4_lines").apply("Use javascript { here ok.\nGood words end here.") == "Good words end here."


def test_c4_lines_segmentation_for_text_without_spaces():
    zh = "今天天气很好，我们去公园散步。\n菜单"
    assert make("c4_lines").apply(zh) == "今天天气很好，我们去公园散步。"
    assert make("c4_lines", segmentation="datatrove").apply(zh) == ""


# ---------------------------------------------------------------------- pii_redact
def test_pii_redact_placeholders():
    t = "Write to jane.doe@example.org or +44 20 7946 0958; host 192.168.0.12 and fe80:0:0:0:202:b3ff:fe1e:8329."
    out = make("pii_redact").apply(t)
    assert out == "Write to <EMAIL> or <PHONE>; host <IP> and <IP>."
    assert make("pii_redact", kinds=["email"]).apply(t).startswith("Write to <EMAIL> or +44")
    assert make("pii_redact", placeholders={"email": "[mail]"}).apply("a@b.co") == "[mail]"
    counts = Pii().score_batch([out])
    assert counts["pii_emails"] == counts["pii_phones"] == counts["pii_ips"] == [0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1.@-_+ \n:0x")), max_size=80))
def test_pii_redact_leaves_no_email_or_counted_pii(text):
    out = make("pii_redact").apply(text)
    assert EMAIL.search(out) is None
    c = Pii().score_batch([out])
    assert c["pii_emails"] == c["pii_phones"] == c["pii_ips"] == [0]


# ---------------------------------------------------------------------- line_filter
def test_line_filter_regex_and_min_words():
    t = "Share on Facebook\r\nA real sentence with words.\r\n\r\nRead more\r\nok"
    assert make("line_filter", drop_matching=["^share on", "^read more$"]).apply(t) == (
        "A real sentence with words.\r\n\r\nok"
    )
    assert (
        make("line_filter", min_words=2).apply(t) == "Share on Facebook\r\nA real sentence with words.\r\n\r\nRead more"
    )
    assert make("line_filter", min_words=2, keep_blank=False).apply("a b\n\nc d") == "a b\nc d"
    assert make("line_filter", drop_matching="X", case_sensitive=True).apply("x\nX\n") == "x\n"


@pytest.mark.parametrize(
    ("name", "opts", "msg"),
    [
        ("line_filter", {}, "give drop_matching"),
        ("line_filter", {"drop_matching": ["("]}, "not a regular expression"),
        ("line_filter", {"min_words": -1}, "must be >= 0"),
        ("normalize", {"unicode": "NFD"}, "expected one of"),
        ("normalize", {"newline": True}, "unknown option"),
        ("pii_redact", {"kinds": ["ssn"]}, "unknown kind"),
        ("pii_redact", {"placeholders": {"email": "x@y.com"}}, "read as personal data"),
        ("c4_lines", {"page_markers": "maybe"}, "expected one of"),
    ],
)
def test_option_errors_are_one_line(name, opts, msg):
    with pytest.raises(RecipeError, match=msg) as e:
        make(name, **opts)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------- the recipe section
RECIPE = """version: 1
name: cleaned
rules:
  - {signal: fineweb_line_punct_ratio, min: 0.12}
transforms:
  steps:
    - normalize
    - {c4_lines: {min_words: 2}}
    - {pii_redact: {kinds: [email]}}
    - {line_filter: {drop_matching: ['^menu$']}}
  score: cleaned
"""


def test_recipe_round_trip_yaml_and_json():
    r = load_recipe(RECIPE)
    t = r.transforms
    assert [s.name for s in t.steps] == ["normalize", "c4_lines", "pii_redact", "line_filter"]
    assert t.score == "cleaned" and t.cleaned_scoring
    assert t.steps[1].options == {"min_words": 2}
    assert load_recipe(r.to_yaml()) == r
    assert load_recipe(json.loads(json.dumps(r.to_dict()))) == r
    assert load_recipe({"version": 1, "transforms": ["normalize"]}).transforms.to_dict() == {
        "steps": ["normalize"],
        "score": "raw",
    }
    assert load_recipe({"version": 1}).transforms is None


@pytest.mark.parametrize(
    ("section", "msg"),
    [
        (
            "transforms: {steps: [nrmalize]}",
            r"recipe line 3, transforms.steps\[0\]: unknown transform 'nrmalize' \(did you mean 'normalize'",
        ),
        ("transforms: {steps: [normalize], score: clean}", "transforms.score: expected one of raw, cleaned"),
        ("transforms: {steps: []}", "transforms.steps: expected a non-empty list"),
        (
            "transforms: {steps: [{c4_lines: {min_words: x}}]}",
            r"transforms.steps\[0\].c4_lines.min_words: expected an integer",
        ),
        ("transforms: {steps: [{a: 1, b: 2}]}", "a step is a transform name"),
        ("transforms: {stepz: [normalize]}", "unknown key 'stepz'"),
    ],
)
def test_recipe_section_errors_name_line_and_field(section, msg):
    with pytest.raises(RecipeError, match=msg):
        load_recipe(f"version: 1\nrules: []\n{section}\n")


def test_stats_count_changes_and_keep_smallest_ids():
    r = load_recipe({"version": 1, "transforms": [{"line_filter": {"min_words": 2}}]})
    pipe = r.transforms.pipeline()
    texts = ["one two\nx", "fine words", "a\nb c", "z\nq r", "y\nk l"]
    ids = ["e", "a", "c", "b", "d"]
    forward = Stats(1)
    pipe.run(texts, ids=ids, stats=forward)
    backward = Stats(1)
    pipe.run(texts[::-1], ids=ids[::-1], stats=backward)
    m = manifest_entry(r.transforms, forward)
    assert m == manifest_entry(r.transforms, backward)
    assert m["docs"] == 5 and m["docs_changed"] == 4
    assert m["chars_removed"] == 8 and m["steps"][0]["docs_changed"] == 4
    assert [e["id"] for e in m["examples"]] == ["b", "c", "d"]
    assert m["steps"][0]["name"] == "line_filter" and m["steps"][0]["options"]["min_words"] == 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab c.!?'\"[1]{}…")), max_size=30)
        | st.sampled_from(["lorem ipsum dolor sit.", "see javascript here now.", "we use cookies on this."]),
        max_size=8,
    )
)
def test_c4_lines_keeps_only_input_lines_that_end_a_sentence(lines):
    from app.signals.c4 import CITATION, END_PUNCTUATION

    out = make("c4_lines").apply("\n".join(lines))
    candidates = [CITATION.sub("", ln.strip()) for ln in lines]
    kept = out.split("\n") if out else []
    it = iter(candidates)
    assert all(any(k == c for c in it) for k in kept)  # a subsequence of the (citation-free) input lines
    assert all(k.endswith(END_PUNCTUATION) and not k.endswith("...") for k in kept)
    assert not any("javascript" in k.lower() or "cookies" in k.lower() for k in kept)


def test_pipeline_keeps_missing_text_and_bounds_steps():
    r = load_recipe({"version": 1, "transforms": ["normalize", "pii_redact"]})
    assert r.transforms.pipeline().apply(None) is None
    assert r.transforms.pipeline().run([None, " x "]) == [None, "x"]
    with pytest.raises(RecipeError, match="at most 32"):
        load_recipe({"version": 1, "transforms": ["normalize"] * 33})


def test_dashboard_save_keeps_the_transforms_section():
    from app.explore.recipe_bridge import recipe_from_rules, stage_base

    r = load_recipe(RECIPE)
    saved = recipe_from_rules(list(r.rules), name="edited", base=stage_base(r))
    assert saved.transforms == r.transforms and saved.name == "edited"


def test_compare_names_a_changed_transforms_section():
    from app.recipes.compare import section_changes

    a = load_recipe(RECIPE)
    b = load_recipe(RECIPE.replace("score: cleaned", "score: raw"))
    (change,) = section_changes(a, b)
    assert change["section"] == "transforms" and change["a"]["score"] == "cleaned" and change["b"]["score"] == "raw"
    assert section_changes(a, load_recipe(RECIPE)) == []
