"""The process-wide components (database, clients, broker), built once per app or CLI command by
``tgo.wiring.build_runtime`` (the one composition root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tgo.config import Settings
from tgo.db import Database
from tgo.group_commit import GroupCommit
from tgo.kit.tasks import JobTracker, bounded
from tgo.part import Hook, Registry

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from tgo.auth.key_cache import KeyCache
    from tgo.auth.rate_limit import ApiRateLimiter
    from tgo.channels.connect import ConnectClient
    from tgo.channels.sms_types import SenderVerifier, SmsChannel
    from tgo.connect_network.embedded import EmbeddedConnect
    from tgo.kit.hosts import Resolver
    from tgo.kit.lazy import Lazy
    from tgo.media.storage import MediaStorage
    from tgo.messages.pacing import HeldBudget, SenderPacer
    from tgo.notices import ChangeNotices
    from tgo.optouts.cache import OptOutCache
    from tgo.reachability.directory import ReachabilityDirectory
    from tgo.senders.connect_links import LinkReconciler
    from tgo.senders.send_cache import SenderCache
    from tgo.sms.sender_cache import SmsSenderCache
    from tgo.worker.broker import Broker

__all__ = ["Hook", "Runtime", "runtime_of"]

# The key under which every session of a runtime's database carries its runtime (set by the wiring), so
# code that is handed only a session (domain-event listeners) reaches the runtime it belongs to.
SESSION_INFO_KEY = "tgo.runtime"


class Runtime:
    """The typed parts of one process. ``Lazy`` parts are built on first use (and closed with the runtime);
    every part is set by ``tgo.wiring.build_runtime``, where tests pass their fakes. (A plain class, not a
    dataclass: Litestar's msgspec signature models would resolve a dataclass's annotations, and these name
    the parts' own modules, which import this one.)"""

    connect: Lazy[ConnectClient]
    embedded_connect: Lazy[EmbeddedConnect]
    sms_channel: Lazy[SmsChannel]
    sms_verifier: SenderVerifier
    sms_jobs: JobTracker
    media_storage: Lazy[MediaStorage]
    broker: Lazy[Broker]
    webhook_client: Lazy[httpx.AsyncClient]
    webhook_resolver: Resolver
    sender_pacer: Lazy[SenderPacer]
    api_rate_limiter: Lazy[ApiRateLimiter]
    send_batcher: Lazy[GroupCommit[Any, Any]]  # the send path's (messages.accept_batch)
    sms_batcher: Lazy[GroupCommit[Any, Any]]  # the SMS send's (sms.accept_batch)
    sms_held: Lazy[HeldBudget]  # the SMS claims this process may hold (sms.delivery)
    sms_sender_cache: Lazy[SmsSenderCache]  # the SMS send's senders (sms.sender_cache)
    notices: ChangeNotices
    key_cache: Lazy[KeyCache]
    sender_cache: Lazy[SenderCache]
    optout_cache: Lazy[OptOutCache]
    link_reconciler: Lazy[LinkReconciler]  # what this process last told Connect of the linked phones
    reachability: Lazy[ReachabilityDirectory]

    def __init__(self, settings: Settings, db: Database, registry: Registry) -> None:
        self.settings = settings
        self.db = db
        self.registry = registry
        self.started = False
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._drain: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        """Start background parts (broker, in-process workers, event pumps): the parts' start-up hooks."""
        self.started = True
        for hook in self.registry.startup:
            await hook(self)

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(fn)

    def on_drain(self, fn: Callable[[], Awaitable[None]]) -> None:
        """``fn`` stops work that uses the runtime's clients (a consumer finishing the jobs it holds): drain
        hooks run before every shutdown hook, whenever the clients were built."""
        self._drain.append(fn)

    async def close(self) -> None:
        """Run the drain hooks, each for at most TGO_WORKER_STOP_SECONDS (+ TGO_SHUTDOWN_TIMEOUT_SECONDS),
        then the shutdown hooks (last registered first), each for at most TGO_SHUTDOWN_TIMEOUT_SECONDS: a
        part that fails or hangs while stopping is logged and the rest still stop."""
        timeout = self.settings.shutdown_timeout_seconds
        while self._drain:
            hook = self._drain.pop()
            drain_for = self.settings.worker_stop_seconds + timeout
            await bounded(hook(), drain_for, what=getattr(hook, "__qualname__", "drain hook"))
        while self._shutdown:
            hook = self._shutdown.pop()
            await bounded(hook(), timeout, what=getattr(hook, "__qualname__", "shutdown hook"))
        await self.db.dispose()


def runtime_of(session: AsyncSession) -> Runtime | None:
    """The runtime whose database opened ``session`` (``None`` for a session of a bare ``Database``)."""
    found = session.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, Runtime) else None
