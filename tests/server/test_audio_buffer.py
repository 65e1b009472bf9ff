"""The input audio buffer with VAD off: append, commit, clear; G.711 input."""

from __future__ import annotations

import base64

from realtime_agent.audio.g711 import pcm16_to_ulaw
from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.server.client import Client, client, types
from tests.server.conftest import utterance

# Built at import: the first conversion builds its tables, which would block a test's loop.
ULAW_90_MS = pcm16_to_ulaw(bytes(2 * 8 * 90))  # 90 ms at 8 kHz

VAD_OFF = {
    "type": "session.update",
    "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
}


async def vad_off(peer: Client) -> None:
    await peer.send(VAD_OFF)
    await peer.expect("session.updated")


async def test_commit_under_100_ms_is_refused_with_the_real_message(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        await vad_off(peer)
        await peer.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["message"].endswith("but buffer only has 0.00ms of audio.")
        assert error["event_id"] == "c1"
        await peer.append(bytes(48 * 50))
        await peer.send({"type": "input_audio_buffer.commit", "event_id": "c2"})
        error = (await peer.expect("error"))["error"]
        assert "only has 50.00ms of audio" in error["message"]


async def test_commit_makes_a_user_item_and_no_response() -> None:
    responder = ScriptedResponder(["Got it."])
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await vad_off(peer)
        await peer.append(utterance())
        await peer.send({"type": "input_audio_buffer.commit"})
        committed, added, done = await peer.recv(), await peer.recv(), await peer.recv()
        assert types([committed, added, done]) == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        item = added["item"]
        assert item["id"] == committed["item_id"] == done["item"]["id"]
        assert committed["previous_item_id"] is None
        assert item["role"] == "user" and item["type"] == "message"
        assert item["content"] == [{"type": "input_audio", "transcript": None}]
        await peer.send({"type": "response.create"})
        events = await peer.until("response.done")
        assert events[0]["type"] == "response.created"
        assert events[-1]["response"]["status"] == "completed"
    assert responder.responses == 1
    assert responder.contexts[0].user_spoke


async def test_clear_empties_the_buffer(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await vad_off(peer)
        await peer.append(bytes(48 * 300))
        await peer.send({"type": "input_audio_buffer.clear"})
        assert (await peer.recv())["type"] == "input_audio_buffer.cleared"
        await peer.send({"type": "input_audio_buffer.commit"})
        assert (await peer.expect("error"))["error"]["code"] == "input_audio_buffer_commit_empty"


async def test_invalid_base64_is_refused(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {"type": "input_audio_buffer.append", "event_id": "a1", "audio": "not base64!"}
        )
        error = (await peer.expect("error"))["error"]
    assert error["code"] == "invalid_value"
    assert error["param"] == "audio.audio"
    assert error["event_id"] == "a1"


async def test_g711_input_counts_8_bytes_a_ms(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": None}},
                },
            }
        )
        assert (await peer.expect("session.updated"))["session"]["audio"]["input"]["format"] == {
            "type": "audio/pcmu"
        }
        ulaw = ULAW_90_MS
        await peer.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(ulaw).decode()}
        )
        await peer.send({"type": "input_audio_buffer.commit"})
        assert "only has 90.00ms" in (await peer.expect("error"))["error"]["message"]
        await peer.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(ulaw[:80]).decode()}
        )
        await peer.send({"type": "input_audio_buffer.commit"})
        assert (await peer.recv())["type"] == "input_audio_buffer.committed"
