"""Connect's own browser inbox (``/connect/inbox/{phone}``), the reference network's "phone".

The phone's key is taken once in a posted form, as the dashboard's inbox does, and never in a URL; a
signed cookie of Connect's own (``inbox_grant``) then remembers the phones this browser opened. Every
page is sent with ``no-store``, no Referer, a strict CSP and no framing: it shows OTPs."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import jinja2
from litestar import Request, Response, get, post
from litestar.response import Redirect

from tgo.channels.connect_protocol import inbox_token_matches
from tgo.errors import AppError, NotFound
from tgo.i18n import negotiate, translate

from . import phone_messages, service
from .inbox_grant import COOKIE_NAME, COOKIE_PATH, MAX_AGE_SECONDS, InboxGrant, InboxGrantCodec
from .network import ConnectNetwork

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}"
    ".msg{border:1px solid #ddd;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}"
    ".unread{border-color:#2b6cb0;background:#f3f8ff}.meta{color:#555;font-size:.85rem}"
    ".content{white-space:pre-wrap;margin:.5rem 0;font-size:1.05rem}button{cursor:pointer}"
    ".error{color:#9b1c1c}label{display:block;margin:.75rem 0 .25rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_TEMPLATES = jinja2.Environment(
    autoescape=True,
    loader=jinja2.DictLoader(
        {
            "base": """<!doctype html>
<html lang="{{ lang }}" dir="{{ 'rtl' if lang == 'ar' else 'ltr' }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{% block title %}{{ t('connect.inbox.title') }}{% endblock %}</title>
<style>"""
            + _STYLE
            + """</style></head>
<body>
<h1>{{ t('connect.inbox.title') }}</h1>
{% block body %}{% endblock %}
</body></html>""",
            "form": """{% extends "base" %}
{% block body %}
<p class="meta"><bdi>{{ phone }}</bdi></p>
<p>{{ t('connect.inbox.key_intro') }}</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ base }}">
  <input type="hidden" name="_csrf" value="{{ csrf }}">
  <label for="inbox-key">{{ t('connect.inbox.key') }}</label>
  <input id="inbox-key" name="key" type="password" dir="ltr" required autocomplete="off" spellcheck="false">
  <button type="submit">{{ t('connect.inbox.open') }}</button>
</form>
{% endblock %}""",
            "inbox": """{% extends "base" %}
{% block title %}{{ t('connect.inbox.title') }} — {{ account.name }}{% endblock %}
{% block body %}
<p class="meta">{{ account.name }} · <bdi>{{ account.phone }}</bdi></p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% if sent %}<p class="meta" role="status">{{ t('connect.inbox.sent') }}</p>{% endif %}
{% if not messages %}<p>{{ t('connect.inbox.empty') }}</p>{% endif %}
{% for m in messages %}
<div class="msg {{ 'unread' if m.read_at is none else '' }}" data-message-id="{{ m.id }}">
  <div class="meta"><strong>{{ m.sender_name }}</strong> · <bdi>{{ m.sender_phone }}</bdi>
  · <time datetime="{{ iso(m.received_at) }}">{{ iso(m.received_at) }}</time></div>
  {% if m.content %}<div class="content">{{ m.content }}</div>{% endif %}
  {% if m.media %}<div class="content">[{{ m.type }}] {{ m.media.filename or m.media.content_type }}
  {% if m.caption %}— {{ m.caption }}{% endif %}</div>{% endif %}
  {% if m.read_at is none %}
  <form method="post" action="{{ base }}/read/{{ m.id }}">
    <input type="hidden" name="_csrf" value="{{ csrf }}">
    <button type="submit">{{ t('connect.inbox.mark_read') }}</button></form>
  {% else %}<div class="meta">{{ t('connect.inbox.read') }}</div>{% endif %}
  {% if m.type != 'system' %}
  <form method="post" action="{{ base }}/reply">
    <input type="hidden" name="_csrf" value="{{ csrf }}">
    <input type="hidden" name="to_phone" value="{{ m.sender_phone }}">
    <label for="reply-{{ m.id }}">{{ t('connect.inbox.reply') }}</label>
    <textarea id="reply-{{ m.id }}" name="content" rows="2" maxlength="4096" dir="auto" required></textarea>
    <button type="submit">{{ t('connect.inbox.send') }}</button></form>
  {% endif %}
</div>
{% endfor %}
{% endblock %}""",
        }
    ),
)


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z")) if value is not None else ""


def _network(request: Request[Any, Any, Any]) -> ConnectNetwork:
    network: ConnectNetwork = request.app.state.connect
    return network


def _codec(network: ConnectNetwork) -> InboxGrantCodec:
    return InboxGrantCodec(network.settings.secret())


def _e164(phone: str) -> str:
    try:
        return service.phone_or_422(phone)
    except Exception:
        raise NotFound() from None


def _grant(request: Request[Any, Any, Any], network: ConnectNetwork) -> InboxGrant:
    return _codec(network).load(request.cookies.get(COOKIE_NAME))


def _finish(
    request: Request[Any, Any, Any], network: ConnectNetwork, grant: InboxGrant, response: Response[Any]
) -> Response[Any]:
    response.headers.update(SECURITY_HEADERS)
    if grant.changed:
        response.set_cookie(
            key=COOKIE_NAME,
            value=_codec(network).dump(grant),
            max_age=MAX_AGE_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def _page(
    request: Request[Any, Any, Any],
    network: ConnectNetwork,
    grant: InboxGrant,
    template: str,
    lang: str,
    status: int = 200,
    **context: Any,
) -> Response[Any]:
    def t(key: str) -> str:
        return translate(key, lang)

    html = _TEMPLATES.get_template(template).render(lang=lang, t=t, iso=_iso, csrf=grant.csrf, **context)
    return _finish(request, network, grant, Response(html, status_code=status, media_type="text/html"))


def _form(
    request: Request[Any, Any, Any], network: ConnectNetwork, grant: InboxGrant, e164: str, error: str | None
) -> Response[Any]:
    # The browser's language, not the account's: the form must not tell whether the phone has an account.
    lang = negotiate(request.headers.get("accept-language"))
    return _page(
        request,
        network,
        grant,
        "form",
        lang,
        status=422 if error else 200,
        phone=e164,
        base=f"/connect/inbox/{e164}",
        error=translate(error, lang) if error else None,
    )


@get("/connect/inbox/{phone:str}", include_in_schema=False, media_type="text/html")
async def inbox_page(request: Request[Any, Any, Any], phone: str) -> Response[Any]:
    """The inbox if this browser opened it with the phone's key, else the form that takes the key."""
    network, e164 = _network(request), _e164(phone)
    grant = _grant(request, network)
    if not grant.allows(e164):
        return _form(request, network, grant, e164, None)
    return await _inbox(request, network, grant, e164, sent=request.query_params.get("sent") == "1")


def _error_text(error: AppError, lang: str) -> str:
    body = error.body(lang)
    details = [text for texts in (body.get("errors") or {}).values() for text in texts]
    return " ".join([str(body["message"]), *details])


async def _inbox(
    request: Request[Any, Any, Any],
    network: ConnectNetwork,
    grant: InboxGrant,
    e164: str,
    *,
    error: AppError | None = None,
    sent: bool = False,
) -> Response[Any]:
    await network.ready()
    async with network.db.session_scope() as session:
        account = await service.get_account(session, e164)
        page = await service.inbox(session, e164, 100)
        messages = [service.to_inbox_message(r) for r in page.rows]
    return _page(
        request,
        network,
        grant,
        "inbox",
        account.language,
        status=error.status_code if error else 200,
        account=account,
        messages=messages,
        base=f"/connect/inbox/{e164}",
        error=_error_text(error, account.language) if error else None,
        sent=sent,
    )


@post("/connect/inbox/{phone:str}", include_in_schema=False, media_type="text/html")
async def inbox_open(request: Request[Any, Any, Any], phone: str) -> Response[Any]:
    """Open the inbox with the phone's key (posted once). A wrong key says the same whether or not the
    phone has an account."""
    network, e164 = _network(request), _e164(phone)
    grant = _grant(request, network)
    form = await request.form()
    if not grant.csrf_matches(str(form.get("_csrf") or "")):
        return _form(request, network, grant, e164, "connect.inbox.expired")
    if not inbox_token_matches(network.settings.secret(), e164, str(form.get("key") or "")):
        return _form(request, network, grant, e164, "connect.inbox.wrong_key")
    grant.open(e164)
    return _finish(request, network, grant, Redirect(path=f"/connect/inbox/{e164}", status_code=303))


@post("/connect/inbox/{phone:str}/read/{message_id:int}", include_in_schema=False, media_type="text/html")
async def inbox_mark_read(request: Request[Any, Any, Any], phone: str, message_id: int) -> Response[Any]:
    network, e164 = _network(request), _e164(phone)
    grant = _grant(request, network)
    form = await request.form()
    if grant.allows(e164) and grant.csrf_matches(str(form.get("_csrf") or "")):
        await network.ready()
        async with network.db.session_scope() as session:
            await service.mark_read(session, e164, message_id)
            wrote = session.info.pop(service.EVENTS_WRITTEN, False)
        if wrote:
            network.pump.kick()
    # Without the grant (or from another site) nothing is marked: back to the page, which asks for the key.
    return _finish(request, network, grant, Redirect(path=f"/connect/inbox/{e164}", status_code=303))


@post("/connect/inbox/{phone:str}/reply", include_in_schema=False, media_type="text/html")
async def inbox_reply(request: Request[Any, Any, Any], phone: str) -> Response[Any]:
    """The phone writes back to a business from its inbox (issue 18): the API's own rules and refusals."""
    network, e164 = _network(request), _e164(phone)
    grant = _grant(request, network)
    form = await request.form()
    if not (grant.allows(e164) and grant.csrf_matches(str(form.get("_csrf") or ""))):
        return _finish(request, network, grant, Redirect(path=f"/connect/inbox/{e164}", status_code=303))
    try:
        await network.write(
            phone_messages.prepare(
                e164, to_phone=form.get("to_phone"), kind="text", content=form.get("content")
            )
        )
    except AppError as exc:
        return await _inbox(request, network, grant, e164, error=exc)
    return _finish(request, network, grant, Redirect(path=f"/connect/inbox/{e164}?sent=1", status_code=303))


HANDLERS = [inbox_page, inbox_open, inbox_mark_read, inbox_reply]
