"""The server as a process on a port: message size, connections, origins, slow clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Sequence

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, Speech
from realtime_agent.server import connection as server_connection
from tests.server.client import TIMEOUT, client

KIB = 1024


class Silence:
    """A synthesizer that says anything as ``seconds`` of silence (cheap, for long replies)."""

    def __init__(self, seconds: float) -> None:
        self.pcm = bytes(2 * int(24000 * seconds))

    def synthesize(self, text: str, voice: str = "marin") -> Speech:
        return Speech(pcm=self.pcm, words=((0, text),))


def append(audio_bytes: int) -> str:
    audio = base64.b64encode(bytes(audio_bytes)).decode()
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


async def refused(url: str, headers: Sequence[tuple[str, str]] = ()) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        async with client(url, headers):
            pass
    return caught.value


# --- message size ------------------------------------------------------------------------------


async def test_a_message_over_the_limit_closes_its_connection_with_1009_only() -> None:
    async with LocalRealtimeServer(max_message_bytes=64 * KIB) as server:
        async with client(server.url) as other:
            async with client(server.url) as peer:
                await peer.ws.send(append(48 * KIB))  # 64 KiB of base64 and JSON: over
                with pytest.raises(ConnectionClosed):
                    await peer.recv()
                assert peer.ws.close_code == 1009
            # The server and its other connections go on.
            await other.ws.send(append(46 * KIB))  # just under the limit
            await other.send({"type": "input_audio_buffer.clear"})
            assert (await other.recv())["type"] == "input_audio_buffer.cleared"
        async with client(server.url) as peer:
            assert peer.received[0]["type"] == "session.created"


def test_the_default_message_limit_takes_the_largest_real_event() -> None:
    largest = len(append(15 * 1024 * 1024))  # a 15 MiB audio append, the API's maximum
    server = LocalRealtimeServer()
    assert server.max_message_bytes is not None
    assert largest < server.max_message_bytes < 4 * largest


# --- connections -------------------------------------------------------------------------------


async def test_a_connection_over_the_cap_is_refused_with_503_before_the_upgrade() -> None:
    async with LocalRealtimeServer(max_connections=2) as server:
        async with client(server.url) as first, client(server.url):
            third = await refused(server.url)
            assert third.response.status_code == 503
            error = json.loads(third.response.body)["error"]
            assert error["code"] == "too_many_connections"
            assert "at most 2 connections" in error["message"]
            assert len(server.sessions) == 2  # the refused one never became a session
            await first.ws.close()
            async with client(server.url) as again:  # a closed one frees its place
                assert again.received[0]["type"] == "session.created"


# --- origins -----------------------------------------------------------------------------------


async def test_an_origin_allow_list_refuses_other_browsers_with_403() -> None:
    allowed = "http://localhost:3000"
    async with LocalRealtimeServer(allowed_origins=[allowed]) as server:
        async with client(server.url, [("Origin", allowed)]) as peer:
            assert peer.received[0]["type"] == "session.created"
        async with client(server.url) as peer:  # no Origin: not a browser
            assert peer.received[0]["type"] == "session.created"
        other = await refused(server.url, [("Origin", "https://evil.example")])
        assert other.response.status_code == 403
        error = json.loads(other.response.body)["error"]
        assert error["code"] == "origin_not_allowed"
        assert "evil.example" not in other.response.body.decode()
        assert len(server.sessions) == 2


async def test_any_origin_is_served_by_default(server: LocalRealtimeServer) -> None:
    async with client(server.url, [("Origin", "https://anywhere.example")]) as peer:
        assert peer.received[0]["type"] == "session.created"


def test_limits_are_checked() -> None:
    for bad in ({"max_message_bytes": 0}, {"max_connections": -1}, {"max_outbound_bytes": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LocalRealtimeServer(**bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        LocalRealtimeServer(allowed_origins="http://localhost:3000")


# --- clients that do not read ------------------------------------------------------------------


async def unread(url: str) -> ClientConnection:
    """A client that reads nothing: past one queued message, its socket is not read."""
    return await connect(url, max_queue=1, max_size=None)


async def dropped(server: LocalRealtimeServer, ws: ClientConnection) -> None:
    """Wait until the server has dropped the one connection it serves; the client sees 1006."""
    (served,) = server.connections
    await asyncio.wait_for(served.wait_closed(), TIMEOUT)
    assert served.transport.get_write_buffer_size() == 0  # what waited is freed
    assert server.connections == frozenset()
    with pytest.raises(ConnectionClosed):
        while True:  # what the client had, then the end without a close frame
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert ws.close_code == 1006


async def test_a_client_that_does_not_read_a_long_reply_is_dropped_and_freed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = 256 * KIB
    async with LocalRealtimeServer(
        responder=ScriptedResponder(["A long answer."]),
        synthesizer=Silence(seconds=600),  # 38 MB of base64: far more than any buffer
        pacing=Pacing.times(10_000),  # paced: streamed whether or not the client reads
        max_outbound_bytes=limit,
    ) as server:
        ws = await unread(server.url)
        await ws.send(json.dumps({"type": "response.create"}))
        with caplog.at_level(logging.WARNING, logger="realtime_agent.server"):
            await dropped(server, ws)
        (session,) = server.sessions
        assert session.disconnected == "not reading"
        assert limit < session.outbound_peak <= limit + 8 * KIB  # over by one event at most
        assert "does not read" in caplog.text
        async with client(server.url) as peer:  # the server goes on
            assert peer.received[0]["type"] == "session.created"


async def test_a_client_that_asks_without_reading_is_dropped() -> None:
    """Answers to its own events (here a large item, retrieved again and again) are bounded too."""
    limit = 1024 * KIB
    async with LocalRealtimeServer(max_outbound_bytes=limit) as server:
        ws = await unread(server.url)
        audio = base64.b64encode(bytes(48_000 * 5)).decode()  # 5 s: 320 KB of base64
        content = [{"type": "input_audio", "audio": audio}]
        item = {"id": "big", "type": "message", "role": "user", "content": content}
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        retrieve = json.dumps({"type": "conversation.item.retrieve", "item_id": "big"})
        with contextlib.suppress(ConnectionClosed):
            for _ in range(1000):  # 320 MB of answers, if all were kept
                await ws.send(retrieve)
        await dropped(server, ws)
        (session,) = server.sessions
        assert session.disconnected == "not reading"
        assert session.outbound_peak <= limit + 400 * KIB  # over by one event at most


async def test_a_client_that_reads_an_instant_reply_is_never_dropped() -> None:
    """Instant audio goes as fast as the client reads: the limit is never reached."""
    limit = 64 * KIB
    async with (
        LocalRealtimeServer(
            responder=ScriptedResponder(["A long answer."]),
            synthesizer=Silence(seconds=30),  # 1.9 MB of base64: 30 times the limit
            max_outbound_bytes=limit,
        ) as server,
        client(server.url) as peer,
    ):
        await peer.send({"type": "response.create"})
        events = await peer.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        (session,) = server.sessions
        assert session.disconnected is None
        assert session.outbound_peak <= limit


# --- the batched write -------------------------------------------------------------------------


async def test_a_burst_of_events_takes_few_socket_writes() -> None:
    async with (
        LocalRealtimeServer(
            responder=ScriptedResponder(["A long answer."]), synthesizer=Silence(seconds=20)
        ) as server,
        client(server.url) as peer,
    ):
        await peer.send({"type": "response.create"})
        events = await peer.until("response.done")
    (session,) = server.sessions
    assert len(events) > 500 and session.events_sent >= len(events)
    assert 0 < session.socket_writes <= session.events_sent / 10


async def test_without_the_internals_it_needs_the_server_warns_once_and_sends_plainly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class OldConnection:
        def send_data(self) -> None: ...

    class OldProtocol:
        def data_to_send(self) -> list[bytes]:
            return []

    gap = server_connection.batching_gap(OldConnection, OldProtocol)
    assert gap == "OldConnection.send_context, OldProtocol.send_text"
    monkeypatch.setattr(server_connection, "_GAP", gap)  # as on such a websockets version
    monkeypatch.setattr(server_connection, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="realtime_agent.server"):
        for _ in range(2):
            async with (
                LocalRealtimeServer(
                    responder=ScriptedResponder(["Hello there."]), synthesizer=Silence(seconds=2)
                ) as server,
                client(server.url) as peer,
            ):
                await peer.send({"type": "response.create"})
                events = await peer.until("response.done")
                assert events[-1]["response"]["status"] == "completed"
    warnings = [r for r in caplog.records if "lacks" in r.getMessage()]
    assert len(warnings) == 1 and gap in warnings[0].getMessage()
    (session,) = server.sessions
    assert session.socket_writes > session.events_sent  # the handshake, then one a message


@pytest.mark.parametrize("keep", [True, False])
async def test_a_long_running_server_forgets_each_session_when_it_ends(keep: bool) -> None:
    server = LocalRealtimeServer(keep_sessions=keep)
    async with server:
        for _ in range(5):
            async with client(server.url) as one:
                assert one.received[0]["type"] == "session.created"
                assert server.sessions  # a live one is always there
    # Once every connection's handler has returned (the server closed):
    assert len(server.sessions) == (5 if keep else 0)
