"""What the senders package contributes: registrations follow the owner's Connect account verification."""

from tgo.channels.connect_types import EVENT_ACCOUNT_VERIFICATION_CHANGED
from tgo.part import Part
from tgo.senders.connect_handlers import on_account_verification_changed

PART = Part(
    name="senders",
    connect_handlers=[(EVENT_ACCOUNT_VERIFICATION_CHANGED, on_account_verification_changed)],
)
