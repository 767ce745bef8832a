"""Group commit: writes that arrive together share one transaction (one multi-row statement, one commit).

A caller ``submit``s an item and waits; the first item of a batch waits ``window`` seconds (or until
``max_batch`` items are waiting) for others, then one writer task writes them all in one transaction and
answers each caller only after the commit. Items that arrive while a batch is being written form the next
batch, so under load batches grow with the write's latency and when idle an item waits only the window.

A batch that fails is not the failure of every item in it: unless the failure is not the items' (the
database is unreachable, ``errors.backend_unavailable``: every waiting caller gets that error — a 503 — and
nothing is written), the items are written again one per transaction, and only the ones that fail again get
their error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tgo.db import finish_failed, run_after_commit
from tgo.errors import backend_unavailable

T = TypeVar("T")
R = TypeVar("R")

log = structlog.get_logger("tgo.group_commit")

# Writes ``items`` in the session's transaction (the batcher commits); returns one result per item, in order.
BatchWriter = Callable[[AsyncSession, Sequence[T]], Awaitable[Sequence[R]]]


class GroupCommit(Generic[T, R]):
    """One batcher per process and kind of write (the send path's messages)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        write: BatchWriter[T, R],
        *,
        window: float,
        max_batch: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._write = write
        self._window = window
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._full = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._after_commit: set[asyncio.Task[None]] = set()
        self.batches = 0  # committed batches (tests and the bench read it)

    async def submit(self, item: T) -> R:
        """Write ``item`` with the others waiting now; returns its result once its transaction committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run())
        # Shielded: a caller that goes away (client disconnect) does not cancel the batch's write.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._pending:
            if len(self._pending) < self._max_batch and self._window > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._window)
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            if len(self._pending) < self._max_batch:
                self._full.clear()
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            await self._commit(batch)
        except Exception as exc:
            if len(batch) == 1 or backend_unavailable(exc):
                for _, future in batch:
                    _fail(future, exc)
                return
            log.warning("group_commit_row_by_row", size=len(batch), error=type(exc).__name__)
            for one in batch:
                try:
                    await self._commit([one])
                except Exception as row_exc:
                    _fail(one[1], row_exc)

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        async with self._sessionmaker() as session:
            try:
                results = await self._write(session, [item for item, _ in batch])
                await session.commit()
            except BaseException as exc:
                await finish_failed(session, exc)
                raise
        self.batches += 1
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        # The batch's after-commit work (publishing its jobs) runs beside the next batch, not before it.
        task = asyncio.create_task(run_after_commit(session))
        self._after_commit.add(task)
        task.add_done_callback(self._after_commit.discard)


def _fail(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


__all__ = ["BatchWriter", "GroupCommit"]
