"""Every request body is decoded here, for every route of the Business app, the Connect app and the Connect
event receiver: ``TgoRequest`` is each app's ``request_class``, so Litestar's own body parameters (``data``)
and handlers that call ``request.json()`` / ``request.form()`` go through the same rules:

- JSON that is not UTF-8, or is not JSON, is ``400 invalid_json``;
- JSON whose arrays and objects nest deeper than ``TGO_MAX_JSON_DEPTH`` is ``400 invalid_json``, checked on
  the bytes before decoding (msgspec recurses, and ~20,000 levels exhausted the stack: a 500);
- a form field (multipart or url-encoded) that is not text in its charset (UTF-8 unless the part says
  otherwise) is ``422 validation_failed`` naming the field (Litestar decoded it with no error handling).

Sizes are bounded before this (TGO_MAX_JSON_BODY_BYTES, the media limits)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from multipart import (
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from tgo.config import Settings
from tgo.errors import AppError, ValidationFailed
from tgo.i18n import translate
from tgo.kit.json_input import decode_json


class FormFieldNotText(ValidationFailed):
    """A form field whose bytes are not text in its charset; the 422 names the field."""

    message_key = "form_field_not_utf8"

    def __init__(self, field: str) -> None:
        AppError.__init__(self, params={"field": field})
        self.field = field

    def body(self, lang: str) -> dict[str, Any]:
        return {
            "message": translate(self.key, lang, field=self.field),
            "code": self.code,
            "errors": {self.field: [translate("form_field_not_utf8.detail", lang)]},
        }


def _text(value: bytes, field: str, charset: str = "utf-8") -> str:
    try:
        return value.decode(charset)
    except (UnicodeDecodeError, LookupError):  # LookupError: a charset Python does not know
        raise FormFieldNotText(field) from None


def parse_url_encoded(body: bytes) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body, as Litestar parses it (``&``-separated, blank values
    dropped, repeated names as lists) but refusing names and values that are not UTF-8."""
    fields: defaultdict[str, list[str]] = defaultdict(list)
    for pair in body.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        if not raw_value:
            continue
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" "))
        name = _text(name_bytes, name_bytes.decode("utf-8", "replace"))
        fields[name].append(_text(unquote_to_bytes(raw_value.replace(b"+", b" ")), name))
    return {k: v if len(v) > 1 else v[0] for k, v in fields.items()}


async def parse_multipart(
    stream: AsyncGenerator[bytes, None], boundary: bytes, part_limit: int
) -> dict[str, Any]:
    """A ``multipart/form-data`` body, as Litestar parses it (files as UploadFile, repeated names as lists)
    but refusing a text field that does not decode in its charset; uploads are closed on any error."""
    fields: defaultdict[str, list[Any]] = defaultdict(list)
    data: UploadFile | bytearray = bytearray()
    segment: MultipartSegment | None = None
    chunk = await anext(stream, b"")
    if not chunk:
        return {}
    try:
        with PushMultipartParser(boundary, max_segment_count=part_limit) as parser:
            while not parser.closed:
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment = part
                        if segment.filename:
                            data = UploadFile(
                                content_type=segment.content_type or "text/plain",
                                filename=segment.filename,
                                headers=dict(segment.headerlist),
                            )
                    elif part:
                        if isinstance(data, UploadFile):
                            await data.write(part)
                        else:
                            data.extend(part)
                    else:  # the end of a part
                        if segment is None:
                            raise ClientException("Unexpected eof in multipart/form-data")
                        name = str(segment.name)
                        if isinstance(data, UploadFile):
                            await data.seek(0)
                            fields[name].append(data)
                        else:
                            fields[name].append(_text(bytes(data), name, segment.charset or "utf-8"))
                        data, segment = bytearray(), None
                chunk = await anext(stream, b"")
    except BaseException as exc:
        if isinstance(data, UploadFile):
            await data.close()
        for values in fields.values():
            for value in values:
                if isinstance(value, UploadFile):
                    await value.close()
        if isinstance(exc, ParserError):
            raise ClientException("Invalid multipart/form-data") from exc
        if isinstance(exc, ParserLimitReached):
            raise ClientException("Request Entity Too Large") from None
        raise
    return {k: v if len(v) > 1 else v[0] for k, v in fields.items()}


class TgoRequest(Request[Any, Any, Any]):
    """Litestar's Request with bodies decoded by the rules above. The result is kept where Litestar keeps
    its own (``ScopeState``, internal to Litestar 2.25, pinned), so its body extractors and every later
    ``json()``/``form()`` of the request reuse it."""

    max_json_depth: int = 64

    async def json(self) -> Any:
        state = ScopeState.from_scope(self.scope)
        if state.json is Empty:
            body = await self.body()
            state.json = decode_json(body or b"null", self.max_json_depth)
        return await super().json()  # reads the decoded body from the scope

    async def form(self) -> FormMultiDict:
        state = ScopeState.from_scope(self.scope)
        if state.form is Empty:
            content_type, options = self.content_type
            if content_type == RequestEncodingType.MULTI_PART and "boundary" in options:
                state.form = await parse_multipart(
                    self.stream(), options["boundary"].encode(), self.app.multipart_form_part_limit
                )
            elif content_type == RequestEncodingType.URL_ENCODED:
                state.form = parse_url_encoded(await self.body())
        return await super().form()


def request_class(settings: Settings) -> type[TgoRequest]:
    """The request class of an app built with ``settings`` (its JSON depth limit)."""
    return type("TgoRequest", (TgoRequest,), {"max_json_depth": settings.max_json_depth})
