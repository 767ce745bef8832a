"""Connect's events in arrays (issue 16 item 3): one signed post carries many events, the receiver applies
them in one transaction and answers per item; a failing event fails alone (later events of other subjects are
posted again at once), a forged or replayed array applies nothing, and the pump posts few arrays for many
events, each subject's events in order."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.connect.test_events import OWNER, Recorder, an_event
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_events import MAX_EVENTS_PER_POST
from tgo.channels.connect_protocol import EVENTS_PATH, sign_event
from tgo.channels.connect_types import EVENT_ACCOUNT_VERIFICATION_CHANGED
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.runtime import Runtime


def signed_array(
    secret: bytes, events: list[dict[str, Any]], ts: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    ts = int(now().timestamp()) if ts is None else ts
    return body, {
        "content-type": "application/json",
        "x-connect-timestamp": str(ts),
        "x-connect-signature": sign_event(secret, ts, body),
    }


def for_phone(event_id: str, phone: str, verified: bool = True) -> dict[str, Any]:
    event = an_event(event_id)
    event["data"] = {**event["data"], "phone": phone, "account_verified": verified}
    return event


async def test_an_array_is_applied_once_per_event_and_forged_or_stale_ones_apply_nothing(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime
) -> None:
    recorder = Recorder(EVENT_ACCOUNT_VERIFICATION_CHANGED).attach(runtime.registry)
    try:
        secret = settings.secret()
        events = [for_phone("a1", OWNER), for_phone("a2", "+201010000000"), for_phone("a1", OWNER)]
        body, headers = signed_array(secret, events)
        for bad in (
            {
                **headers,
                "x-connect-signature": sign_event(
                    b"not-the-secret", int(headers["x-connect-timestamp"]), body
                ),
            },
            {k: v for k, v in headers.items() if k != "x-connect-signature"},
        ):
            r = await client.post(EVENTS_PATH, content=body, headers=bad)
            assert r.status_code == 401, r.text
        r = await client.post(EVENTS_PATH, content=body.replace(b"true", b"false"), headers=headers)
        assert r.status_code == 401  # tampered after signing
        stale_body, stale = signed_array(secret, events, ts=int(now().timestamp()) - 301)
        assert (await client.post(EVENTS_PATH, content=stale_body, headers=stale)).status_code == 401
        assert recorder.calls == []

        r = await client.post(EVENTS_PATH, content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "results": [
                {"id": "a1", "status": "applied"},
                {"id": "a2", "status": "applied"},
                {"id": "a1", "status": "duplicate"},  # the same id twice in one array
            ]
        }
        assert [d["phone"] for _, d in recorder.calls] == [OWNER, "+201010000000"]
        # Replayed (at least once): every item a duplicate, nothing applied twice.
        again = await client.post(EVENTS_PATH, content=body, headers=headers)
        assert [i["status"] for i in again.json()["results"]] == ["duplicate"] * 3
        assert len(recorder.calls) == 2
        # The single-object form still works beside it.
        one = json.dumps(for_phone("a3", OWNER, False)).encode()
        ts = int(now().timestamp())
        r = await client.post(
            EVENTS_PATH,
            content=one,
            headers={"x-connect-timestamp": str(ts), "x-connect-signature": sign_event(secret, ts, one)},
        )
        assert r.status_code == 200 and r.json()["status"] == "applied"
        assert len(recorder.calls) == 3
    finally:
        recorder.close()


async def test_bad_arrays_are_refused_whole(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime
) -> None:
    recorder = Recorder(EVENT_ACCOUNT_VERIFICATION_CHANGED).attach(runtime.registry)
    try:
        secret = settings.secret()
        too_many = [for_phone(f"m{i}", OWNER) for i in range(MAX_EVENTS_PER_POST + 1)]
        for events in (
            too_many,
            [for_phone("ok", OWNER), {"id": "no-data", "type": "x"}],
            [for_phone("", OWNER)],
        ):
            body, headers = signed_array(secret, events)
            r = await client.post(EVENTS_PATH, content=body, headers=headers)
            assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        assert recorder.calls == []
        body, headers = signed_array(secret, [])
        r = await client.post(EVENTS_PATH, content=body, headers=headers)
        assert r.status_code == 200 and r.json() == {"results": []}
    finally:
        recorder.close()


async def test_a_failing_event_fails_alone_and_the_rest_is_skipped_then_applied(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime
) -> None:
    """The batch transaction fails; the events are applied one by one up to the failing one, whose error is
    reported; the later ones are ``skipped`` (not applied) for the pump to post again."""
    seen: list[str] = []
    broken = {"+201010000001"}

    async def handler(session: AsyncSession, rt: Runtime, data: dict[str, Any]) -> None:
        if data["phone"] in broken:
            raise RuntimeError("not today")
        seen.append(data["phone"])

    handlers = runtime.registry.connect_handlers.setdefault(EVENT_ACCOUNT_VERIFICATION_CHANGED, [])
    handlers.append(handler)
    try:
        events = [for_phone("f1", OWNER), for_phone("f2", "+201010000001"), for_phone("f3", "+201010000002")]
        body, headers = signed_array(settings.secret(), events)
        r = await client.post(EVENTS_PATH, content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["results"] == [
            {"id": "f1", "status": "applied"},
            {"id": "f2", "status": "failed", "error": "RuntimeError"},
            {"id": "f3", "status": "skipped"},
        ]
        # f1 ran in the batch's attempt (rolled back: handlers are idempotent), then applied by itself; f3 not.
        assert seen == [OWNER, OWNER]
        broken.clear()
        r = await client.post(EVENTS_PATH, content=body, headers=headers)
        assert [i["status"] for i in r.json()["results"]] == ["duplicate", "applied", "applied"]
        assert seen[2:] == ["+201010000001", "+201010000002"]
    finally:
        handlers.remove(handler)


async def test_the_pump_posts_many_events_in_few_arrays_in_order_per_subject(runtime: Runtime) -> None:
    phones = [f"+2010100002{i:02d}" for i in range(30)]
    seen: list[tuple[str, bool]] = []

    async def handler(session: AsyncSession, rt: Runtime, data: dict[str, Any]) -> None:
        if data["phone"] in phones:
            seen.append((data["phone"], data["account_verified"]))

    posts: list[int] = []

    async def count(request: httpx.Request) -> None:
        ours = [e for e in json.loads(request.content) if e["data"].get("phone") in phones]
        if ours:
            posts.append(len(ours))

    handlers = runtime.registry.connect_handlers.setdefault(EVENT_ACCOUNT_VERIFICATION_CHANGED, [])
    handlers.append(handler)
    pump = runtime.embedded_connect.get().network.pump
    assert pump.target is not None
    target, pump.target = pump.target, None  # nowhere to post while the events are written: they wait
    c = ConnectAdminClient.of(runtime.connect.get())
    target.event_hooks["request"].append(count)
    try:
        for phone in phones:
            await c.create_account(phone)
            await c.set_account_verified(phone, True)
            await c.set_account_verified(phone, False)
        pump.target = target
        for _ in range(20):
            await pump.run_once()
            if len(seen) == 2 * len(phones):
                break
    finally:
        handlers.remove(handler)
        pump.target = target
        target.event_hooks["request"].remove(count)
    assert len(seen) == 2 * len(phones)
    for phone in phones:
        assert [v for p, v in seen if p == phone] == [True, False], phone
    # 150 events (per account: 2 verification changes and 3 reachability snapshots) in a handful of posts
    # (spread over PARALLEL arrays) instead of 150.
    assert sum(posts) == 150 and len(posts) <= 8, posts
