"""The operator CLI (SPEC section 10). Every command takes --json and then prints one JSON document."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tgo.config import ConfigError, get_settings
from tgo.errors import AppError
from tgo.i18n import translate
from tgo.observability import configure_logging
from tgo.runtime import Runtime
from tgo.wiring import build_runtime

T = TypeVar("T")

app = typer.Typer(help="TGO Business operator CLI.", no_args_is_help=True, add_completion=False)
tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
out = Console()
err = Console(stderr=True)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False) + "\n")
    elif human is not None:
        human(data)
    else:
        out.print_json(json.dumps(data, default=_default, ensure_ascii=False))


def fail(message: str, as_json: bool, code: str = "error", status: int = 1) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": {"message": message, "code": code}}, ensure_ascii=False) + "\n")
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(status)


def run(as_json: bool, fn: Callable[[Runtime], Awaitable[T]]) -> T:
    """Build the runtime, run one async operation, translate domain errors to a clear exit."""

    async def main() -> T:
        settings = get_settings()
        # Log lines go to stderr, as in every process: stdout carries the command's one document.
        configure_logging(settings.log_level, settings.log_json)
        runtime = build_runtime(settings)
        try:
            return await fn(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except AppError as exc:
        body = exc.body("en")
        detail = body.get("errors")
        message = body["message"] + (f" {json.dumps(detail, ensure_ascii=False)}" if detail else "")
        fail(message, as_json, exc.code)
    except ConfigError as exc:
        fail(str(exc), as_json, "config_error")
    raise AssertionError("unreachable")


@app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Create or upgrade the schema; says which revisions it applied."""
    from tgo.migrate import upgrade

    settings = get_settings()
    try:
        settings.secret()
        result = upgrade(settings.resolved_database_url)
    except ConfigError as exc:
        fail(str(exc), as_json, "config_error")
    except Exception as exc:
        fail(f"migration failed: {exc}", as_json, "migration_failed")
    database = _safe_url(settings.resolved_database_url)

    def human(d: dict[str, Any]) -> None:
        if not d["applied"]:
            out.print(f"Database already up to date at {d['revision']} ({database}).")
            return
        out.print(f"Applied {len(d['applied'])} revision(s) to {database}:")
        for rev in d["applied"]:
            out.print(f"  {rev['revision']}  {rev['description']}")
        out.print(f"Database is now at {d['revision']}.")

    emit(
        {
            "status": "ok",
            "database": database,
            "revision": result.head,
            "applied": [{"revision": r.revision, "description": r.description} for r in result.applied],
        },
        as_json,
        human,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """API + dashboard + Connect (+ delivery workers with the in-memory broker) in one process."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from tgo.http_guard import GuardedHttpToolsProtocol
    from tgo.metrics import MULTIPROC_ENV
    from tgo.observability import configure_logging, stdlib_log_config

    settings = get_settings()
    try:
        settings.secret()
    except ConfigError as exc:
        fail(str(exc), as_json, "config_error")
    configure_logging(settings.log_level, settings.log_json)
    metrics_dir = None
    if workers > 1:
        # prometheus-client's multiprocess mode: every child writes its metrics under this (fresh, private)
        # directory and a scrape of any child reports the sum of all of them.
        metrics_dir = tempfile.mkdtemp(prefix="tgo-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    if as_json:
        emit({"status": "serving", "url": f"http://{host}:{port}"}, True)
    try:
        uvicorn.run(
            "tgo.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http=GuardedHttpToolsProtocol,
            access_log=False,
            log_level=settings.log_level.lower(),
            log_config=stdlib_log_config(settings.log_level, settings.log_json),
            timeout_keep_alive=int(settings.http_keep_alive_seconds),
            # In-flight requests get this long after SIGTERM; then the process exits (the rows are committed or not).
            timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout_seconds)),
            # A child still importing on a busy host must not be killed for it (uvicorn's default is 5 s).
            timeout_worker_healthcheck=settings.serve_start_timeout_seconds,
        )
    finally:
        if metrics_dir is not None:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /metrics (default TGO_WORKER_METRICS_PORT; 0: off).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delivery workers only (scaled-out mode): consume jobs from TGO_BROKER_URL and run periodic sweeps."""
    import signal

    from tgo.kit.heap import freeze_startup_heap
    from tgo.observability import announce, configure_logging
    from tgo.worker.broker import start_background
    from tgo.worker.metrics_server import serve_metrics

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    if port:
        serve_metrics(settings.worker_metrics_host, port)

    async def op(rt: Runtime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        broker = rt.broker.get()
        try:
            # Fail nothing on a broker that is down or wedged at start: the consumer keeps retrying with
            # back-off (and a bad URL still says so, in the log, on every try).
            async with asyncio.timeout(rt.settings.publish_timeout_seconds):
                await broker.start()
        except Exception as exc:
            announce("broker not reachable yet; the worker keeps retrying", error=type(exc).__name__)
        start_background(rt, consume=True)
        freeze_startup_heap()
        if as_json:
            emit({"status": "working", "broker": rt.settings.broker_url.split("@")[-1]}, True)
        announce("worker started", broker=rt.settings.broker_url.split("@")[-1])
        await stop.wait()

    run(as_json, op)


@app.command()
def demo(
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Where the server will be reached (default http://demo.localhost:8000).", show_default=False
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A ready demo tenant, API key and dashboard login; prints them (idempotent)."""
    from tgo.channels.connect_types import ConnectError
    from tgo.demo import DEMO_BASE_URL, ensure_demo

    try:
        result = run(as_json, lambda rt: ensure_demo(rt, base_url))
    except ConnectError as exc:  # the demo's Connect accounts: nothing of the demo is written then
        fail(f"TGO Connect is unavailable: {exc}", as_json, "connect_unavailable")

    def human(d: dict[str, Any]) -> None:
        out.print("[bold]TGO Business demo[/bold]")
        out.print(f"  tenant domain : {d['tenant']['domain']}")
        out.print(f"  API key (*)   : {d['api_key']}")
        out.print(f"  API docs      : {d['api_docs']}")
        out.print(f"  dashboard     : {d['dashboard']['url']}")
        out.print(f"  login         : {d['dashboard']['email']} / {d['dashboard']['password']}")
        for line in d.get("notes", []):
            out.print(f"  {line}")
        for acc in d.get("connect_accounts", []):
            state = "verified" if acc["account_verified"] else "NOT verified"
            out.print(f"  Connect account {acc['phone']} ({acc['language']}, {state}): {acc['role']}")
            out.print(f"    inbox key {acc['inbox_key']}  (opens its inbox in the dashboard's Connect page)")
        api = (base_url or DEMO_BASE_URL).rstrip("/")
        out.print(f'\n  try: curl -H "X-Api-Key: {d["api_key"]}" {api}/api/v1/me')

    emit(result, as_json, human)


@tenant_app.command("create")
def tenant_create(
    slug: str,
    domain: Annotated[str, typer.Option(help="The domain the API is called on.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant."""
    from tgo.tenants.service import create_tenant

    async def op(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session_scope() as session:
            t = await create_tenant(session, slug=slug, domain=domain, name=name)
            return {"id": t.id, "slug": t.slug, "name": t.name, "domain": t.domain}

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(f"Tenant {d['slug']} ({d['domain']}) created, id {d['id']}."),
    )


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    scopes: Annotated[str, typer.Option(help='Comma-separated, e.g. "messages.send,messages.read" or "*".')],
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "cli",
    expires_at: Annotated[datetime | None, typer.Option(help="Optional expiry (ISO 8601, UTC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the key is printed once and never again."""
    from tgo.apikeys.service import create_api_key
    from tgo.kit.clock import ensure_utc
    from tgo.tenants.service import get_tenant_by_slug

    async def op(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session_scope() as session:
            t = await get_tenant_by_slug(session, tenant)
            row, plain = await create_api_key(
                session,
                t.id,
                name=name,
                scopes=scopes,
                expires_at=ensure_utc(expires_at) if expires_at else None,
            )
            return {
                "id": row.id,
                "key": plain,
                "name": row.name,
                "scopes": row.scopes,
                "tenant": t.slug,
                "expires_at": row.expires_at,
            }

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(
            f"API key {d['id']} ({', '.join(d['scopes'])}): {d['key']}\nIt will not be shown again."
        ),
    )


@apikey_app.command("revoke")
def apikey_revoke(key_id: int, as_json: JsonOpt = False) -> None:
    """Revoke a key at once, on every server process."""
    from tgo.apikeys.service import revoke_api_key

    async def op(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session_scope() as session:
            row = await revoke_api_key(session, None, key_id)
            return {"id": row.id, "revoked_at": row.revoked_at}

    emit(run(as_json, op), as_json, lambda d: out.print(f"API key {d['id']} revoked."))


@apikey_app.command("list")
def apikey_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")], as_json: JsonOpt = False) -> None:
    """List a tenant's keys (never the keys themselves)."""
    from tgo.apikeys.service import list_api_keys
    from tgo.tenants.service import get_tenant_by_slug

    async def op(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.db.session_scope() as session:
            t = await get_tenant_by_slug(session, tenant)
            return [
                {
                    "id": k.id,
                    "name": k.name,
                    "hint": k.key_hint + "…",
                    "scopes": k.scopes,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "expires_at": k.expires_at,
                    "revoked_at": k.revoked_at,
                }
                for k in await list_api_keys(session, t.id)
            ]

    def human(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "key", "scopes", "created", "last used", "expires", "revoked")
        for r in rows:
            table.add_row(
                *(
                    str(_default(r[c]) if r[c] is not None else "-")
                    for c in (
                        "id",
                        "name",
                        "hint",
                        "scopes",
                        "created_at",
                        "last_used_at",
                        "expires_at",
                        "revoked_at",
                    )
                )
            )
        out.print(table)

    emit(run(as_json, op), as_json, human)


@user_app.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    password: Annotated[str, typer.Option(help="At least 8 characters.")],
    lang: Annotated[
        str | None, typer.Option(help="en or ar; left out, the user's first login page's language.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a dashboard login."""
    from tgo.tenants.service import get_tenant_by_slug
    from tgo.users.service import create_user

    async def op(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session_scope() as session:
            t = await get_tenant_by_slug(session, tenant)
            u = await create_user(session, t.id, email=email, password=password, language=lang)
            return {"id": u.id, "email": u.email, "tenant": t.slug, "language": u.language}

    emit(run(as_json, op), as_json, lambda d: out.print(f"User {d['email']} created for {d['tenant']}."))


sender_app = typer.Typer(help="Sender numbers (operator actions).", no_args_is_help=True)
app.add_typer(sender_app, name="sender")


def _sender_action(number_id: int, action: str, as_json: bool) -> None:
    from tgo.senders.service import describe, operator_action

    async def op(rt: Runtime) -> dict[str, Any]:
        async with rt.db.session_scope() as session:
            return describe(await operator_action(session, number_id, action))

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(f"Sender number {d['id']} ({d['phone']}) is {d['status']}."),
    )


@sender_app.command("reject")
def sender_reject(number_id: int, as_json: JsonOpt = False) -> None:
    """Reject a sender number: it can never send."""
    _sender_action(number_id, "reject", as_json)


@sender_app.command("suspend")
def sender_suspend(number_id: int, as_json: JsonOpt = False) -> None:
    """Suspend a sender number until unsuspended."""
    _sender_action(number_id, "suspend", as_json)


@sender_app.command("unsuspend")
def sender_unsuspend(number_id: int, as_json: JsonOpt = False) -> None:
    """Lift a suspension (back to the status its verification allows)."""
    _sender_action(number_id, "unsuspend", as_json)


# Parts with their own command modules (imported here, last: they use the helpers above).
from tgo.connect_network.cli import connect_app  # noqa: E402

app.add_typer(connect_app, name="connect")

from tgo.reachability.cli import reachability_app  # noqa: E402

app.add_typer(reachability_app, name="reachability")

from tgo.sms.cli import sms_sandbox_app, sms_sender_app  # noqa: E402

app.add_typer(sms_sender_app, name="sms-sender")
app.add_typer(sms_sandbox_app, name="sms-sandbox")


def main() -> None:
    app()


__all__ = ["app", "main", "translate"]
