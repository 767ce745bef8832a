"""The ceiling: a bare Litestar + msgspec app that parses a JSON body shaped like a send request and answers
201, with no database, no auth and no broker. Served by uvicorn with the same flags as `tgo serve`."""

from __future__ import annotations

import itertools

import msgspec
from litestar import Litestar, Request, post
from litestar.status_codes import HTTP_201_CREATED


class SendBody(msgspec.Struct):
    to_phone: str
    type: str
    content: str | None = None
    caption: str | None = None
    duration: int | None = None
    sender_phone: str | None = None
    sender_number_id: int | None = None


class Accepted(msgspec.Struct):
    id: int
    status: str
    to_phone: str
    message_type: str
    content: str | None


_ids = itertools.count(1)


@post("/api/v1/messages", status_code=HTTP_201_CREATED)
async def send(request: Request) -> Accepted:  # type: ignore[type-arg]
    body = msgspec.json.decode(await request.body(), type=SendBody)
    return Accepted(
        id=next(_ids), status="queued", to_phone=body.to_phone, message_type=body.type, content=body.content
    )


def create_app() -> Litestar:
    return Litestar(route_handlers=[send], openapi_config=None)


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # The flags of `tgo serve` (src/tgo/cli.py): uvloop, httptools, no access log; --workers processes.
    uvicorn.run(
        "bench.ceiling_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
