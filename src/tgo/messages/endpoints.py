from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.api_key import auth_of
from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.db import after_rollback
from tgo.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from tgo.kit.pagination import MAX_ID
from tgo.media import service as media_service
from tgo.media.sniff import MAX_UPLOAD
from tgo.messages import idempotency, service
from tgo.messages.openapi import SEND_BODY
from tgo.messages.schemas import MessageDetail, MessageList, MessageView, StatusChange, message_view
from tgo.messages.send_body import FIELDS, json_send_request
from tgo.messages.send_lane import send_lane
from tgo.messages.state import MessageStatus
from tgo.models import Media, Message
from tgo.openapi import documented_operation, error_responses
from tgo.runtime import Runtime


async def _parse(
    request: Request[Any, Any, Any], runtime: Runtime
) -> tuple[service.SendRequest, UploadFile | None, bool]:
    content_type, _ = request.content_type
    if content_type == "application/json":
        length = request.headers.get("content-length")
        limit = runtime.settings.max_json_body_bytes
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge()
        raw = await request.body()
        return json_send_request(raw, limit, runtime.settings.max_json_depth), None, False
    if content_type == "multipart/form-data":
        form = await request.form()
        values: dict[str, Any] = {}
        for key in FIELDS:
            items = form.getall(key) if key in form else []
            if len(items) > 1:
                raise ValidationFailed({key: ["Given more than once."]})
            value = items[0] if items else None
            if isinstance(value, UploadFile):
                raise ValidationFailed({key: ["Must be a plain field, not a file."]})
            values[key] = value
        uploads = form.getall("media") if "media" in form else []
        if len(uploads) > 1:
            raise ValidationFailed({"media": ["Attach exactly one file."]})
        upload = uploads[0] if uploads else None
        if upload is not None and not isinstance(upload, UploadFile):
            raise ValidationFailed({"media": ["Must be a file."]})
        return service.SendRequest(**values), upload, True
    raise UnsupportedMediaType()


def _request_hash(req: service.SendRequest, media_sha: str | None) -> str:
    import hashlib

    canonical = msgspec.json.encode({k: getattr(req, k) for k in FIELDS} | {"media": media_sha})
    return hashlib.sha256(canonical).hexdigest()


async def _accept(
    runtime: Runtime,
    auth: AuthContext,
    req: service.SendRequest,
    upload: UploadFile | None,
    *,
    multipart: bool,
    claim: int | None,
) -> MessageView:
    """The send (as the API shows it), answered only after its message committed: a JSON send through the batcher (its own
    transaction), a multipart send in one transaction of its own (what the request's ``db_session`` was).
    A claimed idempotency key is stored with the message, or freed if the send fails."""
    finish = None
    if claim is not None:
        claim_id = claim

        async def finish(session: AsyncSession, message: Message, media: Media | None) -> None:
            # Stored in the transaction that writes the message (its batch's, for a JSON send).
            body = msgspec.json.encode(message_view(message, media))
            await idempotency.complete(session, claim_id, HTTP_201_CREATED, body)

    if upload is None and not multipart:
        try:
            return (await service.send_batched(runtime, auth, req, finish)).view
        except BaseException:
            if claim is not None:
                await idempotency.abandon(runtime.db, claim)
            raise
    async with runtime.db.session_scope() as session:
        if claim is not None:
            claim_id = claim
            after_rollback(session, lambda: idempotency.abandon(runtime.db, claim_id))
        message, media = await service.send(
            session, runtime, auth, req, upload, multipart=multipart, finish=finish
        )
        return message_view(message, media)


class MessageController(Controller):
    path = "/messages"
    tags = ["Messages"]

    @post(
        "/",
        opt={"scope": Scope.MESSAGES_SEND},
        status_code=HTTP_201_CREATED,
        middleware=[send_lane],  # a plain JSON send is answered there (messages/send_lane.py)
        request_max_body_size=MAX_UPLOAD + 1024 * 1024,
        operation_id="sendMessage",
        operation_class=documented_operation(body=SEND_BODY),
        responses={
            HTTP_201_CREATED: ResponseSpec(
                MessageView, description="The message, queued.", generate_examples=False
            ),
            **error_responses(service, media_service, idempotency, body=True),
        },
        summary="Send a message (JSON for text; multipart/form-data with `media` for image, voice, document)",
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key")] = None,
    ) -> Response[Any]:
        # No dependencies (no ``auth``/``db_session``/``runtime``): Litestar resolves a handler's independent
        # dependencies in an anyio task group (a task each, per request), and a JSON send writes through the
        # batcher, not in a request transaction. The guard left the AuthContext on the request's state.
        auth = auth_of(request)
        runtime: Runtime = request.app.state.runtime
        req, upload, multipart = await _parse(request, runtime)
        try:
            claim = None
            if idempotency_key is not None:
                key = idempotency.check_key(idempotency_key)
                from tgo.media.service import fingerprint

                media_sha = await fingerprint(upload) if upload is not None else None
                begun = await idempotency.begin(
                    runtime.db, auth.tenant_id, key, _request_hash(req, media_sha)
                )
                if isinstance(begun, idempotency.Replay):
                    return Response(
                        begun.body,
                        status_code=begun.status,
                        media_type="application/json",
                        headers={"Idempotent-Replayed": "true"},
                    )
                claim = begun
            view = await _accept(runtime, auth, req, upload, multipart=multipart, claim=claim)
            return Response(
                view, status_code=HTTP_201_CREATED, headers={"Location": f"/api/v1/messages/{view.id}"}
            )
        finally:
            if upload is not None:
                await upload.close()

    @get(
        "/",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="listMessages",
        responses=error_responses(),
        summary="Message log, newest first",
    )
    async def list_messages(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: Annotated[int | None, Parameter(ge=1, le=200)] = None,
        cursor: str | None = None,
        status: MessageStatus | None = None,
        sender_number_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        to_phone: str | None = None,
        message_type: Annotated[str | None, Parameter(pattern="^(text|image|voice|document)$")] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        direction: Annotated[str | None, Parameter(pattern="^(inbound|outbound)$")] = None,
    ) -> MessageList:
        filters = {
            "direction": direction,
            "status": status,
            "sender_number_id": sender_number_id,
            "to_phone": to_phone,
            "message_type": message_type,
            "since": since,
            "until": until,
        }
        rows, next_cursor = await service.list_messages(
            db_session, auth.tenant_id, limit=limit, cursor=cursor, filters=filters
        )
        return MessageList(data=[message_view(m, media) for m, media in rows], next_cursor=next_cursor)

    @get(
        "/{message_id:int}",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="getMessage",
        responses=error_responses(NotFound),
        summary="One message with its status history",
    )
    async def get_message(
        self, message_id: int, auth: AuthContext, db_session: AsyncSession
    ) -> MessageDetail:
        message, media, history = await service.get_message(db_session, auth.tenant_id, message_id)
        view = message_view(message, media)
        return MessageDetail(
            **{f: getattr(view, f) for f in view.__struct_fields__},
            history=[StatusChange(status=h.status, at=h.at, detail=h.detail) for h in history],
        )


__all__ = ["MessageController", "MessageView"]
