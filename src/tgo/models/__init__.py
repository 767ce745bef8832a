"""Every table of TGO Business, imported here so Alembic and tests see the whole metadata. The reference
network's tables live with it (``tgo.connect_network.models``, same ``Base``); ``migrations/env.py`` imports
both."""

from tgo.models.api_key import ApiKey
from tgo.models.base import Base
from tgo.models.message import IdempotencyKey, Media, Message, MessageStatusEvent, UsageCounter
from tgo.models.otp_event import OtpEvent, OtpPhone
from tgo.models.received_connect_event import ReceivedConnectEvent
from tgo.models.recipient_reachability import RecipientReachability
from tgo.models.sender_number import SenderNumber, SenderOtp
from tgo.models.sms import SmsMessage, SmsMessagePart, SmsSender
from tgo.models.tenant import Tenant
from tgo.models.user import User

__all__ = ["ApiKey", "Base", "SenderNumber", "SenderOtp", "Tenant", "User"]
__all__ += ["IdempotencyKey", "Media", "Message", "MessageStatusEvent", "UsageCounter"]
__all__ += ["OtpEvent", "OtpPhone"]
__all__ += ["SmsMessage", "SmsMessagePart", "SmsSender"]
__all__ += ["ReceivedConnectEvent"]
__all__ += ["RecipientReachability"]
from tgo.models.webhook import (  # noqa: E402
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ += ["WebhookDelivery", "WebhookDeliveryAttempt", "WebhookEndpoint", "WebhookEvent"]
from tgo.models.conversation import Conversation, OptOut, OptOutSettings  # noqa: E402

__all__ += ["Conversation", "OptOut", "OptOutSettings"]
from tgo.models.sms_inbound import SmsInboundMessage  # noqa: E402

__all__ += ["SmsInboundMessage"]
