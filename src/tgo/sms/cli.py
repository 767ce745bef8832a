"""`tgo sms-sender suspend ID | unsuspend ID` (SPEC section 10): operator actions on SMS sender identities."""

from __future__ import annotations

from typing import Any

import typer

from tgo.cli import JsonOpt, emit, out, run
from tgo.runtime import Runtime
from tgo.sms.schemas import SmsSenderOut, as_event

sms_sender_app: typer.Typer = typer.Typer(
    help="SMS sender identities (operator actions).", no_args_is_help=True
)


def _action(sender_id: str, action: str, as_json: bool) -> None:
    from tgo.sms import service

    async def op(rt: Runtime) -> dict[str, Any]:
        fn = service.suspend_sender if action == "suspend" else service.unsuspend_sender
        async with rt.db.session_scope() as session:
            return as_event(SmsSenderOut.of(await fn(session, sender_id)))

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(f"SMS sender {d['id']} ({d['senderId']}, {d['country']}) is {d['status']}."),
    )


@sms_sender_app.command("suspend")
def sms_sender_suspend(sender_id: str, as_json: JsonOpt = False) -> None:
    """Suspend an SMS sender: it cannot send until unsuspended."""
    _action(sender_id, "suspend", as_json)


@sms_sender_app.command("unsuspend")
def sms_sender_unsuspend(sender_id: str, as_json: JsonOpt = False) -> None:
    """Lift a suspension: back to active if it was verified, else not_started."""
    _action(sender_id, "unsuspend", as_json)


sms_sandbox_app: typer.Typer = typer.Typer(
    help="The sandbox carrier (no TGO_SMPP_HOST): simulate what a handset does.", no_args_is_help=True
)


@sms_sandbox_app.command("mo")
def sms_sandbox_mo(from_phone: str, to: str, text: str, as_json: JsonOpt = False) -> None:
    """A handset FROM_PHONE writes TEXT to the number TO (one of your SMS senders): an inbound SMS."""
    from tgo.channels.sms_sandbox import SandboxSmsChannel
    from tgo.cli import fail
    from tgo.sms.inbound_repository import SmsInboundRouting

    async def op(rt: Runtime) -> dict[str, Any]:
        channel = rt.sms_channel.get()
        if not isinstance(channel, SandboxSmsChannel):
            fail("the sandbox carrier is not in use (TGO_SMPP_HOST is set)", as_json, "not_sandbox")
            raise typer.Exit(1)
        async with rt.db.session_scope() as session:
            receivers = len(await SmsInboundRouting(session).active_senders_for(to))
        if not receivers:
            fail(f"no active SMS sender has the number {to}", as_json, "sms_sender_not_found")
        stored = await channel.mobile_originated(from_phone, to, text)
        return {"from": from_phone, "to": to, "text": text, "stored": stored, "tenants": receivers}

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(
            f"SMS from {d['from']} to {d['to']} {'received' if d['stored'] else 'not stored'}."
        ),
    )
