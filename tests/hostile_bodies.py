"""Hypothesis strategies for hostile request bodies, shaped by each operation's own field names: JSON whose
string holds bytes that are not UTF-8, JSON nested far deeper than TGO_MAX_JSON_DEPTH, and forms (multipart
and url-encoded) with a field that is not UTF-8."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_from_bytes

import msgspec
from hypothesis import strategies as st

# Each is invalid wherever it stands in UTF-8 text: stray continuation bytes, bytes never used (C0, C1,
# F5-FF), overlong forms, UTF-16 surrogates, code points above U+10FFFF and sequences cut short.
INVALID_UTF8 = (
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\xaf",
    b"\xc1\xbf",
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
)
_SENTINEL = "\u2063hostile\u2063"
_BOUNDARY = "tgo-hostile-boundary"

# Text that is safe inside a multipart part (no CR/LF, no dash that could start a boundary).
safe_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n-"), max_size=8)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), safe_text)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def invalid_utf8_parts() -> st.SearchStrategy[tuple[str, bytes, str]]:
    """(text before, invalid bytes, text after): the three together are never UTF-8."""
    return st.tuples(
        safe_text, st.lists(st.sampled_from(INVALID_UTF8), min_size=1, max_size=3).map(b"".join), safe_text
    ).filter(lambda t: not _is_utf8(t[0].encode() + t[1] + t[2].encode()))


def invalid_utf8() -> st.SearchStrategy[bytes]:
    """Text with one or more invalid UTF-8 sequences inside it."""
    return invalid_utf8_parts().map(lambda t: t[0].encode() + t[1] + t[2].encode())


def _json_text(value: str) -> bytes:
    return msgspec.json.encode(value)[1:-1]


@st.composite
def non_utf8_json(draw: st.DrawFn, fields: Sequence[str]) -> bytes:
    """A JSON object with the operation's field names, one of whose strings (maybe inside a list) is not
    UTF-8; otherwise well-formed."""
    names = list(fields) or ["value"]
    target = draw(st.sampled_from(names))
    doc: dict[str, Any] = {n: draw(json_scalars) for n in names if n != target and draw(st.booleans())}
    doc[target] = [_SENTINEL] if draw(st.booleans()) else _SENTINEL
    before, bad, after = draw(invalid_utf8_parts())
    poisoned = b'"' + _json_text(before) + bad + _json_text(after) + b'"'
    return msgspec.json.encode(doc).replace(msgspec.json.encode(_SENTINEL), poisoned)


@st.composite
def deep_json(draw: st.DrawFn, fields: Sequence[str], limit: int) -> bytes:
    """A JSON body nested deeper than ``limit`` (just over it, or up to ~20,000 levels as in the report):
    arrays, objects or both, closed or cut short, under one of the operation's field names."""
    depth = draw(st.one_of(st.just(limit + 1), st.integers(limit + 1, 25_000), st.just(20_000)))
    shape = draw(st.sampled_from(["array", "object", "mixed"]))
    openers = {"array": (b"[",), "object": (b'{"k":',), "mixed": (b"[", b'{"k":')}[shape]
    opened = [openers[i % len(openers)] for i in range(depth)]
    closers = b"".join(b"]" if o == b"[" else b"}" for o in reversed(opened))
    if not draw(st.booleans()):
        closers = closers[: draw(st.integers(0, len(closers) - 1))]
    field = draw(st.sampled_from(list(fields) or ["value"]))
    return b'{"' + _json_text(field) + b'":' + b"".join(opened) + b"1" + closers + b"}"


@dataclass(frozen=True)
class HostileForm:
    content_type: str
    body: bytes
    field: str  # the field that is not UTF-8


@st.composite
def non_utf8_form(draw: st.DrawFn, fields: Sequence[str], multipart: bool | None = None) -> HostileForm:
    """A form (multipart or url-encoded, unless ``multipart`` says which) with the given fields, one of them
    not UTF-8."""
    names = list(dict.fromkeys(fields))
    target = draw(st.sampled_from(names))
    values = {n: draw(safe_text).encode() for n in names if n != target and draw(st.booleans())}
    values[target] = draw(invalid_utf8())
    order = draw(st.permutations(list(values)))
    if multipart if multipart is not None else draw(st.booleans()):
        parts = [
            f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n'.encode()
            + values[n]
            + b"\r\n"
            for n in order
        ]
        body = b"".join(parts) + f"--{_BOUNDARY}--\r\n".encode()
        return HostileForm(f"multipart/form-data; boundary={_BOUNDARY}", body, target)
    pairs = [quote(n).encode() + b"=" + quote_from_bytes(values[n]).encode() for n in order]
    return HostileForm("application/x-www-form-urlencoded", b"&".join(pairs), target)
