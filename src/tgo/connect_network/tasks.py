"""Background work of the embedded Connect network: its event pump runs in every worker process
(``tgo serve`` embedded, ``tgo worker``) and wakes at once after a commit that wrote events."""

from __future__ import annotations

from tgo.runtime import STARTUP, Runtime
from tgo.worker.registry import periodic


@periodic("connect.events", every="connect_event_interval_seconds")
async def pump_connect_events(runtime: Runtime) -> None:
    """Post due Connect events to the Business side (only when Connect runs in this process)."""
    if runtime.settings.connect_url:
        return  # a standalone Connect (`tgo connect serve`) pumps its own events
    from tgo.connect_network.embedded import get_embedded_connect

    await get_embedded_connect(runtime).network.pump.run_once()


@periodic("connect.prune", every=3600.0)
async def prune_connect_events(runtime: Runtime) -> None:
    """Forget delivered events (embedded network) and old receipts of applied events (Business side)."""
    from tgo.channels.connect_events import prune_receipts

    await prune_receipts(runtime)
    if not runtime.settings.connect_url:
        from tgo.connect_network.embedded import get_embedded_connect

        await get_embedded_connect(runtime).network.pump.prune()


async def _enable_event_kicks(runtime: Runtime) -> None:
    if runtime.settings.connect_url:
        return
    from tgo.connect_network.embedded import get_embedded_connect

    get_embedded_connect(runtime).network.pump.enabled_kicks = True


STARTUP.append(_enable_event_kicks)
