"""Opaque keyset cursors: pages stay stable while rows are inserted (no duplicates, no gaps)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from tgo.errors import InvalidJson, ValidationFailed
from tgo.kit.json_input import decode_json

DEFAULT_LIMIT = 50
CURSOR_DEPTH = 2  # a cursor is a flat object; a deeply nested one is refused before it is decoded
MAX_LIMIT = 200
# What the OpenAPI document says of a ``limit`` (``check_limit`` enforces it, with its own message).
LIMIT_RANGE = {"minimum": 1, "maximum": MAX_LIMIT}


def encode_cursor(**position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = decode_json(base64.urlsafe_b64decode(padded.encode()), CURSOR_DEPTH)
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise ValueError("cursor shape")
        return data
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidJson) as exc:
        raise ValidationFailed({"cursor": ["This cursor is not valid."]}) from exc


MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one in a cursor would overflow the driver


def cursor_id(position: dict[str, Any] | None, key: str = "id") -> int | None:
    """The row id a decoded cursor points below; a cursor whose id is not a positive 64-bit integer is a
    422, never an overflow in the database driver."""
    if position is None:
        return None
    value = position.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        raise ValidationFailed({"cursor": ["This cursor is not valid."]})
    return value


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed({"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    return limit
