"""One error hierarchy (domain errors with stable codes) and one handler that renders SPEC section 3."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tgo.i18n import negotiate, translate

log = structlog.get_logger("tgo.errors")


class AppError(Exception):
    """A domain error: ``code`` is stable for programs; ``message_key`` is looked up in the catalogues."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message_key: ClassVar[str | None] = None

    def __init__(
        self,
        message_key: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        default_language: str | None = None,
        persist: bool = False,
    ) -> None:
        self.key = message_key or self.message_key or self.code
        self.params = params or {}
        self.extra = extra or {}
        self.headers = headers or {}
        # Some seed texts are Arabic unless the client asks for English.
        self.default_language = default_language
        # The request's writes so far are committed even though it fails (e.g. counting a wrong OTP).
        self.persist = persist
        super().__init__(self.key)

    def body(self, lang: str) -> dict[str, Any]:
        return {"message": translate(self.key, lang, **self.params), "code": self.code, **self.extra}


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The envelope every error response has (SPEC section 3); some errors add fields of their own."""

    message: str
    code: str | msgspec.UnsetType = msgspec.UNSET
    errors: dict[str, list[str]] | msgspec.UnsetType = msgspec.UNSET
    required_scope: str | msgspec.UnsetType = msgspec.UNSET
    retry_after: int | msgspec.UnsetType = msgspec.UNSET
    attempts_remaining: int | msgspec.UnsetType = msgspec.UNSET


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"

    def body(self, lang: str) -> dict[str, Any]:
        # One identical body for every authentication failure, as the seed shows.
        return {"message": translate("unauthenticated", lang)}


class MissingScope(AppError):
    status_code = 403
    code = "missing_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(params={"scope": scope}, extra={"required_scope": scope})


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unprocessable(AppError):
    status_code = 422
    code = "unprocessable"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_failed"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(extra={"errors": errors})


class InvalidJson(AppError):
    status_code = 400
    code = "invalid_json"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def request_language(request: Request[Any, Any, Any], default: str = "en") -> str:
    explicit = request.headers.get("accept-language")
    if explicit is None:
        user_lang = request.scope.get("state", {}).get("language")
        if isinstance(user_lang, str):
            return user_lang
    return negotiate(explicit, default)


_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>[^`]+)`(?: - at `\$(?P<at>[^`]*)`)?$")
_AT_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<at>[^`]*)`$")


def _msgspec_field(key: str, message: str, lang: str) -> tuple[str, str]:
    """msgspec reports body errors under ``data`` with the field in the text
    (``Object missing required field `phone```, ``Expected `str`, got `int` - at `$.phone```):
    key them by the field's path so a client can show the error next to the field."""
    if key != "data":
        return key, message
    if m := _MISSING_FIELD.match(message):
        prefix = (m.group("at") or "").lstrip(".")
        return (f"{prefix}.{m.group('field')}" if prefix else m.group("field")), translate(
            "field_required", lang
        )
    if (m := _AT_PATH.match(message)) and m.group("at").lstrip("."):
        return m.group("at").lstrip("."), m.group("message")
    return "body", message


def _field_errors(detail_extra: Any, lang: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if isinstance(detail_extra, list):
        for item in detail_extra:
            if isinstance(item, dict):
                key, message = _msgspec_field(
                    str(item.get("key") or item.get("source") or "body"),
                    str(item.get("message", "invalid")),
                    lang,
                )
                errors.setdefault(key, []).append(message)
    return errors or {"body": ["invalid request body"]}


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, headers=headers, media_type="application/json")


# SQLSTATE classes that mean "the database cannot serve now", not "this request is wrong": connection
# exceptions (08), operator intervention — shutting down, starting up, cancelled (57), insufficient
# resources — too many connections (53). asyncpg reports most as plain DBAPIError, not OperationalError.
_UNAVAILABLE_SQLSTATES = ("08", "57", "53")


def backend_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database (or another backing service) is unreachable or restarting."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    return False


def exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Render every error as ``{"message", "code", ...}``; never a traceback to the client."""
    if isinstance(exc, AppError):
        lang = request_language(request, exc.default_language or "en")
        return _json(exc.body(lang), exc.status_code, exc.headers)
    lang = request_language(request)
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra, lang)
        body = {
            "message": translate("validation_failed", lang),
            "code": "validation_failed",
            "errors": errors,
        }
        return _json(body, 422)
    if isinstance(exc, NotAuthorizedException):
        return _json({"message": translate("unauthenticated", lang)}, 401)
    if isinstance(exc, PermissionDeniedException):
        return _json({"message": translate("forbidden", lang), "code": "forbidden"}, 403)
    if isinstance(exc, NotFoundException):
        return _json({"message": translate("not_found", lang), "code": "not_found"}, 404)
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return _json({"message": translate("invalid_json", lang), "code": "invalid_json"}, 400)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        code = _HTTP_CODES.get(status, "error")
        if status >= 500:
            log.error("http_error", status=status, detail=exc.detail)
        return _json({"message": translate(code, lang), "code": code}, status, exc.headers)
    if isinstance(exc, IntegrityError):
        # A uniqueness race the service's own check could not see (two concurrent creates).
        return _json({"message": translate("conflict", lang), "code": "conflict"}, 409)
    if isinstance(exc, (OverflowError, DataError)):
        # A client value the database cannot hold (an id beyond 64 bits in a query): the client's error.
        log.warning("value_out_of_range", path=request.url.path, error=type(exc).__name__)
        errors = {"query": ["value out of range"]}
        body = {
            "message": translate("validation_failed", lang),
            "code": "validation_failed",
            "errors": errors,
        }
        return _json(body, 422)
    if backend_unavailable(exc):
        # The database (or another backing service) is unreachable: tell clients to retry.
        log.error("backend_unavailable", error=type(exc).__name__, path=request.url.path, exc_info=exc)
        return _json(
            {"message": translate("service_unavailable", lang), "code": "service_unavailable"},
            503,
            {"Retry-After": "5"},
        )
    log.exception("unhandled_error", path=request.url.path)
    return _json(
        {"message": translate("internal_error", lang), "code": "internal_error"},
        HTTP_500_INTERNAL_SERVER_ERROR,
    )
