"""The dashboard: server-rendered pages (Jinja2 + HTMX) at /dashboard, in English and Arabic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from tgo.config import Settings
from tgo.dashboard.pages import (
    api_keys,
    auth,
    connect_inbox,
    inbox,
    messages,
    not_found,
    opt_outs,
    profile,
    send,
    senders,
    sms_messages,
    sms_senders,
    usage,
    webhooks,
)
from tgo.dashboard.web import (
    PREFIX,
    CsrfRefused,
    Dashboard,
    LoginRequired,
    Web,
    make_csrf_guard,
    make_provide_web,
    provide_signed_in,
    session_of,
    write_session,
)
from tgo.errors import AppError, exception_handler
from tgo.i18n import negotiate

STATIC = Path(__file__).parent / "static"
PAGES = [
    auth,
    senders,
    send,
    messages,
    sms_messages,
    usage,
    sms_senders,
    webhooks,
    api_keys,
    connect_inbox,
    inbox,
    opt_outs,
    profile,
]


class DashboardMount(NamedTuple):
    router: Router
    # The HTML 405 of a known page asked with a method it does not take. Routing raises that before the
    # router's own exception handlers can run, so the app's handler of MethodNotAllowedException calls it.
    method_not_allowed: Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def is_dashboard_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def create_dashboard(settings: Settings) -> DashboardMount:
    """The /dashboard router (its pages, static files, CSRF guard and HTML error pages) and its HTML 405."""
    dash = Dashboard.build(settings)
    provide_web = make_provide_web(dash)

    def web_for(request: Request[Any, Any, Any]) -> Web | None:
        web = request.state.get("dashboard_web")
        return web if isinstance(web, Web) else None

    def error_page(
        request: Request[Any, Any, Any],
        status: int,
        title_key: str,
        message: str | None,
        message_key: str | None = None,
    ) -> Response[Any]:
        web = web_for(request) or Web(request=request, dash=dash, session=session_of(request, dash))
        return web.render(
            "error.html",
            status_code=status,
            title=web.t(title_key),
            message=message if message is not None else web.t(message_key or "dash.error.title"),
        )

    def on_login_required(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        session = session_of(request, dash)
        target = request.url.path if request.method == "GET" else PREFIX + "/"
        response: Response[Any]
        if request.headers.get("hx-request"):
            # A background refresh (HTMX follows redirects invisibly): send the whole page to the login.
            response = Response(content=None, status_code=204, headers={"HX-Redirect": f"{PREFIX}/login"})
        else:
            response = Redirect(path=f"{PREFIX}/login?next={target}", status_code=303)
        return write_session(request, dash, session, response)

    def on_csrf(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return error_page(request, 403, "dash.csrf.title", None, "dash.csrf.body")

    def on_not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return error_page(request, 404, "dash.not_found.title", None, "dash.not_found")

    def on_app_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, AppError)
        web = web_for(request)
        lang = web.lang if web else negotiate(request.headers.get("accept-language"))
        title = "dash.not_found.title" if exc.status_code == 404 else "dash.error.title"
        return error_page(request, exc.status_code, title, exc.body(lang)["message"])

    def on_method_not_allowed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = error_page(request, 405, "dash.method_not_allowed.title", None, "dash.method_not_allowed")
        allow = getattr(exc, "headers", None) or {}
        allowed = allow.get("allow") or allow.get("Allow")
        if allowed:
            response.headers["Allow"] = allowed
        return response

    def on_other(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if isinstance(exc, NotFoundException):
            return on_not_found(request, exc)
        if isinstance(exc, MethodNotAllowedException):  # raised by a handler (the static files')
            return on_method_not_allowed(request, exc)
        response = exception_handler(request, exc)
        status = response.status_code or 500
        if web_for(request) is None or status < 500:
            return response
        return error_page(request, status, "dash.error.title", None, "internal_error")

    pages = Router(
        path="/",
        route_handlers=[page for module in PAGES for page in module.HANDLERS],
        guards=[make_csrf_guard(dash)],
    )
    static = create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False)
    # The 404 for any other path and method changes nothing, so it needs no CSRF token: a form posted
    # to a wrong address gets the page, not a "session expired" one.
    router = Router(
        path=PREFIX,
        route_handlers=[pages, static, *not_found.HANDLERS],
        dependencies={
            "web": Provide(provide_web),
            "me": Provide(provide_signed_in),
        },
        exception_handlers={
            LoginRequired: on_login_required,
            CsrfRefused: on_csrf,
            AppError: on_app_error,
            Exception: on_other,
        },
        include_in_schema=False,
    )
    return DashboardMount(router, on_method_not_allowed)


__all__ = ["DashboardMount", "create_dashboard", "is_dashboard_path"]
