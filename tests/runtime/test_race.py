"""A tool output's response.create racing the server's own response for the user's speech."""

from __future__ import annotations

import asyncio

from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.server import (
    CallTool,
    LocalRealtimeServer,
    Pacing,
    ScriptedResponder,
    SyntheticVoice,
    faults,
)
from realtime_agent.tools import tool
from tests.runtime.conftest import collect_until

SPEECH = (
    bytes(48 * 300)
    + SyntheticVoice(seed=2).synthesize("and also tell me the time").pcm
    + bytes(48 * 600)
)


async def test_the_race_is_absorbed_and_the_turn_completes() -> None:
    gate = asyncio.Event()

    @tool
    async def lookup() -> str:
        """Answers once the user has started another turn."""
        await gate.wait()
        return "found it"

    long = " ".join(["this answer to your speech takes a while"] * 4)
    responder = ScriptedResponder([CallTool("lookup"), long, "Here is the lookup: found it."])
    # The network holds back the server's response.created for the speech, so that the
    # client cannot know the server is busy when the tool answers: the real race.
    late = [faults.delay(0.3, at_event="response.created", occurrence=2)]
    async with LocalRealtimeServer(
        responder=responder, pacing=Pacing.times(4), faults=late
    ) as server:
        async with connect(Agent(tools=[lookup]), url=server.url, raw_events=True) as session:
            await session.send_text("look it up")
            await collect_until(session, app.ToolStart)
            await session.send_audio(SPEECH)  # the server answers the speech by itself...
            seen = await collect_until(session, app.SpeechStopped)
            gate.set()  # ...and meanwhile the tool answers: its response.create races
            events = seen + await collect_until(
                session, app.Transcript, lambda e: e.text.startswith("Here is the lookup")
            )
            events += await collect_until(session, app.AgentEnd)
    raced = [
        e
        for e in events
        if isinstance(e, app.RawServerEvent)
        and getattr(getattr(e.event, "error", None), "code", None)
        == "conversation_already_has_active_response"
    ]
    assert len(raced) == 1  # the race did happen...
    assert not [e for e in events if isinstance(e, app.ErrorRaised)]  # ...and was no failure
    ends = [e for e in events if isinstance(e, app.AgentEnd)]
    assert [e.status for e in ends] == ["completed", "completed", "completed"]
    assert responder.responses == 3
    answered = responder.contexts[2].conversation
    assert any(isinstance(i, FunctionCallOutputItem) and i.output == "found it" for i in answered)
    outputs = [
        i for i in server.sessions[0].conversation.items() if isinstance(i, FunctionCallOutputItem)
    ]
    assert len(outputs) == 1
