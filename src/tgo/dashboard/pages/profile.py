"""The signed-in user's profile: the dashboard's language and the time zone its times are shown in."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from litestar import Response, get, post

from tgo.dashboard.accounts import set_language, set_time_zone
from tgo.dashboard.web import Web, url
from tgo.errors import ValidationFailed
from tgo.i18n import LANGUAGES


@cache
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _render(web: Web, status_code: int = 200, errors: dict[str, str] | None = None) -> Response[Any]:
    return web.render(
        "profile.html",
        status_code=status_code,
        zones=zones(),
        languages=LANGUAGES,
        chosen_zone=web.viewer.time_zone if web.viewer else None,
        browser_zone=web.time_zone if web.viewer and not web.viewer.time_zone else None,
        errors=errors or {},
    )


@get("/profile", name="dashboard:profile")
async def profile(me: Web) -> Response[Any]:
    return _render(me)


@post("/profile", name="dashboard:profile-save")
async def profile_save(me: Web) -> Response[Any]:
    assert me.user is not None and me.viewer is not None
    form = await me.request.form()
    lang = form.get("language")
    zone = form.get("time_zone")
    zone = zone.strip() if isinstance(zone, str) else ""
    try:
        await set_time_zone(me.db, me.user, zone or None)
    except ValidationFailed as exc:
        await me.discard_failed(exc)
        return _render(me, 422, {"time_zone": me.t("dash.profile.zone_invalid")})
    if isinstance(lang, str) and lang in LANGUAGES:
        await set_language(me.db, me.user, lang)
        me.viewer.language = lang
        me.session.language = lang
        me.session.changed = True
    me.viewer.time_zone = zone or None
    me.flash("success", "dash.profile.saved")
    return me.redirect(url("/profile"))


HANDLERS = [profile, profile_save]
