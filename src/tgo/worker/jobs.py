"""Imports every module that registers tasks or periodic jobs, so any process sees all of them."""

# Each part adds its own line: `import tgo.<part>.tasks  # noqa: F401`.
import tgo.connect.tasks
import tgo.messages.tasks
import tgo.senders.tasks
import tgo.sms.tasks
import tgo.webhooks.tasks
import tgo.worker.broker  # noqa: F401
