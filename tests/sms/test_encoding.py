"""GSM-7 / UCS-2 detection and segment counts, against an independent reference written here."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgo.channels.sms_encoding import analyze, concatenation_header, decode_gsm, split

# -- the reference (written from the GSM 03.38 tables, sharing nothing with tgo.channels.sms_encoding) ---

REF_BASIC = (
    set(string.ascii_letters)
    | set(string.digits)
    | set(" !\"#%&'()*+,-./:;<=>?")
    | set("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà")
    | {"\n", "\r"}
)
REF_EXTENSION = {"^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"}
assert len(REF_BASIC) == 127  # 128 code points minus the escape


def ref_widths(text: str) -> tuple[str, list[int]]:
    if all(c in REF_BASIC or c in REF_EXTENSION for c in text):
        return "GSM-7", [2 if c in REF_EXTENSION else 1 for c in text]
    return "UCS-2", [len(c.encode("utf-16-le")) // 2 for c in text]


def ref_segments(text: str) -> int:
    encoding, widths = ref_widths(text)
    single, multi = (160, 153) if encoding == "GSM-7" else (70, 67)
    if sum(widths) <= single:
        return 1
    count, room = 1, multi
    for w in widths:
        if w > room:  # a character never straddles two parts
            count, room = count + 1, multi
        room -= w
    return count


GSM_CHARS = "".join(sorted(REF_BASIC))
GSM_ALL = GSM_CHARS + "".join(sorted(REF_EXTENSION))
ARABIC = "".join(chr(c) for c in range(0x0621, 0x064B)) + " ،؟"

texts = st.one_of(
    st.text(alphabet=GSM_CHARS, max_size=500),
    st.text(alphabet=GSM_ALL, max_size=500),
    st.text(alphabet=GSM_ALL + "é€😀", max_size=400),
    st.text(alphabet=ARABIC, max_size=400),
    st.text(max_size=300),
)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_analysis_matches_the_reference(text: str) -> None:
    info = analyze(text)
    encoding, widths = ref_widths(text)
    assert info.encoding.value == encoding
    assert info.characters == len(text)
    assert info.units == sum(widths)
    assert info.segments == ref_segments(text)


@settings(max_examples=300, deadline=None)
@given(texts.filter(bool))
def test_parts_reassemble_and_fit(text: str) -> None:
    info = analyze(text)
    parts = split(text)
    assert len(parts) == info.segments
    if info.encoding.value == "GSM-7":
        assert decode_gsm(b"".join(parts)) == text
        limit = 160 if len(parts) == 1 else 153
        assert all(len(p) <= limit for p in parts)
        assert all(not p.endswith(b"\x1b") for p in parts)  # no escape split from its character
    else:
        assert b"".join(parts).decode("utf-16-be") == text
        limit = 140 if len(parts) == 1 else 134
        assert all(len(p) <= limit for p in parts)
        for p in parts:
            p.decode("utf-16-be")  # no surrogate pair split across parts


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "characters"),
    [
        ("", "GSM-7", 1, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 80),  # extension characters count two
        ("€" * 81, "GSM-7", 2, 81),
        ("{}" * 40 + "a", "GSM-7", 2, 81),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 163),  # the escape pair moves to part two
        ("Hello ^", "GSM-7", 1, 7),
        ("é", "GSM-7", 1, 1),
        ("ç", "UCS-2", 1, 1),  # only capital Ç is in the GSM table
        ("مرحبا", "UCS-2", 1, 5),
        ("م" * 70, "UCS-2", 1, 70),
        ("م" * 71, "UCS-2", 2, 71),
        ("م" * 134, "UCS-2", 2, 134),
        ("م" * 135, "UCS-2", 3, 135),
        ("😀" * 35, "UCS-2", 1, 35),  # two UTF-16 units each
        ("😀" * 36, "UCS-2", 2, 36),
        ("a" * 66 + "😀" + "aaa", "UCS-2", 2, 70),  # 71 units; the pair moves to part two
    ],
)
def test_known_counts(text: str, encoding: str, segments: int, characters: int) -> None:
    info = analyze(text)
    assert (info.encoding.value, info.segments, info.characters) == (encoding, segments, characters)
    assert ref_segments(text) == segments


def test_concatenation_header() -> None:
    assert concatenation_header(0x1A2, 3, 2) == bytes([0x05, 0x00, 0x03, 0xA2, 0x03, 0x02])
