"""The generated table of signal columns (column, type, family, meaning/unit/reference), written to
``docs/signals.md`` and README's ``signals`` section from the scorer registry."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- signals:start -->", "<!-- signals:end -->"

_INTRO = (
    "`winnow score --signals all` adds these columns to `corpus` (one table `sig_<family>` per family; "
    "`winnow signals list` prints the same table). Every value is continuous or a count, so you choose the "
    "threshold; `app/signals/reference.py` holds DataTrove's default decisions over these columns."
)


_NOTES = """
## How the families are computed

- **Words** (Gopher, repetition, FineWeb, C4 sentences): one tokenizer (`app/signals/_text.py`) written to
  behave like DataTrove's default English tokenizer (spaCy's rule-based `spacy.blank("en")`: whitespace split,
  then prefix/suffix/infix punctuation, clitics such as `n't` and `'s`, abbreviations, URLs kept whole). It is
  our own code; on realmix it gives spaCy's exact token list for about 98% of documents, and the DataTrove
  default decisions over our columns agree with DataTrove's filters on >= 99.8% of realmix per filter (README
  benchmark; `tests/test_signals_parity.py`). DataTrove itself needs only `spacy` (no model, no nltk data).
- **Languages** (option `segmentation`, default `aware`): letters of scripts written without spaces (Chinese,
  Japanese, Thai, Lao, Khmer, Myanmar, Tibetan) are one word each (with their combining marks), so word counts,
  word n-grams and C4's 3-word rule measure something there; `。 ！ ？` end lines and sentences for C4; the mean
  word length is NULL where it does not apply (`reference.keep(..., aware=True)` passes it); Gopher's stop words
  add Chinese function characters and Japanese particles; the Sharma score leaves out its English-list
  indicators for mostly non-Latin text. Text without those scripts gets exactly DataTrove's values (tested on
  realmix, `tests/test_signals_v2.py`); `segmentation: datatrove` reproduces DataTrove everywhere (the parity
  test uses it). Deliberate deviations from DataTrove, on text with those scripts only: the columns above.
  Still English-only: Gopher's stop words for other Latin-script languages, the Sharma POS lists for them.
- **DataTrove defaults as rules**: `app/signals/reference.py` (`DATATROVE_DEFAULTS`, `keep_sql(name)`,
  `keep(name, row)`): Gopher quality, Gopher repetition, C4 and FineWeb with DataTrove 0.10.1's thresholds.
- **Sharma et al. 2024**: 14 line indicators, line score = weighted mean, document score = token-weighted mean
  of line scores; uniform weights unless `--quality-weights FILE` (see `calibrate_weights`, which takes any
  perplexity function). Without a POS tagger (spaCy `en_core_web_sm`) the noun/object/determiner indicators
  use English word lists (documented in the column table).
- **Language**: py3langid, CLD2 and fastText lid.176 by majority by default (offline, every model inside its
  wheel; measured in docs/language-id.md); `--lang-backend py3langid|fasttext|cld2|lingua` for one of them, or
  `--lid-model lid.176.bin` for a fastText model file of your own (`pip install fasttext`). Text is truncated to 3,000 characters and
  URLs, @mentions and HTML entities are removed before identification.
- **Duplicates**: exact = md5 of lowercased, whitespace-collapsed text, in SQL; near = MinHash (128
  permutations, word 5-gram shingles, xxHash3, CJK/Thai letters as words) with LSH banding derived from a Jaccard
  threshold (default 0.6: 32 bands x 4 rows; `winnow dedup curve -t J` prints the S-curve, `winnow dedup near
  -t J` sets a workspace's threshold), candidate pairs linked only when their Jaccard reaches the threshold:
  the MinHash estimate decides unless it lies within 3 standard deviations (`3 sqrt(t(1-t)/128)`, 0.13 at 0.6)
  of the threshold, where the exact shingle Jaccard of the two texts decides; clusters = connected components,
  representative = smallest id, `dup_near_jaccard` = Jaccard with the representative (exact where verified);
  `winnow dedup explain ID1 ID2` shows the exact shingle Jaccard, the estimate, whether the pair is verified
  exactly and the equal bands of two documents. Both are global over the workspace and deterministic.
- **Engine**: only missing or stale rows are computed (fingerprint = version + result-changing options;
  `text_hash` per row); batches are committed to `_stage_<family>` (resumable) and swapped into
  `sig_<family>` in one transaction; `_signal_runs` records each family's fingerprint, rows and time.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The column table in Markdown, generated from the registry."""
    from app.signals.engine import column_docs, families

    lines = ["| family | version | scope | what |", "|---|---|---|---|"]
    for name, cls in families().items():
        lines.append(f"| {name} | {cls.version} | {cls.scope} | {_cell(cls.description)} |")
    lines += ["", "| column | type | family | meaning, unit, reference |", "|---|---|---|---|"]
    for col, d in column_docs().items():
        lines.append(f"| `{col}` | {d['type']} | {d['family']} | {_cell(d['doc'])} |")
    return "\n".join(lines)


def readme_section() -> str:
    return f"{START}\n{_INTRO}\n\n{markdown_table()}\n{END}"


def write_docs(root: Path = ROOT) -> list[Path]:
    """Rewrite ``docs/signals.md`` and the README ``signals`` marker section; return the written paths."""
    table = markdown_table()
    doc = root / "docs" / "signals.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(
        "# Signal columns\n\n"
        "Generated by `winnow signals docs --write` from the scorer registry (`app/signals/`); do not edit.\n\n"
        f"{_INTRO}\n\n{table}\n{_NOTES}",
        encoding="utf-8",
    )
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise FileNotFoundError(f"{readme} has no {START} ... {END} section")
    readme.write_text(pattern.sub(lambda _m: readme_section(), text, count=1), encoding="utf-8")
    return [doc, readme]
