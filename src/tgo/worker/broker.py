"""The broker named by TGO_BROKER_URL (memory, RabbitMQ, Redis streams), with every task installed in a
runtime bound to it, and the loops that run periodic jobs."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.acks import AcknowledgeType
from taskiq.api.receiver import run_receiver_task

from tgo.kit.tasks import stop_tasks
from tgo.runtime import Runtime
from tgo.worker.registry import Periodic

log = structlog.get_logger("tgo.worker")

PERIODIC_TIMEOUT_SECONDS = 120.0
# The job label carrying the id of the request that published it (the correlation id of its log lines).
REQUEST_ID_LABEL = "request_id"


def _make_taskiq_broker(url: str, queue_name: str) -> AsyncBroker:
    if url.startswith("memory"):
        return InMemoryBroker(max_async_tasks=1000)
    if url.startswith(("amqp://", "amqps://")):
        from taskiq_aio_pika import AioPikaBroker
        from taskiq_aio_pika.exchange import Exchange
        from taskiq_aio_pika.queue import Queue

        return AioPikaBroker(
            url=url,
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
        for name, fn in runtime.registry.tasks.items():
            self.taskiq.register_task(self._bind(name, fn), task_name=name)
        self._started = False

    def _bind(self, name: str, fn: Any) -> Any:
        runtime = self.runtime

        async def run(payload: dict[str, Any], context: Context = TaskiqDepends()) -> None:
            # The request that published the job (its label) is this job's correlation id too.
            labels = context.message.labels
            bound = {"request_id": labels[REQUEST_ID_LABEL]} if labels.get(REQUEST_ID_LABEL) else {}
            with structlog.contextvars.bound_contextvars(**bound):
                try:
                    await fn(runtime, payload)
                except Exception:
                    # The database is the truth: a failed job leaves its row for the sweeper to retry.
                    log.exception("task_failed", task=name, payload=payload)

        run.__name__ = name.replace(".", "_")
        return run

    async def start(self) -> None:
        if not self._started:
            await self.taskiq.startup()
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

    async def consume(self) -> None:
        """Receive and run jobs until cancelled (worker processes; not needed for memory). If the receiver
        ever stops or fails (a broker restart it did not ride out), it is started again on a fresh
        connection: a worker that no longer consumes would otherwise look alive and do nothing."""
        # taskiq brokers open their consuming side only in a worker process.
        self.taskiq.is_worker_process = True
        pause = 1.0
        while True:
            started = asyncio.get_running_loop().time()
            try:
                # Reconnecting is bounded: a connection attempt that a wedged broker never answers is
                # abandoned and tried again after the back-off, instead of waiting forever.
                async with asyncio.timeout(self.runtime.settings.publish_timeout_seconds * 2):
                    await self.stop()
                    await self.start()
                await run_receiver_task(
                    self.taskiq,
                    max_async_tasks=200,
                    max_prefetch=0,
                    run_startup=False,
                    ack_time=AcknowledgeType.WHEN_EXECUTED,
                )
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
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)


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


def start_background(runtime: Runtime, *, consume: bool) -> None:
    """Run every periodic job (and, for a real broker, the consumer) as tasks owned by the runtime."""
    tasks = [
        asyncio.create_task(_periodic_loop(runtime, job), name=f"periodic:{job.name}")
        for job in runtime.registry.periodic.values()
    ]
    broker = runtime.broker.get()
    if consume and not broker.is_memory:
        tasks.append(asyncio.create_task(broker.consume(), name="consumer"))

    async def stop() -> None:
        await stop_tasks(tasks, runtime.settings.shutdown_timeout_seconds, what="background")

    runtime.on_shutdown(stop)


async def start_in_process_workers(runtime: Runtime) -> None:
    """Start-up hook: connect the broker and, unless workers run apart, work in this process too."""
    broker = runtime.broker.get()
    await broker.start()
    if runtime.settings.workers_in_process:
        start_background(runtime, consume=True)
