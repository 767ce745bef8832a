"""Joining the parts of a concatenated mobile-originated SMS (issue 18): the UDH concatenation elements
(IEI 0x00 with an 8-bit reference, 0x08 with a 16-bit one) or the SAR TLVs give (reference, total, number);
parts arrive in any order and an SMSC may deliver one twice. A protocol concern, as segmenting is."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# A message whose parts did not all arrive within this is dropped (its parts were acknowledged).
PART_TTL_SECONDS = 600.0
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    number: int  # 1-based


def split_udh(payload: bytes) -> tuple[Concat | None, bytes]:
    """The concatenation element of a user data header and the text bytes after the header."""
    if not payload:
        return None, payload
    length = payload[0]
    header, rest = payload[1 : 1 + length], payload[1 + length :]
    concat = None
    i = 0
    while i + 1 < len(header):
        iei, size = header[i], header[i + 1]
        data = header[i + 2 : i + 2 + size]
        if iei == 0x00 and size == 3 and len(data) == 3:
            concat = Concat(data[0], data[1], data[2])
        elif iei == 0x08 and size == 4 and len(data) == 4:
            concat = Concat((data[0] << 8) | data[1], data[2], data[3])
        i += 2 + size
    if concat is not None and not (1 <= concat.number <= concat.total):
        concat = None
    return concat, rest


@dataclass
class _Pending:
    total: int
    parts: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class Reassembler:
    """Parts in, whole messages out, keyed by (source, destination, reference)."""

    def __init__(self, ttl: float = PART_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._pending: dict[tuple[str, str, int], _Pending] = {}

    def add(self, source: str, destination: str, concat: Concat, text: str) -> str | None:
        """Record one part; the joined text once every part is here (then call ``done``), else None."""
        self._expire()
        key = (source, destination, concat.reference)
        pending = self._pending.get(key)
        if pending is None or pending.total != concat.total:
            pending = self._pending[key] = _Pending(concat.total)
        pending.parts[concat.number] = text
        if len(pending.parts) < pending.total:
            return None
        return "".join(pending.parts[n] for n in range(1, pending.total + 1))

    def done(self, source: str, destination: str, concat: Concat) -> None:
        """The joined message was stored: forget its parts."""
        self._pending.pop((source, destination, concat.reference), None)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl
        for key in [k for k, p in self._pending.items() if p.started < cutoff]:
            del self._pending[key]
        while len(self._pending) > MAX_PENDING:
            del self._pending[next(iter(self._pending))]
