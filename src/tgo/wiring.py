"""The composition root: ``build_runtime`` builds every process-wide part of a runtime and installs every
package's contributions (``PARTS``) in it. The app, the CLI, the workers and the tests build a runtime only
here; tests pass their fakes by keyword. Nothing is registered anywhere by importing a module."""

from __future__ import annotations

from collections.abc import Sequence

from tgo.auth.key_cache import KeyCache
from tgo.auth.rate_limit import ApiRateLimiter
from tgo.channels.connect import ConnectClient
from tgo.channels.sms_sandbox import SandboxVerifier
from tgo.channels.sms_types import SenderVerifier, SmsChannel
from tgo.config import Settings
from tgo.connect_network.contributions import PART as CONNECT
from tgo.connect_network.embedded import build_embedded_connect
from tgo.conversations.contributions import PART as CONVERSATIONS
from tgo.dashboard.contributions import PART as DASHBOARD
from tgo.db import Database
from tgo.kit.hosts import Resolver
from tgo.kit.lazy import Lazy
from tgo.kit.private_files import warn_if_shared
from tgo.kit.tasks import JobTracker
from tgo.media.storage import LocalStorage, MediaStorage
from tgo.messages.accept_batch import build_send_batcher
from tgo.messages.contributions import PART as MESSAGES
from tgo.messages.pacing import HeldBudget, SenderPacer
from tgo.notices import SESSION_INFO_KEY as NOTICES_INFO_KEY
from tgo.notices import build_notices
from tgo.optouts.cache import OptOutCache
from tgo.part import Part, Registry
from tgo.reachability.contributions import PART as REACHABILITY
from tgo.reachability.directory import ReachabilityDirectory
from tgo.runtime import SESSION_INFO_KEY, Runtime
from tgo.senders.connect_links import LinkReconciler
from tgo.senders.contributions import PART as SENDERS
from tgo.senders.send_cache import SenderCache
from tgo.sms.accept_batch import build_sms_batcher
from tgo.sms.contributions import PART as SMS
from tgo.sms.jobs import connect_channel, default_channel
from tgo.sms.rules import decide_verification
from tgo.sms.sender_cache import SmsSenderCache
from tgo.webhooks.contributions import PART as WEBHOOKS
from tgo.webhooks.jobs import webhook_client
from tgo.webhooks.transport import system_resolve
from tgo.worker.broker import build_broker
from tgo.worker.contributions import PART as WORKER

# Every package that contributes tasks, periodic jobs, listeners, Connect handlers, start-up hooks or
# dashboard navigation (start-up hooks run in this order).
PARTS: tuple[Part, ...] = (
    CONNECT,
    MESSAGES,
    SENDERS,
    SMS,
    WEBHOOKS,
    WORKER,
    DASHBOARD,
    REACHABILITY,
    CONVERSATIONS,
)


def build_runtime(
    settings: Settings,
    *,
    connect: ConnectClient | None = None,
    sms_channel: SmsChannel | None = None,
    sms_verifier: SenderVerifier | None = None,
    media_storage: MediaStorage | None = None,
    webhook_resolver: Resolver | None = None,
    parts: Sequence[Part] = PARTS,
) -> Runtime:
    """A runtime for ``settings`` with every part of ``parts`` installed. A part passed in (a test's fake)
    is used instead of the one the settings name; the caller owns its closing, except an SMS channel, which
    is bound to the runtime (its receipts are applied here) and closed with it."""
    settings.secret()  # fail early and clearly when the secret key is required but missing
    warn_if_shared(settings.data_dir)
    registry = Registry()
    for part in parts:
        registry.install(part)
    rt = Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url, pool_size=settings.database_pool_size),
        registry=registry,
    )
    # Code handed only a session (domain-event listeners) finds its runtime in the session's info.
    # ... and the change notices it publishes for the caches (tgo.notices).
    rt.notices = build_notices(settings.resolved_database_url, settings.redis_url)
    rt.on_shutdown(rt.notices.aclose)
    rt.db.sessionmaker.configure(info={SESSION_INFO_KEY: rt, NOTICES_INFO_KEY: rt.notices})
    rt.embedded_connect = Lazy(lambda: build_embedded_connect(rt))
    rt.connect = Lazy(lambda: connect or _connect_client(rt))
    rt.sms_channel = Lazy(lambda: connect_channel(rt, sms_channel or default_channel(rt)))
    rt.sms_verifier = sms_verifier or SandboxVerifier(decide_verification)
    rt.sms_jobs = JobTracker()
    rt.media_storage = Lazy(lambda: media_storage or LocalStorage(settings.resolved_media_dir))
    rt.broker = Lazy(lambda: build_broker(rt))
    rt.webhook_resolver = webhook_resolver or system_resolve
    rt.webhook_client = Lazy(lambda: webhook_client(rt))
    rt.sender_pacer = Lazy(lambda: SenderPacer(settings))
    rt.api_rate_limiter = Lazy(lambda: ApiRateLimiter.from_settings(settings))
    rt.send_batcher = Lazy(
        lambda: build_send_batcher(
            rt.db, window_ms=settings.send_batch_window_ms, max_batch=settings.send_batch_max
        )
    )
    rt.sms_batcher = Lazy(
        lambda: build_sms_batcher(
            rt.db, window_ms=settings.send_batch_window_ms, max_batch=settings.send_batch_max
        )
    )
    rt.sms_held = Lazy(lambda: HeldBudget(settings.delivery_max_held))
    rt.key_cache = Lazy(lambda: _key_cache(rt))
    ttl = rt.notices.cache_ttl(settings.cache_ttl_seconds)
    rt.sender_cache = Lazy(lambda: SenderCache(rt.notices, ttl))
    rt.sms_sender_cache = Lazy(lambda: SmsSenderCache(rt.notices, ttl))
    rt.optout_cache = Lazy(lambda: OptOutCache(rt.notices, ttl))
    rt.link_reconciler = Lazy(LinkReconciler)
    rt.reachability = Lazy(lambda: ReachabilityDirectory(rt.db, rt.notices, ttl))
    return rt


def _key_cache(rt: Runtime) -> KeyCache:
    cache = KeyCache(rt.db, rt.notices, rt.notices.cache_ttl(rt.settings.cache_ttl_seconds))
    rt.on_shutdown(cache.aclose)
    return cache


def _connect_client(rt: Runtime) -> ConnectClient:
    """Over HTTP to TGO_CONNECT_URL, else over an in-process transport to the embedded network."""
    settings = rt.settings
    if settings.connect_url:
        client = ConnectClient.over_http(
            settings.connect_url, settings.secret(), timeout=settings.connect_timeout_seconds
        )
    else:
        client = ConnectClient.over_asgi(
            rt.embedded_connect.get().app, settings.secret(), timeout=settings.connect_timeout_seconds
        )
    rt.on_shutdown(client.aclose)
    return client
