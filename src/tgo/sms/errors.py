"""The SMS API's errors (stable codes; their texts are in the i18n catalogues under ``sms.``)."""

from __future__ import annotations

from tgo.errors import Conflict, NotFound, Unprocessable


class SmsSenderNotFound(NotFound):
    message_key = "sms.sender_not_found"


class SmsMessageNotFound(NotFound):
    message_key = "sms.message_not_found"


class SmsSenderExists(Conflict):
    code = "sms_sender_exists"
    message_key = "sms.sender_exists"


class SmsSenderInUse(Conflict):
    code = "sms_sender_in_use"
    message_key = "sms.sender_in_use"


class SmsSenderNotVerifiable(Conflict):
    code = "sms_sender_not_verifiable"
    message_key = "sms.sender_not_verifiable"


class SmsSenderStatusConflict(Conflict):
    code = "sms_sender_status_conflict"
    message_key = "sms.sender_status_conflict"


class SmsSenderNotActive(Unprocessable):
    code = "sms_sender_not_active"
    message_key = "sms.sender_not_active"


class SmsSenderTransactionalOnly(Unprocessable):
    code = "sms_sender_transactional_only"
    message_key = "sms.sender_transactional_only"


class SmsRecipientNotAllowed(Unprocessable):
    code = "sms_recipient_not_allowed"
    message_key = "sms.recipient_not_allowed"


class InvalidTransition(Conflict):
    code = "invalid_status_transition"
    message_key = "sms.invalid_transition"
