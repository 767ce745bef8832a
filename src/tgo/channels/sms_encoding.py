"""GSM 03.38 / UCS-2 detection, character and segment counts, and the split into concatenated parts.

A text is GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table
(extension characters take two septets: ESC + code). Anything else is UCS-2 (UTF-16 code units, so a
character outside the BMP, such as an emoji, takes two). One SMS carries 160 septets or 70 UCS-2 units;
a longer text is split into parts of 153 / 67 (the rest of each part holds the concatenation header),
never splitting an escape sequence or a surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


# GSM 03.38 default alphabet, code points 0x00-0x7F in order (0x1B is the escape to the extension table).
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_BASIC: dict[str, int] = {ch: code for code, ch in enumerate(_BASIC) if code != 0x1B}
GSM_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B

SINGLE = {Encoding.GSM7: 160, Encoding.UCS2: 70}
PER_PART = {Encoding.GSM7: 153, Encoding.UCS2: 67}
MAX_PARTS = 255  # the concatenation header's part counter is one octet


@dataclass(frozen=True, slots=True)
class TextInfo:
    encoding: Encoding
    characters: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def detect_encoding(text: str) -> Encoding:
    for ch in text:
        if ch not in GSM_BASIC and ch not in GSM_EXTENSION:
            return Encoding.UCS2
    return Encoding.GSM7


def _char_units(ch: str, encoding: Encoding) -> bytes:
    """The bytes one character occupies: one byte per septet (unpacked GSM-7) or UTF-16-BE."""
    if encoding is Encoding.GSM7:
        if ch in GSM_BASIC:
            return bytes((GSM_BASIC[ch],))
        return bytes((ESCAPE, GSM_EXTENSION[ch]))
    return ch.encode("utf-16-be")


def _unit_size(encoding: Encoding) -> int:
    return 1 if encoding is Encoding.GSM7 else 2


def split(text: str, encoding: Encoding | None = None) -> list[bytes]:
    """The encoded payload of each part (without headers); one part when the text fits in one SMS."""
    encoding = encoding or detect_encoding(text)
    size = _unit_size(encoding)
    chars = [_char_units(ch, encoding) for ch in text]
    total = sum(len(c) for c in chars) // size
    if total <= SINGLE[encoding]:
        return [b"".join(chars)]
    limit = PER_PART[encoding]
    parts: list[bytes] = []
    current: list[bytes] = []
    used = 0
    for c in chars:
        units = len(c) // size
        if used + units > limit:
            parts.append(b"".join(current))
            current, used = [], 0
        current.append(c)
        used += units
    if current:
        parts.append(b"".join(current))
    return parts


def analyze(text: str) -> TextInfo:
    """Encoding, character count, units and the number of SMS segments the text takes."""
    encoding = detect_encoding(text)
    parts = split(text, encoding)
    units = sum(len(p) for p in parts) // _unit_size(encoding)
    return TextInfo(encoding=encoding, characters=len(text), units=units, segments=len(parts))


def concatenation_header(ref: int, total: int, number: int) -> bytes:
    """The 8-bit-reference concatenation UDH (IEI 0x00): UDHL, IEI, IEDL, ref, total, sequence."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, number))


def decode_gsm(payload: bytes) -> str:
    """Unpacked GSM-7 bytes back to text (used by the receipt parser and the tests' simulator)."""
    basic = {code: ch for ch, code in GSM_BASIC.items()}
    extension = {code: ch for ch, code in GSM_EXTENSION.items()}
    out: list[str] = []
    escaped = False
    for b in payload:
        if escaped:
            out.append(extension.get(b, " "))
            escaped = False
        elif b == ESCAPE:
            escaped = True
        else:
            out.append(basic.get(b, "?"))
    return "".join(out)
