"""PII redaction: e-mail addresses, phone numbers and IP addresses replaced by placeholders.

The patterns are the ``pii`` signal family's own (:data:`app.signals.pii.EMAIL`, ``PHONE`` with its 9-15 digit
rule, ``IPV4``, ``IPV6``), imported rather than retyped, so every address the ``pii`` signal counts is one this
transform replaces: the exported text of a redacted export holds no e-mail address the signal found (tested on
realmix). Kinds are redacted in the order e-mail, IP, phone (an IPv4 address would otherwise read as a phone
number), and each kind is replaced until none is left, so a replacement can never leave a match behind.
Placeholders must not themselves match (checked when the options are read).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.signals import pii
from app.transforms.base import OptionError, Transform, register

KINDS = ("email", "ip", "phone")
PLACEHOLDERS = {"email": "<EMAIL>", "ip": "<IP>", "phone": "<PHONE>"}
#: a text is redacted at most this many times per kind (a placeholder never matches, so one pass suffices;
#: the bound only guards against a pattern change)
_MAX_ROUNDS = 4
_DIGIT = re.compile(r"\d")  # as the signal counts digits (Unicode decimal digits)


def _phone(m: re.Match[str]) -> bool:
    """The ``pii`` signal's phone rule: a PHONE match with 9 to 15 digits."""
    return pii.PHONE_DIGITS[0] <= len(_DIGIT.findall(m.group())) <= pii.PHONE_DIGITS[1]


@register
class PiiRedact(Transform):
    name = "pii_redact"
    version = 1
    label = "PII redaction"
    description = "e-mail addresses, phone numbers and IP addresses replaced by placeholders"
    defaults: ClassVar[dict[str, Any]] = {"kinds": list(KINDS), "placeholders": dict(PLACEHOLDERS)}

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        kinds = options["kinds"]
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not kinds:
            raise OptionError("kinds", f"expected a non-empty list of {', '.join(KINDS)}, got {kinds!r}")
        for k in kinds:
            if k not in KINDS:
                raise OptionError("kinds", f"unknown kind {k!r}; use {', '.join(KINDS)}")
        ph = options["placeholders"]
        if not isinstance(ph, dict):
            raise OptionError("placeholders", f"expected a mapping like {{email: '<EMAIL>'}}, got {ph!r}")
        for k, v in ph.items():
            if k not in KINDS:
                raise OptionError("placeholders", f"unknown kind {k!r}; use {', '.join(KINDS)}")
            if not isinstance(v, str):
                raise OptionError("placeholders", f"{k}: expected a string, got {v!r}")
            if self._matches(v):
                raise OptionError("placeholders", f"{k}: {v!r} would itself be read as personal data")
        return {"kinds": [k for k in KINDS if k in kinds], "placeholders": {**PLACEHOLDERS, **ph}}

    @staticmethod
    def _matches(s: str) -> bool:
        return bool(
            pii.EMAIL.search(s)
            or pii.IPV4.search(s)
            or pii.IPV6.search(s)
            or any(_phone(m) for m in pii.PHONE.finditer(s))
        )

    def apply(self, text: str) -> str:
        ph = self.options["placeholders"]
        for kind in self.options["kinds"]:
            for _ in range(_MAX_ROUNDS):
                new = _redact(kind, text, ph[kind])
                if new == text:
                    break
                text = new
        return text


def _redact(kind: str, text: str, placeholder: str) -> str:
    if kind == "email":
        return pii.EMAIL.sub(placeholder, text) if "@" in text else text
    if kind == "ip":
        if "." in text:
            text = pii.IPV4.sub(placeholder, text)
        return pii.IPV6.sub(placeholder, text) if ":" in text else text
    return pii.PHONE.sub(lambda m: placeholder if _phone(m) else m.group(), text)
