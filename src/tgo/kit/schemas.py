"""Schema base for the TGO Business surface (snake_case msgspec Structs)."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """Response and request bodies. Unknown request fields are ignored, never applied."""


class Page(Schema, Generic[T]):
    data: list[T]
    next_cursor: str | None = None
