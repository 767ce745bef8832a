"""Background work of the embedded Connect network: its event pump runs in every worker process
(``tgo serve`` embedded, ``tgo worker``) and wakes at once after a commit that wrote events."""

from __future__ import annotations

from tgo.runtime import Runtime


async def pump_connect_events(runtime: Runtime) -> None:
    """Post due Connect events to the Business side (only when Connect runs in this process)."""
    if runtime.settings.connect_url:
        return  # a standalone Connect (`tgo connect serve`) pumps its own events
    await runtime.embedded_connect.get().network.pump.run_once()


async def prune_connect_events(runtime: Runtime) -> None:
    """Forget delivered events (embedded network) and old receipts of applied events (Business side)."""
    from tgo.channels.connect_events import prune_receipts

    await prune_receipts(runtime)
    if not runtime.settings.connect_url:
        await runtime.embedded_connect.get().network.pump.prune()


async def enable_event_kicks(runtime: Runtime) -> None:
    """Start-up hook: the embedded pump wakes at once after a commit that wrote events."""
    if runtime.settings.connect_url:
        return
    runtime.embedded_connect.get().network.pump.enabled_kicks = True
