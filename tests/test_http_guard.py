"""A client that goes away before its request's body was read is not a server error: no 500, no error line;
the access log says 499 (client closed request) at info, beside one ``client_disconnected`` info line. A
disconnect after the response started is passed on as is (a streaming response listens for it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from tgo.config import Settings
from tgo.http_guard import ClientDisconnected, body_timeout


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        secret_key="test-secret-key-not-for-production",
        broker_url="memory://",
        log_json=True,
        log_level="INFO",  # these tests read the info lines
    )


async def _call(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_send_whose_client_left_is_logged_as_a_disconnect_not_a_500(
    app: Litestar, headers: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    scope = _scope(
        "/api/v1/messages",
        {
            **headers,
            "Host": "testserver.local",
            "Content-Type": "application/json",
            "Content-Length": "80",
            "X-Request-Id": "gone-1",
        },
    )
    # uvicorn answers receive() with http.disconnect once the connection is closed, body or not.
    sent = await _call(app, scope, [{"type": "http.disconnect"}])
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 499
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert not [x for x in lines if x["level"] in ("error", "critical")], lines
    assert not [x for x in lines if x["event"] == "http_error"], lines
    gone = [x for x in lines if x["event"] == "client_disconnected"]
    assert gone and gone[0]["level"] == "info" and gone[0]["request_id"] == "gone-1"
    access = [x for x in lines if x["event"] == "request" and x.get("request_id") == "gone-1"]
    assert len(access) == 1 and access[0]["status"] == 499 and access[0]["level"] == "info"


async def test_a_disconnect_while_the_body_streams_in_stops_the_read() -> None:
    reads: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reads.append(await receive())
        try:
            await receive()
        except ClientDisconnected as exc:
            reads.append(exc)

    app = body_timeout(5.0)(inner)
    scope = _scope("/x", {})
    await _call(app, scope, [{"type": "http.request", "body": b"{", "more_body": True}])
    assert reads[0]["body"] == b"{"
    assert isinstance(reads[1], ClientDisconnected) and reads[1].status_code == 499


async def test_a_disconnect_after_the_response_started_is_passed_on() -> None:
    """A streaming response waits for http.disconnect to stop streaming: it gets the message, not an error."""
    from litestar.utils.scope.state import ScopeState

    got: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        ScopeState.from_scope(scope).response_started = True  # what Litestar's exception middleware records
        got.append(await receive())

    app = body_timeout(5.0)(inner)
    await _call(app, _scope("/x", {}), [])
    assert got == [{"type": "http.disconnect"}]
