"""Conversation items: create, retrieve, delete, and the truncate bounds."""

from __future__ import annotations

import base64

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.server.client import Client, client

USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


async def spoken_reply(peer: Client) -> tuple[str, int]:
    """Ask for a spoken reply; its item id and the bytes of audio received for it."""
    await peer.send({"type": "conversation.item.create", "item": USER_TEXT})
    await peer.send({"type": "response.create"})
    events = await peer.until("response.done")
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    received = sum(len(base64.b64decode(e["delta"])) for e in deltas)
    return deltas[0]["item_id"], received


async def test_items_insert_after_their_previous_item(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_a"}})
        added = await peer.expect("conversation.item.added")
        assert added["previous_item_id"] is None and added["item"]["id"] == "item_a"
        assert added["item"]["status"] == "completed"
        await peer.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "root",
                "item": {**USER_TEXT, "id": "item_b"},
            }
        )
        assert (await peer.expect("conversation.item.added"))["previous_item_id"] is None
        await peer.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "item_b",
                "item": {**USER_TEXT, "id": "item_c"},
            }
        )
        assert (await peer.expect("conversation.item.added"))["previous_item_id"] == "item_b"
        await peer.send(
            {
                "type": "conversation.item.create",
                "event_id": "e1",
                "previous_item_id": "item_zz",
                "item": USER_TEXT,
            }
        )
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "item_create_invalid_previous_item_id" and error["event_id"] == "e1"
        await peer.send(
            {
                "type": "conversation.item.create",
                "event_id": "e2",
                "item": {**USER_TEXT, "id": "item_a"},
            }
        )
        assert (await peer.expect("error"))["error"]["event_id"] == "e2"
    assert [item.id for item in server.sessions[0].conversation.items()] == [
        "item_b",
        "item_c",
        "item_a",
    ]


async def test_retrieve_and_delete(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        item_id, received = await spoken_reply(peer)
        await peer.send({"type": "conversation.item.retrieve", "item_id": item_id})
        retrieved = (await peer.expect("conversation.item.retrieved"))["item"]
        part = retrieved["content"][0]
        assert part["type"] == "audio" and part["format"] == "pcm16"
        assert len(base64.b64decode(part["audio"])) == received
        assert part["transcript"]
        await peer.send({"type": "conversation.item.delete", "event_id": "d1", "item_id": item_id})
        deleted = await peer.expect("conversation.item.deleted")
        assert deleted["item_id"] == item_id
        for action in ("delete", "retrieve"):
            await peer.send(
                {"type": f"conversation.item.{action}", "event_id": "d2", "item_id": item_id}
            )
            error = (await peer.expect("error"))["error"]
            assert error["code"] == f"item_{action}_invalid_item_id"
            assert error["message"].endswith(f"the item with id '{item_id}' does not exist.")
            assert error["event_id"] == "d2"


async def test_truncate_bounds_are_the_audio_received() -> None:
    async with LocalRealtimeServer(
        responder=ScriptedResponder(["One two three four five."])
    ) as server:
        async with client(server.url) as peer:
            item_id, received = await spoken_reply(peer)
            audio_ms = received // 48
            truncate = {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
            }
            await peer.send({**truncate, "event_id": "t1", "audio_end_ms": audio_ms + 1})
            error = (await peer.expect("error"))["error"]
            assert error["type"] == "invalid_request_error"
            assert (
                error["message"]
                == f"Audio content of {audio_ms}ms is already shorter than {audio_ms + 1}ms"
            )
            assert error["event_id"] == "t1"
            await peer.send({**truncate, "event_id": "t2", "audio_end_ms": -5})
            error = (await peer.expect("error"))["error"]
            assert error["code"] == "integer_below_min_value" and error["param"] == "audio_end_ms"
            await peer.send({**truncate, "audio_end_ms": audio_ms})  # exactly all of it: fine
            assert (await peer.expect("conversation.item.truncated"))["audio_end_ms"] == audio_ms
            await peer.send({**truncate, "audio_end_ms": 700})
            truncated = await peer.expect("conversation.item.truncated")
            assert truncated == {
                **truncated,
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 700,
            }
            await peer.send({**truncate, "event_id": "t3", "audio_end_ms": 701})
            error = (await peer.expect("error"))["error"]
            assert error["message"] == "Audio content of 700ms is already shorter than 701ms"
            await peer.send({"type": "conversation.item.retrieve", "item_id": item_id})
            part = (await peer.expect("conversation.item.retrieved"))["item"]["content"][0]
            assert part["transcript"] is None  # the server drops what was not heard
            assert len(base64.b64decode(part["audio"])) == 700 * 48
            await peer.send({**truncate, "audio_end_ms": 0})
            assert (await peer.expect("conversation.item.truncated"))["audio_end_ms"] == 0


async def test_only_assistant_audio_can_be_truncated(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        await peer.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_u"}})
        await peer.expect("conversation.item.done")
        await peer.send(
            {
                "type": "conversation.item.truncate",
                "event_id": "t4",
                "item_id": "item_u",
                "content_index": 0,
                "audio_end_ms": 0,
            }
        )
        error = (await peer.expect("error"))["error"]
        assert error["code"] == "unsupported_content_type"
        assert error["message"] == "Only model output audio messages can be truncated"
        await peer.send(
            {
                "type": "conversation.item.truncate",
                "event_id": "t5",
                "item_id": "item_nope",
                "content_index": 0,
                "audio_end_ms": 0,
            }
        )
        assert (await peer.expect("error"))["error"]["code"] == "item_truncate_invalid_item_id"


async def test_client_cannot_add_assistant_audio(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        item = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "audio": "AAAA"}],
        }
        await peer.send({"type": "conversation.item.create", "event_id": "x1", "item": item})
        error = (await peer.expect("error"))["error"]
    assert error["param"] == "item.content" and error["event_id"] == "x1"
