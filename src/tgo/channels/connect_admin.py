"""ConnectAdminClient: the operator and test-only calls of a TGO Connect network (accounts, blocks, inboxes,
fault injection) — what ``tgo connect``, ``tgo demo``, the dashboard's Connect "phone" and the tests use.
The Business side's paths never need them: they call ``ConnectClient`` only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import msgspec

from tgo.channels.connect import HttpConnectClient
from tgo.channels.connect_api import ConnectApi, quote_phone
from tgo.channels.connect_protocol import inbox_token, inbox_token_matches, normalize_phone
from tgo.channels.connect_types import ConnectAccount, InboxMessage, PhoneMessage

if TYPE_CHECKING:
    from tgo.channels.connect import ConnectClient


class ConnectBlock(msgspec.Struct, kw_only=True):
    phone: str
    sender_phone: str
    created_at: datetime


class InboxPage(msgspec.Struct, kw_only=True):
    """One page of an inbox, newest first; ``next_cursor`` asks for the older messages (None: last page)."""

    phone: str
    data: list[InboxMessage]
    next_cursor: str | None = None


class _Attempts(msgspec.Struct, kw_only=True):
    business_message_id: str
    attempts: int


class ConnectAdminClient(HttpConnectClient):
    """A ConnectClient with the operator calls too, over the same ``ConnectApi`` as the client it is made of."""

    @classmethod
    def of(cls, client: ConnectClient) -> ConnectAdminClient:
        """The operator calls over ``client``'s transport (a client that exposes its ``ConnectApi``)."""
        if isinstance(client, ConnectAdminClient):
            return client
        api = getattr(client, "api", None)  # also through a test's proxy in front of a real client
        if not isinstance(api, ConnectApi):
            raise TypeError(f"{type(client).__name__} reaches no Connect API: it has no operator calls")
        return cls(api)

    async def inbox(self, phone: str, limit: int = 50) -> list[InboxMessage]:
        """The account's newest messages, newest first (ConnectRejected ``account_not_found`` if none)."""
        return (await self.inbox_page(phone, limit)).data

    async def inbox_page(self, phone: str, limit: int = 50, cursor: str | None = None) -> InboxPage:
        """One page of the account's inbox (at most 200); ``cursor`` is the previous page's ``next_cursor``."""
        params = {"limit": limit, "cursor": cursor or None}
        resp = await self.api.call("GET", f"/accounts/{quote_phone(phone)}/inbox", params=params)
        return self.api.decode(resp, InboxPage)

    async def mark_read(self, phone: str, inbox_message_id: int) -> InboxMessage:
        resp = await self.api.call(
            "POST", f"/accounts/{quote_phone(phone)}/inbox/{int(inbox_message_id)}/read"
        )
        return self.api.decode(resp, InboxMessage)

    async def attempts(self, business_message_id: str) -> int:
        """How many acceptance requests Connect received for this id (duplicates included)."""
        resp = await self.api.call("GET", f"/messages/{quote(business_message_id, safe='')}/attempts")
        return self.api.decode(resp, _Attempts).attempts

    async def create_account(
        self,
        phone: str,
        *,
        name: str | None = None,
        language: str = "en",
        verified: bool = False,
        phone_verified: bool = True,
    ) -> ConnectAccount:
        resp = await self.api.call(
            "POST",
            "/accounts",
            json={
                "phone": phone,
                "name": name,
                "language": language,
                "account_verified": verified,
                "phone_verified": phone_verified,
            },
        )
        return self.api.decode(resp, ConnectAccount)

    async def set_account_verified(self, phone: str, verified: bool = True) -> ConnectAccount:
        action = "verify" if verified else "unverify"
        resp = await self.api.call("POST", f"/accounts/{quote_phone(phone)}/{action}")
        return self.api.decode(resp, ConnectAccount)

    async def set_phone_verified(self, phone: str, verified: bool = True) -> ConnectAccount:
        resp = await self.api.call(
            "POST", f"/accounts/{quote_phone(phone)}/phone-verification", json={"verified": verified}
        )
        return self.api.decode(resp, ConnectAccount)

    async def disable_account(self, phone: str, disabled: bool = True) -> ConnectAccount:
        action = "disable" if disabled else "enable"
        resp = await self.api.call("POST", f"/accounts/{quote_phone(phone)}/{action}")
        return self.api.decode(resp, ConnectAccount)

    async def block(self, phone: str, sender_phone: str) -> ConnectBlock:
        resp = await self.api.call(
            "POST", f"/accounts/{quote_phone(phone)}/blocks", json={"sender_phone": sender_phone}
        )
        return self.api.decode(resp, ConnectBlock)

    async def unblock(self, phone: str, sender_phone: str) -> None:
        await self.api.call("DELETE", f"/accounts/{quote_phone(phone)}/blocks/{quote_phone(sender_phone)}")

    async def fail_next_messages(self, count: int, status: int = 503) -> None:
        """Reference network only: answer the next ``count`` deliveries with ``status`` (a 5xx), after
        counting them as attempts — to exercise retries (per Connect process)."""
        await self.api.call("POST", "/faults", json={"fail_next_messages": count, "status": status})

    async def write(
        self,
        phone: str,
        to_phone: str,
        *,
        kind: str = "text",
        content: str | None = None,
        caption: str | None = None,
        media: tuple[str, bytes] | None = None,
    ) -> PhoneMessage:
        """The account ``phone`` writes to a business's sender number; ``media`` is (file name, bytes) and
        goes as multipart, like the Business API's own uploads."""
        path = f"/accounts/{quote_phone(phone)}/messages"
        if media is None:
            resp = await self.api.call(
                "POST",
                path,
                json={"to_phone": to_phone, "type": kind, "content": content, "caption": caption},
            )
        else:
            fields = {"to_phone": to_phone, "type": kind} | ({"caption": caption} if caption else {})
            encoded = httpx.Request("POST", "http://connect", data=fields, files={"media": media})
            body = encoded.read()
            resp = await self.api.call("POST", path, raw=(body, encoded.headers["content-type"]))
        return self.api.decode(resp, PhoneMessage)

    async def link(self, phone: str) -> None:
        """Accounts may write to ``phone`` (an active sender number)."""
        await self.api.call("PUT", f"/links/{quote_phone(phone)}")

    def inbox_key(self, phone: str) -> str:
        """The key that opens ``phone``'s inbox (what the "phone" holds in the reference network)."""
        return inbox_token(self.api.secret, normalize_phone(phone))

    def inbox_key_matches(self, phone: str, key: str) -> bool:
        """Whether ``key`` opens ``phone``'s inbox (constant time)."""
        return inbox_token_matches(self.api.secret, normalize_phone(phone), key)

    def inbox_url(self, phone: str, base_url: str | None = None) -> str:
        """The browser inbox page of ``phone``. It asks for the phone's key (``inbox_key``) in a form: a key in
        a URL would end up in browser history, Referer headers and access logs."""
        e164 = normalize_phone(phone)
        base = (base_url or self.api.public_url or "").rstrip("/")
        return f"{base}/connect/inbox/{e164}"
