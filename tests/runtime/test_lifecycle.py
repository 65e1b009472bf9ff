"""Ending a session, whatever happens: bounded, callable from a tool, never swallowing the
caller's cancellation, never hanging a sender, never logging a failure for a clean close."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from realtime_agent.audio.sources import ArraySource
from realtime_agent.errors import ConnectionLost, LocalProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.runtime.session import RealtimeSession, current_session
from realtime_agent.runtime.transport import WebSocketTransport
from realtime_agent.server import CallTool, LocalRealtimeServer, Say, ScriptedResponder
from realtime_agent.tools import tool
from tests.faults.hostile import HostileServer, Peer
from tests.runtime.conftest import TIMEOUT, next_of
from tests.runtime.test_session import speech


def leftover(before: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() - before if not t.done()}


class Stubborn:
    """A tool that ignores its cancellation, however often cancelled, until released."""

    def __init__(self) -> None:
        self.started, self.cancelled, self.release = (
            asyncio.Event(),
            asyncio.Event(),
            asyncio.Event(),
        )

        @tool(name="stubborn", timeout=60)
        async def run() -> str:
            """Ignores its cancellation."""
            self.started.set()
            while not self.release.is_set():
                try:
                    await self.release.wait()
                except asyncio.CancelledError:  # goes on regardless
                    self.cancelled.set()
            return "late"

        self.tool = run

    async def session(self, url: str, close_timeout: float) -> RealtimeSession:
        """A session whose tool call is running the stubborn tool."""
        session = connect(Agent(tools=[self.tool]), url=url, close_timeout=close_timeout)
        await session.start()
        await session.send_text("go")
        await asyncio.wait_for(self.started.wait(), TIMEOUT)
        return session


async def test_close_returns_within_its_bound_when_a_tool_swallows_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stubborn = Stubborn()
    async with LocalRealtimeServer(responder=ScriptedResponder([CallTool("stubborn")])) as server:
        session = await stubborn.session(server.url, close_timeout=0.5)
        began = time.monotonic()
        await session.close()
        elapsed = time.monotonic() - began
        assert stubborn.cancelled.is_set()
        assert elapsed < 0.5 + 0.5  # the bound, plus a margin for a slow machine
        assert session.ended and session.abandoned_calls == 1
        assert "did not stop within close_timeout=0.5 s; abandoned" in caplog.text
        assert "realtime-tool-stubborn" in caplog.text
        stubborn.release.set()  # the stubborn tool ends; its late result goes nowhere


async def test_a_caller_cancelled_while_closing_gets_its_cancellation() -> None:
    stubborn = Stubborn()
    before = asyncio.all_tasks()
    async with LocalRealtimeServer(responder=ScriptedResponder([CallTool("stubborn")])) as server:
        session = await stubborn.session(server.url, close_timeout=10)
        closing = asyncio.get_running_loop().create_task(session.close())
        await asyncio.wait_for(stubborn.cancelled.wait(), TIMEOUT)  # the close is under way
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(closing, TIMEOUT)  # not swallowed: it reaches the caller
        assert not session.ended  # the close goes on by itself...
        stubborn.release.set()
        await asyncio.wait_for(session.close(), TIMEOUT)  # ...to its end (idempotent)
        assert session.ended
        events = [e async for e in session]
        assert isinstance(events[-1], app.Closed) and events[-1].error is None
    assert leftover(before) == set()


async def test_a_tool_can_hang_up() -> None:
    goodbye_heard: list[bool] = []
    tool_tasks: list[asyncio.Future[object]] = []

    @tool
    async def hang_up() -> str:
        """End the call."""
        task = asyncio.current_task()
        assert task is not None
        tool_tasks.append(task)
        session = current_session()
        async with asyncio.timeout(TIMEOUT):
            goodbye_heard.append(await session.wait_for_playout())
        await session.close()
        assert session.ended  # close() returned: the session is over
        return "ended"

    before = asyncio.all_tasks()
    responder = ScriptedResponder([[Say("Goodbye!"), CallTool("hang_up")], "never said"])
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(Agent(tools=[hang_up]), url=server.url, close_timeout=1) as session:
            await session.send_text("bye")
            events = await asyncio.wait_for(_all(session), TIMEOUT)
            transport = session.transport
            assert isinstance(transport, WebSocketTransport) and transport.closed
    closed = events[-1]
    assert isinstance(closed, app.Closed) and closed.error is None
    assert closed.reason == "closed by the application"
    assert goodbye_heard == [True]
    assert any(isinstance(e, app.ToolStart) and e.name == "hang_up" for e in events)
    assert not any(isinstance(e, app.ToolEnd) for e in events)  # nobody left to answer
    assert await asyncio.wait_for(asyncio.gather(*tool_tasks), TIMEOUT) == ["ended"]
    assert leftover(before) == set()


async def _all(session: RealtimeSession) -> list[app.AppEvent]:
    return [event async for event in session]


async def test_iterating_a_session_that_was_never_started_raises() -> None:
    session = connect(Agent(), url="ws://127.0.0.1:9/v1/realtime")
    with pytest.raises(LocalProtocolError, match="not started"):
        await anext(aiter(session))


async def test_a_session_starts_once() -> None:
    async with LocalRealtimeServer() as server:
        async with connect(Agent(), url=server.url) as session:
            with pytest.raises(LocalProtocolError, match="starts once"):
                await session.start()


@pytest.mark.loop_block_limit(
    1.0, reason="ten sessions sending 1 ms frames saturate the loop: no one callback blocks it"
)
async def test_closing_while_a_microphone_streams_is_clean_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    audio = speech() * 4
    closed: list[app.Closed] = []
    async with LocalRealtimeServer(vad="energy") as server:

        async def one(frame_ms: int) -> None:
            source = ArraySource(audio, frame_ms=frame_ms, realtime=True)
            async with connect(Agent(), url=server.url, audio_in=source) as session:
                await next_of(session, app.SpeechStarted)  # mid-utterance
            events = [e async for e in session]
            closed.append(events[-1])  # type: ignore[arg-type]

        for batch in range(20):
            frame_ms = 1 if batch % 2 else 20
            await asyncio.gather(*(one(frame_ms) for _ in range(10)))
    assert len(closed) == 200
    assert [c.error for c in closed if c.error is not None] == []
    assert all(c.reason == "closed by the application" for c in closed)
    assert "Traceback" not in caplog.text and "task failed" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("ending", ["closed", "dropped"])
async def test_senders_waiting_on_a_full_queue_are_released_when_the_session_ends(
    ending: str,
) -> None:
    async def stalls(peer: Peer) -> None:
        await peer.expect("session.update")
        peer.ws.transport.pause_reading()  # the client's sends pile up from now on
        await stalled.wait()
        if ending == "dropped":
            peer.ws.transport.abort()
        await asyncio.Event().wait()

    stalled = asyncio.Event()
    chunk = bytes(2 * 24000 * 10)  # 10 s of audio: a 640 kB frame
    async with HostileServer(stalls) as server:
        session = connect(Agent(turn_detection=None), url=server.url, audio_queue=2, reconnect=None)
        await session.start()
        loop = asyncio.get_running_loop()
        senders = [loop.create_task(session.send_audio(chunk)) for _ in range(40)]
        senders += [
            loop.create_task(session.send_text("anyone?")),
            loop.create_task(session.commit()),
            loop.create_task(session.create_response()),
        ]
        # 25 MB cannot all fit in the socket's buffers: most senders are waiting now.
        _, waiting = await asyncio.wait(senders, timeout=0.2)
        assert len(waiting) > 10
        stalled.set()
        if ending == "closed":
            await asyncio.wait_for(session.close(), TIMEOUT)
        results = await asyncio.wait_for(asyncio.gather(*senders, return_exceptions=True), TIMEOUT)
        await session.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    expected = LocalProtocolError if ending == "closed" else ConnectionLost
    assert len(failures) >= len(waiting)
    assert all(isinstance(f, expected) for f in failures), failures


async def test_an_audio_source_that_yields_what_is_not_audio_ends_the_session_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield bytes(960)
        yield "not audio"  # type: ignore[misc]

    async with LocalRealtimeServer() as server:
        async with connect(Agent(), url=server.url, audio_in=broken()) as session:
            closed = await next_of(session, app.Closed)
    assert isinstance(closed.error, LocalProtocolError) and "audio is bytes" in str(closed.error)
    assert "Traceback" not in caplog.text


async def test_a_close_while_connecting_ends_the_session() -> None:
    async with LocalRealtimeServer() as server:
        session = connect(Agent(), url=server.url)
        starting = asyncio.get_running_loop().create_task(session.start())
        await session.close()  # before the connection is up
        with pytest.raises(LocalProtocolError, match="closed while it connected"):
            await asyncio.wait_for(starting, TIMEOUT)
        assert session.ended and session.transport is not None
        events = [e async for e in session]
    assert [type(e).__name__ for e in events] == ["Closed"]
