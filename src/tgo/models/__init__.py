"""Every table, imported here so Alembic and tests see the whole metadata."""

from tgo.models.api_key import ApiKey
from tgo.models.base import Base
from tgo.models.connect import (
    ConnectAccountRow,
    ConnectBlockRow,
    ConnectDeliveryAttemptRow,
    ConnectEventRow,
    ConnectInboxMessageRow,
    ReceivedConnectEvent,
)
from tgo.models.message import IdempotencyKey, Media, Message, MessageStatusEvent, UsageCounter
from tgo.models.otp_event import OtpEvent, OtpPhone
from tgo.models.sender_number import SenderNumber, SenderOtp
from tgo.models.sms import SmsMessage, SmsMessagePart, SmsSender
from tgo.models.tenant import Tenant
from tgo.models.user import User

__all__ = ["ApiKey", "Base", "SenderNumber", "SenderOtp", "Tenant", "User"]
__all__ += ["IdempotencyKey", "Media", "Message", "MessageStatusEvent", "UsageCounter"]
__all__ += ["OtpEvent", "OtpPhone"]
__all__ += ["SmsMessage", "SmsMessagePart", "SmsSender"]
__all__ += ["ConnectAccountRow", "ConnectBlockRow", "ConnectDeliveryAttemptRow", "ConnectEventRow"]
__all__ += ["ConnectInboxMessageRow", "ReceivedConnectEvent"]
from tgo.models.webhook import (  # noqa: E402
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ += ["WebhookDelivery", "WebhookDeliveryAttempt", "WebhookEndpoint", "WebhookEvent"]
