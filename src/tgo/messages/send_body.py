"""A send's body as the service takes it (``SendRequest``): the fields, and the JSON form's rules."""

from __future__ import annotations

from tgo.errors import InvalidJson, PayloadTooLarge, ValidationFailed
from tgo.kit.json_input import decode_json
from tgo.messages.service import SendRequest

FIELDS = ("to_phone", "type", "content", "caption", "duration", "sender_phone", "sender_number_id")


def json_send_request(raw: bytes, limit: int, max_depth: int) -> SendRequest:
    """A JSON send's body as a SendRequest: 413 over ``limit`` bytes, 400 ``invalid_json`` (empty, not JSON,
    too deep: ``tgo.kit.json_input``), 422 when it is not an object."""
    if len(raw) > limit:
        raise PayloadTooLarge()
    if not raw:
        raise InvalidJson()
    data = decode_json(raw, max_depth)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ["Must be a JSON object."]})
    return SendRequest(**{k: data.get(k) for k in FIELDS})
