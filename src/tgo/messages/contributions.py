"""What the messages package contributes: delivery jobs, the sweeper and Connect's receipts."""

from tgo.channels.connect_types import EVENT_MESSAGE_DELIVERED, EVENT_MESSAGE_READ
from tgo.messages.connect_handlers import on_delivered, on_read
from tgo.messages.tasks import deliver_batch_task, deliver_task, sweep_job
from tgo.part import Part
from tgo.worker.registry import Periodic

PART = Part(
    name="messages",
    # One job per committed batch of sends; one per message from older publishers.
    tasks={"messages.deliver": deliver_task, "messages.deliver_batch": deliver_batch_task},
    periodic=[Periodic("messages.sweep", sweep_job, every="sweeper_interval_seconds")],
    connect_batch_handlers={EVENT_MESSAGE_DELIVERED: on_delivered, EVENT_MESSAGE_READ: on_read},
)
