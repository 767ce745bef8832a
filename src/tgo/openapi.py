"""What the OpenAPI document says beyond what Litestar infers from the handlers: each operation's error
responses, built from the ``AppError`` classes it can raise, and the request body of a handler that reads
its body itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import ModuleType
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from tgo.errors import (
    AppError,
    ErrorBody,
    InvalidJson,
    MissingScope,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from tgo.http_guard import RequestTimeout

# What the API-key guard (401, 403), the rate limits (429), the body size limit (413), body parsing (415,
# 422) and an unreachable database (503) can answer on any operation.
GUARD_ERRORS: tuple[type[AppError], ...] = (
    Unauthenticated,
    MissingScope,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    RateLimited,
    ServiceUnavailable,
)
# What reading a request body adds: a body that is not JSON (400 invalid_json) or that cannot be parsed
# at all, e.g. broken multipart (400 bad_request, AppError's own code), one that arrives too slowly (408).
BODY_ERRORS: tuple[type[AppError], ...] = (InvalidJson, AppError, RequestTimeout)

Raises = type[AppError] | ModuleType


def error_classes(raises: Iterable[Raises]) -> list[type[AppError]]:
    """The classes named, and for a module every ``AppError`` class defined in it (so an error added to a
    service module is documented on every operation that names the module)."""
    found: list[type[AppError]] = []
    for item in raises:
        if isinstance(item, ModuleType):
            found += [
                v
                for v in vars(item).values()
                if isinstance(v, type) and issubclass(v, AppError) and v.__module__ == item.__name__
            ]
        else:
            found.append(item)
    return found


def error_responses(*raises: Raises, body: bool = False) -> dict[int, ResponseSpec]:
    """One response per status the operation can answer with an error, the envelope as its body and the
    possible ``code`` values in its description: the guard's, the body's (``body=True``) and ``raises``."""
    codes: dict[int, set[str]] = {}
    for cls in (*GUARD_ERRORS, *(BODY_ERRORS if body else ()), *error_classes(raises)):
        codes.setdefault(cls.status_code, set()).add(cls.code)
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=f"{HTTPStatus(status).phrase}. `code`: {', '.join(sorted(codes[status]))}",
            generate_examples=False,
        )
        for status in sorted(codes)
    }


def documented_operation(
    *, body: RequestBody | None = None, binary_response: tuple[int, Iterable[str]] | None = None
) -> type[Operation]:
    """An ``operation_class`` for what Litestar cannot infer: the ``body`` of a handler that parses its
    request itself (Litestar documents a body only from a ``data`` parameter, in one media type), and a
    success response of raw bytes in any of the given content types (a streamed file)."""

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = body
            if binary_response is not None and self.responses is not None:
                status, media_types = binary_response
                success = self.responses[str(status)]
                if isinstance(success, OpenAPIResponse):
                    success.content = {t: OpenAPIMediaType(schema=binary()) for t in sorted(media_types)}

    return Documented


def binary(description: str | None = None) -> Schema:
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=description)


def finish_document(schema: OpenAPI) -> OpenAPI:
    """Drop the error responses Litestar adds by itself (a ``400`` with a ``{status_code, detail, extra}``
    body on every operation with parameters): no response has that body, and a ``ValidationException`` is
    answered with ``422``. Idempotent; mutates in place."""
    for path_item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(path_item, method, None)
            if operation is None or not operation.responses:
                continue
            for status in [s for s, r in operation.responses.items() if _is_litestar_default(r)]:
                del operation.responses[status]
    return schema


def _is_litestar_default(response: Any) -> bool:
    for media in (getattr(response, "content", None) or {}).values():
        schemas = (media.schema.one_of or [media.schema]) if isinstance(media.schema, Schema) else []
        if schemas and all(
            isinstance(s, Schema) and set(s.required or ()) >= {"detail", "status_code"} for s in schemas
        ):
            return True
    return False
