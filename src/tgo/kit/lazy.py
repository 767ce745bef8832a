"""A typed holder for a part that is built on first use (a client that opens connections or files, a part
only some processes need), so a runtime can name every part without building all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_UNBUILT = object()


class Lazy(Generic[T]):
    """``get()`` builds the value once and returns it from then on."""

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: object = _UNBUILT

    def get(self) -> T:
        value = self._value
        if value is _UNBUILT:
            value = self._value = self._build()
        return cast(T, value)

    @property
    def built(self) -> bool:
        return self._value is not _UNBUILT
