"""Transcription-only sessions (``?intent=transcription``): transcripts, and no replies."""

from __future__ import annotations

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.server.client import client, types
from tests.server.conftest import silence, utterance


async def test_transcription_session_transcribes_turns_and_never_responds() -> None:
    responder = ScriptedResponder(["never said"], transcripts=["hello there how are you"])
    async with LocalRealtimeServer(responder=responder) as server:
        async with client(f"{server.url}&intent=transcription") as peer:
            created = peer.received[0]["session"]
            assert created["type"] == "transcription"
            assert created["object"] == "realtime.transcription_session"
            assert created["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
            await peer.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "transcription",
                        "audio": {
                            "input": {"transcription": {"model": "whisper-1", "language": "en"}}
                        },
                    },
                }
            )
            updated = (await peer.expect("session.updated"))["session"]
            assert updated["audio"]["input"]["transcription"] == {
                "model": "whisper-1",
                "language": "en",
            }
            assert updated["audio"]["input"]["turn_detection"]["type"] == "server_vad"
            await peer.append(silence(300) + utterance() + silence(700))
            events = await peer.until("conversation.item.input_audio_transcription.completed")
            assert "input_audio_buffer.committed" in types(events)
            assert events[-1]["transcript"] == "hello there how are you"
            await peer.send(
                {"type": "session.update", "event_id": "s1", "session": {"type": "realtime"}}
            )
            error = (await peer.expect("error"))["error"]
            assert error["param"] == "session.type" and error["event_id"] == "s1"
            await peer.send({"type": "response.create", "event_id": "r1"})
            error = (await peer.expect("error"))["error"]
            assert error["event_id"] == "r1"
    assert responder.responses == 0
