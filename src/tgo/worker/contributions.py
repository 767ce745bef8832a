"""What the worker package contributes: connecting the broker (and in-process workers) at start-up, and the
upkeep of a Redis streams broker's stream."""

from tgo.part import Part
from tgo.worker.broker import start_in_process_workers
from tgo.worker.redis_streams import keep_redis_stream
from tgo.worker.registry import Periodic

PART = Part(
    name="worker",
    startup=[start_in_process_workers],
    periodic=[Periodic("worker.redis_stream", keep_redis_stream, every="redis_stream_upkeep_seconds")],
)
