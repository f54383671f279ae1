"""``line_filter``'s user patterns: a pattern that backtracks catastrophically stops the export within seconds
with one line naming it (it never hangs), and ordinary patterns match as Python's ``re`` does."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.transforms import get_transform

#: overlapping choices under a repeat: exponential time on a long run of "a" not followed by the end
RUNAWAY = "(a|aa)+$"
LINE = "a" * 5000 + "!"


def test_runaway_pattern_is_stopped_with_one_line_naming_it():
    t = get_transform("line_filter")(drop_matching=[RUNAWAY])
    t0 = time.perf_counter()
    with pytest.raises(RecipeError) as e:
        t.apply("A good first line.\n" + LINE + "\nA last line.")
    took = time.perf_counter() - t0
    msg = str(e.value)
    assert "\n" not in msg and RUNAWAY in msg and "timeout_s" in msg and "5,001 characters" in msg
    assert took < 30, f"the runaway pattern took {took:.1f} s"  # 1 s, checked every so often; a busy machine
    print(f"runaway pattern stopped after {took:.2f} s (timeout_s 1)")


def test_timeout_option_is_checked_and_recorded():
    lf = get_transform("line_filter")
    assert lf(drop_matching=["x"], timeout_s=2).describe()["options"]["timeout_s"] == 2.0
    for bad in (0, -1, "1", True, 1000):
        with pytest.raises(RecipeError, match=r"^timeout_s: expected seconds between 0 and 60"):
            lf(drop_matching=["x"], timeout_s=bad)
    with pytest.raises(RecipeError, match=r"is not a regular expression"):
        lf(drop_matching=["(a"])


def test_headless_export_fails_fast_on_a_runaway_pattern(tmp_path):
    from app.engine import make_engine
    from app.export.headless import apply_headless

    src = tmp_path / "in.jsonl"
    docs = [{"id": "d0", "text": "Fine words here.\n" + LINE}, {"id": "d1", "text": "Another fine line."}]
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    recipe = {
        "version": 1,
        "transforms": {"steps": [{"line_filter": {"drop_matching": [RUNAWAY], "timeout_s": 0.2}}], "score": "cleaned"},
        "rules": [{"signal": "size_words", "min": 1}],
    }
    t0 = time.perf_counter()
    with pytest.raises(RecipeError, match=re.escape(repr(RUNAWAY))):
        apply_headless(recipe, [str(src)], tmp_path / "one", fmt="jsonl")
    with make_engine("local", workers=2) as eng, pytest.raises(RecipeError, match=re.escape(repr(RUNAWAY))):
        apply_headless(recipe, [str(src)], tmp_path / "pool", fmt="jsonl", engine=eng)
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "one").exists() and not (tmp_path / "pool").exists()


def test_cli_says_one_line_and_exits_non_zero(tmp_path, capsys):
    from app.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "d0", "text": LINE}) + "\n")
    rec = tmp_path / "r.yaml"
    rec.write_text("version: 1\ntransforms: [{line_filter: {drop_matching: ['(a|aa)+$'], timeout_s: 0.2}}]\n")
    rc = main(["apply", "--input", str(src), "-r", str(rec), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "(a|aa)+$" in err and "Traceback" not in err


# ordinary patterns: the regex module matches exactly what re matches (case-insensitive by default)
PATTERNS = ["^(share|read more|login|sign in)", r"\d{3,}", r"^\W*$", r"cookie|privacy", r"\bmenu\b", r"[А-я]+ ok"]
lines = st.lists(
    st.one_of(
        st.sampled_from(["Share this", "READ MORE", "menu", "Menu bar", "cookie policy", "Привет ok", "12345", "--"]),
        st.text(alphabet="abcSM 0123!-\u00e9\u0130\u212a", max_size=20),
    ),
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(lines=lines, case=st.booleans())
def test_ordinary_patterns_drop_what_re_would(lines, case):
    t = get_transform("line_filter")(drop_matching=PATTERNS, case_sensitive=case)
    flags = 0 if case else re.IGNORECASE
    ref = [re.compile(p, flags) for p in PATTERNS]
    for line in lines:
        assert t._matches(line) == any(p.search(line) for p in ref), line
