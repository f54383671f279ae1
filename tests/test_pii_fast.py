"""The PII counts' faster patterns find exactly the documented patterns' matches."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import pii

PIECES = st.sampled_from(
    ["www", "www.", ".", "@", "/", "a", "_", "9", "٣", " ", "\n", "http://", "ftp://", "x.org", "w", "'", "<",
     "1.2.3.4", "٣.٣.٣.٣", "256.1.1.1", "1.2.3", "12.34.56.789", "1.2.3.4.5"]
)  # fmt: skip
TEXT = st.lists(PIECES, max_size=25).map("".join)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_fast_url_pattern_matches_url(text):
    assert pii._URL_FAST.findall(text) == pii.URL.findall(text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_counts_equal_the_plain_patterns(text):
    got = pii.Pii().score_batch([text])
    assert got["pii_urls"] == [len(pii.URL.findall(text))]
    assert got["pii_ips"] == [len(pii.IPV4.findall(text)) + len(pii.IPV6.findall(text))]


def test_www_guard_cases():
    for text in ("www.a", "xwww.a", ".www.a", "@www.a", "/www.a", " www.a", "wwww.a", "http://www.a www.b"):
        assert pii._URL_FAST.findall(text) == pii.URL.findall(text), text
