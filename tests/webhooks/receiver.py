"""A real HTTP/1.1 receiver on a free 127.0.0.1 port, scripted per request: a status code, "hang" (never
answer), "redirect", "big" (a 1 MiB body), "binary" (a 500 with NUL bytes); it can be stopped (connection refused) and started again on the
same port. It records every request it reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any

Action = int | str


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    action: Action

    @property
    def ok(self) -> bool:
        return isinstance(self.action, int) and 200 <= self.action < 300

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    default: Action = 200
    script: deque[Action] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    tls: ssl.SSLContext | None = None
    _server: asyncio.base_events.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tgo"

    def then(self, *actions: Action) -> None:
        self.script.extend(actions)

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.ok]

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True, ssl=self.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            action = self.script.popleft() if self.script else self.default
            self.requests.append(Received(method, path, headers, body, action))
            if action == "hang":
                await asyncio.sleep(3600)
                return
            extra = ""
            payload = b'{"ok": true}'
            status = action
            if action == "redirect":
                status, extra = 302, "Location: http://127.0.0.1:9/elsewhere\r\n"
            elif action == "big":
                status, payload = 200, b"x" * (1 << 20)
            elif action == "binary":
                status, payload = 500, b"\x00\xff\xfe binary \x00"
            assert isinstance(status, int)
            writer.write(
                f"HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
