"""What the senders package contributes: registrations follow the owner's Connect account verification."""

from tgo.channels.connect_types import EVENT_ACCOUNT_VERIFICATION_CHANGED
from tgo.part import Part
from tgo.senders.connect_handlers import on_account_verification_changed
from tgo.senders.connect_links import CHECK_SECONDS, on_sender_status_changed, reconcile_links
from tgo.worker.registry import Periodic

PART = Part(
    name="senders",
    connect_handlers=[(EVENT_ACCOUNT_VERIFICATION_CHANGED, on_account_verification_changed)],
    # Connect lets its accounts write only to active sender numbers (issue 18).
    listeners=[on_sender_status_changed],
    periodic=[Periodic("senders.connect_links", reconcile_links, every=CHECK_SECONDS)],
)
