"""The dashboard's own error pages for any method (in process, SQLite and PostgreSQL): a POST to an unknown
address gets the HTML 404 in the user's language (not the API's JSON 405), with or without a CSRF token."""

from __future__ import annotations

import httpx

from tests.dashboard.conftest import csrf_of


async def to_arabic(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/api-keys")
    switched = await client.post(
        "/dashboard/language", data={"lang": "ar", "next": "/dashboard/", "_csrf": csrf_of(page.text)}
    )
    assert switched.status_code == 303


async def test_a_post_to_an_unknown_address_gets_the_html_404(signed_in: httpx.AsyncClient) -> None:
    token = csrf_of((await signed_in.get("/dashboard/api-keys")).text)
    for method, data in (("POST", {}), ("POST", {"_csrf": token}), ("PUT", {}), ("DELETE", None)):
        response = await signed_in.request(method, "/dashboard/no-such-page/x", data=data)
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"].startswith("text/html"), method
        assert "<h1>Page not found</h1>" in response.text, method
        assert 'id="logout"' in response.text  # the dashboard's look, signed in
    await to_arabic(signed_in)
    arabic = await signed_in.post("/dashboard/no-such-page", data={})
    assert arabic.status_code == 404 and arabic.headers["content-type"].startswith("text/html")
    assert 'lang="ar" dir="rtl"' in arabic.text and "<h1>الصفحة غير موجودة</h1>" in arabic.text


async def test_a_post_to_an_unknown_address_without_a_session_is_html_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/dashboard/nothing-here", data={}, headers={"Accept-Language": "ar"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "الصفحة غير موجودة" in response.text
