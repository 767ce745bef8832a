"""Connect tells us when an owner's account verification changes; every tenant's registration follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.phones import parse_e164
from tgo.runtime import Runtime
from tgo.senders.verification import apply_account_verification


async def on_account_verification_changed(
    session: AsyncSession, runtime: Runtime, data: dict[str, Any]
) -> None:
    phone = data.get("phone")
    if isinstance(phone, str) and parse_e164(phone) is not None:
        await apply_account_verification(session, phone, bool(data.get("account_verified")))
