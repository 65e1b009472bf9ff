"""The session: session.created first, session.update, and the errors of bad client events."""

from __future__ import annotations

import json

from realtime_agent.schema import codec
from realtime_agent.schema.server import SessionCreated
from realtime_agent.schema.session import ServerVad, SessionConfig
from realtime_agent.server import LocalRealtimeServer
from tests.server.client import client, types

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def test_session_created_comes_first_with_the_full_config(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url, opened=False) as peer:
        first, second = await peer.recv(), await peer.recv()
    assert types([first, second]) == ["session.created", "conversation.created"]
    session = first["session"]
    assert session["id"].startswith("sess_") and len(session["id"]) == 26
    assert session["object"] == "realtime.session"
    assert session["type"] == "realtime"
    assert isinstance(session["expires_at"], int)
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert second["conversation"]["id"].startswith("conv_")
    event = codec.decode(json.dumps(first))
    assert isinstance(event, SessionCreated) and isinstance(event.session, SessionConfig)


async def test_session_update_merges_and_reports_the_effective_config(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "event_id": "evt_1",
                "session": {
                    "type": "realtime",
                    "instructions": "Be brief.",
                    "tools": [TOOL],
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}
                        }
                    },
                },
            }
        )
        updated = await peer.expect("session.updated")
        assert "event_id" in updated and updated["event_id"] != "evt_1"
        session = updated["session"]
        assert session["instructions"] == "Be brief."
        assert session["tools"] == [TOOL]
        detection = session["audio"]["input"]["turn_detection"]
        assert detection["silence_duration_ms"] == 500
        assert detection["threshold"] == 0.5 and detection["create_response"] is True
        assert session["audio"]["output"]["voice"] == "marin"  # untouched
        # A later update may leave out session.type and changes only what it names.
        await peer.send({"type": "session.update", "session": {"output_modalities": ["text"]}})
        session = (await peer.expect("session.updated"))["session"]
        assert session["output_modalities"] == ["text"]
        assert session["instructions"] == "Be brief."
        await peer.send(
            {"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}}
        )
        session = (await peer.expect("session.updated"))["session"]
        assert session["audio"]["input"]["turn_detection"] is None
    assert server.sessions[0].vad is None
    assert isinstance(server.sessions[0].config, SessionConfig)
    assert ServerVad().type == "server_vad"


async def test_first_ga_update_must_name_the_session_type(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {"type": "session.update", "event_id": "evt_2", "session": {"instructions": "x"}}
        )
        error = (await peer.expect("error"))["error"]
    assert error == {
        "type": "invalid_request_error",
        "code": "missing_required_parameter",
        "message": "Missing required parameter: 'session.type'.",
        "param": "session.type",
        "event_id": "evt_2",
    }


async def test_beta_fields_sent_to_ga_are_unknown_parameters(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "event_id": "evt_3",
                "session": {"type": "realtime", "input_audio_format": "pcm16"},
            }
        )
        error = (await peer.expect("error"))["error"]
    assert error["code"] == "unknown_parameter"
    assert error["message"] == "Unknown parameter: 'session.input_audio_format'."
    assert error["param"] == "session.input_audio_format"
    assert error["event_id"] == "evt_3"


async def test_invalid_update_is_discarded_whole(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send(
            {
                "type": "session.update",
                "event_id": "evt_4",
                "session": {
                    "type": "realtime",
                    "instructions": "never applied",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}
                    },
                },
            }
        )
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "decimal_above_max_value"
        assert error["param"] == "session.audio.input.turn_detection.threshold"
        assert error["event_id"] == "evt_4"
        await peer.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text", "audio"]},
            }
        )
        error = (await peer.expect("error"))["error"]
        assert error["param"] == "session.output_modalities"
        await peer.send({"type": "session.update", "session": {"type": "realtime"}})
        session = (await peer.expect("session.updated"))["session"]
    assert session["instructions"] != "never applied"


async def test_unknown_event_types_get_the_supported_list(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        for event_type in (
            "conversation.item.pin",
            "transcription_session.update",
            "output_audio_buffer.clear",
        ):
            await peer.send({"type": event_type, "event_id": "evt_5", "session": {}})
            error = (await peer.expect("error"))["error"]
            assert error["code"] == "invalid_value"
            assert error["param"] == "type"
            assert error["event_id"] == "evt_5"
            assert error["message"].startswith(
                f"Invalid value: '{event_type}'. Supported values are: "
            )
            assert "'response.cancel'" in error["message"]


async def test_frames_that_are_not_events_get_errors_and_the_session_goes_on(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        await peer.ws.send('{"type": "response.create", ')
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "invalid_json"
        assert error["message"].startswith("Invalid event: failed to parse JSON value.")
        await peer.ws.send(b"\x00\x01")
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "invalid_event"
        assert "binary frames are not supported" in error["message"]
        await peer.send({"type": "conversation.item.delete", "event_id": "evt_6"})
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "missing_required_parameter"
        assert error["param"] == "item_id"
        assert error["event_id"] == "evt_6"
        await peer.send(
            {
                "type": "conversation.item.truncate",
                "event_id": "evt_7",
                "item_id": "x",
                "content_index": 0,
                "audio_end_ms": "soon",
            }
        )
        error = (await peer.expect("error"))["error"]
        assert error["param"] == "audio_end_ms" and error["event_id"] == "evt_7"
        # Still alive.
        await peer.send({"type": "session.update", "session": {"type": "realtime"}})
        assert (await peer.expect("session.updated"))["type"] == "session.updated"
