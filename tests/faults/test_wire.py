"""A hostile server at the level of the wire: broken WebSocket frames, calls that do not
parse, answers the runtime does not expect. Every call answered exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from realtime_agent.errors import ConnectionLost, LocalProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.tools import tool
from tests.faults.hostile import TIMEOUT, HostileServer, Peer
from tests.runtime.conftest import collect_until, next_of


def leftover(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() - before if not t.done()}


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("reserved opcode", b"\x83\x00"),  # FIN, opcode 3: reserved
        ("invalid close code", b"\x88\x02\x03\xec"),  # close with code 1004: reserved
        ("unmasked continuation", b"\x80\x00"),  # a continuation with nothing to continue
    ],
)
async def test_a_broken_websocket_frame_ends_the_session_at_once(name: str, raw: bytes) -> None:
    async def broken(peer: Peer) -> None:
        await peer.expect("session.update")
        peer.ws.transport.write(raw)
        await asyncio.Event().wait()  # and never closes the TCP connection itself

    before = asyncio.all_tasks()
    async with HostileServer(broken) as server:
        # A long close time-out: waiting for the broken peer would take that long.
        async with connect(Agent(), url=server.url, close_timeout=60) as session:
            events = await asyncio.wait_for(_all(session), 5)
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, ConnectionLost)
    assert closed.error.code == 1002 and "broke the WebSocket protocol" in str(closed.error)
    assert leftover(before) == set()


async def _all(session: Any) -> list[app.AppEvent]:
    return [event async for event in session]


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__


@tool
def unprintable() -> object:
    """Returns what cannot be shown."""
    return {"value": Unprintable()}


@tool
def surrogate() -> str:
    """Returns text no JSON can carry."""
    return "caf\udce9"


@tool
async def fine(city: str) -> str:
    """Works."""
    return f"sunny in {city}"


async def test_every_call_is_answered_exactly_once_whatever_comes_back() -> None:
    calls = {
        "c_unprintable": ("unprintable", "{}"),
        "c_surrogate": ("surrogate", "{}"),
        "c_unknown": ("launch_rockets", "{}"),
        "c_bad_json": ("fine", "{not json"),
        "c_fine": ("fine", '{"city": "Oslo"}'),
    }

    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        await peer.response_created("r1")
        for call_id, (name, arguments) in calls.items():
            await peer.function_call("r1", call_id, name, arguments)
        await peer.function_call("r1", "c_fine", "fine", '{"city": "Oslo"}')  # a duplicate
        # Arguments that are an object, not JSON text: the event itself is invalid.
        await peer.send(
            '{"type":"response.function_call_arguments.done","event_id":"e_broken",'
            '"response_id":"r1","item_id":"item_c_broken","output_index":0,'
            '"call_id":"c_broken","name":"fine","arguments":{"city":"Paris"}}'
        )
        await peer.response_done("r1")
        await peer.expect("response.create")
        await peer.ws.wait_closed()

    async with HostileServer(script) as server:
        async with connect(Agent(tools=[unprintable, surrogate, fine]), url=server.url) as session:
            ends: list[app.ToolEnd] = []
            while len(ends) < len(calls) + 1:
                ends.append(await next_of(session, app.ToolEnd))
            peer = server.peers[0]
            await peer.expect("response.create")
    answers = peer.outputs()
    assert sorted(answers) == sorted([*calls, "c_broken"])
    assert all(len(outputs) == 1 for outputs in answers.values()), answers  # exactly once
    assert answers["c_fine"] == ["sunny in Oslo"]
    errors = {e.call_id: e.error for e in ends}
    assert errors["c_fine"] is None
    assert "cannot be shown" in str(errors["c_unprintable"])
    assert "not valid Unicode" in str(errors["c_surrogate"])
    assert "no tool named 'launch_rockets'" in str(errors["c_unknown"])
    assert "Invalid arguments for fine" in str(errors["c_bad_json"])
    assert "could not be read" in str(errors["c_broken"])
    for call_id in ("c_unprintable", "c_surrogate", "c_unknown", "c_bad_json", "c_broken"):
        assert "error" in json.loads(answers[call_id][0])  # the model reads what went wrong
    (create,) = peer.of("response.create")
    assert "response" not in create  # no null the API refuses


async def test_the_application_is_told_at_the_call_about_what_cannot_be_sent() -> None:
    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        await peer.ws.wait_closed()

    async with HostileServer(script) as server:
        async with connect(Agent(turn_detection=None), url=server.url) as session:
            with pytest.raises(LocalProtocolError, match=r"cannot send conversation\.item\.create"):
                await session.send_text("caf\udce9")
            with pytest.raises(LocalProtocolError, match="audio is bytes"):
                await session.send_audio("not audio")  # type: ignore[arg-type]
            with pytest.raises(LocalProtocolError, match="even length"):
                await session.send_audio(b"\x00\x00\x00")
            with pytest.raises(LocalProtocolError, match=r"cannot send response\.create"):
                await session.create_response(ResponseCreateParams(instructions="\ud800"))
            await session.send_text("still here", respond=False)  # the session goes on
            peer = server.peers[0]
            (sent,) = await peer.expect("conversation.item.create")
    assert sent["item"]["content"][0]["text"] == "still here"


async def test_a_refused_request_is_released_and_the_next_goes_out() -> None:
    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        (first,) = await peer.expect("response.create")
        await peer.error("invalid_value", "Invalid value for 'response.voice'", first["event_id"])
        await peer.expect("response.create", 2)
        await peer.ws.wait_closed()

    async with HostileServer(script) as server:
        async with connect(Agent(turn_detection=None), url=server.url) as session:
            await session.create_response(ResponseCreateParams(instructions="A"))
            error = await next_of(session, app.ErrorRaised)
            assert error.code == "invalid_value"
            await session.create_response(ResponseCreateParams(instructions="B"))
            peer = server.peers[0]
            creates = await peer.expect("response.create", 2)
    assert [c["response"]["instructions"] for c in creates] == ["A", "B"]


async def test_a_race_after_back_to_back_server_responses_never_reaches_the_application() -> None:
    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        (first,) = await peer.expect("response.create")
        await peer.response_created("r_vad1")  # the server's own, not ours...
        await peer.response_done("r_vad1")
        await peer.response_created("r_vad2")  # ...and another, while ours arrives
        await peer.error(
            "conversation_already_has_active_response",
            "Conversation already has an active response in progress: r_vad2.",
            first["event_id"],
        )
        await peer.response_done("r_vad2")
        await peer.expect("response.create", 2)
        await peer.response_created("r_ours")
        await peer.response_done("r_ours")
        await peer.ws.wait_closed()

    async with HostileServer(script) as server:
        async with connect(Agent(turn_detection=None), url=server.url) as session:
            await session.create_response(ResponseCreateParams(instructions="mine"))
            events = await collect_until(session, app.AgentEnd, lambda e: e.response_id == "r_ours")
    assert not [e for e in events if isinstance(e, app.ErrorRaised)]
    creates = server.peers[0].of("response.create")
    assert [c["response"]["instructions"] for c in creates] == ["mine", "mine"]


async def test_hung_sync_tools_hold_only_their_threads() -> None:
    release = threading.Event()

    @tool(timeout=0.2)
    def hangs() -> str:
        """Blocks until released."""
        release.wait(30)
        return "late"

    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        await peer.response_created("r1")
        for n in range(6):
            await peer.function_call("r1", f"c{n}", "hangs")
        await peer.response_done("r1")
        await peer.expect("response.create")
        await peer.ws.wait_closed()

    threads_before = threading.active_count()
    try:
        async with HostileServer(script) as server:
            async with connect(Agent(tools=[hangs]), url=server.url, tool_threads=2) as session:
                ends = [await next_of(session, app.ToolEnd) for _ in range(6)]
                assert threading.active_count() - threads_before <= 2
                assert session.abandoned_calls == 6
                await server.peers[0].expect("response.create")
    finally:
        release.set()
    assert all("timed out after 0.2 s" in str(e.error) for e in ends)
    assert sorted(server.peers[0].outputs()) == [f"c{n}" for n in range(6)]


async def test_a_server_that_stops_reading_ends_the_session() -> None:
    async def script(peer: Peer) -> None:
        await peer.expect("session.update")
        peer.ws.transport.pause_reading()  # from now on the client's events pile up
        await peer.response_created("r1")
        long = "c" * 2000
        for n in range(8000):  # each call is answered at once (no such tool)
            await peer.function_call("r1", f"{long}{n}", "no_such_tool")
        await asyncio.Event().wait()

    async with HostileServer(script) as server:
        async with connect(Agent(), url=server.url, close_timeout=0.5) as session:
            await asyncio.wait_for(session.wait_ended(), TIMEOUT)
            events = [e async for e in session]
    closed = events[-1]
    assert isinstance(closed, app.Closed) and isinstance(closed.error, ConnectionLost)
    assert "the server is not reading: 1025 events wait to be sent" in str(closed.error)
