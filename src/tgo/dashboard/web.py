"""The request side of the dashboard: sessions, the signed-in user, CSRF, rendering, redirects."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.config import Settings
from tgo.dashboard.accounts import load_signed_in, valid_time_zone
from tgo.dashboard.sessions import (
    COOKIE_NAME,
    COOKIE_PATH,
    MAX_AGE_SECONDS,
    DashboardSession,
    SessionCodec,
)
from tgo.dashboard.throttle import LoginThrottle
from tgo.errors import AppError
from tgo.i18n import LANGUAGES, negotiate, translate
from tgo.models import User
from tgo.runtime import Runtime

PREFIX = "/dashboard"
TEMPLATES = Path(__file__).parent / "templates"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
TZ_COOKIE = "tgo_tz"  # the browser's IANA time zone, set by app.js (not secret, not trusted beyond a name)


class LoginRequired(Exception):
    """No valid dashboard session: the browser is sent to the login page."""


class CsrfRefused(Exception):
    """A state-changing request came without the session's CSRF token."""


@dataclass(frozen=True)
class NavItem:
    path: str
    label_key: str
    order: int = 50


def nav_items(request: Request[Any, Any, Any]) -> list[NavItem]:
    """The navigation the runtime's parts contribute (``Part.nav``), in order."""
    runtime: Runtime = request.app.state.runtime
    return runtime.registry.nav


@dataclass
class Dashboard:
    """Process-wide parts of the dashboard, built once with the app."""

    settings: Settings
    codec: SessionCodec
    throttle: LoginThrottle
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            dt=format_datetime,
            phone=format_phone,
            num=format_number,
            ltr=format_ltr,
            user_text=format_user_text,
            bidi=isolate_phones,
            url=format_url,
        )
        self.env.globals.update(url=url, static=static_url)

    @classmethod
    def build(cls, settings: Settings) -> Dashboard:
        return cls(settings, SessionCodec(settings.secret()), LoginThrottle.from_settings(settings))


def url(path: str = "") -> str:
    return PREFIX + path


def static_url(path: str) -> str:
    return f"{PREFIX}/static/{path}"


@pass_context
def format_datetime(context: Context, value: datetime | None, empty: str = "—") -> Markup:
    """A time in the viewer's zone (the page's ``tz``; UTC without one), always left-to-right (it stays
    readable on Arabic pages); the UTC time is in its ``datetime`` and its tooltip."""
    if value is None:
        return escape(empty)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC)
    zone = context.get("tz") or UTC
    local = utc.astimezone(zone)
    iso = utc.isoformat().replace("+00:00", "Z")
    name = "UTC" if zone is UTC else local.tzname() or str(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S ") + name
    return Markup('<time datetime="{}" dir="ltr" title="{}">{}</time>').format(
        iso, utc.strftime("%Y-%m-%d %H:%M:%S UTC"), text
    )


def format_phone(value: str | None) -> Markup:
    if not value:
        return Markup("—")
    return Markup('<bdi dir="ltr" class="phone">{}</bdi>').format(value)


def format_number(value: Any) -> Markup:
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def format_ltr(value: Any) -> Markup:
    """An id, code or other machine text: one isolated left-to-right run on any page."""
    if value is None or value == "":
        return Markup("—")
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def format_user_text(value: Any) -> Markup:
    """Text someone wrote (a name, a description): isolated, its direction taken from its own letters."""
    return Markup('<bdi dir="auto">{}</bdi>').format(value)


URL_BREAK = re.compile(r"(?<=[/?&=#])")


def format_url(value: Any) -> Markup:
    """A URL left-to-right, allowed to wrap after a slash or query separator (not mid-host)."""
    text = str(value or "")
    broken = Markup("<wbr>").join(URL_BREAK.split(text))  # join escapes each piece
    return Markup('<code dir="ltr" class="url" title="{}">{}</code>').format(text, broken)


PHONE_IN_TEXT = re.compile(r"\+\d{6,15}")


def isolate_phones(value: Any) -> Markup:
    """A text (e.g. a translated hint) with each phone number in it made an isolated LTR run."""
    text = str(value)
    pieces: list[Markup | str] = []
    last = 0
    for found in PHONE_IN_TEXT.finditer(text):
        pieces += [text[last : found.start()], format_phone(found.group(0))]
        last = found.end()
    pieces.append(text[last:])
    return Markup("").join(pieces)  # join escapes the plain pieces


@dataclass
class Viewer:
    """The signed-in user as plain values (still usable after the transaction is rolled back)."""

    user_id: int
    email: str
    language: str
    tenant_id: int
    tenant_name: str
    time_zone: str | None = None


@dataclass
class Web:
    """One dashboard request: its session, language, the signed-in user (if any), and responses."""

    request: Request[Any, Any, Any]
    dash: Dashboard
    session: DashboardSession
    db_session: AsyncSession | None = None
    user: User | None = None
    viewer: Viewer | None = None

    @property
    def db(self) -> AsyncSession:
        if self.db_session is None:  # only error pages are rendered without the request transaction
            raise RuntimeError("no database session on this request")
        return self.db_session

    @property
    def lang(self) -> str:
        if self.viewer is not None and self.viewer.language in LANGUAGES:
            return self.viewer.language
        if self.session.language:
            return self.session.language
        return negotiate(self.request.headers.get("accept-language"))

    @property
    def tenant_id(self) -> int:
        if self.viewer is None:
            raise LoginRequired()
        return self.viewer.tenant_id

    async def discard_failed(self, exc: BaseException) -> None:
        """A service error shown on the page: undo its writes (and their after-commit work) unless the
        error asks for them to be kept (e.g. a counted wrong OTP), as the API's transaction does."""
        if getattr(exc, "persist", False):
            return
        self.db.info.pop("after_commit", None)
        await self.db.rollback()

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, **params)

    @property
    def time_zone(self) -> str | None:
        """The zone times are shown in: the profile's, else the browser's (a cookie app.js sets)."""
        if self.viewer is not None and self.viewer.time_zone:
            return self.viewer.time_zone
        browser = self.request.cookies.get(TZ_COOKIE)
        return browser if browser and valid_time_zone(browser) else None

    def tz(self) -> tzinfo:
        return ZoneInfo(self.time_zone) if self.time_zone else UTC

    def tm(self, key: str, **params: Any) -> Markup:
        """A translated text as HTML: the text escaped, its parameters inserted as given (so a phone
        number or a user's name keeps its isolating markup; plain strings are escaped)."""
        return escape(translate(key, self.lang)).format(**params)

    def flash(self, kind: str, key: str, **params: Any) -> None:
        self.session.flash(kind, self.t(key, **params))

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response[Any]:
        lang = self.lang
        html = self.dash.env.get_template(template).render(
            t=self.t,
            tm=self.tm,
            tz=self.tz(),
            lang=lang,
            dir="rtl" if lang == "ar" else "ltr",
            viewer=self.viewer,
            csrf_token=self.session.csrf,
            csrf_field=CSRF_FIELD,
            nav=nav_items(self.request) if self.viewer is not None else [],
            current_path=self.request.url.path,
            current_url=self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            flashes=self.session.pop_flashes(),
            **context,
        )
        response: Response[Any] = Response(
            content=html,
            status_code=status_code,
            media_type="text/html; charset=utf-8",
            headers=SECURITY_HEADERS,
        )
        return self.finish(response)

    def redirect(self, path: str) -> Response[Any]:
        return self.finish(Redirect(path=path, status_code=303))

    def finish(self, response: Response[Any]) -> Response[Any]:
        return write_session(self.request, self.dash, self.session, response)


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}


def write_session(
    request: Request[Any, Any, Any], dash: Dashboard, session: DashboardSession, response: Response[Any]
) -> Response[Any]:
    if session.changed:
        response.set_cookie(
            key=COOKIE_NAME,
            value=dash.codec.dump(session),
            max_age=MAX_AGE_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        session.changed = False
    return response


def error_messages(web: Web, exc: AppError) -> list[str]:
    """A service error as lines for a form: its message, then each field's problem (in the page's
    language where the dashboard has a text for that field, ``dash.field.<name>``)."""
    body = exc.body(web.lang)
    messages = [str(body["message"])]
    for field_name, problems in (body.get("errors") or {}).items():
        key = f"dash.field.{field_name}"
        text = web.t(key)
        if text != key:
            messages.append(text)
        else:
            messages.extend(str(p) for p in problems)
    return messages


class FormErrors(dict[str, str]):
    """A form's problems: each field's shown beside it (keyed by the form field's name, see
    ``_forms.html``), and ``general`` lines about the form as a whole (shown above it)."""

    def __init__(self) -> None:
        super().__init__()
        self.general: list[str] = []

    def __bool__(self) -> bool:
        return bool(len(self)) or bool(self.general)

    def add(self, name: str | None, text: str) -> FormErrors:
        if name is None:
            self.general.append(text)
        else:
            self[name] = f"{self[name]} {text}" if name in self else text
        return self

    def merge(self, other: FormErrors) -> FormErrors:
        for name, text in other.items():
            self.add(name, text)
        self.general.extend(other.general)
        return self

    def lines(self) -> list[str]:
        """Every problem as one line (the general ones first)."""
        return [*self.general, *self.values()]


def form_errors(
    web: Web, exc: AppError, fields: dict[str, str] | None = None, whole: str | None = None
) -> FormErrors:
    """A service error for a form: each problem beside its field (``fields`` maps the service's field
    names to the form's; one with no field on the form is a general line); the error's own message
    ("The given data was invalid.") only when no field explains it, beside the ``whole`` field if given."""
    body = exc.body(web.lang)
    found = FormErrors()
    for field_name, problems in (body.get("errors") or {}).items():
        key = f"dash.field.{field_name}"
        text = web.t(key)
        text = text if text != key else " ".join(str(p) for p in problems)
        found.add((fields or {}).get(field_name), text)
    if not found:
        found.add(whole, str(body["message"]))
    return found


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard is a valid place to go back to (no open redirect)."""
    if not target:
        return url("/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or target.startswith("//"):
        return url("/")
    return target


def session_of(connection: ASGIConnection[Any, Any, Any, Any], dash: Dashboard) -> DashboardSession:
    """The request's session (decoded once per request and kept in its state)."""
    state = connection.state
    existing = state.get("dashboard_session")
    if isinstance(existing, DashboardSession):
        return existing
    session = dash.codec.load(connection.cookies.get(COOKIE_NAME))
    state["dashboard_session"] = session
    return session


def make_provide_web(dash: Dashboard) -> Any:
    async def provide_web(request: Request[Any, Any, Any], db_session: AsyncSession) -> Web:
        session = session_of(request, dash)
        web = Web(request=request, dash=dash, session=session, db_session=db_session)
        if session.user_id is not None and session.tenant_id is not None:
            found = await load_signed_in(db_session, session.user_id, session.tenant_id)
            # The user row is loaded anyway: a session older than the user's last logout or password
            # change (a copied cookie) is refused here.
            if found is not None and found[0].session_version == session.session_version:
                user, tenant = found
                web.user = user
                web.viewer = Viewer(
                    user.id, user.email, user.language, tenant.id, tenant.name, user.time_zone
                )
            else:
                session.log_out()
        request.state["dashboard_web"] = web  # for the error pages
        return web

    return provide_web


async def provide_signed_in(web: Web) -> Web:
    if web.user is None or web.viewer is None:
        raise LoginRequired()
    return web


def make_csrf_guard(dash: Dashboard) -> Any:
    async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        """Refuse a state-changing request unless it carries the session's token (form field or header)."""
        if connection.scope.get("method", "GET") not in UNSAFE_METHODS:
            return
        session = session_of(connection, dash)
        presented = connection.headers.get(CSRF_HEADER)
        if not presented and isinstance(connection, Request):
            form = await connection.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
        if not presented or not hmac.compare_digest(presented.encode(), session.csrf.encode()):
            raise CsrfRefused()

    return csrf_guard
