"""The handshake: paths, keys, dialects, subprotocols."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from realtime_agent.server import LocalRealtimeServer
from tests.server.client import client


async def refused(url: str, headers: list[tuple[str, str]]) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        async with client(url, headers):
            pass
    return caught.value


async def test_any_key_or_none_is_accepted_by_default(server: LocalRealtimeServer) -> None:
    for headers in ([], [("Authorization", "Bearer sk-anything")], [("api-key", "azure-key")]):
        async with client(server.url, headers) as peer:
            assert peer.received[0]["type"] == "session.created"


async def test_a_configured_key_refuses_others_with_401_before_the_upgrade() -> None:
    secret = "sk-local-secret-123"
    async with LocalRealtimeServer(api_key=secret) as server:
        wrong = await refused(server.url, [("Authorization", "Bearer sk-wrong-456")])
        assert wrong.response.status_code == 401
        body = json.loads(wrong.response.body)
        assert body["error"]["code"] == "invalid_api_key"
        assert "sk-wrong-456" not in wrong.response.body.decode()
        missing = await refused(server.url, [])
        assert missing.response.status_code == 401
        assert "didn't provide an API key" in json.loads(missing.response.body)["error"]["message"]
        async with client(server.url, [("Authorization", f"Bearer {secret}")]) as peer:
            assert peer.received[0]["type"] == "session.created"
        async with client(server.url.replace("/v1/", "/openai/v1/"), [("api-key", secret)]) as peer:
            assert peer.received[0]["type"] == "session.created"
        assert secret not in repr(server)


async def test_unknown_paths_are_404_and_azure_preview_needs_its_parameters(
    server: LocalRealtimeServer,
) -> None:
    assert (await refused(f"{server.base_url}/v2/realtime", [])).response.status_code == 404
    preview = f"{server.base_url}/openai/realtime?api-version=2025-04-01-preview"
    assert (await refused(preview, [])).response.status_code == 400


async def test_dialect_follows_the_header_or_the_azure_preview_path(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        assert "output_modalities" in peer.received[0]["session"]
    async with client(server.url, [("OpenAI-Beta", "realtime=v1")]) as peer:
        session = peer.received[0]["session"]
        assert session["modalities"] == ["text", "audio"] and "output_modalities" not in session
    preview = f"{server.base_url}/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-4o"
    async with client(preview, [("api-key", "k")]) as peer:
        assert "modalities" in peer.received[0]["session"]
    async with client(f"{server.base_url}/openai/v1/realtime?model=gpt-realtime") as peer:
        assert "output_modalities" in peer.received[0]["session"]
    assert [s.dialect for s in server.sessions] == ["ga", "beta", "beta", "ga"]


async def test_browser_subprotocols_carry_the_key_and_the_dialect() -> None:
    async with LocalRealtimeServer(api_key="sk-browser") as server:
        protocols = ["realtime", "openai-insecure-api-key.sk-browser", "openai-beta.realtime-v1"]
        async with client(server.url, subprotocols=protocols) as peer:
            assert peer.ws.subprotocol == "realtime"
            assert "modalities" in peer.received[0]["session"]
        bad = ["realtime", "openai-insecure-api-key.sk-other"]
        with pytest.raises(InvalidStatus):
            async with client(server.url, subprotocols=bad):
                pass
