"""The one source of time (timezone-aware UTC), replaceable in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); ``None`` restores the real one."""
    global _now
    _now = fn if fn is not None else (lambda: datetime.now(UTC))


def ensure_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_iso(at: datetime) -> str:
    """``at`` in ISO 8601 with ``Z`` for UTC (``2026-01-02T03:04:05.123456Z``), as the wire formats write it."""
    return at.isoformat().replace("+00:00", "Z")
