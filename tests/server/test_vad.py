"""Server VAD: turn boundaries on speech with silence around it, auto-responses, barge-in."""

from __future__ import annotations

import pytest

from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, SyntheticVoice
from realtime_agent.server.vad import VoiceActivityDetector
from tests.server.client import client, types
from tests.server.conftest import silence

TEXTS = [
    "hello there how are you doing today",
    "what is the weather like in paris",
    "please book a table for two at eight",
    "can you remind me to call my mother tomorrow",
]


def speech_bounds(pcm: bytes) -> tuple[float, float]:
    """Where sound starts and ends in a synthesized utterance (its trailing pause left out)."""
    import numpy as np

    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.nonzero(samples > 300)[0]
    return loud[0] / 24, loud[-1] / 24


@pytest.mark.parametrize("detector", ["webrtc", "energy"])
@pytest.mark.parametrize("case", range(len(TEXTS)))
async def test_turn_boundaries_within_100_ms(detector: str, case: int) -> None:
    voice = SyntheticVoice(pitch_hz=110.0 + 40 * case, seed=case)
    speech = voice.synthesize(TEXTS[case]).pcm
    lead = 400 + 170 * case
    start, end = speech_bounds(speech)
    truth_start, truth_end = lead + start, lead + end
    async with LocalRealtimeServer(vad=detector, responder=ScriptedResponder(["Sure."])) as server:  # type: ignore[arg-type]
        async with client(server.url) as peer:
            await peer.append(silence(lead) + speech + silence(1000))
            events = await peer.until("response.done")
    started, stopped = events[0], events[1]
    assert types(events[:5]) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert abs(started["audio_start_ms"] + 300 - truth_start) <= 100
    assert abs(stopped["audio_end_ms"] - 200 - truth_end) <= 100
    assert started["item_id"] == stopped["item_id"] == events[2]["item_id"]
    assert events[5]["type"] == "response.created"


async def test_no_response_when_create_response_is_off() -> None:
    responder = ScriptedResponder(["never"])
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "create_response": False}
                        }
                    },
                },
            }
        )
        await peer.expect("session.updated")
        await peer.append(
            silence(300) + SyntheticVoice().synthesize("hello there").pcm + silence(600)
        )
        events = await peer.until("conversation.item.done")
        # The turn is committed; then nothing: prove it by a round trip that must come next.
        await peer.send({"type": "conversation.item.retrieve", "item_id": events[-1]["item"]["id"]})
        assert (await peer.recv())["type"] == "conversation.item.retrieved"
    assert responder.responses == 0


async def test_speech_during_a_response_cancels_it() -> None:
    long_reply = " ".join(["this answer goes on and on"] * 6)
    responder = ScriptedResponder(["Okay.", long_reply])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.realtime()) as server:
        async with client(server.url) as peer:
            await peer.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hi"}],
                    },
                }
            )
            await peer.send({"type": "response.create"})
            await peer.expect("response.done")
            await peer.send({"type": "response.create"})
            await peer.expect("response.output_audio.delta")  # the long reply is playing
            await peer.append(
                SyntheticVoice().synthesize("wait a moment please").pcm + silence(600)
            )
            events = await peer.until("response.done")
    assert "input_audio_buffer.speech_started" in types(events)
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    started = types(events).index("input_audio_buffer.speech_started")
    assert types(events)[started + 1 :].count("response.output_audio.delta") == 0


async def test_interrupt_response_off_lets_the_response_finish() -> None:
    long_reply = " ".join(["this answer goes on"] * 3)
    responder = ScriptedResponder([long_reply])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.times(4)) as server:
        async with client(server.url) as peer:
            await peer.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "audio": {
                            "input": {
                                "turn_detection": {
                                    "type": "server_vad",
                                    "interrupt_response": False,
                                    "create_response": False,
                                }
                            }
                        },
                    },
                }
            )
            await peer.expect("session.updated")
            await peer.send({"type": "response.create"})
            await peer.expect("response.output_audio.delta")
            await peer.append(SyntheticVoice().synthesize("wait a moment").pcm + silence(400))
            events = await peer.until("response.done")
    assert "input_audio_buffer.speech_started" in types(events)
    assert events[-1]["response"]["status"] == "completed"


def test_detector_refuses_a_threshold_out_of_range() -> None:
    with pytest.raises(ValueError, match="threshold"):
        VoiceActivityDetector(threshold=1.5)


async def test_idle_timeout_commits_the_silence_and_responds() -> None:
    responder = ScriptedResponder(["First.", "Are you still there?"])
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                    },
                },
            }
        )
        await peer.expect("session.updated")
        await peer.append(silence(200))  # silence does not disarm the timer
        await peer.send({"type": "response.create"})
        await peer.expect("response.done")
        assert (await peer.recv())["type"] == "rate_limits.updated"
        events = await peer.until("response.created")
    assert types(events) == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    timeout, committed = events[0], events[1]
    assert timeout["audio_start_ms"] == 0 and timeout["audio_end_ms"] == 200
    assert timeout["item_id"] == committed["item_id"]
    assert responder.responses == 2
