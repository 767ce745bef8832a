"""What the worker package contributes: connecting the broker (and in-process workers) at start-up."""

from tgo.part import Part
from tgo.worker.broker import start_in_process_workers

PART = Part(name="worker", startup=[start_in_process_workers])
