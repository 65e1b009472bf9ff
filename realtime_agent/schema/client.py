"""Client events: what a client sends to the Realtime server (GA names).

``ClientEvent`` is the union of the 11 GA client event types, plus
``transcription_session.update``, which the spec still publishes as a real
payload. The beta dialect's own classes are in :mod:`realtime_agent.schema.beta`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from realtime_agent.schema.common import (
    ClientEventBase,
    decode_base64,
    encode_base64,
    literal_tag,
)
from realtime_agent.schema.items import Item
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.session import AnySessionConfig, FlatTranscriptionSessionConfig

__all__ = [
    "GA_CLIENT_EVENT_TYPES",
    "GA_EXTRA_CLIENT_EVENT_TYPES",
    "ClientEvent",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "ResponseCreate",
    "SessionUpdate",
    "TranscriptionSessionUpdate",
]


class SessionUpdate(ClientEventBase):
    """Update the session's configuration; only the fields present change.

    The server answers ``session.updated`` with the full effective configuration, or
    ``error`` (carrying this event's ``event_id``) if the update is invalid. The first
    GA update must set ``session.type``.
    """

    type: Literal["session.update"] = "session.update"
    session: AnySessionConfig


class TranscriptionSessionUpdate(ClientEventBase):
    """Update a transcription-only session (the flat, older form)."""

    type: Literal["transcription_session.update"] = "transcription_session.update"
    session: FlatTranscriptionSessionConfig


class InputAudioBufferAppend(ClientEventBase):
    """Append audio to the input buffer. No reply; at most 15 MiB per event."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str
    """Base64 audio in the session's input format."""

    @classmethod
    def from_audio(cls, audio: bytes, *, event_id: str | None = None) -> InputAudioBufferAppend:
        """Build the event from raw audio bytes (pcm16 24 kHz, or G.711 per the session)."""
        encoded = encode_base64(audio)
        if event_id is None:
            return cls(audio=encoded)
        return cls(audio=encoded, event_id=event_id)

    @property
    def audio_bytes(self) -> bytes:
        """The decoded audio. Raises RemoteProtocolError if ``audio`` is not base64."""
        return decode_base64(self.audio, event_type=self.type, field="audio")


class InputAudioBufferCommit(ClientEventBase):
    """Commit the input buffer as a user item. Errors under 100 ms of audio."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEventBase):
    """Drop the input buffer; the server answers ``input_audio_buffer.cleared``."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class OutputAudioBufferClear(ClientEventBase):
    """Cut off the server-side output buffer (WebRTC/SIP only; send ``response.cancel`` first)."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class ConversationItemCreate(ClientEventBase):
    """Add an item to the conversation (after ``previous_item_id``; ``"root"`` = first)."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: Item
    previous_item_id: str | None = None


class ConversationItemRetrieve(ClientEventBase):
    """Ask for an item, audio included; the server answers ``conversation.item.retrieved``."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncate(ClientEventBase):
    """Cut an assistant audio item at ``audio_end_ms``, dropping its server-side transcript.

    ``audio_end_ms`` must not exceed the item's audio, or the server answers
    "Audio content of {X}ms is already shorter than {Y}ms".
    """

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(ClientEventBase):
    """Remove an item; the server answers ``conversation.item.deleted``."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseCreate(ClientEventBase):
    """Ask the model to respond. Only one response may be active in the default conversation."""

    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None


class ResponseCancel(ClientEventBase):
    """Cancel a response (by default the active one in the default conversation)."""

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


ClientEvent: TypeAlias = (
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | OutputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
    | TranscriptionSessionUpdate
)
"""Every GA client event."""

#: Client event types the GA spec still publishes outside its union.
GA_EXTRA_CLIENT_EVENT_TYPES: frozenset[str] = frozenset({"transcription_session.update"})
#: The 11 client event types of the GA protocol.
GA_CLIENT_EVENT_TYPES: frozenset[str] = (
    frozenset(literal_tag(cls) for cls in get_args(ClientEvent)) - GA_EXTRA_CLIENT_EVENT_TYPES
)
