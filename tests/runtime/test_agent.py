"""Agents and handoffs: what session.update says, and switching agents mid-conversation."""

from __future__ import annotations

import json

from realtime_agent.audio.format import ULAW_8K
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.schema import codec
from realtime_agent.schema.client import SessionUpdate
from realtime_agent.schema.session import SemanticVad
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder
from realtime_agent.tools import Handoff, tool
from tests.runtime.conftest import collect_until, next_of


def test_agent_maps_to_a_ga_session_update() -> None:
    def get_time(zone: str) -> str:
        """The time in a zone."""
        return zone

    agent = Agent(
        instructions="Be brief.",
        voice="cedar",
        tools=[get_time],
        turn_detection=SemanticVad(eagerness="high"),
        input_transcription="gpt-4o-transcribe",
        input_format=ULAW_8K,
        output_format=ULAW_8K,
    )
    session = json.loads(codec.encode(SessionUpdate(session=agent.session_config())))["session"]
    assert session["type"] == "realtime"
    assert session["instructions"] == "Be brief."
    assert session["output_modalities"] == ["audio"]
    assert session["audio"] == {
        "input": {
            "format": {"type": "audio/pcmu"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
            "transcription": {"model": "gpt-4o-transcribe"},
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"},
    }
    assert session["tools"][0]["name"] == "get_time"
    push_to_talk = Agent(turn_detection=None, output="text").session_config()
    audio = json.loads(push_to_talk.model_dump_json(exclude_unset=True))["audio"]
    assert audio["input"]["turn_detection"] is None
    assert "voice" not in audio["output"]


async def test_a_tool_can_hand_the_conversation_to_another_agent() -> None:
    billing = Agent(name="billing", instructions="You handle billing.", voice="ash")

    @tool
    def transfer_to_billing() -> Handoff:
        """Transfer the caller to billing."""
        return Handoff(billing)

    triage = Agent(name="triage", instructions="Route callers.", tools=[transfer_to_billing])
    responder = ScriptedResponder(
        ["Hello, how can I help?", CallTool("transfer_to_billing"), "Billing here."]
    )
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(triage, url=server.url) as session:
            await session.send_text("hi")
            await next_of(session, app.AgentEnd)  # the assistant has spoken: its voice is fixed
            await session.send_text("my bill is wrong")
            events = await collect_until(
                session, app.Transcript, lambda e: e.text == "Billing here."
            )
    handoff = next(e for e in events if isinstance(e, app.HandoffDone))
    assert handoff == app.HandoffDone("triage", "billing", voice_kept=True)
    assert session.agent is billing
    config = server.sessions[0].config
    assert config.instructions == "You handle billing."  # type: ignore[union-attr]
    assert config.audio.output.voice == "marin"  # type: ignore[union-attr]  # kept: audio was spoken
    assert responder.contexts[2].instructions == "You handle billing."


async def test_a_handoff_keeps_the_sessions_audio_formats() -> None:
    # A phone call's session speaks μ-law; the agent it hands off to was written with the
    # defaults (pcm16). The line does not change mid-call: the formats stay μ-law.
    billing = Agent(name="billing", instructions="You handle billing.")

    @tool
    def transfer_to_billing() -> Handoff:
        """Transfer the caller to billing."""
        return Handoff(billing)

    triage = Agent(
        name="triage",
        tools=[transfer_to_billing],
        input_format=ULAW_8K,
        output_format=ULAW_8K,
    )
    responder = ScriptedResponder([CallTool("transfer_to_billing"), "Billing here."])
    async with LocalRealtimeServer(responder=responder) as server:
        async with connect(triage, url=server.url) as session:
            await session.send_text("my bill is wrong")
            await collect_until(session, app.Transcript, lambda e: e.text == "Billing here.")
    assert session.agent.name == "billing"
    assert (session.agent.input_format, session.agent.output_format) == (ULAW_8K, ULAW_8K)
    config = server.sessions[0].config
    assert config.instructions == "You handle billing."  # type: ignore[union-attr]
    assert config.audio.input.format.type == "audio/pcmu"  # type: ignore[union-attr]
    assert config.audio.output.format.type == "audio/pcmu"  # type: ignore[union-attr]
