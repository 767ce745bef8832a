"""What the webhooks package contributes: the outbox listener with its interest (the tenant has an active
endpoint, so the send path can tell it in advance when it has nothing to do), one job per attempt, the
sweeper, the purge."""

from tgo.part import Part
from tgo.webhooks.outbox import TASK_DELIVER, record_event, record_events
from tgo.webhooks.repository import any_active_endpoint
from tgo.webhooks.tasks import deliver_webhook, purge_webhooks, sweep_webhooks
from tgo.worker.registry import Periodic

PART = Part(
    name="webhooks",
    tasks={TASK_DELIVER: deliver_webhook},
    periodic=[
        Periodic("webhooks.sweep", sweep_webhooks, every="webhook_sweeper_interval_seconds"),
        Periodic("webhooks.purge", purge_webhooks, every=3600),
    ],
    listeners=[record_event],
    batch_listener=record_events,
    interests=[any_active_endpoint],
)
