"""The process-wide components (database, clients, broker), built once per app or CLI command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tgo.config import Settings
from tgo.db import Database
from tgo.kit.private_files import warn_if_shared
from tgo.kit.tasks import bounded

Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    # Filled by the parts that need them (Connect client, broker, storage, ...).
    extras: dict[str, Any] = field(default_factory=dict)
    _shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        """Start background parts (broker, in-process workers, event pumps) registered by STARTUP."""
        for hook in STARTUP:
            await hook(self)

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(fn)

    async def close(self) -> None:
        """Run the shutdown hooks (last registered first), each for at most TGO_SHUTDOWN_TIMEOUT_SECONDS: a
        part that fails or hangs while stopping is logged and the rest still stop."""
        timeout = self.settings.shutdown_timeout_seconds
        while self._shutdown:
            hook = self._shutdown.pop()
            await bounded(hook(), timeout, what=getattr(hook, "__qualname__", "shutdown hook"))
        await self.db.dispose()


# Parts that run in the background register here: async (runtime) -> None, may call on_shutdown.
STARTUP: list[Hook] = []


def build_runtime(settings: Settings) -> Runtime:
    settings.secret()  # fail early and clearly when the secret key is required but missing
    warn_if_shared(settings.data_dir)
    return Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url, pool_size=settings.database_pool_size),
    )
