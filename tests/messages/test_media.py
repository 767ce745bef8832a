"""Media: each allowed format, each limit, type mismatches, truncated uploads, safe download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.fixtures import media
from tests.messages.conftest import OWNER, RECIPIENT
from tgo.config import Settings

BASE = {"sender_phone": OWNER, "to_phone": RECIPIENT}


async def post_media(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, name: str, data: bytes, **fields: Any
) -> httpx.Response:
    form = BASE | {"type": kind} | {k: str(v) for k, v in fields.items()}
    return await client.post(
        "/api/v1/messages",
        headers=headers,
        data=form,
        files={"media": (name, data, "application/octet-stream")},
    )


def media_files(settings: Settings) -> list[Path]:
    root = settings.resolved_media_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    ("kind", "name", "make", "content_type", "extra"),
    [
        ("image", "a.png", media.png, "image/png", {}),
        ("image", "a.jpg", media.jpeg, "image/jpeg", {}),
        ("image", "a.webp", media.webp, "image/webp", {}),
        ("voice", "a.ogg", media.ogg_opus, "audio/ogg", {"duration": 2}),
        ("voice", "a.mp3", media.mp3, "audio/mpeg", {"duration": 1}),
        ("voice", "a.amr", media.amr, "audio/amr", {"duration": 1}),
        ("voice", "a.m4a", media.m4a, "audio/mp4", {"duration": 1}),
        ("document", "a.pdf", media.pdf, "application/pdf", {"caption": "invoice"}),
        (
            "document",
            "a.docx",
            media.docx,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            {},
        ),
        ("document", "list.csv", media.csv, "text/csv", {}),
    ],
)
async def test_each_allowed_format(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    kind: str,
    name: str,
    make: Callable[[], bytes],
    content_type: str,
    extra: dict[str, Any],
) -> None:
    r = await post_media(client, headers, kind, name, make(), **extra)
    assert r.status_code == 201, r.text
    assert r.json()["media"]["content_type"] == content_type
    dl = await client.get(r.json()["media"]["url"], headers=headers)
    assert dl.content == make() and dl.headers["content-type"].startswith(content_type)


@pytest.mark.parametrize(
    ("kind", "name", "data", "extra"),
    [
        ("image", "fake.png", media.pdf(), {}),  # claims to be an image, is a PDF
        ("voice", "fake.ogg", media.png(), {"duration": 3}),
        ("document", "run.exe", b"MZ\x90\x00" + b"\x00" * 200, {}),
        ("image", "page.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {}),
    ],
)
async def test_type_mismatch_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    settings: Settings,
    kind: str,
    name: str,
    data: bytes,
    extra: dict[str, Any],
) -> None:
    r = await post_media(client, headers, kind, name, data, **extra)
    assert r.status_code == 422 and r.json()["code"] == "media_type_mismatch", r.text
    assert media_files(settings) == []


async def test_size_limits_per_type(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], settings: Settings
) -> None:
    big_image = media.png() + b"\x00" * (5 * 1024 * 1024)
    r = await post_media(client, headers, "image", "big.png", big_image)
    assert r.status_code == 413 and r.json()["code"] == "media_too_large"
    big_voice = media.mp3(frames=40_300)  # ~16.8 MB
    r = await post_media(client, headers, "voice", "big.mp3", big_voice, duration=10)
    assert r.status_code == 413
    assert media_files(settings) == []
    # Just under the image limit is fine.
    ok = media.png() + b"\x00" * (5 * 1024 * 1024 - len(media.png()) - 10)
    assert (await post_media(client, headers, "image", "ok.png", ok)).status_code == 201


async def test_whole_request_over_the_largest_limit_is_413(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], settings: Settings
) -> None:
    r = await client.post(
        "/api/v1/messages",
        headers={
            **headers,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(200 * 1024 * 1024),
        },
        content=b"--x--\r\n",
    )
    assert r.status_code == 413
    assert media_files(settings) == []


async def test_voice_rules(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    for duration in (None, 0, 301, "abc"):
        extra = {} if duration is None else {"duration": duration}
        r = await post_media(client, headers, "voice", "a.ogg", media.ogg_opus(), **extra)
        assert r.status_code == 422 and "duration" in r.json()["errors"], duration
    r = await post_media(client, headers, "voice", "a.ogg", media.ogg_opus(), duration=5, caption="no")
    assert r.status_code == 422 and "caption" in r.json()["errors"]


async def test_decompression_bomb_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], settings: Settings
) -> None:
    r = await post_media(client, headers, "image", "bomb.png", media.png_bomb())
    assert r.status_code == 422 and r.json()["code"] == "media_rejected"
    assert media_files(settings) == []


async def test_truncated_upload_is_refused_cleanly(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], settings: Settings
) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nimage\r\n'
        b'--b\r\nContent-Disposition: form-data; name="media"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + media.png()[:20]
    )  # cut off: no closing boundary
    r = await client.post(
        "/api/v1/messages",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )
    assert 400 <= r.status_code < 500
    assert media_files(settings) == []


async def test_html_document_is_never_served_inline(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    r = await post_media(client, headers, "document", "page.html", media.html())
    assert r.status_code == 201
    dl = await client.get(r.json()["media"]["url"], headers=headers)
    assert dl.headers["content-type"].startswith("text/plain")
    assert dl.headers["content-disposition"].startswith("attachment")
    assert dl.headers["x-content-type-options"] == "nosniff"


async def test_media_of_another_tenant_is_404(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    r = await post_media(client, headers, "image", "a.png", media.png())
    other = {"X-Api-Key": await make_key(await make_tenant("globex"))}
    assert (await client.get(r.json()["media"]["url"], headers=other)).status_code == 404


async def test_a_real_zlib_bomb_is_refused_with_bounded_memory(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], settings: Settings
) -> None:
    """A PNG declaring 2.5 G pixels, with a real deflate stream (100 MB of rows in ~100 KB): refused from its
    header, without inflating the rows — the request's peak Python-heap allocation (tracemalloc; Pillow's
    own C buffers are not counted) stays far below what inflating would take."""
    import tracemalloc
    import zlib

    width = height = 50_000  # 2.5 G pixels of 1 byte each, plus a filter byte per row
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(2_000)) + compressor.flush()
    data = media.png_bomb(width, height)
    # Same header, real (large) compressed stream: splice our IDAT in place of the fixture's tiny one.
    import struct

    ihdr_end = 8 + 25
    chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    bomb = data[:ihdr_end] + chunk + data[-12:]
    assert len(bomb) < 5 * 1024 * 1024
    tracemalloc.start()
    try:
        r = await post_media(client, headers, "image", "bomb.png", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422 and r.json()["code"] == "media_rejected", r.text
    assert media_files(settings) == []
    assert peak < 64 * 1024 * 1024, peak


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.cookie)</script></svg>"
)


async def test_svg_is_never_an_image_nor_served_inline(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    r = await post_media(client, headers, "image", "logo.svg", SVG)
    assert r.status_code == 422, r.text
    r = await post_media(client, headers, "document", "logo.svg", SVG)
    if r.status_code == 201:
        dl = await client.get(r.json()["media"]["url"], headers=headers)
        assert "svg" not in dl.headers["content-type"] and "html" not in dl.headers["content-type"]
        assert dl.headers["content-disposition"].startswith("attachment")
        assert dl.headers["x-content-type-options"] == "nosniff"
    else:
        assert r.status_code == 422, r.text


def raw_multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body with the filename's bytes as they are (httpx percent-escapes control characters,
    a hostile client does not)."""
    boundary = "tgo-raw-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="{filename}"\r\n'.encode()
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("raw_name", "stored"),
    [
        ("a.png\x00.html", "a.png.html"),  # NUL: the download's header was refused by uvicorn
        ("\x01\x7f", None),  # nothing but control characters
        ("invoice\u202egnp.exe.png", "invoicegnp.exe.png"),  # a bidi override that disguises the name
        ("a\tb\x1bc\x85.png", "abc.png"),  # tab, ESC, C1 NEL
        ("صورة\u200f العيد.png", "صورة العيد.png"),  # Arabic letters stay, the RLM mark does not
    ],
)
async def test_filenames_are_cleaned_at_upload(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], raw_name: str, stored: str
) -> None:
    from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE

    body, content_type = raw_multipart(BASE | {"type": "image"}, raw_name, media.png())
    r = await client.post("/api/v1/messages", headers={**headers, "Content-Type": content_type}, content=body)
    assert r.status_code == 201, r.text
    assert r.json()["media"]["filename"] == stored
    dl = await client.get(r.json()["media"]["url"], headers=headers)
    assert dl.status_code == 200 and dl.content == media.png()
    disposition = dl.headers.get_list("content-disposition", split_commas=False)[0]
    # What uvicorn (httptools) would refuse to send: the reply came back empty although the log said 200.
    raw = dl.headers.raw
    assert not [v for k, v in raw if HEADER_VALUE_RE.search(v)], raw
    assert disposition.startswith("attachment; filename=")
    assert "\u202e" not in disposition and "%E2%80%AE" not in disposition
    expected = stored or f"media-{r.json()['media']['id']}"
    assert f"filename*=UTF-8''{quote(expected)}" in disposition


def test_a_name_stored_before_cleaning_still_gives_a_valid_header() -> None:
    from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE

    from tgo.media.filenames import content_disposition

    header = content_disposition("attachment", "a.png\x00.html\u202e", "media-1")
    assert not HEADER_VALUE_RE.search(header.encode("latin-1"))
    assert header == "attachment; filename=\"a.png.html\"; filename*=UTF-8''a.png.html"
