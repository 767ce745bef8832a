"""A small HTTP/1.1 client for ConnectClient's calls to one Connect base URL: kept-alive connections in a
LIFO idle list, requests written in one piece, responses read by Content-Length or chunked encoding.

httpx (with httpcore and anyio underneath) cost about 17 % of the API process's CPU on the send path, one
recipient lookup per send: request and URL models, cookie and auth handling, and a connection pool that
scans its connections for every request. Connect calls need none of that. httpx stays for the in-process
(ASGI) transport."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec


class ConnectError(OSError):
    """The connection could not be opened (named as httpx names it, for failure reasons)."""


class RemoteProtocolError(OSError):
    """The peer closed the connection or answered something that is not HTTP/1.1."""


class LeanResponse:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[bytes, bytes], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


MAX_LINE = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


class LeanHttpClient:
    def __init__(
        self, base_url: str, *, headers: dict[str, str], timeout: float, max_idle: int = 100
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"unsupported Connect URL: {base_url}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if url.scheme == "https" else None
        self.prefix = url.path.rstrip("/")
        host_header = url.netloc.rsplit("@", 1)[-1]
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in {"host": host_header, **headers}.items()).encode(
            "latin-1"
        )
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> LeanResponse:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        target = self.prefix + path
        if params:
            target += "?" + urlencode(params)
        body = content or b""
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if content_type is not None:
            head += b"content-type: " + content_type.encode("latin-1") + b"\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += b"content-length: " + str(len(body)).encode() + b"\r\n"
        data = head + b"\r\n" + body
        async with asyncio.timeout(self.timeout):
            while True:
                conn = self._idle.pop() if self._idle else None
                if conn is not None and (conn.reader.at_eof() or conn.writer.is_closing()):
                    conn.close()  # closed by the server while idle (uvicorn's keep-alive timeout)
                    continue
                reused = conn is not None
                if conn is None:
                    conn = await self._open()
                try:
                    conn.writer.write(data)
                    status, headers, payload, keep = await self._read_response(conn.reader, method)
                except _StaleConnection:
                    conn.close()
                    if reused:  # the server closed a kept-alive connection before it read this request
                        continue
                    raise RemoteProtocolError("Server disconnected without sending a response.") from None
                except BaseException:
                    conn.close()  # a timeout or an error mid-response: never reuse it
                    raise
                if keep and not self._closed and len(self._idle) < self.max_idle:
                    self._idle.append(conn)
                else:
                    conn.close()
                return LeanResponse(status, headers, payload)

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=MAX_LINE)
        except OSError as exc:
            raise ConnectError("All connection attempts failed") from exc
        return _Connection(reader, writer)

    @staticmethod
    async def _read_response(
        reader: asyncio.StreamReader, method: str
    ) -> tuple[int, dict[bytes, bytes], bytes, bool]:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _StaleConnection() from None
            raise RemoteProtocolError("Server disconnected mid-response.") from None
        except ConnectionResetError:
            raise _StaleConnection() from None
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise RemoteProtocolError(f"malformed status line: {line[:100]!r}")
        status = int(parts[1])
        keep = parts[0] == b"HTTP/1.1"
        headers: dict[bytes, bytes] = {}
        try:
            while True:
                line = await reader.readuntil(b"\r\n")
                if line == b"\r\n":
                    break
                name, sep, value = line.partition(b":")
                if not sep:
                    raise RemoteProtocolError(f"malformed header: {line[:100]!r}")
                headers[name.strip().lower()] = value.strip()
            connection = headers.get(b"connection", b"").lower()
            if connection == b"close":
                keep = False
            elif connection == b"keep-alive":
                keep = True
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                body = b""
            elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                body = await _read_chunked(reader)
            elif (length := headers.get(b"content-length")) is not None:
                if not length.isdigit() or int(length) > MAX_BODY:
                    raise RemoteProtocolError(f"bad content-length: {length[:40]!r}")
                body = await reader.readexactly(int(length))
            else:
                body = await reader.read(MAX_BODY)  # until the server closes
                keep = False
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionResetError) as exc:
            raise RemoteProtocolError(f"Server disconnected mid-response: {type(exc).__name__}") from None
        return status, headers, body, keep


class _StaleConnection(Exception):
    """Closed before any byte of the response: safe to send again on a new connection."""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise RemoteProtocolError(f"bad chunk size: {size_text[:20]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise RemoteProtocolError("response too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
