"""What the SMS package contributes: carrier verification and delivery jobs, and their sweeper."""

from tgo.part import Part
from tgo.sms.delivery import DELIVER_BATCH_TASK
from tgo.sms.jobs import DELIVER_TASK, VERIFY_TASK
from tgo.sms.tasks import deliver_batch_task, deliver_sms_task, sweep_sms, verify_sender_task
from tgo.worker.registry import Periodic

PART = Part(
    name="sms",
    tasks={
        DELIVER_TASK: deliver_sms_task,
        DELIVER_BATCH_TASK: deliver_batch_task,
        VERIFY_TASK: verify_sender_task,
    },
    periodic=[Periodic("sms.sweep", sweep_sms, every="sweeper_interval_seconds")],
)
