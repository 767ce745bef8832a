"""Receipt parsing and status names of the SMPP channel (PDUs built with smpplib, as an SMSC sends them)."""

from __future__ import annotations

from typing import Any

from smpplib import smpp

from tgo.channels.smpp import parse_receipt, status_name


class _Seq:
    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def deliver_sm(**fields: Any) -> Any:
    base = {"source_addr": "61412345678", "destination_addr": "Acme", "esm_class": 0, "short_message": b""}
    raw = smpp.make_pdu("deliver_sm", client=_Seq(), **(base | fields)).generate()
    return smpp.parse_pdu(raw, client=_Seq(), allow_unknown_opt_params=True)


def test_receipt_from_the_text() -> None:
    text = (
        b"id:4f2c sub:001 dlvrd:000 submit date:2601011200 done date:2601011201 stat:UNDELIV err:021 text:Hi"
    )
    receipt = parse_receipt(deliver_sm(esm_class=0x04, short_message=text))
    assert receipt is not None
    assert (receipt.smsc_message_id, receipt.state, receipt.error) == ("4f2c", "UNDELIV", "021")


def test_receipt_from_the_tlvs_wins_over_the_text() -> None:
    pdu = deliver_sm(
        esm_class=0x04,
        short_message=b"id:other stat:DELIVRD err:000",
        receipted_message_id="abc-123",
        message_state=8,
    )
    receipt = parse_receipt(pdu)
    assert receipt is not None and (receipt.smsc_message_id, receipt.state) == ("abc-123", "REJECTD")


def test_a_mobile_originated_message_is_not_a_receipt() -> None:
    assert parse_receipt(deliver_sm(short_message=b"id:1 stat:DELIVRD looks like one")) is None
    assert parse_receipt(deliver_sm(esm_class=0x04, short_message=b"garbage")) is None


def test_status_names() -> None:
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x0B) == "ESME_RINVDSTADR"
    assert status_name(0x12345) == "ESME_0x00012345"
