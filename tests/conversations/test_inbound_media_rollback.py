"""An inbound file from Connect is stored before the receiving transaction commits; if that transaction rolls
back (a later handler fails, Connect retries), the file goes with it: no orphan, one file once applied."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conversations.conftest import CONTACT, OWNER
from tests.fixtures.connect import ConnectHelper
from tests.fixtures.media import png
from tgo.channels.connect_types import EVENT_MESSAGE_RECEIVED
from tgo.runtime import Runtime


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts]


async def test_a_rolled_back_inbound_media_file_is_removed(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any, runtime: Runtime
) -> None:
    root = runtime.settings.resolved_media_dir
    before = stored_files(root)
    failures = 0

    async def fails_after_storing(
        session: AsyncSession, rt: Runtime, items: Sequence[dict[str, Any]]
    ) -> None:
        nonlocal failures
        failures += 1
        raise RuntimeError("a later handler fails")

    handlers = runtime.registry.connect_batch_handlers[EVENT_MESSAGE_RECEIVED]
    handlers.append(fails_after_storing)  # runs after the conversations part's, which stored the file
    pump = runtime.embedded_connect.get().network.pump
    try:
        await connect.client.write(CONTACT, OWNER, kind="image", media=("photo.png", png()))
        for _ in range(100):
            await pump.run_once()
            if failures >= 2:  # the array's transaction, then the event on its own
                break
            await asyncio.sleep(0.05)
        assert failures >= 2
        assert stored_files(root) == before  # nothing left behind by the rolled-back transactions
    finally:
        handlers.remove(fails_after_storing)

    media: list[Any] = []
    for _ in range(200):  # the event backs off, then is posted again
        await pump.run_once()
        r = await client.get("/api/v1/messages", params={"direction": "inbound"}, headers=headers)
        media = [m for m in r.json()["data"] if m["media"]]
        if media:
            break
        await asyncio.sleep(0.05)
    [message] = media
    assert message["media"]["content_type"] == "image/png"
    assert len(stored_files(root)) == len(before) + 1
    download = await client.get(message["media"]["url"], headers=headers)
    assert download.status_code == 200 and download.content == png()
