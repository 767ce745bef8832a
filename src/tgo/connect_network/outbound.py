"""The field rules of a Business message handed to the network (one and batch acceptance alike)."""

from __future__ import annotations

from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import OutboundMessage
from tgo.errors import ValidationFailed

MESSAGE_TYPES = ("text", "image", "voice", "document", "system")


def check_outbound(msg: OutboundMessage) -> tuple[str, str]:
    """The recipient's and the sender's phone in E.164; raises ValidationFailed naming every bad field."""
    errors: dict[str, list[str]] = {}
    bid = msg.business_message_id.strip()
    if not bid or len(bid) > 200:
        errors["business_message_id"] = ["Required, at most 200 characters."]
    if msg.type not in MESSAGE_TYPES:
        errors["type"] = [f"Must be one of: {', '.join(MESSAGE_TYPES)}."]
    if msg.type in ("text", "system") and not (msg.content or "").strip():
        errors["content"] = ["Required for text messages."]
    if msg.type in ("image", "voice", "document") and msg.media is None:
        errors["media"] = ["Required for media messages."]
    try:
        to = normalize_phone(msg.to_phone)
    except InvalidPhone:
        errors["to_phone"] = ["Not a valid phone number in E.164 format."]
        to = ""
    try:
        sender = normalize_phone(msg.sender_phone)
    except InvalidPhone:
        errors["sender_phone"] = ["Not a valid phone number in E.164 format."]
        sender = ""
    if errors:
        raise ValidationFailed(errors)
    return to, sender
