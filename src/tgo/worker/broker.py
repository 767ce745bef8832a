"""The broker named by TGO_BROKER_URL (memory, RabbitMQ, Redis streams), with every task installed in a
runtime bound to it, and the loops that run periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import structlog
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from tgo.kit.tasks import bounded, stop_tasks
from tgo.runtime import Runtime
from tgo.worker.redis_streams import hand_back_held
from tgo.worker.registry import Periodic

log = structlog.get_logger("tgo.worker")

PERIODIC_TIMEOUT_SECONDS = 120.0
# Jobs one worker process runs at once (RabbitMQ's prefetch, below, bounds them further).
MAX_ASYNC_TASKS = 200
# The job label carrying the id of the request that published it (the correlation id of its log lines).
REQUEST_ID_LABEL = "request_id"
# How long a start that failed may take to close what it opened (a broker in trouble may not answer).
_CLOSE_AFTER_FAILED_START_SECONDS = 2.0


def _make_taskiq_broker(url: str, queue_name: str) -> AsyncBroker:
    if url.startswith("memory"):
        return InMemoryBroker(max_async_tasks=1000)
    if url.startswith(("amqp://", "amqps://")):
        from taskiq_aio_pika import AioPikaBroker
        from taskiq_aio_pika.exchange import Exchange
        from taskiq_aio_pika.queue import Queue

        from tgo.worker.amqp_connection import ClosingRobustConnection

        return AioPikaBroker(
            url=url,
            connection_class=ClosingRobustConnection,  # passed on to aio_pika.connect_robust
            qos=64,
            exchange=Exchange(name=queue_name),
            task_queues=[Queue(name=queue_name, routing_key=queue_name)],
            dead_letter_queue=Queue(name=f"{queue_name}.dead_letter"),
            delay_queue=Queue(name=f"{queue_name}.delay"),
        )
    if url.startswith(("redis://", "rediss://")):
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(url=url, queue_name=queue_name, consumer_group_name=queue_name)
    raise ValueError(f"unsupported TGO_BROKER_URL scheme: {url.split(':', 1)[0]}")


class Broker:
    """A taskiq broker whose tasks call the runtime's installed task functions with this runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.taskiq = _make_taskiq_broker(settings.broker_url, settings.queue_name)
        self.is_memory = isinstance(self.taskiq, InMemoryBroker)
        # The jobs this process is running (their tasks): a stopping worker waits for them, and cancels
        # what outlives TGO_WORKER_STOP_SECONDS before the clients they use are closed.
        self.running: set[asyncio.Task[Any]] = set()
        for name, fn in runtime.registry.tasks.items():
            self.taskiq.register_task(self._bind(name, fn), task_name=name)
        self._started = False

    def _bind(self, name: str, fn: Any) -> Any:
        runtime = self.runtime
        running = self.running

        async def run(payload: dict[str, Any], context: Context = TaskiqDepends()) -> None:
            # The request that published the job (its label) is this job's correlation id too.
            labels = context.message.labels
            bound = {"request_id": labels[REQUEST_ID_LABEL]} if labels.get(REQUEST_ID_LABEL) else {}
            task = asyncio.current_task()
            if task is not None:
                running.add(task)
            with structlog.contextvars.bound_contextvars(**bound):
                try:
                    await fn(runtime, payload)
                except Exception:
                    # The database is the truth: a failed job leaves its row for the sweeper to retry.
                    log.exception("task_failed", task=name, payload=payload)
                finally:
                    if task is not None:
                        running.discard(task)

        run.__name__ = name.replace(".", "_")
        return run

    async def start(self) -> None:
        if not self._started:
            try:
                await self.taskiq.startup()
            except BaseException:
                # A start that failed part-way (connected, then its channel or a declaration failed or ran
                # out of the caller's time) keeps what it opened: close it, or that connection lives on
                # unowned (reconnecting) — ``stop`` only shuts down a started broker — and the next start
                # opens another.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_CLOSE_AFTER_FAILED_START_SECONDS):
                        await self.taskiq.shutdown()
                raise
            self._started = True

    async def stop(self) -> None:
        if self._started:
            await self.taskiq.shutdown()
            self._started = False

    async def check(self, within_seconds: float) -> dict[str, str]:
        """The broker's state for /readyz: ``{"broker": "ok"}`` or ``"unavailable"`` with the error's name
        (a connection is opened if there is none yet; at most ``within_seconds``)."""
        if self.is_memory:
            return {"broker": "ok"}
        try:
            async with asyncio.timeout(within_seconds):
                await self.start()
                await self._ping()
        except Exception as exc:  # readiness reports, it never raises
            return {"broker": "unavailable", "broker_error": type(exc).__name__}
        return {"broker": "ok"}

    async def _ping(self) -> None:
        connection = getattr(self.taskiq, "write_conn", None)
        if connection is not None:  # RabbitMQ: the robust connection says whether it is up right now
            if connection.is_closed or not connection.connected.is_set():
                raise ConnectionError("not connected to RabbitMQ")
            return
        pool = getattr(self.taskiq, "connection_pool", None)
        if pool is not None:  # Redis
            from redis.asyncio import Redis

            await Redis(connection_pool=pool).ping()

    async def publish(self, name: str, payload: dict[str, Any]) -> None:
        """Hand the job to the broker, or raise (``TimeoutError`` after TGO_PUBLISH_TIMEOUT_SECONDS: a broker
        that blocks publishers, a channel that never confirms). Callers have committed the job's row first,
        so a job that does not go now is re-published by a sweeper."""
        task = self.taskiq.find_task(name)
        if task is None:
            raise LookupError(f"unknown task {name}")
        kicker = task.kicker()
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            kicker = kicker.with_labels(**{REQUEST_ID_LABEL: str(request_id)})
        async with asyncio.timeout(self.runtime.settings.publish_timeout_seconds):
            await self.start()
            await kicker.kiq(payload)

    async def consume(self, finish: asyncio.Event) -> None:
        """Receive and run jobs until ``finish`` is set (worker processes; not needed for memory), then take
        nothing more, let the jobs in hand finish and be acknowledged (at most TGO_WORKER_STOP_SECONDS) and
        return: taskiq's own graceful stop (``Receiver.listen``'s finish event, as ``taskiq worker`` does on
        SIGTERM). If the receiver ever stops or fails before that (a broker restart it did not ride out),
        it is started again on a fresh connection: a worker that no longer consumes would otherwise look
        alive and do nothing."""
        # taskiq brokers open their consuming side only in a worker process.
        self.taskiq.is_worker_process = True
        pause = 1.0
        while not finish.is_set():
            started = asyncio.get_running_loop().time()
            try:
                # Reconnecting is bounded: a connection attempt that a wedged broker never answers is
                # abandoned and tried again after the back-off, instead of waiting forever.
                async with asyncio.timeout(self.runtime.settings.publish_timeout_seconds * 2):
                    await self.stop()
                    await self.start()
                receiver = Receiver(
                    self.taskiq,
                    max_async_tasks=MAX_ASYNC_TASKS,
                    max_prefetch=0,
                    run_startup=False,
                    ack_type=AcknowledgeType.WHEN_EXECUTED,
                    wait_tasks_timeout=self.runtime.settings.worker_stop_seconds,
                )
                await receiver.listen(finish)
                if finish.is_set():
                    return
                log.error("consumer_stopped")
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is None or current.cancelling():
                    raise  # the worker is shutting down
                # taskiq ends a receiver whose message stream closed (the queue iterator of a channel that
                # did not come back) by raising CancelledError itself: start a new one.
                log.error("consumer_stopped")
            except Exception:
                log.exception("consumer_failed")
            _raise_if_cancelling()  # a cancellation a library swallowed still stops the loop
            if asyncio.get_running_loop().time() - started > 60:
                pause = 1.0  # it had been consuming: a new outage starts with a short pause again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finish.wait(), pause)  # a stop during the pause ends it
            pause = min(pause * 2, 30.0)

    async def abandon_running(self, within_seconds: float) -> None:
        """Cancel the jobs still running (they outlived the stop's wait) and wait at most ``within_seconds``
        for them to end; their claims expire and the sweeper delivers them."""
        if self.running:
            log.error("jobs_abandoned_at_stop", count=len(self.running))
            await stop_tasks(list(self.running), within_seconds, what="jobs")


def _raise_if_cancelling() -> None:
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        raise asyncio.CancelledError


def build_broker(runtime: Runtime) -> Broker:
    """The runtime's broker (``runtime.broker`` builds it on first use; stopped with the runtime)."""
    broker = Broker(runtime)
    runtime.on_shutdown(broker.stop)
    return broker


def _interval(runtime: Runtime, job: Periodic) -> float:
    if isinstance(job.every, str):
        return float(getattr(runtime.settings, job.every))
    return float(job.every)


async def _periodic_loop(runtime: Runtime, job: Periodic) -> None:
    interval = _interval(runtime, job)
    await asyncio.sleep(random.uniform(0, interval))  # spread processes apart
    while True:
        try:
            # A pass that hangs (a broker channel that never answers) must not stop the job for good.
            async with asyncio.timeout(PERIODIC_TIMEOUT_SECONDS):
                await job.fn(runtime)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or current.cancelling():
                raise  # the runtime is shutting down
            # A library cancelled one of its own operations (aio-pika does, on a closed channel): the
            # periodic job must survive that, or this process would never sweep again.
            log.error("periodic_cancelled", job=job.name)
        except Exception:
            log.exception("periodic_failed", job=job.name)
        _raise_if_cancelling()
        await asyncio.sleep(interval)


async def _finish_jobs(
    broker: Broker, consumers: list[asyncio.Task[None]], stop_seconds: float, grace: float
) -> None:
    """Wait, at most ``stop_seconds``, for the consumers (told to finish) to end: while they run jobs, for
    the jobs; once no job is running, ``grace`` seconds more for them to acknowledge and close their broker
    stream (which a broker that stopped answering never lets them do)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + stop_seconds
    while not all(c.done() for c in consumers):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        jobs = set(broker.running)
        if jobs:
            await asyncio.wait(jobs, timeout=remaining)
            continue
        await asyncio.wait(consumers, timeout=min(grace, remaining))
        if not broker.running:
            return  # no job in hand, and the consumer still closing: it is cancelled


def start_background(runtime: Runtime, *, consume: bool) -> None:
    """Run every periodic job (and, for a real broker, the consumer) as tasks owned by the runtime. They
    stop in the runtime's drain, before any client closes: the periodic jobs are cancelled, the consumer
    claims nothing more and finishes (and acknowledges) the jobs it holds."""
    settings = runtime.settings
    periodic = [
        asyncio.create_task(_periodic_loop(runtime, job), name=f"periodic:{job.name}")
        for job in runtime.registry.periodic.values()
    ]
    broker = runtime.broker.get()
    finish = asyncio.Event()
    consumers = []
    if consume and not broker.is_memory:
        consumers.append(asyncio.create_task(broker.consume(finish), name="consumer"))

    async def drain() -> None:
        finish.set()
        await stop_tasks(periodic, settings.shutdown_timeout_seconds, what="background")
        if consumers:
            log.info("worker_stopping", running=len(broker.running))
            await _finish_jobs(
                broker, consumers, settings.worker_stop_seconds, settings.shutdown_timeout_seconds
            )
            await broker.abandon_running(settings.shutdown_timeout_seconds / 2)
            await stop_tasks(consumers, settings.shutdown_timeout_seconds / 2, what="background")
            # Redis streams keep what this consumer read and never ran as its pending entries: hand them
            # back now (RabbitMQ returns a closed consumer's unacknowledged messages by itself).
            await bounded(hand_back_held(runtime), settings.shutdown_timeout_seconds, what="hand back")
            log.info("worker_stopped")

    runtime.on_drain(drain)


async def start_in_process_workers(runtime: Runtime) -> None:
    """Start-up hook: connect the broker and, unless workers run apart, work in this process too."""
    broker = runtime.broker.get()
    await broker.start()
    if runtime.settings.workers_in_process:
        start_background(runtime, consume=True)
