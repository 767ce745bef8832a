"""The sender-number state machine's transitions, as one table (SPEC section 4; seeds 000, 001).

Like Jasmin's routing tests: each row is a starting point (status, verification status, whether the OTP
step is done), an event, and where the machine goes from there, or ``REFUSED`` (409
``invalid_sender_transition``). The rows cover every event from every state a number can reach; the
last two tests check that they do. Pure: no database (``apply``'s stamping and events are tested in
``test_sender_numbers.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tgo.models import SenderNumber
from tgo.senders.state import SenderEvent, SenderStatus, VerificationStatus, _target

S, V, E = SenderStatus, VerificationStatus, SenderEvent
REFUSED = None
OTP_DONE, NO_OTP = True, False

# The states a number can be in: registered, then the OTP step and Connect's verification events, then
# an operator's reject/suspend from any of those.
NEW = (S.PENDING_VERIFICATION, V.PENDING_OTP, NO_OTP)
ACTIVE = (S.ACTIVE, V.VERIFIED, OTP_DONE)
WAITING_ACCOUNT = (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION, OTP_DONE)
ACTIVE_OWNER_UNVERIFIED = (S.ACTIVE, V.PENDING_ACCOUNT_VERIFICATION, OTP_DONE)
REJECTED_NEW = (S.REJECTED, V.PENDING_OTP, NO_OTP)
REJECTED_ACTIVE = (S.REJECTED, V.VERIFIED, OTP_DONE)
SUSPENDED_NEW = (S.SUSPENDED, V.PENDING_OTP, NO_OTP)
SUSPENDED_ACTIVE = (S.SUSPENDED, V.VERIFIED, OTP_DONE)
SUSPENDED_WAITING = (S.SUSPENDED, V.PENDING_ACCOUNT_VERIFICATION, OTP_DONE)

STATES = {
    "new": NEW,
    "active": ACTIVE,
    "waiting_account": WAITING_ACCOUNT,
    "active_owner_unverified": ACTIVE_OWNER_UNVERIFIED,
    "rejected_new": REJECTED_NEW,
    "rejected_active": REJECTED_ACTIVE,
    "suspended_new": SUSPENDED_NEW,
    "suspended_active": SUSPENDED_ACTIVE,
    "suspended_waiting": SUSPENDED_WAITING,
}

Target = tuple[SenderStatus, VerificationStatus] | None

# (from, event, to): "to" is (status, verification_status); a row whose "to" equals "from" changes nothing.
TRANSITIONS: list[tuple[str, SenderEvent, Target]] = [
    # registered: the OTP decides; Connect's account events wait for the OTP step.
    ("new", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, (S.ACTIVE, V.VERIFIED)),
    (
        "new",
        E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED,
        (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION),
    ),
    ("new", E.ACCOUNT_VERIFIED, (S.PENDING_VERIFICATION, V.PENDING_OTP)),
    ("new", E.ACCOUNT_UNVERIFIED, (S.PENDING_VERIFICATION, V.PENDING_OTP)),
    ("new", E.REJECT, (S.REJECTED, V.PENDING_OTP)),
    ("new", E.SUSPEND, (S.SUSPENDED, V.PENDING_OTP)),
    ("new", E.UNSUSPEND, REFUSED),
    # active: losing the owner's verification keeps it active (it just cannot send).
    ("active", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("active", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("active", E.ACCOUNT_VERIFIED, (S.ACTIVE, V.VERIFIED)),
    ("active", E.ACCOUNT_UNVERIFIED, (S.ACTIVE, V.PENDING_ACCOUNT_VERIFICATION)),
    ("active", E.REJECT, (S.REJECTED, V.VERIFIED)),
    ("active", E.SUSPEND, (S.SUSPENDED, V.VERIFIED)),
    ("active", E.UNSUSPEND, REFUSED),
    # OTP accepted, owner not verified: Connect's verification makes it active, with no new OTP.
    ("waiting_account", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("waiting_account", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("waiting_account", E.ACCOUNT_VERIFIED, (S.ACTIVE, V.VERIFIED)),
    (
        "waiting_account",
        E.ACCOUNT_UNVERIFIED,
        (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION),
    ),
    ("waiting_account", E.REJECT, (S.REJECTED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("waiting_account", E.SUSPEND, (S.SUSPENDED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("waiting_account", E.UNSUSPEND, REFUSED),
    # active, owner lost verification: verified again, it may send again.
    ("active_owner_unverified", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("active_owner_unverified", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("active_owner_unverified", E.ACCOUNT_VERIFIED, (S.ACTIVE, V.VERIFIED)),
    ("active_owner_unverified", E.ACCOUNT_UNVERIFIED, (S.ACTIVE, V.PENDING_ACCOUNT_VERIFICATION)),
    ("active_owner_unverified", E.REJECT, (S.REJECTED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("active_owner_unverified", E.SUSPEND, (S.SUSPENDED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("active_owner_unverified", E.UNSUSPEND, REFUSED),
    # rejected is final: only Connect's account events still move the verification status.
    ("rejected_new", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("rejected_new", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("rejected_new", E.ACCOUNT_VERIFIED, (S.REJECTED, V.PENDING_OTP)),
    ("rejected_new", E.ACCOUNT_UNVERIFIED, (S.REJECTED, V.PENDING_OTP)),
    ("rejected_new", E.REJECT, REFUSED),
    ("rejected_new", E.SUSPEND, REFUSED),
    ("rejected_new", E.UNSUSPEND, REFUSED),
    ("rejected_active", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("rejected_active", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("rejected_active", E.ACCOUNT_VERIFIED, (S.REJECTED, V.VERIFIED)),
    ("rejected_active", E.ACCOUNT_UNVERIFIED, (S.REJECTED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("rejected_active", E.REJECT, REFUSED),
    ("rejected_active", E.SUSPEND, REFUSED),
    ("rejected_active", E.UNSUSPEND, REFUSED),
    # suspended: unsuspending returns to where the number's steps put it.
    ("suspended_new", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("suspended_new", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("suspended_new", E.ACCOUNT_VERIFIED, (S.SUSPENDED, V.PENDING_OTP)),
    ("suspended_new", E.ACCOUNT_UNVERIFIED, (S.SUSPENDED, V.PENDING_OTP)),
    ("suspended_new", E.REJECT, (S.REJECTED, V.PENDING_OTP)),
    ("suspended_new", E.SUSPEND, REFUSED),
    ("suspended_new", E.UNSUSPEND, (S.PENDING_VERIFICATION, V.PENDING_OTP)),
    ("suspended_active", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("suspended_active", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("suspended_active", E.ACCOUNT_VERIFIED, (S.SUSPENDED, V.VERIFIED)),
    ("suspended_active", E.ACCOUNT_UNVERIFIED, (S.SUSPENDED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("suspended_active", E.REJECT, (S.REJECTED, V.VERIFIED)),
    ("suspended_active", E.SUSPEND, REFUSED),
    ("suspended_active", E.UNSUSPEND, (S.ACTIVE, V.VERIFIED)),
    ("suspended_waiting", E.OTP_ACCEPTED_ACCOUNT_VERIFIED, REFUSED),
    ("suspended_waiting", E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED, REFUSED),
    ("suspended_waiting", E.ACCOUNT_VERIFIED, (S.SUSPENDED, V.VERIFIED)),
    ("suspended_waiting", E.ACCOUNT_UNVERIFIED, (S.SUSPENDED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("suspended_waiting", E.REJECT, (S.REJECTED, V.PENDING_ACCOUNT_VERIFICATION)),
    ("suspended_waiting", E.SUSPEND, REFUSED),
    ("suspended_waiting", E.UNSUSPEND, (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION)),
]


def number_in(state: str) -> SenderNumber:
    status, verification, otp_done = STATES[state]
    return SenderNumber(
        status=status,
        verification_status=verification,
        otp_verified_at=datetime(2026, 1, 1, tzinfo=UTC) if otp_done else None,
    )


@pytest.mark.parametrize(
    ("state", "event", "expected"), TRANSITIONS, ids=[f"{s}-{e}" for s, e, _ in TRANSITIONS]
)
def test_transition(state: str, event: SenderEvent, expected: Target) -> None:
    assert _target(number_in(state), event) == expected


def test_every_event_from_every_state_is_in_the_table() -> None:
    rows = [(state, event) for state, event, _ in TRANSITIONS]
    assert len(rows) == len(set(rows))
    assert set(rows) == {(state, event) for state in STATES for event in SenderEvent}


def test_every_status_is_a_starting_point_and_a_destination() -> None:
    assert {status for status, _, _ in STATES.values()} == set(SenderStatus)
    assert {to[0] for _, _, to in TRANSITIONS if to is not None} == set(SenderStatus)
    assert {to[1] for _, _, to in TRANSITIONS if to is not None} == set(VerificationStatus)
