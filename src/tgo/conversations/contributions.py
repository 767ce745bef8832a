"""What the conversations package contributes: it applies Connect's ``message.received`` and moves a
conversation up when the tenant sends to its contact."""

from tgo.channels.connect_types import EVENT_MESSAGE_RECEIVED
from tgo.conversations.connect_handlers import on_messages_received
from tgo.conversations.outbound import on_message_queued
from tgo.conversations.repository import any_conversation
from tgo.part import Part

PART = Part(
    name="conversations",
    connect_batch_handlers={EVENT_MESSAGE_RECEIVED: on_messages_received},
    listeners=[on_message_queued],
    interests=[any_conversation],
)
