"""Whether a phone can receive: from the reachability directory, else (a phone it has never seen, or one
catching up) Connect's live lookup. The send path and ``GET /contacts/lookup`` both ask here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import Lookup
from tgo.runtime import Runtime


async def recipient_lookup(
    runtime: Runtime, phone: str, sender_phone: str | None, session: AsyncSession | None = None
) -> Lookup:
    """Raises ConnectError (ConnectUnavailable) only when the live lookup was needed and failed. Inside a
    transaction pass its ``session`` (the directory is read on its connection)."""
    found = await runtime.reachability.get().lookup(phone, sender_phone, session)
    if found is not None:
        return found
    return await runtime.connect.get().lookup(phone, sender_phone)
