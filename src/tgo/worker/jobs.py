"""Imports every module that registers tasks or periodic jobs, so any process sees all of them."""

# Each part adds its own line here (the imports register the tasks; ruff knows they are used).
import tgo.connect_network.tasks
import tgo.messages.tasks
import tgo.senders.tasks
import tgo.sms.tasks
import tgo.webhooks.tasks
import tgo.worker.broker  # noqa: F401
