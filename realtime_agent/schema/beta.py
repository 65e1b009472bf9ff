"""The beta dialect's own event classes, and its unions.

A beta connection (header ``OpenAI-Beta: realtime=v1``, or Azure's preview path)
uses older event names (``response.audio.delta`` for ``response.output_audio.delta``)
and the flat session and response objects. Events whose shape did not change are
shared with GA. :mod:`realtime_agent.schema.dialect` translates to and from GA.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from realtime_agent.schema.client import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
    TranscriptionSessionUpdate,
)
from realtime_agent.schema.common import ClientEventBase, ServerEventBase, literal_tag
from realtime_agent.schema.response import BetaResponse, BetaResponseCreateParams
from realtime_agent.schema.server import (
    AudioDeltaFields,
    AudioDoneFields,
    ConversationCreated,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    TextDeltaFields,
    TextDoneFields,
    TranscriptDeltaFields,
    TranscriptDoneFields,
    TranscriptionSessionUpdated,
)
from realtime_agent.schema.session import BetaSessionConfig

__all__ = [
    "BETA_CLIENT_EVENT_TYPES",
    "BETA_SERVER_EVENT_TYPES",
    "BetaClientEvent",
    "BetaResponseAudioDelta",
    "BetaResponseAudioDone",
    "BetaResponseAudioTranscriptDelta",
    "BetaResponseAudioTranscriptDone",
    "BetaResponseCreate",
    "BetaResponseCreated",
    "BetaResponseDone",
    "BetaResponseTextDelta",
    "BetaResponseTextDone",
    "BetaServerEvent",
    "BetaSessionCreated",
    "BetaSessionUpdate",
    "BetaSessionUpdated",
]


class BetaSessionUpdate(ClientEventBase):
    """Beta ``session.update`` with the flat session object."""

    type: Literal["session.update"] = "session.update"
    session: BetaSessionConfig


class BetaResponseCreate(ClientEventBase):
    """Beta ``response.create``."""

    type: Literal["response.create"] = "response.create"
    response: BetaResponseCreateParams | None = None


class BetaSessionCreated(ServerEventBase):
    """Beta ``session.created``."""

    type: Literal["session.created"] = "session.created"
    session: BetaSessionConfig


class BetaSessionUpdated(ServerEventBase):
    """Beta ``session.updated``."""

    type: Literal["session.updated"] = "session.updated"
    session: BetaSessionConfig


class BetaResponseCreated(ServerEventBase):
    """Beta ``response.created``."""

    type: Literal["response.created"] = "response.created"
    response: BetaResponse


class BetaResponseDone(ServerEventBase):
    """Beta ``response.done``."""

    type: Literal["response.done"] = "response.done"
    response: BetaResponse


class BetaResponseTextDelta(TextDeltaFields):
    """Beta name of ``response.output_text.delta``."""

    type: Literal["response.text.delta"] = "response.text.delta"


class BetaResponseTextDone(TextDoneFields):
    """Beta name of ``response.output_text.done``."""

    type: Literal["response.text.done"] = "response.text.done"


class BetaResponseAudioDelta(AudioDeltaFields):
    """Beta name of ``response.output_audio.delta``."""

    type: Literal["response.audio.delta"] = "response.audio.delta"


class BetaResponseAudioDone(AudioDoneFields):
    """Beta name of ``response.output_audio.done``."""

    type: Literal["response.audio.done"] = "response.audio.done"


class BetaResponseAudioTranscriptDelta(TranscriptDeltaFields):
    """Beta name of ``response.output_audio_transcript.delta``."""

    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"


class BetaResponseAudioTranscriptDone(TranscriptDoneFields):
    """Beta name of ``response.output_audio_transcript.done``."""

    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"


BetaClientEvent: TypeAlias = (
    BetaSessionUpdate
    | TranscriptionSessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | OutputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | BetaResponseCreate
    | ResponseCancel
)
"""Every beta client event (12 types)."""

BetaServerEvent: TypeAlias = (
    ErrorEvent
    | BetaSessionCreated
    | BetaSessionUpdated
    | TranscriptionSessionUpdated
    | ConversationCreated
    | ConversationItemCreated
    | ConversationItemRetrieved
    | ConversationItemTruncated
    | ConversationItemDeleted
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | OutputAudioBufferStarted
    | OutputAudioBufferStopped
    | OutputAudioBufferCleared
    | BetaResponseCreated
    | BetaResponseDone
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | BetaResponseTextDelta
    | BetaResponseTextDone
    | BetaResponseAudioDelta
    | BetaResponseAudioDone
    | BetaResponseAudioTranscriptDelta
    | BetaResponseAudioTranscriptDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | RateLimitsUpdated
)
"""Every beta server event (34 types)."""

#: The 12 client event types of the beta dialect.
BETA_CLIENT_EVENT_TYPES: frozenset[str] = frozenset(
    literal_tag(cls) for cls in get_args(BetaClientEvent)
)
#: The 34 server event types of the beta dialect.
BETA_SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    literal_tag(cls) for cls in get_args(BetaServerEvent)
)
