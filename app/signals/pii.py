"""PII and word-list signals: counts of e-mail addresses, phone numbers, IP addresses and URLs, and hits
from a user-supplied block list (the C4 "bad words" style; no list is shipped).

The patterns are deliberately conservative regular expressions (counts, not redaction): e-mail
``local@domain.tld``; phone numbers of 9-15 digits with separators or a leading ``+``; IPv4 dotted quads
with octets <= 255 and full IPv6 addresses; URLs starting with a scheme or ``www.``. The block list
(option ``blocklist``: a UTF-8 file, one word or phrase per line, ``#`` comments) is matched
case-insensitively on word boundaries; ``pii_blocklist_hits`` is NULL when no list is given.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar

from app.errors import SignalError
from app.signals._text import without_gc
from app.signals.base import Scorer, register

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?(?![\w-])"
)
IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])")
URL = re.compile(r"(?:https?|ftp)://[^\s<>\"']+|(?<![\w.@/])www\.[^\s<>\"']+")
_DIGIT = re.compile(r"\d")
#: a PHONE match is a phone number when it holds this many digits (inclusive); the redaction transform
#: (app.transforms.pii_redact) uses the same bounds
PHONE_DIGITS = (9, 15)
# Necessary parts of a match, cheap to look for (a pattern that starts with a character class scans fast;
# one that starts with a look-behind is tried at every position): no hint, no match.
_PHONE_HINT = re.compile(r"\d\d[\s.-]\d\d\d")  # inside every \d{2,4}[\s.-]\d{3,4}
_IPV4_HINT = re.compile(r"\d\.\d")
#: either hint above (one scan of the text instead of two: most texts have neither)
_NUMBER_HINT = re.compile(r"\d(?:\.\d|\d[\s.-]\d\d\d)")
#: the part of every e-mail address from its "@" on (a search led by a literal "@" is fast)
_EMAIL_HINT = re.compile(r"@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
#: four groups of 1-3 digits joined by dots: inside every IPV4 match (IPV4 starts with a look-behind, tried at every
#: position; this one starts with a digit, which the regex engine scans for fast)
_IPV4_QUAD = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
#: :data:`URL` with its look-behind after the "www" it guards (the 4 characters ending after "www" are not one of
#: ``\w . @ /`` then "www": the character before the "www" is not one of them), so the pattern starts with a
#: literal instead of a look-behind tried at every position; same matches
_URL_FAST = re.compile(r"(?:https?|ftp)://[^\s<>\"']+|www(?<![\w.@/]www)\.[^\s<>\"']+")


def _phone_count(text: str) -> int:
    if _PHONE_HINT.search(text) is None:
        return 0
    n = 0
    for m in PHONE.finditer(text):
        digits = len(_DIGIT.findall(m.group()))
        if PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
            n += 1
    return n


def load_blocklist(path: str | Path) -> list[str]:
    """Words/phrases from a user file: one per line, blank lines and ``#`` comments ignored, lowercased."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise SignalError(f"cannot read block list {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise SignalError(f"block list {path} is not UTF-8 text") from e
    return sorted({ln.strip().lower() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")})


def blocklist_pattern(words: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any list entry on word boundaries (longest first)."""
    if not words:
        return None
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.IGNORECASE)


@register
class Pii(Scorer):
    """Options: ``blocklist`` (path to a word list)."""

    name = "pii"
    version = 1
    description = "counts of e-mails, phones, IPs, URLs and block-list hits"
    columns: ClassVar[dict[str, str]] = {
        "pii_emails": "INTEGER",
        "pii_phones": "INTEGER",
        "pii_ips": "INTEGER",
        "pii_urls": "INTEGER",
        "pii_blocklist_hits": "INTEGER",
    }
    docs: ClassVar[dict[str, str]] = {
        "pii_emails": "e-mail addresses (count)",
        "pii_phones": "phone-number-like digit groups with 9-15 digits (count)",
        "pii_ips": "IPv4 and IPv6 addresses (count)",
        "pii_urls": "URLs starting with http(s)://, ftp:// or www. (count)",
        "pii_blocklist_hits": "occurrences of words/phrases from the user's block list, case-insensitive, whole words (count; NULL without a list)",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        path = options.get("blocklist")
        self._words = load_blocklist(path) if path else []
        self._pattern = blocklist_pattern(self._words)

    def fingerprint(self) -> str:
        if not self.options.get("blocklist"):
            return str(self.version)
        return f"{self.version}:" + hashlib.sha1("\n".join(self._words).encode()).hexdigest()[:12]

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        emails, phones, ips, urls, hits = [], [], [], [], []
        pat = self._pattern
        for t in texts:
            emails.append(len(EMAIL.findall(t)) if "@" in t and _EMAIL_HINT.search(t) else 0)
            if _NUMBER_HINT.search(t) is None:
                phones.append(0)
                ipv4 = 0
            else:
                phones.append(_phone_count(t))
                ipv4 = len(IPV4.findall(t)) if _IPV4_HINT.search(t) and _IPV4_QUAD.search(t) else 0
            ips.append(ipv4 + (len(IPV6.findall(t)) if t.count(":") >= 7 else 0))  # an IPv6 address has 7
            urls.append(len(_URL_FAST.findall(t)) if "://" in t or "www." in t else 0)
            hits.append(len(pat.findall(t)) if pat is not None else None)
        return {
            "pii_emails": emails,
            "pii_phones": phones,
            "pii_ips": ips,
            "pii_urls": urls,
            "pii_blocklist_hits": hits,
        }
