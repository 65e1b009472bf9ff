"""The client's item events on the local server: create, retrieve, truncate, delete.

Each function checks the event against the conversation as the real server does and
returns the events that answer it, or the error that refuses it (nothing changed).
"""

from __future__ import annotations

from typing import Any

from realtime_agent.audio.format import AudioFormat
from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import client as c
from realtime_agent.schema import server as s
from realtime_agent.schema.common import ErrorDetail, encode_base64
from realtime_agent.schema.items import (
    AudioPart,
    InputAudioPart,
    ItemReference,
    MessageItem,
    OutputAudioPart,
    UnknownItem,
)
from realtime_agent.server import messages
from realtime_agent.server.config import below_min
from realtime_agent.server.conversation import Conversation, Entry, Ids

__all__ = ["create", "delete", "retrieve", "truncate"]

Result = list[s.ServerEvent] | ErrorDetail

_WIRE_NAMES = {"pcm16": "pcm16", "ulaw": "g711_ulaw", "alaw": "g711_alaw"}


def create(
    conversation: Conversation, ids: Ids, event: c.ConversationItemCreate, input_format: AudioFormat
) -> Result:
    """``conversation.item.create``: add the item after ``previous_item_id``."""
    eid, item = event.event_id, event.item
    if isinstance(item, UnknownItem | ItemReference):
        return messages.invalid_value(
            "item.type",
            f"Invalid value: '{item.type}'. Supported values are: 'message', 'function_call', "
            "'function_call_output', 'mcp_approval_response'.",
            eid,
        )
    if (
        isinstance(item, MessageItem)
        and item.role == "assistant"
        and any(isinstance(p, OutputAudioPart | AudioPart) and p.audio for p in item.content)
    ):
        return messages.invalid_value(
            "item.content",
            "Assistant messages cannot carry audio: the client cannot add assistant audio "
            "to the conversation.",
            eid,
        )
    after = event.previous_item_id
    if after not in (None, "root") and after not in conversation:
        return messages.previous_item_not_found(str(after), eid)
    item_id = item.id or ids.new("item")
    if item_id in conversation:
        return messages.invalid_value("item.id", f"Item with id '{item_id}' already exists.", eid)
    audio = bytearray()
    if isinstance(item, MessageItem):
        parts = []
        for part in item.content:
            if isinstance(part, InputAudioPart) and part.audio:
                try:
                    audio += part.audio_bytes
                except RemoteProtocolError:
                    return messages.invalid_audio(eid)
                part = part.model_copy(update={"audio": None})  # kept apart, as real items are
            parts.append(part)
        item = item.model_copy(update={"content": parts})
    stored = item.model_copy(
        update={"id": item_id, "object": "realtime.item", "status": "completed"}
    )
    entry = Entry(item=stored, audio=audio, audio_format=input_format if audio else None)
    previous = conversation.insert(entry, item_id, after)
    return [
        s.ConversationItemAdded(event_id=ids.new("event"), previous_item_id=previous, item=stored),
        s.ConversationItemDone(event_id=ids.new("event"), previous_item_id=previous, item=stored),
    ]


def retrieve(conversation: Conversation, ids: Ids, event: c.ConversationItemRetrieve) -> Result:
    """``conversation.item.retrieve``: the item with its audio, as the real server shapes it."""
    entry = conversation.get(event.item_id)
    if entry is None:
        return messages.item_not_found("retrieve", event.item_id, event.event_id)
    item = entry.item
    if isinstance(item, MessageItem) and entry.audio_format is not None:
        audio = encode_base64(bytes(entry.audio))
        wire = _WIRE_NAMES[entry.audio_format.encoding]
        parts: list[Any] = []
        for part in item.content:
            if isinstance(part, InputAudioPart):
                parts.append(part.model_copy(update={"audio": audio}))
            elif isinstance(part, OutputAudioPart):
                parts.append(AudioPart(transcript=part.transcript, audio=audio, format=wire))
            else:
                parts.append(part)
        item = item.model_copy(update={"content": parts})
    return [s.ConversationItemRetrieved(event_id=ids.new("event"), item=item)]


def truncate(conversation: Conversation, ids: Ids, event: c.ConversationItemTruncate) -> Result:
    """``conversation.item.truncate``: cut assistant audio, and drop its transcript.

    ``audio_end_ms`` may not exceed the audio the item holds, which is exactly the audio
    that was sent of it.
    """
    eid = event.event_id
    entry = conversation.get(event.item_id)
    if entry is None:
        return messages.item_not_found("truncate", event.item_id, eid)
    item = entry.item
    if not (
        isinstance(item, MessageItem)
        and item.role == "assistant"
        and 0 <= event.content_index < len(item.content)
        and isinstance(item.content[event.content_index], OutputAudioPart)
        and entry.audio_format is not None
    ):
        return messages.truncate_not_audio(eid)
    if event.audio_end_ms < 0:
        return below_min("audio_end_ms", event.audio_end_ms, 0, eid)
    if event.audio_end_ms > entry.audio_ms:
        return messages.truncate_beyond_audio(entry.audio_ms, event.audio_end_ms, eid)
    del entry.audio[entry.audio_format.nbytes(event.audio_end_ms) :]
    content = list(item.content)
    content[event.content_index] = OutputAudioPart(transcript=None)
    entry.item = item.model_copy(update={"content": content})
    return [
        s.ConversationItemTruncated(
            event_id=ids.new("event"),
            item_id=event.item_id,
            content_index=event.content_index,
            audio_end_ms=event.audio_end_ms,
        )
    ]


def delete(conversation: Conversation, ids: Ids, event: c.ConversationItemDelete) -> Result:
    """``conversation.item.delete``."""
    if event.item_id not in conversation:
        return messages.item_not_found("delete", event.item_id, event.event_id)
    conversation.delete(event.item_id)
    return [s.ConversationItemDeleted(event_id=ids.new("event"), item_id=event.item_id)]
