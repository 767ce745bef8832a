"""A known dashboard page asked with a method it does not take (PUT /dashboard/messages) gets the dashboard's
HTML 405 in the user's language with an ``Allow`` header; the API's paths keep their JSON 405."""

from __future__ import annotations

import httpx

from tests.dashboard.test_error_pages import to_arabic


def _allowed(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


async def test_a_wrong_method_on_a_dashboard_page_gets_the_html_405(signed_in: httpx.AsyncClient) -> None:
    for method, path in (
        ("PUT", "/dashboard/messages"),
        ("DELETE", "/dashboard/messages"),
        ("PATCH", "/dashboard/api-keys"),
        ("PUT", "/dashboard/static/app.css"),
    ):
        response = await signed_in.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["content-type"].startswith("text/html"), (method, path)
        assert "<h1>Not possible here</h1>" in response.text, (method, path)
        assert "GET" in _allowed(response) and method not in _allowed(response), (method, path)
    await to_arabic(signed_in)
    arabic = await signed_in.delete("/dashboard/api-keys")
    assert arabic.status_code == 405 and arabic.headers["content-type"].startswith("text/html")
    assert 'lang="ar" dir="rtl"' in arabic.text and "<h1>غير ممكن هنا</h1>" in arabic.text
    assert "GET" in _allowed(arabic)


async def test_a_wrong_method_without_a_session_is_html_too(client: httpx.AsyncClient) -> None:
    response = await client.put("/dashboard/login", headers={"Accept-Language": "ar"})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert "غير ممكن هنا" in response.text
    assert {"GET", "POST"} <= _allowed(response)


async def test_the_api_keeps_its_json_405(client: httpx.AsyncClient) -> None:
    for method, path in (("PUT", "/api/v1/me"), ("PATCH", "/v1/sms/messages"), ("PUT", "/healthz")):
        response = await client.request(method, path, headers={"X-Api-Key": "tgo_whatever"})
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json"), (method, path)
        assert response.json()["code"] == "method_not_allowed"
        assert "GET" in _allowed(response)
