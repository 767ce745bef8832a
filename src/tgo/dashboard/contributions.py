"""What the dashboard contributes: its navigation, one entry per page that has one."""

from tgo.dashboard.pages import (
    api_keys,
    connect_inbox,
    inbox,
    messages,
    senders,
    sms_messages,
    sms_senders,
    usage,
    webhooks,
)
from tgo.part import Part

PART = Part(
    name="dashboard",
    nav=[
        page.NAV_ITEM
        for page in (
            senders,
            messages,
            sms_messages,
            usage,
            sms_senders,
            webhooks,
            api_keys,
            connect_inbox,
            inbox,
        )
    ],
)
