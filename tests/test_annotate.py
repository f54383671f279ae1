"""Annotate instead of drop: the tagged documents are exactly those SQL over ``corpus`` says fail the chosen
rule among the kept ones; the control token and the label column; counts in the manifest; bad sections."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from app.cli import main
from app.errors import ExportError, RecipeError
from app.export import apply
from app.recipes import compile_recipe, load_recipe
from tests.test_recipe_core import make_ws

TOKEN = "<|bad|>"
RECIPE = f"""version: 1
rules:
  - {{signal: size_words, min: 12, label: short}}
  - {{signal: quality_score, min: 0.3}}
  - {{signal: lang_code, in: [en, de, fr]}}
annotate: {{rules: [short, 3], token: "{TOKEN}", column: tags}}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("annotate") / "ws", n=300)
    yield w
    w.close()


def read(out) -> dict[str, dict]:
    t = pq.read_table(next(p for p in out.iterdir() if p.suffix == ".parquet"))
    return {r["id"]: r for r in t.to_pylist()}


def failing(ws, rule_sql_of: str, recipe_text: str) -> set[str]:
    """Ids SQL over corpus says pass the other rules and fail ``rule_sql_of`` (a rule's YAML)."""
    keep = compile_recipe(ws.con, "version: 1\nrules:\n  - {signal: quality_score, min: 0.3}\n")
    bad = compile_recipe(ws.con, f"version: 1\nrules:\n  - {rule_sql_of}\n")
    q = f"SELECT id FROM corpus WHERE {keep.where_sql} AND NOT coalesce({bad.where_sql.replace('$r0_', '$b_')}, false)"
    p = {**keep.params, **{k.replace("r0_", "b_"): v for k, v in bad.params.items()}}
    return {r[0] for r in ws.con.execute(q, p).fetchall()}


def test_tagged_set_equals_sql_over_corpus(ws, tmp_path):
    m = apply(ws, RECIPE, tmp_path / "out")
    rows = read(tmp_path / "out")
    short = failing(ws, "{signal: size_words, min: 12}", RECIPE)
    lang = failing(ws, "{signal: lang_code, in: [en, de, fr]}", RECIPE)
    # every document passing the remaining rule is kept, tagged or not
    kept = {r[0] for r in ws.con.execute("SELECT id FROM corpus WHERE quality_score >= 0.3").fetchall()}
    assert set(rows) == kept
    tagged = {i for i, r in rows.items() if r["text"].startswith(TOKEN)}
    assert tagged == short | lang and short and lang and tagged != kept
    originals = dict(ws.con.execute("SELECT id, text FROM corpus").fetchall())
    for i, r in rows.items():
        assert r["text"] == (TOKEN + originals[i] if i in tagged else originals[i])
        want = [lab for lab, ids in (("short", short), ("lang_code in [en, de, fr]", lang)) if i in ids]
        assert list(r["tags"]) == want
    a = m["annotations"]
    tok = dict(ws.con.execute("SELECT id, size_tokens FROM corpus").fetchall())
    assert a["tagged_docs"] == len(tagged) and a["tagged_tokens"] == sum(tok[i] for i in tagged)
    assert [(r["rule"], r["tagged_docs"]) for r in a["rules"]] == [(1, len(short)), (3, len(lang))]
    assert m["counts"]["kept_docs"] == len(kept) and "tags" in m["columns"]
    assert m["recipe"]["annotate"]["rules"] == ["short", 3]


def test_label_column_only_leaves_text_alone(ws, tmp_path):
    r = "version: 1\nrules:\n  - {signal: size_words, min: 12}\nannotate: {rules: [1]}\n"
    m = apply(ws, r, tmp_path / "out")
    rows = read(tmp_path / "out")
    assert len(rows) == 300 and not any(x["text"].startswith(TOKEN) for x in rows.values())
    tagged = {i for i, x in rows.items() if x["annotations"]}
    assert tagged == {
        x[0] for x in ws.con.execute("SELECT id FROM corpus WHERE NOT coalesce(size_words >= 12, false)").fetchall()
    }
    assert m["annotations"]["column"] == "annotations" and m["annotations"]["token"] is None


def test_token_needs_the_text_and_rules_must_exist(ws, tmp_path):
    r = load_recipe(
        "version: 1\nrules:\n  - {signal: size_words, min: 12}\nannotate: {rules: [1], token: x}\n"
        "output: {columns: [id, source]}\n"
    )
    with pytest.raises(ExportError, match="no 'text'"):
        apply(ws, r, tmp_path / "out")
    with pytest.raises(RecipeError, match=r"line 4, annotate.rules\[0\]: no rule 'nope'"):
        load_recipe("version: 1\nrules:\n  - {signal: size_words, min: 12}\nannotate: {rules: [nope]}\n")
    with pytest.raises(RecipeError, match="named twice"):
        load_recipe("version: 1\nrules:\n  - {signal: a, min: 1, label: x}\nannotate: {rules: [x, 1]}\n")


def test_cli_apply_reports_the_tagged_documents(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text(RECIPE)
    make_ws(tmp_path / "ws", n=120).close()
    assert main(["apply", "-w", str(tmp_path / "ws"), "-r", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert f"annotated (token '{TOKEN}')" in out and "rule 1 short:" in out


def test_headless_apply_tags_and_mixes_the_same_way(tmp_path):
    """Headless (raw JSON lines, never ingested): the tag goes on exactly the documents failing the rule, and a
    mixture by an input field meets its token shares (characters / 4 here: --tokens estimate)."""
    import json

    from app.export.headless import apply_headless

    docs = [{"id": f"h{i:04d}", "text": "x" * (10 + (i * 37) % 400), "topic": "ab"[i % 2]} for i in range(400)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    r = (
        "version: 1\nrules:\n  - {signal: size_chars, min: 60, label: tiny}\nannotate: {rules: [tiny], token: '<T>'}\n"
        "mixture: {by: topic, tokens: 12000, shares: {a: 0.5, b: 0.5}, seed: 4}\n"
    )
    m = apply_headless(r, [str(tmp_path / "in.jsonl")], tmp_path / "out", tokens="estimate", id_field="id")
    rows = read(tmp_path / "out")
    text = {d["id"]: d["text"] for d in docs}
    tagged = {i for i, x in rows.items() if x["text"].startswith("<T>")}
    assert tagged == {i for i in rows if len(text[i]) < 60} and tagged
    assert m["annotations"]["tagged_docs"] == len(tagged)
    for g in m["mixture"]["groups"]:
        assert abs(g["share_achieved"] - 0.5) < 0.005
