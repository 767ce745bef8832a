from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.errors import NotFound
from tgo.media.filenames import content_disposition
from tgo.media.service import get_media, get_media_by_token
from tgo.media.sniff import ALLOWED
from tgo.models import Media
from tgo.openapi import documented_operation, error_responses
from tgo.runtime import Runtime

DOWNLOAD_TYPES = sorted({t for types in ALLOWED.values() for t in types})


def _download(runtime: Runtime, media: Media) -> Stream:
    # Always an attachment with our sniffed type and nosniff: an uploaded HTML/SVG never renders inline.
    return Stream(
        runtime.media_storage.get().open(media.storage_key),
        media_type=media.content_type,
        headers={
            "Content-Disposition": content_disposition("attachment", media.filename, f"media-{media.id}"),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Length": str(media.size),
            "Cache-Control": "private, max-age=3600",
        },
    )


class MediaController(Controller):
    path = "/media"
    tags = ["Messages"]

    @get(
        "/{media_id:int}",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="downloadMedia",
        operation_class=documented_operation(binary_response=(200, DOWNLOAD_TYPES)),
        responses=error_responses(NotFound),
        response_description="The file, as an attachment, in the type read from its bytes.",
        summary="Download a message's file",
    )
    async def download(
        self, media_id: int, auth: AuthContext, db_session: AsyncSession, runtime: Runtime
    ) -> Stream:
        return _download(runtime, await get_media(db_session, auth.tenant_id, media_id))


@get("/media/signed/{token:str}", include_in_schema=False)
async def signed_download(token: str, db_session: AsyncSession, runtime: Runtime) -> Response[Any] | Stream:
    """Connect fetches media through signed links (it holds no API key)."""
    return _download(runtime, await get_media_by_token(db_session, runtime, token))
