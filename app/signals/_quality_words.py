"""The word lists and character classes of Sharma et al.'s quality score (:mod:`app.signals.quality_sharma`):
the 14 indicator names, English stop words, determiners, object pronouns and function words, and the patterns
for words, letters and digits/punctuation. Their own module so that the one-document reference
(``quality_sharma``) and the whole-batch path (``_quality_batch``) read the same data without importing each
other."""

from __future__ import annotations

import re

from app.signals._unspaced import _BASE, _MARK

INDICATORS = (
    "first_letter_capitalised",
    "not_all_caps",
    "word_repetition_ok",
    "digit_punct_ratio_ok",
    "no_curly_bracket",
    "terminal_punctuation",
    "two_stop_words",
    "no_javascript_lorem",
    "token_count_ok",
    "word_count_in_range",
    "has_object",
    "has_noun",
    "has_determiner",
    "text_complexity_ok",
)
POS_APPROXIMATION = (
    "word lists (no POS tagger installed): has_determiner = an English determiner (the, a, this, my, some...); "
    "has_noun = a non-function word after a determiner/possessive, a word with a noun suffix (-tion, -ment, -ness, "
    "-ity, ...) or a capitalised word after the first; has_object = an object pronoun (me, him, them...) or a "
    "determiner after the line's second word"
)

STOP = frozenset(
    [
        "the",
        "be",
        "to",
        "of",
        "and",
        "a",
        "in",
        "that",
        "have",
        "i",
        "it",
        "for",
        "not",
        "on",
        "with",
        "he",
        "as",
        "you",
        "do",
        "at",
        "this",
        "but",
        "his",
        "by",
        "from",
        "they",
        "we",
        "say",
        "her",
        "she",
        "or",
        "an",
        "will",
        "my",
        "one",
        "all",
        "would",
        "there",
        "their",
        "what",
        "so",
        "up",
        "out",
        "if",
        "about",
        "who",
        "get",
        "which",
        "go",
        "me",
        "is",
        "are",
        "was",
        "were",
        "been",
        "has",
        "had",
        "its",
    ]
)
DETERMINERS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "some",
        "any",
        "each",
        "every",
        "no",
        "another",
        "either",
        "neither",
        "whose",
        "all",
        "both",
        "many",
        "much",
        "few",
        "several",
    ]
)
OBJECT_PRONOUNS = frozenset(
    ["me", "him", "her", "us", "them", "it", "you", "myself", "himself", "herself", "themselves", "ourselves"]
)
FUNCTION = (
    STOP
    | DETERMINERS
    | OBJECT_PRONOUNS
    | frozenset(
        [
            "very",
            "more",
            "most",
            "than",
            "then",
            "when",
            "where",
            "why",
            "how",
            "can",
            "could",
            "should",
            "would",
            "may",
            "might",
            "must",
            "shall",
            "just",
            "also",
            "not",
        ]
    )
)
_NOUN_SUFFIX = re.compile(r"(?:tion|sion|ment|ness|ity|ance|ence|ship|ism|ist|ure|age|ogy|ery|hood|dom)s?$")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# words with each letter of a script without spaces on its own
_WORD_AWARE = re.compile(f"[{_BASE}][{_MARK}]*|[^\\W\\d_{_BASE}{_MARK}]+(?:['’][^\\W\\d_{_BASE}{_MARK}]+)?")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
#: Indicators that need English word lists, and those that need spaces between words.
ENGLISH_ONLY = frozenset(("two_stop_words", "has_object", "has_noun", "has_determiner"))
SPACED_ONLY = frozenset(("text_complexity_ok",))

_DIGIT_PUNCT = re.compile(r"[\d!-/:-@\[-`{-~]")
#: str.translate table deleting what _DIGIT_PUNCT matches in ASCII text (counting by deletion is faster).
_DIGIT_PUNCT_ASCII = str.maketrans("", "", "".join(c for c in map(chr, range(128)) if _DIGIT_PUNCT.match(c)))
_LETTER = re.compile(r"[^\W\d_]")
_CLOSERS = "\"'”’)»]"

_OBJECT_ONLY = OBJECT_PRONOUNS - DETERMINERS
