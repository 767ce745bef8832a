"""`tgo demo` step: the seed's Connect accounts, created once (never changed when they already exist)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_admin import ConnectAdminClient
from tgo.connect_network.mount import inbox_page_base
from tgo.models import Tenant
from tgo.runtime import Runtime

# (phone, name, language, account verified, role)
DEMO_ACCOUNTS = [
    ("+201001187188", "Demo Owner", "ar", True, "sender number owner (account verified; seed 000)"),
    ("+201010000000", "Demo Recipient", "en", True, "recipient (seed 002)"),
    ("+201001187189", "Unverified Owner", "en", False, "sender number owner, account NOT verified"),
]


async def connect_demo_step(
    runtime: Runtime, session: AsyncSession, tenant: Tenant, server_url: str | None
) -> dict[str, Any]:
    client = ConnectAdminClient.of(runtime.connect.get())
    base = inbox_page_base(runtime.settings, server_url)
    accounts = []
    for phone, name, language, verified, role in DEMO_ACCOUNTS:
        account = await client.get_account(phone)
        if account is None:
            account = await client.create_account(phone, name=name, language=language, verified=verified)
        accounts.append(
            {
                "phone": account.phone,
                "name": account.name,
                "language": account.language,
                "account_verified": account.account_verified,
                "role": role,
                "inbox_key": client.inbox_key(account.phone),
                "inbox_url": client.inbox_url(account.phone, base),
            }
        )
    return {"connect_accounts": accounts}
