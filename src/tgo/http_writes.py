"""A connection's writes of one event-loop pass sent as one.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body when it sends
``http.response.body``: two writes, two TCP segments and two wake-ups of the client for a small response.
``JoinedWrites`` wraps the connection's transport: what is written during one pass of the event loop is
joined and written once, at the start of the next pass (the same order, nothing dropped: a ``close`` or
``write_eof`` writes what is waiting first). Past JOIN_LIMIT bytes waiting it is written at once, so a
response streamed without yielding still meets the transport's flow control."""

from __future__ import annotations

import asyncio
from typing import Any

JOIN_LIMIT = 64 * 1024  # bytes; a small response's head and body are far below it


class JoinedWrites:
    """The transport of one connection, with its writes joined per event-loop pass; everything else is the
    transport's own."""

    __slots__ = ("_loop", "_size", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._waiting is None:
            self._waiting = [bytes(data)]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._waiting.append(bytes(data))
            self._size += len(data)
        if self._size > JOIN_LIMIT:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is waiting (called at the next pass, and before the connection is closed)."""
        waiting, self._waiting, self._size = self._waiting, None, 0
        if waiting and not self._transport.is_closing():
            self._transport.write(waiting[0] if len(waiting) == 1 else b"".join(waiting))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._waiting, self._size = None, 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)
