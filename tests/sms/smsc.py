"""A scripted SMSC simulator (in the spirit of Jasmin's test SMSCs): binds, answers submit_sm as the
script says (accept, throttle, nack, stay silent, drop the connection), and sends delivery receipts
back over whichever bind is current, redelivering a receipt the client did not acknowledge."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from smpplib import smpp

ESME_ROK = 0x00
ESME_RINVDSTADR = 0x0B
ESME_RTHROTTLED = 0x58
ESME_RBINDFAIL = 0x0D


class _Seq:
    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Script:
    throttle_first: int = 0  # the first N submits are answered ESME_RTHROTTLED
    silent_first: int = 0  # the first N submits get no answer at all
    drop_on: set[int] = field(
        default_factory=set
    )  # the Nth submit (1-based) closes the connection unanswered
    nack_destinations: set[str] = field(default_factory=set)  # answered ESME_RINVDSTADR
    receipt_states: dict[str, str] = field(default_factory=dict)  # destination -> final state
    receipts: bool = True
    receipt_delay: float = 0.01
    password: str = "secret"
    silent_on: set[int] = field(default_factory=set)  # the Nth submits (1-based) get no answer at all
    answer_delay: float = 0.0  # an accepted submit is answered this long after it arrived


@dataclass
class Accepted:
    message_id: str
    destination: str
    source: str
    source_ton: int
    esm_class: int
    data_coding: int
    short_message: bytes
    registered_delivery: int


class SmscSimulator:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.accepted: list[Accepted] = []
        self.submits = 0
        self.throttled = 0
        self.binds = 0
        self.receipts_acked: list[str] = []
        self.receipts_refused = 0
        self.in_flight = 0  # accepted submits not answered yet (answer_delay)
        self.max_in_flight = 0
        self.mo_statuses: list[int] = []  # deliver_sm_resp statuses of handsets' SMS
        self._server: asyncio.Server | None = None
        self._current: asyncio.StreamWriter | None = None
        self._seq = _Seq()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiting_receipts: dict[int, tuple[str, str]] = {}  # deliver_sm sequence -> (msg id, state)
        self._undelivered: list[tuple[str, str]] = []
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._current is not None:
            self._current.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def accepted_keys(self) -> list[tuple[str, bytes]]:
        return [(a.destination, a.short_message) for a in self.accepted]

    # -- protocol ---------------------------------------------------------------------------------

    def _pdu(self, command: str, sequence: int | None = None, **fields: Any) -> Any:
        pdu = smpp.make_pdu(command, client=self._seq, **fields)
        if sequence is not None:
            pdu.sequence = sequence
        return pdu

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(4)
                (length,) = struct.unpack(">L", header)
                pdu = smpp.parse_pdu(
                    header + await reader.readexactly(length - 4),
                    client=self._seq,
                    allow_unknown_opt_params=True,
                )
                if not await self._handle(pdu, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if self._current is writer:
                self._current = None
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, pdu: Any) -> None:
        if not writer.is_closing():
            writer.write(pdu.generate())

    async def _handle(self, pdu: Any, writer: asyncio.StreamWriter) -> bool:
        command = pdu.command
        if command == "bind_transceiver":
            ok: bool = pdu.password.decode() == self.script.password
            self._send(
                writer,
                self._pdu(
                    "bind_transceiver_resp",
                    sequence=pdu.sequence,
                    status=ESME_ROK if ok else ESME_RBINDFAIL,
                    system_id="SIMSMSC",
                ),
            )
            if ok:
                self.binds += 1
                self._current = writer
                pending, self._undelivered = self._undelivered, []
                for message_id, state in pending:
                    self._spawn(self._receipt(message_id, state, 0))
            return ok
        if command == "enquire_link":
            self._send(writer, self._pdu("enquire_link_resp", sequence=pdu.sequence))
            return True
        if command == "unbind":
            self._send(writer, self._pdu("unbind_resp", sequence=pdu.sequence))
            return False
        if command == "deliver_sm_resp":
            message_id, state = self._waiting_receipts.pop(pdu.sequence, ("", ""))
            if message_id == "mo":  # the answer to a handset's SMS
                self.mo_statuses.append(pdu.status)
                return True
            if pdu.status == ESME_ROK:
                self.receipts_acked.append(message_id)
            elif message_id:
                self.receipts_refused += 1
                self._spawn(self._receipt(message_id, state, 0.2))
            return True
        if command == "submit_sm":
            self.submits += 1
            n = self.submits
            if n in self.script.drop_on:
                return False  # close without answering
            if n <= self.script.silent_first or n in self.script.silent_on:
                return True
            if self.throttled < self.script.throttle_first:
                self.throttled += 1
                self._send(writer, self._pdu("submit_sm_resp", sequence=pdu.sequence, status=ESME_RTHROTTLED))
                return True
            destination = pdu.destination_addr.decode()
            if destination in self.script.nack_destinations:
                self._send(writer, self._pdu("submit_sm_resp", sequence=pdu.sequence, status=ESME_RINVDSTADR))
                return True
            message_id = uuid.uuid4().hex[:16]
            self.accepted.append(
                Accepted(
                    message_id=message_id,
                    destination=destination,
                    source=pdu.source_addr.decode(),
                    source_ton=pdu.source_addr_ton,
                    esm_class=pdu.esm_class or 0,
                    data_coding=pdu.data_coding or 0,
                    short_message=bytes(pdu.short_message or b""),
                    registered_delivery=pdu.registered_delivery or 0,
                )
            )
            self._answer(writer, self._pdu("submit_sm_resp", sequence=pdu.sequence, message_id=message_id))
            if self.script.receipts and pdu.registered_delivery:
                state = self.script.receipt_states.get(destination, "DELIVRD")
                self._spawn(self._receipt(message_id, state, self.script.receipt_delay))
            return True
        self._send(writer, self._pdu("generic_nack", sequence=pdu.sequence, status=0x03))
        return True

    def _answer(self, writer: asyncio.StreamWriter, resp: Any) -> None:
        """Send ``resp`` now, or after the script's answer_delay (the submits meanwhile are in flight)."""
        if not self.script.answer_delay:
            self._send(writer, resp)
            return
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

        async def later() -> None:
            await asyncio.sleep(self.script.answer_delay)
            self.in_flight -= 1
            self._send(writer, resp)

        self._spawn(later())

    async def _receipt(self, message_id: str, state: str, delay: float) -> None:
        await asyncio.sleep(delay)
        writer = self._current
        if writer is None or writer.is_closing():
            self._undelivered.append((message_id, state))
            return
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if state == 'DELIVRD' else '000'} "
            f"submit date:2601011200 done date:2601011200 stat:{state} err:000 text:"
        )
        pdu = self._pdu(
            "deliver_sm",
            service_type="",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="",
            dest_addr_ton=0,
            dest_addr_npi=0,
            destination_addr="",
            esm_class=0x04,
            protocol_id=0,
            priority_flag=0,
            registered_delivery=0,
            replace_if_present_flag=0,
            data_coding=0,
            sm_default_msg_id=0,
            short_message=text.encode(),
        )
        self._waiting_receipts[pdu.sequence] = (message_id, state)
        self._send(writer, pdu)

    def mobile_originated(
        self,
        source: str,
        destination: str,
        parts: list[bytes],
        *,
        data_coding: int = 0,
        udh_ref: int | None = None,
        order: list[int] | None = None,
    ) -> None:
        """A handset's SMS (issue 18): one ``deliver_sm`` per part, not a receipt; with ``udh_ref`` each part
        carries the 8-bit concatenation header, and ``order`` (1-based part numbers) sends them shuffled."""
        writer = self._current
        assert writer is not None, "no bound ESME"
        total = len(parts)
        for number in order or range(1, total + 1):
            payload = parts[number - 1]
            header = bytes((0x05, 0x00, 0x03, udh_ref & 0xFF, total, number)) if udh_ref is not None else b""
            pdu = self._pdu(
                "deliver_sm",
                service_type="",
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=source.lstrip("+"),
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=destination.lstrip("+"),
                esm_class=0x40 if udh_ref is not None else 0x00,
                protocol_id=0,
                priority_flag=0,
                registered_delivery=0,
                replace_if_present_flag=0,
                data_coding=data_coding,
                sm_default_msg_id=0,
                short_message=header + payload,
            )
            self._waiting_receipts[pdu.sequence] = ("mo", "")
            self._send(writer, pdu)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
