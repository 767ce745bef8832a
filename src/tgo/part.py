"""What each package contributes to a process, declared in one explicit object (``Part``) per package, and
the registries a runtime owns, which ``tgo.wiring`` fills from them. Importing a module registers nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession

    from tgo.dashboard.web import NavItem
    from tgo.models import Tenant
    from tgo.runtime import Runtime
    from tgo.worker.registry import Periodic, TaskFn

# fn(session, tenant_id, event_type, data): a domain-event listener (tgo.events).
Listener = Callable[["AsyncSession", int, str, dict[str, Any]], Awaitable[None]]
# fn(tenant_id) -> SQL condition, true when a listener may have work for the tenant's events (tgo.events).
Interest = Callable[[Any], "ColumnElement[bool]"]
# fn(session, tenant_id, event_type, data) for each item, at once: the batch form of a part's listeners
# (``tgo.events.emit_many`` runs it instead of calling them once per event).
BatchListener = Callable[["AsyncSession", Sequence[tuple[int, str, dict[str, Any]]]], Awaitable[None]]
# fn(session, runtime, data): a handler of one Connect event type (tgo.channels.connect_events).
ConnectHandler = Callable[["AsyncSession", "Runtime", dict[str, Any]], Awaitable[None]]
# fn(session, runtime, [data, ...]): a handler of consecutive Connect events of one type, given together (in
# the order they happened) so that it can apply them with set-based statements.
ConnectBatchHandler = Callable[["AsyncSession", "Runtime", Sequence[dict[str, Any]]], Awaitable[None]]
# fn(runtime): started by ``Runtime.start`` (background parts; may call ``runtime.on_shutdown``).
Hook = Callable[["Runtime"], Awaitable[None]]
# fn(runtime, session, tenant, server_url) -> dict merged into `tgo demo`'s answer (server_url: --base-url).
DemoStep = Callable[["Runtime", "AsyncSession", "Tenant", "str | None"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Part:
    """One package's contributions: jobs by name, periodic jobs, domain-event listeners and the interests
    they declare (``tgo.events``: when a listener may have work for a tenant) with their batch form, Connect
    event handlers (event type, handler) and batch handlers (event type → handler of a run of such events),
    start-up hooks, dashboard navigation entries and `tgo demo` steps."""

    name: str
    tasks: Mapping[str, TaskFn] = field(default_factory=dict)
    periodic: Sequence[Periodic] = ()
    listeners: Sequence[Listener] = ()
    interests: Sequence[Interest] = ()
    # When set, ``events.emit_many`` calls it once with every item instead of each of ``listeners`` per item.
    batch_listener: BatchListener | None = None
    connect_handlers: Sequence[tuple[str, ConnectHandler]] = ()
    connect_batch_handlers: Mapping[str, ConnectBatchHandler] = field(default_factory=dict)
    startup: Sequence[Hook] = ()
    nav: Sequence[NavItem] = ()
    demo_steps: Sequence[DemoStep] = ()


@dataclass
class Registry:
    """The contributions installed in one runtime (and so in its app, workers and CLI commands)."""

    parts: list[str] = field(default_factory=list)
    tasks: dict[str, TaskFn] = field(default_factory=dict)
    periodic: dict[str, Periodic] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    interests: list[Interest] = field(default_factory=list)
    # Per part that has listeners: its listeners and their batch form (None: called once per item).
    listener_sets: list[tuple[list[Listener], BatchListener | None]] = field(default_factory=list)
    connect_handlers: dict[str, list[ConnectHandler]] = field(default_factory=dict)
    connect_batch_handlers: dict[str, list[ConnectBatchHandler]] = field(default_factory=dict)
    startup: list[Hook] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)
    demo_steps: list[DemoStep] = field(default_factory=list)

    def install(self, part: Part) -> None:
        """Add ``part``'s contributions; a task or periodic job name may be contributed only once."""
        if part.name in self.parts:
            raise ValueError(f"part {part.name} installed twice")
        for name in part.tasks:
            if name in self.tasks:
                raise ValueError(f"task {name} contributed twice")
        for job in part.periodic:
            if job.name in self.periodic:
                raise ValueError(f"periodic job {job.name} contributed twice")
        self.parts.append(part.name)
        self.tasks.update(part.tasks)
        self.periodic.update((job.name, job) for job in part.periodic)
        self.listeners.extend(part.listeners)
        if part.batch_listener is not None and not part.listeners:
            raise ValueError(f"part {part.name} has a batch listener and no listeners")
        if part.listeners:
            self.listener_sets.append((list(part.listeners), part.batch_listener))
        self.interests.extend(part.interests)
        for event_type, handler in part.connect_handlers:
            self.connect_handlers.setdefault(event_type, []).append(handler)
        for event_type, batch_handler in part.connect_batch_handlers.items():
            self.connect_batch_handlers.setdefault(event_type, []).append(batch_handler)
        self.startup.extend(part.startup)
        self.nav.extend(part.nav)
        self.nav.sort(key=lambda item: item.order)
        self.demo_steps.extend(part.demo_steps)
