"""Connect's API for two-way messaging (issue 18): an account writes to a business's sender number
(JSON for text, multipart for media), the Business side keeps the link table current, and fetches the
files accounts attached."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import PhoneMessage
from tgo.errors import UnsupportedMediaType, ValidationFailed

from . import links, phone_messages
from .network import ConnectNetwork
from .phone_messages import MEDIA_LIMITS, Attachment

FIELDS = ("to_phone", "type", "content", "caption")


class LinkSet(msgspec.Struct, kw_only=True):
    phones: list[str]


class LinkCount(msgspec.Struct, kw_only=True):
    linked: int


async def _read_body(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], Attachment | None]:
    content_type, _ = request.content_type
    if content_type == "application/json":
        data = await request.json()
        if not isinstance(data, dict):
            raise ValidationFailed({"body": ["Must be a JSON object."]})
        return {k: data.get(k) for k in FIELDS}, None
    if content_type == "multipart/form-data":
        form = await request.form()
        values: dict[str, Any] = {}
        for key in FIELDS:
            items = form.getall(key) if key in form else []
            if len(items) > 1:
                raise ValidationFailed({key: ["Given more than once."]})
            values[key] = items[0] if items else None
        uploads = form.getall("media") if "media" in form else []
        if len(uploads) > 1 or (uploads and not isinstance(uploads[0], UploadFile)):
            raise ValidationFailed({"media": ["Attach exactly one file."]})
        attachment = None
        if uploads:
            upload: UploadFile = uploads[0]
            data = await upload.read(max(MEDIA_LIMITS.values()) + 1)
            attachment = Attachment(data=data, filename=upload.filename, declared_type=upload.content_type)
        return values, attachment
    raise UnsupportedMediaType()


class PhoneMessagesController(Controller):
    path = "/accounts"

    @post("/{phone:str}/messages", status_code=201)
    async def write(self, phone: str, request: Request[Any, Any, Any]) -> PhoneMessage:
        """The account ``phone`` writes to a business's sender number (``to_phone``)."""
        values, attachment = await _read_body(request)
        network: ConnectNetwork = request.app.state.connect
        return await network.write(
            phone_messages.prepare(
                phone,
                to_phone=values["to_phone"],
                kind=values["type"],
                content=values["content"],
                caption=values["caption"],
                attachment=attachment,
            )
        )


class LinksController(Controller):
    """The Business side tells Connect which phones are some business's active sender number."""

    path = "/links"

    @get("/")
    async def list_links(self, connect_session: AsyncSession) -> LinkSet:
        return LinkSet(phones=await links.linked_phones(connect_session))

    @put("/", status_code=200)
    async def replace(self, data: LinkSet, connect_session: AsyncSession) -> LinkCount:
        return LinkCount(linked=await links.replace_all(connect_session, data.phones))

    @put("/{phone:str}", status_code=204)
    async def link(self, phone: str, connect_session: AsyncSession) -> None:
        await links.link(connect_session, phone)

    @delete("/{phone:str}", status_code=204)
    async def unlink(self, phone: str, connect_session: AsyncSession) -> None:
        await links.unlink(connect_session, phone)


class MediaController(Controller):
    path = "/media"

    @get("/{media_id:int}")
    async def download(self, media_id: int, connect_session: AsyncSession) -> Response[bytes]:
        row = await phone_messages.media_file(connect_session, media_id)
        return Response(row.data, media_type=row.content_type, headers={"x-content-type-options": "nosniff"})
