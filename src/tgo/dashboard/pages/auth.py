"""Log in, log out, language switch, and the dashboard's front door."""

from __future__ import annotations

import math
from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.auth.api_key import request_host
from tgo.dashboard.accounts import language_at_login, set_language
from tgo.dashboard.web import Web, nav_items, safe_next, url
from tgo.i18n import LANGUAGES
from tgo.users.service import authenticate, end_sessions, tenant_of_host


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@get("/", name="dashboard:home")
async def home(web: Web) -> Response[Any]:
    if web.user is None:
        return web.redirect(url("/login"))
    items = nav_items(web.request)
    return web.redirect(url(items[0].path) if items else url("/api-keys"))


@get("/login", name="dashboard:login")
async def login_page(web: Web, next_: str | None = Parameter(query="next", default=None)) -> Response[Any]:
    if web.user is not None:
        return web.redirect(safe_next(next_))
    return web.render("login.html", next=safe_next(next_), email="", error=None)


@post("/login", name="dashboard:login-submit")
async def login_submit(web: Web) -> Response[Any]:
    form = await web.request.form()
    email = _field(form, "email").lower()
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    target = safe_next(_field(form, "next"))
    client = web.request.client.host if web.request.client else "unknown"
    throttle = web.dash.throttle

    tenant_id = await tenant_of_host(web.db, request_host(web.request))
    # Counted before the password is checked, so parallel guesses cannot all be checked.
    attempt = await throttle.attempt(email, tenant_id, client)
    if attempt.retry_after is not None:
        error = web.t("dash.login.throttled", minutes=max(1, math.ceil(attempt.retry_after / 60)))
        response = web.render("login.html", status_code=429, next=target, email=email, error=error)
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response

    user = await authenticate(web.db, email, password, tenant_id)
    if user is None:
        error = web.t("dash.login.invalid")
        return web.render("login.html", status_code=401, next=target, email=email, error=error)

    await throttle.succeeded(attempt)
    # The login page's language: picked there on purpose, or the browser's (kept for a user who never chose).
    await language_at_login(web.db, user, web.lang, chosen=bool(web.session.language))
    web.session.log_in(user.id, user.tenant_id, user.session_version)
    return web.redirect(target)


@post("/logout", name="dashboard:logout")
async def logout(web: Web) -> Response[Any]:
    lang = web.lang
    if web.user is not None:
        # Server-side: this cookie, any copy of it and the user's other sessions stop working.
        await end_sessions(web.db, web.user)
    web.session.log_out()
    web.session.language = lang
    web.flash("info", "dash.logged_out")
    return web.redirect(url("/login"))


@post("/language", name="dashboard:language")
async def switch_language(web: Web) -> Response[Any]:
    form = await web.request.form()
    lang = _field(form, "lang")
    if lang in LANGUAGES:
        if web.user is not None and web.viewer is not None:
            await set_language(web.db, web.user, lang)
            web.viewer.language = lang
        web.session.language = lang
        web.session.changed = True
    return web.redirect(safe_next(_field(form, "next")))


HANDLERS = [home, login_page, login_submit, logout, switch_language]
