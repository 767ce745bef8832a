"""`tgo connect ...` (SPEC section 10): operator commands on the Connect network, all through ConnectAdminClient
(so they work against a remote network with TGO_CONNECT_URL), and `tgo connect serve`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from tgo.channels.connect import ConnectInvalidRequest
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import ConnectAccount, ConnectError, ConnectRejected
from tgo.cli import JsonOpt, emit, err, fail, out, run
from tgo.config import ConfigError, get_settings
from tgo.runtime import Runtime

connect_app: typer.Typer = typer.Typer(
    help="The TGO Connect network: accounts, blocks, inboxes.", no_args_is_help=True
)
account_app: typer.Typer = typer.Typer(help="Connect accounts.", no_args_is_help=True)
connect_app.add_typer(account_app, name="account")


def _call(as_json: bool, fn: Callable[[ConnectAdminClient], Awaitable[Any]]) -> Any:
    # One line per request on stderr is noise for an operator command.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def op(rt: Runtime) -> Any:
        return await fn(ConnectAdminClient.of(rt.connect.get()))

    try:
        return run(as_json, op)
    except ConnectInvalidRequest as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()) or str(exc)
        fail(f"invalid input — {detail}", as_json, "validation_failed")
    except ConnectRejected as exc:
        fail(_rejection_text(exc), as_json, exc.reason_code)
    except ConnectError as exc:
        fail(f"TGO Connect is unavailable: {exc}", as_json, "connect_unavailable")


def _public_base() -> str:
    from tgo.connect_network.mount import inbox_page_base

    return inbox_page_base(get_settings())


def _rejection_text(exc: ConnectRejected) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _account(a: ConnectAccount) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(a)
    return data


def _show_account(d: dict[str, Any]) -> None:
    state = "verified" if d["account_verified"] else "not verified"
    if d["disabled"]:
        state += ", disabled"
    phone_state = "phone verified" if d["phone_verified_at"] else "phone not verified"
    out.print(f"Connect account {d['phone']} ({d['name']}, {d['language']}): {state}, {phone_state}.")


@account_app.command("create")
def account_create(
    phone: str,
    name: Annotated[str | None, typer.Option(help="Display name (default: the phone).")] = None,
    verified: Annotated[bool, typer.Option("--verified", help="Also verify the account.")] = False,
    lang: Annotated[str, typer.Option(help="en or ar.")] = "en",
    as_json: JsonOpt = False,
) -> None:
    """Create an account; its phone is verified (and the account too with --verified)."""

    async def op(c: ConnectAdminClient) -> dict[str, Any]:
        account = _account(await c.create_account(phone, name=name, language=lang, verified=verified))
        # The inbox key is the "phone" of the reference network: hand it to the number's owner.
        return {
            **account,
            "inbox_key": c.inbox_key(account["phone"]),
            "inbox_url": c.inbox_url(phone, _public_base()),
        }

    def human(d: dict[str, Any]) -> None:
        _show_account(d)
        out.print(f"Inbox key (give it to the phone's owner): {d['inbox_key']}")
        out.print(f"In a browser: {d['inbox_url']} (it asks for the key)")

    emit(_call(as_json, op), as_json, human)


def _set(phone: str, as_json: bool, fn: Callable[[ConnectAdminClient], Awaitable[ConnectAccount]]) -> None:
    emit(_account(_call(as_json, fn)), as_json, _show_account)


@account_app.command("verify")
def account_verify(phone: str, as_json: JsonOpt = False) -> None:
    """Verify the account (its pending sender numbers become active within seconds)."""
    _set(phone, as_json, lambda c: c.set_account_verified(phone, True))


@account_app.command("unverify")
def account_unverify(phone: str, as_json: JsonOpt = False) -> None:
    """Withdraw the account's verification."""
    _set(phone, as_json, lambda c: c.set_account_verified(phone, False))


@account_app.command("disable")
def account_disable(phone: str, as_json: JsonOpt = False) -> None:
    """Disable the account: it can no longer receive messages."""
    _set(phone, as_json, lambda c: c.disable_account(phone, True))


@account_app.command("enable")
def account_enable(phone: str, as_json: JsonOpt = False) -> None:
    """Re-enable a disabled account."""
    _set(phone, as_json, lambda c: c.disable_account(phone, False))


@account_app.command("show")
def account_show(phone: str, as_json: JsonOpt = False) -> None:
    """Show an account."""

    async def get(c: ConnectAdminClient) -> ConnectAccount:
        found = await c.get_account(phone)
        if found is None:
            raise ConnectRejected(
                "account_not_found", "There is no TGO Connect account with this phone number."
            )
        return found

    _set(phone, as_json, get)


@connect_app.command("block")
def block(phone: str, sender_phone: str, as_json: JsonOpt = False) -> None:
    """The account PHONE blocks the business sender SENDER_PHONE."""
    result = _call(as_json, lambda c: c.block(phone, sender_phone))
    emit(
        msgspec.to_builtins(result),
        as_json,
        lambda d: out.print(f"{d['phone']} has blocked {d['sender_phone']}."),
    )


@connect_app.command("unblock")
def unblock(phone: str, sender_phone: str, as_json: JsonOpt = False) -> None:
    """Lift a block."""

    async def op(c: ConnectAdminClient) -> dict[str, Any]:
        await c.unblock(phone, sender_phone)
        return {"phone": phone, "sender_phone": sender_phone, "blocked": False}

    emit(
        _call(as_json, op),
        as_json,
        lambda d: out.print(f"{d['phone']} no longer blocks {d['sender_phone']}."),
    )


PAGE = 200  # the most Connect returns in one page


@connect_app.command("inbox")
def inbox(
    phone: str,
    limit: Annotated[
        int, typer.Option(min=1, help="How many messages, newest first (paged, any number).")
    ] = 20,
    all_: Annotated[
        bool, typer.Option("--all", help="Every message (pages through the whole inbox).")
    ] = False,
    cursor: Annotated[
        str | None, typer.Option(help="Start after a previous run's next_cursor (older messages).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The account's inbox, newest first (this is where a number owner reads an OTP)."""

    async def op(c: ConnectAdminClient) -> dict[str, Any]:
        messages: list[Any] = []
        next_cursor = cursor
        while all_ or len(messages) < limit:
            page = await c.inbox_page(phone, PAGE if all_ else min(PAGE, limit - len(messages)), next_cursor)
            messages += page.data
            next_cursor = page.next_cursor
            if next_cursor is None:
                break
            if len(messages) >= PAGE:  # a long run: say how far it is, on stderr (stdout stays one document)
                err.print(f"… {len(messages)} messages so far", highlight=False)
        account = await c.get_account(phone)
        e164 = account.phone if account else phone
        return {
            "phone": e164,
            "inbox_key": c.inbox_key(e164),
            "inbox_url": c.inbox_url(e164, _public_base()),
            "count": len(messages),
            "next_cursor": next_cursor,
            "messages": msgspec.to_builtins(messages),
        }

    def human(d: dict[str, Any]) -> None:
        table = Table("id", "received", "from", "type", "content", "read")
        for m in d["messages"]:
            body = m["content"] or (m["media"] or {}).get("filename") or m["type"]
            if m["caption"]:
                body = f"{body} — {m['caption']}"
            table.add_row(
                str(m["id"]),
                m["received_at"],
                f"{m['sender_name']} ({m['sender_phone']})",
                m["type"],
                body,
                "yes" if m["read_at"] else "no",
            )
        out.print(f"Inbox of {d['phone']} ({d['count']} messages)")
        out.print(table)
        if d["next_cursor"]:
            out.print(f"Older messages: --cursor {d['next_cursor']} (or --all)")
        out.print(f"In a browser: {d['inbox_url']} with the inbox key {d['inbox_key']}")

    emit(_call(as_json, op), as_json, human)


def _media_kind(data: bytes) -> str:
    import filetype

    guess = filetype.guess(data[:8192])
    mime = guess.mime if guess is not None else ""
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("audio/"):
        return "voice"
    return "document"


@connect_app.command("send")
def send(
    from_phone: str,
    to_sender_phone: str,
    text: Annotated[str, typer.Argument(help="The text (the caption, with --media).")] = "",
    media: Annotated[
        Path | None, typer.Option("--media", exists=True, dir_okay=False, help="Attach this file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The account FROM_PHONE writes to a business's sender number (a reply, a STOP, a question)."""
    attachment = (media.name, media.read_bytes()) if media is not None else None

    async def op(c: ConnectAdminClient) -> dict[str, Any]:
        if attachment is None:
            sent = await c.write(from_phone, to_sender_phone, kind="text", content=text)
        else:
            sent = await c.write(
                from_phone,
                to_sender_phone,
                kind=_media_kind(attachment[1]),
                caption=text or None,
                media=attachment,
            )
        data: dict[str, Any] = msgspec.to_builtins(sent)
        return data

    def human(d: dict[str, Any]) -> None:
        body = d["content"] or (d["media"] or {}).get("filename") or d["type"]
        out.print(f"Sent {d['type']} message {d['id']} from {d['from_phone']} to {d['to_phone']}: {body}")

    emit(_call(as_json, op), as_json, human)


@connect_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8100,
    as_json: JsonOpt = False,
) -> None:
    """Run the Connect network on its own (API, inbox page, event pump to TGO_BUSINESS_URL)."""
    import uvicorn

    from tgo.connect_network.app import create_connect_app
    from tgo.connect_network.network import connect_database_url
    from tgo.db import Database
    from tgo.http_guard import GuardedHttpToolsProtocol
    from tgo.observability import announce, configure_logging, stdlib_log_config

    settings = get_settings()
    try:
        settings.secret()
    except ConfigError as exc:
        fail(str(exc), as_json, "config_error")
    configure_logging(settings.log_level, settings.log_json)
    app = create_connect_app(
        settings,
        Database(connect_database_url(settings), pool_size=settings.database_pool_size, name="connect"),
    )
    if not settings.business_url:  # the pump's own warning says so too, in the log
        announce("TGO_BUSINESS_URL is unset; events wait in the outbox until it is set")
    if as_json:
        emit(
            {"status": "serving", "url": f"http://{host}:{port}", "business_url": settings.business_url}, True
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        access_log=False,
        log_level=settings.log_level.lower(),
        log_config=stdlib_log_config(settings.log_level, settings.log_json),
        timeout_keep_alive=int(settings.http_keep_alive_seconds),
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout_seconds)),
    )
