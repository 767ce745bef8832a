"""The protected API routes, discovered from the app so a new endpoint cannot escape the matrices."""

from __future__ import annotations

import re
from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

API_PREFIXES = ("/api/v1", "/v1/sms")


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    scope: str | None

    def concrete(self, value: str = "999999") -> str:
        def sub(m: re.Match[str]) -> str:
            return "00000000-0000-4000-8000-000000000000" if ":uuid" in m.group(0) else value

        return re.sub(r"\{[^}]+\}", sub, self.path)


def api_routes(app: Litestar) -> list[ApiRoute]:
    found: set[ApiRoute] = set()
    for route in app.routes:
        if not route.path.startswith(API_PREFIXES):
            continue
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            for method in handler.http_methods:
                if method in ("OPTIONS", "HEAD"):
                    continue
                found.add(
                    ApiRoute(
                        method,
                        route.path_format if hasattr(route, "path_format") else route.path,
                        handler.opt.get("scope"),
                    )
                )
    return sorted(found, key=lambda r: (r.path, r.method))
