"""The RabbitMQ connection class the broker's taskiq-aio-pika connections are made of."""

from __future__ import annotations

from aio_pika import RobustConnection
from aio_pika.abc import TimeoutType


class ClosingRobustConnection(RobustConnection):
    """aio-pika's robust connection, closed when its first connect fails (refused, timed out, cancelled).

    ``connect_robust`` drops such a connection without closing it. It sits in a reference cycle until the
    garbage collector reaches it, whose ``__del__`` then schedules ``close()`` on whatever loop is current
    at that moment: between two tests (or after a process's loop has gone) there is none running, and the
    coroutine is never awaited — the "coroutine 'RobustConnection.close' was never awaited" RuntimeWarning
    that lands on an unrelated test. Closed here, its ``__del__`` has nothing left to do."""

    _connected_once = False

    async def connect(self, timeout: TimeoutType = None) -> None:  # noqa: ASYNC109 (aio-pika's signature)
        try:
            await super().connect(timeout)
        except BaseException:
            if not self._connected_once and not self.is_closed:
                await self.close()
            raise
        self._connected_once = True
