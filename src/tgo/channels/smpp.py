"""SMPP 3.4 client (ESME) on asyncio: transceiver bind, a window of ``submit_sm`` in flight matched to their
``submit_sm_resp`` by sequence number, concatenated submits, throttling back-off, re-binding after a
dropped connection, delivery receipts from ``deliver_sm``, and a pool of several binds.

A submit the SMSC never answers (the bind times out: the SMSC answered only part of a window) has an
unknown outcome: it is re-submitted once on a new bind, and if that one is not answered either the part
fails (``smsc_no_response``) rather than go a third time. A submit lost with a dropped connection before
any timeout is retried as a transport error.

PDUs are encoded and decoded by ``smpplib`` (a maintained SMPP implementation); its own ``Client`` is a
blocking socket loop, so the connection, the windowing by sequence number and the timers are ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
from typing import Any

import structlog
from smpplib import consts as smpp_consts
from smpplib import smpp

from tgo.channels.sms_concat import Concat, Reassembler, split_udh
from tgo.channels.sms_encoding import Encoding, concatenation_header, decode_gsm, detect_encoding, split
from tgo.channels.sms_types import (
    AcceptedPart,
    InboundHandler,
    InboundSms,
    OutboundSms,
    Receipt,
    ReceiptHandler,
    SubmitResult,
)

log = structlog.get_logger("tgo.smpp")

ESME_ROK = smpp_consts.SMPP_ESME_ROK
ESME_RTHROTTLED = smpp_consts.SMPP_ESME_RTHROTTLED
ESME_RMSGQFUL = smpp_consts.SMPP_ESME_RMSGQFUL
ESME_RX_T_APPN = smpp_consts.SMPP_ESME_RX_T_APPN
ESME_RINVCMDID = smpp_consts.SMPP_ESME_RINVCMDID
RETRY_LATER = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})

STATUS_NAMES: dict[int, str] = {
    value: name.removeprefix("SMPP_")
    for name, value in vars(smpp_consts).items()
    if name.startswith("SMPP_ESME_") and isinstance(value, int)
}

# SMPP 3.4 message_state TLV values -> receipt text states.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_FIELD = re.compile(r"(id|stat|err):(\S*)", re.IGNORECASE)

# Source address TON/NPI per sender type.
SOURCE_TON_NPI = {
    "alphanumeric_id": (5, 0),
    "long_code": (1, 1),
    "toll_free": (1, 1),
    "short_code": (3, 0),
}


class SmppError(Exception):
    """A transport problem: the caller reconnects and retries."""


class ConnectionLost(SmppError):
    pass


class NoResponse(SmppError):
    """A request written to the bind was not answered in time (or its bind was dropped for that)."""


class BindFailed(SmppError):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"bind refused: {status_name(status)}")


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"ESME_0x{status:08X}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("latin-1")
    return str(value)


def parse_receipt_like(pdu: Any) -> bool:
    """Whether a ``deliver_sm`` is flagged as a receipt (even one whose text cannot be read)."""
    esm_class = int(getattr(pdu, "esm_class", 0) or 0)
    return (esm_class & 0x3C) == 0x04 or bool(_text(getattr(pdu, "receipted_message_id", None)))


def parse_receipt(pdu: Any) -> Receipt | None:
    """The delivery receipt carried by a ``deliver_sm`` (TLVs first, then the receipt text)."""
    esm_class = int(getattr(pdu, "esm_class", 0) or 0)
    tlv_id = _text(getattr(pdu, "receipted_message_id", None))
    tlv_state = getattr(pdu, "message_state", None)
    if (esm_class & 0x3C) != 0x04 and not tlv_id:
        return None  # a mobile-originated message, not a receipt
    fields = {m.group(1).lower(): m.group(2) for m in _RECEIPT_FIELD.finditer(_text(pdu.short_message))}
    message_id = tlv_id or fields.get("id", "")
    state = MESSAGE_STATES.get(int(tlv_state), "") if tlv_state is not None else ""
    state = state or fields.get("stat", "").upper()
    if not message_id or not state:
        return None
    return Receipt(smsc_message_id=message_id, state=state, error=fields.get("err"))


def _address(value: Any) -> str:
    digits = _text(value).strip()
    return "+" + digits if digits.isdigit() else digits


def _decode(data_coding: int, payload: bytes) -> str:
    if data_coding == 0x08:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding in (0x03, 0x04):
        return payload.decode("latin-1")
    return decode_gsm(payload)  # 0x00: the SMSC default alphabet, unpacked (as we submit it)


def parse_mobile_originated(pdu: Any) -> tuple[InboundSms, Concat | None]:
    """A ``deliver_sm`` that is not a receipt: its text (decoded by ``data_coding``; ``message_payload`` when
    ``short_message`` is empty) and, for a part of a concatenated SMS, which part (UDH or SAR TLVs)."""
    payload = bytes(getattr(pdu, "short_message", None) or b"") or bytes(
        getattr(pdu, "message_payload", None) or b""
    )
    concat = None
    if int(getattr(pdu, "esm_class", 0) or 0) & 0x40:  # a user data header precedes the text
        concat, payload = split_udh(payload)
    sar_ref = getattr(pdu, "sar_msg_ref_num", None)
    if concat is None and sar_ref is not None:
        total = int(getattr(pdu, "sar_total_segments", 0) or 0)
        number = int(getattr(pdu, "sar_segment_seqnum", 0) or 0)
        if 1 <= number <= total:
            concat = Concat(int(sar_ref), total, number)
    text = _decode(int(getattr(pdu, "data_coding", 0) or 0), payload)
    sms = InboundSms(source=_address(pdu.source_addr), destination=_address(pdu.destination_addr), body=text)
    return sms, concat


class _Sequence:
    """The ``client`` smpplib asks for sequence numbers."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


class SmppClient:
    """One transceiver bind shared by every delivery in the process."""

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        response_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        enquire_link_interval: float = 30.0,
        throttle_retries: int = 8,
        throttle_backoff: float = 0.2,
        throttle_backoff_max: float = 5.0,
        reconnects_per_submit: int = 3,
        reconnect_backoff: float = 0.2,
        window: int = 10,
    ) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.enquire_link_interval = enquire_link_interval
        self.throttle_retries = throttle_retries
        self.throttle_backoff = throttle_backoff
        self.throttle_backoff_max = throttle_backoff_max
        self.reconnects_per_submit = reconnects_per_submit
        self.reconnect_backoff = reconnect_backoff
        self._seq = _Sequence()
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._bound = False
        self._bind_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connection_tasks: list[asyncio.Task[Any]] = []
        self._receipt_handler: ReceiptHandler | None = None
        self._inbound_handler: InboundHandler | None = None
        self._reassembler = Reassembler()
        self._pause_until = 0.0
        self._closed = False
        self.binds = 0  # how many binds succeeded (observability, tests)
        # At most ``window`` submit_sm of this bind wait for their submit_sm_resp at once.
        self.window = max(1, window)
        self._window = asyncio.Semaphore(self.window)
        self.outstanding = 0  # submits (messages) in progress on this client, for a pool to balance

    # -- public ---------------------------------------------------------------------------------

    def set_receipt_handler(self, handler: ReceiptHandler) -> None:
        self._receipt_handler = handler

    def set_inbound_handler(self, handler: InboundHandler) -> None:
        self._inbound_handler = handler

    @property
    def bound(self) -> bool:
        return self._bound

    async def keepalive(self) -> None:
        try:
            await self._ensure_bound()
        except (SmppError, OSError) as exc:
            log.warning("smpp_bind_failed", host=self.host, port=self.port, error=str(exc))

    async def submit(self, sms: OutboundSms) -> SubmitResult:
        """Submit every part not yet accepted; stops at the first part that cannot go now."""
        self.outstanding += 1
        try:
            return await self._submit(sms)
        finally:
            self.outstanding -= 1

    async def _submit(self, sms: OutboundSms) -> SubmitResult:
        encoding = detect_encoding(sms.body)
        payloads = split(sms.body, encoding)
        total = len(payloads)
        ton, npi = SOURCE_TON_NPI.get(sms.source_type, (5, 0))
        accepted: list[AcceptedPart] = []
        for number, payload in enumerate(payloads, start=1):
            if number in sms.skip_parts:
                continue
            short_message = (
                concatenation_header(sms.concat_ref, total, number) + payload if total > 1 else payload
            )
            fields = {
                "service_type": "",
                "source_addr_ton": ton,
                "source_addr_npi": npi,
                "source_addr": sms.source.lstrip("+"),
                "dest_addr_ton": 1,
                "dest_addr_npi": 1,
                "destination_addr": sms.destination.lstrip("+"),
                "esm_class": 0x40 if total > 1 else 0x00,  # UDH indicator
                "protocol_id": 0,
                "priority_flag": 0,
                "registered_delivery": 1,  # a receipt on final success or failure
                "replace_if_present_flag": 0,
                "data_coding": 0x00 if encoding is Encoding.GSM7 else 0x08,
                "sm_default_msg_id": 0,
                "short_message": short_message,
            }
            outcome = await self._submit_part(fields)
            if isinstance(outcome, str):
                accepted.append(AcceptedPart(number, outcome))
                continue
            outcome.accepted = accepted
            return outcome
        return SubmitResult(accepted)

    async def close(self) -> None:
        self._closed = True
        writer = self._writer
        if writer is not None and self._bound:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(self._make("unbind")), 1.0)
        self._drop(writer)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # -- submitting -----------------------------------------------------------------------------

    async def _submit_part(self, fields: dict[str, Any]) -> str | SubmitResult:
        """The SMSC message id, or why the part cannot go now."""
        transport_failures = 0
        throttled = 0
        unanswered = 0
        while True:
            delay = self._pause_until - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._ensure_bound()
                async with self._window:
                    resp = await self._request(self._make("submit_sm", **fields))
            except BindFailed as exc:
                return SubmitResult([], "bind_failed", str(exc), retryable=True)
            except NoResponse as exc:
                unanswered += 1
                if unanswered > 1:  # the SMSC may have taken both: never a third time
                    return SubmitResult([], "smsc_no_response", str(exc), retryable=False)
                log.info("smpp_resubmit_unanswered", error=str(exc))
                await asyncio.sleep(self.reconnect_backoff)
                continue
            except (SmppError, OSError) as exc:
                transport_failures += 1
                if transport_failures > self.reconnects_per_submit:
                    return SubmitResult(
                        [], "smsc_unreachable", str(exc) or type(exc).__name__, retryable=True
                    )
                log.info(
                    "smpp_retry_after_transport_error", error=type(exc).__name__, attempt=transport_failures
                )
                await asyncio.sleep(self.reconnect_backoff * transport_failures)
                continue
            status = int(resp.status)
            if resp.command == "generic_nack":
                return SubmitResult([], status_name(status), resp.get_status_desc(status), retryable=False)
            if status == ESME_ROK:
                return _text(resp.message_id)
            if status in RETRY_LATER:
                throttled += 1
                if throttled > self.throttle_retries:
                    return SubmitResult([], status_name(status), resp.get_status_desc(status), retryable=True)
                backoff = min(self.throttle_backoff * 2 ** (throttled - 1), self.throttle_backoff_max)
                # Every submit of this bind waits, not only this one: the SMSC throttles the bind.
                self._pause_until = max(self._pause_until, asyncio.get_running_loop().time() + backoff)
                continue
            return SubmitResult([], status_name(status), resp.get_status_desc(status), retryable=False)

    # -- connection -----------------------------------------------------------------------------

    def _make(self, command: str, sequence: int | None = None, **fields: Any) -> Any:
        pdu = smpp.make_pdu(command, client=self._seq, **fields)
        if sequence is not None:  # smpplib ignores a sequence passed to the constructor
            pdu.sequence = sequence
        return pdu

    async def _ensure_bound(self) -> None:
        if self._bound:
            return
        if self._closed:
            raise ConnectionLost("client closed")
        async with self._bind_lock:
            if self._bound:
                return
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
            self._writer = writer
            reader_task = self._spawn(self._read_loop(reader, writer))
            self._connection_tasks = [reader_task]
            bind = self._make(
                "bind_transceiver",
                system_id=self.system_id,
                password=self.password,
                system_type=self.system_type,
                addr_ton=0,
                addr_npi=0,
                address_range="",
            )
            try:
                resp = await self._request(bind)
            except BaseException:
                self._drop(writer)
                raise
            if int(resp.status) != ESME_ROK:
                self._drop(writer)
                raise BindFailed(int(resp.status))
            self._bound = True
            self.binds += 1
            self._connection_tasks.append(self._spawn(self._enquire_links(writer)))
            log.info("smpp_bound", host=self.host, port=self.port, system_id=self.system_id)

    async def _request(self, pdu: Any) -> Any:
        writer = self._writer
        if writer is None:
            raise ConnectionLost("not connected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[pdu.sequence] = future
        try:
            await self._send(writer, pdu)
            return await asyncio.wait_for(future, self.response_timeout)
        except TimeoutError:
            # The SMSC did not answer in time: the bind's state is unknown, so start a new one. The other
            # requests it had not answered are unanswered too (not merely cut off).
            log.warning("smpp_no_response", command=pdu.command, sequence=pdu.sequence)
            self._drop(writer, NoResponse(f"no response on the bind (after {pdu.command})"))
            raise NoResponse(f"no response to {pdu.command}") from None
        finally:
            self._pending.pop(pdu.sequence, None)

    async def _send(self, writer: asyncio.StreamWriter, pdu: Any) -> None:
        data = pdu.generate()
        async with self._write_lock:
            if writer.is_closing():
                raise ConnectionLost("connection closed")
            writer.write(data)
            try:
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                raise ConnectionLost(str(exc)) from exc

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(4)
                (length,) = struct.unpack(">L", header)
                if length < 16 or length > 65536:
                    log.warning("smpp_bad_pdu_length", length=length)
                    break
                raw = header + await reader.readexactly(length - 4)
                try:
                    pdu = smpp.parse_pdu(raw, client=self._seq, allow_unknown_opt_params=True)
                except Exception:
                    (sequence,) = struct.unpack(">L", raw[12:16])
                    log.warning("smpp_unparseable_pdu", sequence=sequence)
                    nack = self._make("generic_nack", sequence=sequence, status=ESME_RINVCMDID)
                    await self._send(writer, nack)
                    continue
                command = pdu.command
                if command.endswith("_resp") or command == "generic_nack":
                    future = self._pending.get(pdu.sequence)
                    if future is not None and not future.done():
                        future.set_result(pdu)
                elif command == "deliver_sm":
                    self._spawn(self._on_deliver_sm(pdu, writer))
                elif command == "enquire_link":
                    await self._send(writer, self._make("enquire_link_resp", sequence=pdu.sequence))
                elif command == "unbind":
                    await self._send(writer, self._make("unbind_resp", sequence=pdu.sequence))
                    break
                else:
                    nack = self._make("generic_nack", sequence=pdu.sequence, status=ESME_RINVCMDID)
                    await self._send(writer, nack)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, SmppError):
            pass
        finally:
            self._drop(writer)

    async def _enquire_links(self, writer: asyncio.StreamWriter) -> None:
        while not writer.is_closing():
            await asyncio.sleep(self.enquire_link_interval)
            try:
                await self._request(self._make("enquire_link"))
            except (SmppError, OSError):
                self._drop(writer)
                return

    async def _on_deliver_sm(self, pdu: Any, writer: asyncio.StreamWriter) -> None:
        status = ESME_ROK
        receipt = parse_receipt(pdu)
        if receipt is not None and self._receipt_handler is not None:
            try:
                recorded = await self._receipt_handler(receipt)
            except Exception:
                log.exception("smpp_receipt_handler_failed", smsc_message_id=receipt.smsc_message_id)
                recorded = False
            if not recorded:
                status = ESME_RX_T_APPN  # the SMSC keeps the receipt and delivers it again later
        elif (
            receipt is None and parse_receipt_like(pdu) is False and not await self._on_mobile_originated(pdu)
        ):
            status = ESME_RX_T_APPN  # not stored: the SMSC delivers it again later
        resp = self._make("deliver_sm_resp", sequence=pdu.sequence, status=status, message_id="")
        with contextlib.suppress(SmppError, OSError):
            await self._send(writer, resp)

    async def _on_mobile_originated(self, pdu: Any) -> bool:
        """Store a mobile-originated SMS (issue 18), once all its parts are here; False to be asked again."""
        try:
            sms, concat = parse_mobile_originated(pdu)
        except Exception:
            log.exception("smpp_mo_unreadable")
            return True  # an undecodable PDU would come back forever
        if concat is not None:
            joined = self._reassembler.add(sms.source, sms.destination, concat, sms.body)
            if joined is None:
                return True  # a part: kept until the others arrive
            sms = InboundSms(source=sms.source, destination=sms.destination, body=joined)
        if self._inbound_handler is None:
            return False
        try:
            stored = await self._inbound_handler(sms)
        except Exception:
            log.exception("smpp_inbound_handler_failed")
            stored = False
        if stored and concat is not None:
            self._reassembler.done(sms.source, sms.destination, concat)
        return stored

    def _drop(self, writer: asyncio.StreamWriter | None, error: SmppError | None = None) -> None:
        """Forget a connection: fail its outstanding requests (with ``error``, else ``ConnectionLost``) so
        their callers retry on a new bind."""
        if writer is None:
            return
        if writer is self._writer:
            self._writer = None
            self._bound = False
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error or ConnectionLost("connection dropped"))
            self._pending.clear()
            current = asyncio.current_task()
            for task in self._connection_tasks:
                if task is not current:
                    task.cancel()
            self._connection_tasks = []
        with contextlib.suppress(Exception):
            writer.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class SmppPool:
    """Several binds to one SMSC (``SmppClient`` each, with its own window): a submit goes to the bind with
    the fewest submits in progress; receipts arrive on any of them."""

    def __init__(self, clients: list[SmppClient]) -> None:
        if not clients:
            raise ValueError("an SMPP pool needs at least one bind")
        self.clients = clients

    @property
    def binds(self) -> int:
        return sum(c.binds for c in self.clients)

    @property
    def bound(self) -> bool:
        return any(c.bound for c in self.clients)

    def set_receipt_handler(self, handler: ReceiptHandler) -> None:
        for client in self.clients:
            client.set_receipt_handler(handler)

    def set_inbound_handler(self, handler: InboundHandler) -> None:
        # Each bind joins the parts it receives; an SMSC sends a message's parts on one bind.
        for client in self.clients:
            client.set_inbound_handler(handler)

    async def keepalive(self) -> None:
        await asyncio.gather(*(c.keepalive() for c in self.clients))

    async def submit(self, sms: OutboundSms) -> SubmitResult:
        client = min(self.clients, key=lambda c: (not c.bound, c.outstanding))
        return await client.submit(sms)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients))


def smpp_channel(
    host: str, port: int, system_id: str, password: str, *, window: int = 10, binds: int = 1, **options: Any
) -> SmppClient | SmppPool:
    """The SMPP channel to one SMSC: one bind, or a pool of ``binds`` binds, each with ``window`` submits in
    flight."""
    clients = [SmppClient(host, port, system_id, password, window=window, **options) for _ in range(binds)]
    return clients[0] if binds <= 1 else SmppPool(clients)
