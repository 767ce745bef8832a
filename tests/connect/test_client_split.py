"""The Business side's ConnectClient is only what its paths call; the operator and test-only calls of the
reference network are ConnectAdminClient's, over the same transport as the runtime's client."""

from __future__ import annotations

import pytest

from tests.fixtures.fake_connect import FakeConnect
from tgo.channels.connect import ConnectClient, HttpConnectClient
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.runtime import Runtime

OPERATOR_CALLS = (
    "create_account",
    "set_account_verified",
    "set_phone_verified",
    "disable_account",
    "block",
    "unblock",
    "inbox",
    "inbox_page",
    "mark_read",
    "attempts",
    "fail_next_messages",
    "inbox_key",
    "inbox_key_matches",
    "inbox_url",
)


def test_the_business_client_is_an_abstract_protocol_without_operator_calls() -> None:
    assert ConnectClient.__abstractmethods__ == {
        "get_account",
        "lookup",
        "reachability_page",
        "deliver",
        "aclose",
        # Two-way messaging (issue 18): the link table and inbound files are Business paths too.
        "set_link",
        "replace_links",
        "fetch_media",
    }
    for name in OPERATOR_CALLS:
        assert not hasattr(ConnectClient, name), name
        assert not hasattr(HttpConnectClient, name), name
        assert callable(getattr(ConnectAdminClient, name)), name
    with pytest.raises(TypeError):
        ConnectClient()  # type: ignore[abstract]


async def test_the_admin_client_shares_the_runtime_clients_transport(runtime: Runtime) -> None:
    client = runtime.connect.get()
    assert isinstance(client, HttpConnectClient) and not isinstance(client, ConnectAdminClient)
    admin = ConnectAdminClient.of(runtime.connect.get())
    assert admin.api is client.api
    assert ConnectAdminClient.of(admin) is admin
    account = await admin.create_account("+201001187188", verified=True)
    assert await client.get_account("+201001187188") == account


def test_a_client_without_a_connect_api_has_no_operator_calls() -> None:
    with pytest.raises(TypeError, match="FakeConnect reaches no Connect API"):
        ConnectAdminClient.of(FakeConnect())
