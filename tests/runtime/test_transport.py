"""Endpoints, keys that never show, connection errors, and a close that is always bounded."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import pickle
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from realtime_agent.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionLost,
    LocalProtocolError,
)
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, Endpoint, Secret, connect
from realtime_agent.runtime.transport import WebSocketTransport, open_transport
from realtime_agent.schema.client import ResponseCancel
from realtime_agent.schema.dialect import Dialect
from realtime_agent.server import LocalRealtimeServer, ScriptedResponder, faults
from tests.runtime.conftest import collect_until, next_of

KEY = "sk-test-1234567890abcdef"


def test_openai_endpoint_takes_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    endpoint = Endpoint.openai("gpt-realtime")
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert endpoint.dialect is Dialect.GA
    assert endpoint.headers() == [("Authorization", f"Bearer {KEY}")]
    beta = Endpoint.openai(api_key="sk-other", beta=True)
    assert ("OpenAI-Beta", "realtime=v1") in beta.headers()
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LocalProtocolError, match="OPENAI_API_KEY"):
        Endpoint.openai()


def test_azure_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    ga = Endpoint.azure("https://myres.openai.azure.com", "my-realtime")
    assert ga.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=my-realtime"
    assert ga.dialect is Dialect.GA and ga.headers() == [("api-key", KEY)]
    preview = Endpoint.azure("myres", "gpt-4o-rt", api_version="2025-04-01-preview")
    assert preview.url == (
        "wss://myres.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-4o-rt"
    )
    assert preview.dialect is Dialect.BETA
    entra = Endpoint.azure("myres", "d", token="eyJ-token")
    assert entra.headers() == [("Authorization", "Bearer eyJ-token")]


def test_keys_never_show_in_reprs_or_strings() -> None:
    endpoint = Endpoint.openai(api_key=KEY)
    session = connect(Agent(), endpoint=endpoint)
    for text in (repr(endpoint), str(endpoint), repr(session), repr(Secret(KEY)), str(Secret(KEY))):
        assert KEY not in text
    assert Secret(KEY).reveal() == KEY


async def test_keys_never_show_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalRealtimeServer(api_key=KEY) as server:
        async with connect(Agent(), url=server.url, api_key=KEY) as session:
            await session.send_event(ResponseCancel())
            await next_of(session, app.ErrorRaised)
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # headers were logged...
    assert not any(KEY in r.getMessage() for r in caplog.records)  # ...with the key hidden


async def test_a_refused_key_is_an_authentication_error_without_the_key() -> None:
    async with LocalRealtimeServer(api_key="sk-right") as server:
        with pytest.raises(AuthenticationError) as caught:
            async with connect(Agent(), url=server.url, api_key=KEY):
                pass
    assert caught.value.status == 401
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


async def test_an_unreachable_server_is_a_connect_error() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(ConnectError, match="cannot connect"):
        await open_transport(Endpoint.local(f"ws://127.0.0.1:{port}/v1/realtime"), open_timeout=2)
    with pytest.raises(LocalProtocolError, match="ws://"):
        Endpoint.local("http://127.0.0.1:1/v1/realtime")


async def test_close_is_bounded_when_the_peer_never_answers() -> None:
    """A peer that upgrades, then ignores everything, the close frame included."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        await asyncio.Event().wait()  # never reads again, never closes

    listener = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        transport = await open_transport(
            Endpoint.local(f"ws://127.0.0.1:{port}/v1/realtime"), close_timeout=0.3
        )
        loop = asyncio.get_running_loop()
        began = loop.time()
        await transport.close()
        assert loop.time() - began < 1.5
    finally:
        listener.close()


async def test_a_dropped_connection_ends_the_session_with_a_typed_error() -> None:
    plan = [faults.drop(at_event="response.created")]
    async with LocalRealtimeServer(faults=plan) as server:
        async with connect(Agent(), url=server.url, reconnect=None) as session:
            await session.send_text("hello")
            closed = await next_of(session, app.Closed)
            assert isinstance(closed.error, ConnectionLost) and closed.error.code == 1006
            assert session.ended
            with pytest.raises(ConnectionLost):  # the session's end error, for every send
                await session.send_text("anyone?")


async def test_a_server_close_ends_the_session_with_its_code_and_reason() -> None:
    async with LocalRealtimeServer(faults=[faults.expire(after_seconds=0.05)]) as server:
        async with connect(Agent(), url=server.url, reconnect=None) as session:
            events = []
            async for event in session:
                events.append(event)
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, ConnectionLost)
    assert closed.error.code == 1001 and "60 minutes" in closed.error.reason
    errors = [e for e in events if isinstance(e, app.ErrorRaised)]
    assert errors and errors[0].code == "session_expired"


async def test_a_malformed_frame_is_an_error_event_and_the_session_goes_on() -> None:
    plan = [
        faults.malformed(
            '{"type": "response.output_audio.delta", "event_id": "e1", "delta": 5}',
            at_event="response.created",
        )
    ]
    async with LocalRealtimeServer(faults=plan) as server:
        async with connect(Agent(), url=server.url) as session:
            await session.send_text("hello")
            error = await next_of(session, app.ErrorRaised)
            assert error.code == "remote_protocol_error"
            assert error.raw is not None and '"delta": 5' in error.raw
            assert "response.output_audio.delta" in error.message
            end = await next_of(session, app.AgentEnd)  # and the conversation goes on
    assert end.status == "completed"


@pytest.mark.parametrize("at", [1, 3])
async def test_a_fragmented_message_arrives_whole_and_in_order(at: int) -> None:
    # Events come straight from the frame parser (no queue) until a fragmented message
    # turns that path off; nothing may be lost or reordered across the switch.
    reply = "One two three four five six seven eight."
    plan = [faults.fragment(4, at_event="response.output_audio.delta", occurrence=at)]
    async with LocalRealtimeServer(faults=plan, responder=ScriptedResponder([reply])) as server:
        async with connect(Agent(), url=server.url, raw_events=True) as session:
            await session.send_text("hello")
            events = await collect_until(session, app.AgentEnd)
        entry = server.sessions[0].conversation.entries()[-1]
    raw = [e.event.type for e in events if isinstance(e, app.RawServerEvent)]
    assert raw[:3] == ["session.created", "conversation.created", "session.updated"]
    audio = b"".join(e.audio for e in events if isinstance(e, app.AudioDelta))
    assert audio == bytes(entry.audio)  # every piece, in order
    said = "".join(e.delta for e in events if isinstance(e, app.TranscriptDelta))
    assert said == reply
    last_delta = max(i for i, kind in enumerate(raw) if kind == "response.output_audio.delta")
    assert raw.index("response.output_audio.done") > last_delta
    assert raw[-1] == "response.done"


async def test_a_failing_event_handler_ends_the_connection_with_its_error() -> None:
    class Boom(Exception):
        pass

    def explode(event: object) -> None:
        raise Boom("a bug in the handler")

    async with LocalRealtimeServer() as server:
        transport = await open_transport(Endpoint.local(server.url))
        try:
            transport.deliver(explode, lambda error: None)
            await transport.send(ResponseCancel())  # the server answers with an error event
            with pytest.raises(Boom):
                while True:  # session.created may have come before deliver()
                    await transport.recv()
        finally:
            await transport.close()


async def test_the_fast_path_carries_the_events() -> None:
    # Server events are parsed inside the socket's data_received (no queue, no task
    # switch per message); this fails if a websockets version stops calling our hook.
    async with LocalRealtimeServer(responder=ScriptedResponder(["Hello there."])) as server:
        async with connect(Agent(), url=server.url) as session:
            await session.send_text("hi")
            await next_of(session, app.AgentEnd)
            transport = session.transport
            assert isinstance(transport, WebSocketTransport)
            received = session.core.events_received
            # All but what came before the reader started (session.created, say).
            assert received > 10 and received - 3 <= transport.fast_path_messages <= received


async def test_a_401_that_echoes_the_key_shows_it_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def refuse(connection: ServerConnection, request: Request) -> Response:
        echoed = request.headers.get("Authorization", "")
        body = f'{{"error": {{"message": "Incorrect API key provided: {echoed}"}}}}'.encode()
        headers = Headers([("X-Echo", echoed), ("Content-Length", str(len(body)))])
        return Response(401, "Unauthorized", headers, body)

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as srv:
        port = srv.sockets[0].getsockname()[1]
        with pytest.raises(AuthenticationError) as caught:
            await open_transport(Endpoint.local(f"ws://127.0.0.1:{port}/v1/realtime", api_key=KEY))
    error = caught.value
    assert error.__context__ is None and error.__cause__ is None
    assert KEY not in str(error) and KEY not in repr(error)
    assert KEY.encode() not in pickle.dumps(error)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("realtime_agent")]
    assert any("X-Echo" in message for message in ours)  # the echo was logged...
    assert [message for message in ours if KEY in message] == []  # ...with the key hidden


async def test_a_key_echoed_in_a_broken_frame_stays_hidden() -> None:
    async def echo(ws: ServerConnection) -> None:
        assert ws.request is not None
        await ws.send(f'{{"type": "error", "leaked": "{ws.request.headers["Authorization"]}"}}')
        await ws.wait_closed()

    async with serve(echo, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        async with connect(Agent(), url=url, api_key=KEY) as session:
            error = await next_of(session, app.ErrorRaised)
    assert "***" in (error.raw or "")
    assert KEY not in (error.raw or "") and KEY not in error.message


async def test_a_transport_factory_opens_the_connection() -> None:
    opened: list[Endpoint] = []

    async def tapped(endpoint: Endpoint, *, open_timeout: float, close_timeout: float) -> Any:
        opened.append(endpoint)
        return await open_transport(
            endpoint, open_timeout=open_timeout, close_timeout=close_timeout
        )

    async with LocalRealtimeServer(responder=ScriptedResponder(["Hi."])) as server:
        async with connect(Agent(), url=server.url, transport=tapped) as session:
            await session.send_text("hello")
            await next_of(session, app.AgentEnd)
        assert [e.url for e in opened] == [server.url]
