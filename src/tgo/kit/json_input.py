"""JSON from outside (request bodies, Connect events, cursors) decoded by one rule: not UTF-8, not JSON or
nested deeper than the caller's limit (``TGO_MAX_JSON_DEPTH`` for bodies) is ``InvalidJson`` (400
``invalid_json``). The depth is checked on the bytes before decoding: msgspec recurses, and ~20,000 levels
exhausted the stack (a RecursionError, answered 500)."""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import msgspec

from tgo.errors import InvalidJson


class JsonNotUtf8(InvalidJson):
    message_key = "json_not_utf8"


class JsonTooDeep(InvalidJson):
    message_key = "json_too_deep"

    def __init__(self, limit: int) -> None:
        super().__init__(params={"limit": limit})


# A JSON string (escapes included): brackets inside strings do not nest.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Openers become +1 and closers -1 once the bytes are read as signed chars.
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the arrays and objects in ``raw`` (JSON, well-formed or not) nest deeper than ``limit``.
    Linear and in C: ordinary bodies have fewer brackets than the limit and are answered by two counts."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    steps = _JSON_STRING.sub(b"", raw).translate(_BRACKET_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > limit


_DECODER = msgspec.json.Decoder()


def decode_json(raw: bytes, max_depth: int) -> Any:
    """``raw`` decoded as JSON, or InvalidJson (not UTF-8, not JSON, nested deeper than ``max_depth``)."""
    if nesting_exceeds(raw, max_depth):
        raise JsonTooDeep(max_depth)
    try:
        return _DECODER.decode(raw)
    except UnicodeDecodeError:
        raise JsonNotUtf8() from None
    except msgspec.DecodeError:
        raise InvalidJson() from None
    except RecursionError:  # a limit set above what this stack can hold
        raise JsonTooDeep(max_depth) from None
