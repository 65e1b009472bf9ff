"""Server events: what the Realtime server sends (GA names).

``ServerEvent`` is the union of the 46 GA server event types, plus
``transcription_session.updated``, which the spec still publishes as a real
payload. Classes whose shape is the same in the beta dialect are shared with it;
the beta dialect's own classes are in :mod:`realtime_agent.schema.beta`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from realtime_agent.schema.common import (
    ErrorDetail,
    RateLimit,
    ServerEventBase,
    TranscriptionErrorDetail,
    TranscriptionUsage,
    WireModel,
    decode_base64,
    literal_tag,
)
from realtime_agent.schema.items import ContentPart, Item
from realtime_agent.schema.response import Response
from realtime_agent.schema.session import AnySessionConfig, FlatTranscriptionSessionConfig

__all__ = [
    "GA_EXTRA_SERVER_EVENT_TYPES",
    "GA_SERVER_EVENT_TYPES",
    "ConversationCreated",
    "ConversationInfo",
    "ConversationItemAdded",
    "ConversationItemCreated",
    "ConversationItemDeleted",
    "ConversationItemDone",
    "ConversationItemRetrieved",
    "ConversationItemTruncated",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed",
    "InputAudioTranscriptionSegment",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "RateLimitsUpdated",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ServerEvent",
    "SessionCreated",
    "SessionUpdated",
    "TranscriptionSessionUpdated",
]


class ErrorEvent(ServerEventBase):
    """An error; most are recoverable and the socket stays open.

    ``error.event_id`` names the client event that caused it, when that event had an id.
    """

    type: Literal["error"] = "error"
    error: ErrorDetail


# --- session and conversation ---------------------------------------------------------------


class SessionCreated(ServerEventBase):
    """The first event of every connection: the session with its default configuration."""

    type: Literal["session.created"] = "session.created"
    session: AnySessionConfig


class SessionUpdated(ServerEventBase):
    """The full effective configuration after a ``session.update``."""

    type: Literal["session.updated"] = "session.updated"
    session: AnySessionConfig


class TranscriptionSessionUpdated(ServerEventBase):
    """The effective configuration of a transcription session (the flat, older form)."""

    type: Literal["transcription_session.updated"] = "transcription_session.updated"
    session: FlatTranscriptionSessionConfig


class ConversationInfo(WireModel):
    """The conversation of ``conversation.created``."""

    id: str | None = None
    object: str | None = None


class ConversationCreated(ServerEventBase):
    """The default conversation exists (sent right after ``session.created``)."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class _ItemEvent(ServerEventBase):
    item: Item
    previous_item_id: str | None = None


class ConversationItemAdded(_ItemEvent):
    """An item entered the conversation (GA); it may still be in progress."""

    type: Literal["conversation.item.added"] = "conversation.item.added"


class ConversationItemDone(_ItemEvent):
    """An item is final (GA); it carries no audio bytes."""

    type: Literal["conversation.item.done"] = "conversation.item.done"


class ConversationItemCreated(_ItemEvent):
    """An item entered the conversation (the beta form, still in the GA union)."""

    type: Literal["conversation.item.created"] = "conversation.item.created"


class ConversationItemRetrieved(ServerEventBase):
    """The answer to ``conversation.item.retrieve``, audio included."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ConversationItemTruncated(ServerEventBase):
    """An assistant audio item was cut; its server-side transcript is gone."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(ServerEventBase):
    """An item was removed from the conversation."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


# --- input transcription --------------------------------------------------------------------


class LogProb(WireModel):
    """A token's log probability."""

    token: str | None = None
    logprob: float | None = None
    bytes: list[int] | None = None


class InputAudioTranscriptionDelta(ServerEventBase):
    """Part of the transcript of the user's audio."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[LogProb] | None = None


class InputAudioTranscriptionCompleted(ServerEventBase):
    """The full transcript of the user's audio (it may arrive after the response)."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | None = None
    """Required in GA; the beta dialect leaves it out."""
    logprobs: list[LogProb] | None = None


class InputAudioTranscriptionFailed(ServerEventBase):
    """Transcribing the user's audio failed."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: TranscriptionErrorDetail


class InputAudioTranscriptionSegment(ServerEventBase):
    """A diarized segment of the user's audio."""

    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


# --- input audio buffer ---------------------------------------------------------------------


class InputAudioBufferCommitted(ServerEventBase):
    """The input buffer became a user item (by the client's commit, or by server VAD)."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEventBase):
    """The input buffer was dropped."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEventBase):
    """Server VAD heard the user start speaking: stop playback now and truncate what was cut."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    """Where speech started in the session's input audio, prefix padding included."""
    item_id: str
    """The id the user item will have once committed."""


class InputAudioBufferSpeechStopped(ServerEventBase):
    """Server VAD heard the user stop speaking."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class InputAudioBufferTimeoutTriggered(ServerEventBase):
    """``idle_timeout_ms`` passed without speech: the silence is committed and answered (GA)."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    audio_end_ms: int
    item_id: str


class InputAudioBufferDtmfEventReceived(WireModel):
    """A keypad key pressed on a SIP call (GA). The one server event without ``event_id``."""

    type: Literal["input_audio_buffer.dtmf_event_received"] = (
        "input_audio_buffer.dtmf_event_received"
    )
    event: str
    received_at: int
    """Unix seconds."""
    event_id: str | None = None


class _OutputAudioBufferEvent(ServerEventBase):
    response_id: str


class OutputAudioBufferStarted(_OutputAudioBufferEvent):
    """The server began playing a response (WebRTC/SIP only)."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"


class OutputAudioBufferStopped(_OutputAudioBufferEvent):
    """The server finished playing a response (WebRTC/SIP only)."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"


class OutputAudioBufferCleared(_OutputAudioBufferEvent):
    """The server dropped its output buffer (WebRTC/SIP only)."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"


# --- responses ------------------------------------------------------------------------------


class ResponseCreated(ServerEventBase):
    """A response started (``status: in_progress``)."""

    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(ServerEventBase):
    """A response ended, whatever its status; check ``response.status``. No audio bytes."""

    type: Literal["response.done"] = "response.done"
    response: Response


class _OutputItemEvent(ServerEventBase):
    response_id: str
    output_index: int
    item: Item


class ResponseOutputItemAdded(_OutputItemEvent):
    """A response began an output item (a message or a function call)."""

    type: Literal["response.output_item.added"] = "response.output_item.added"


class ResponseOutputItemDone(_OutputItemEvent):
    """A response finished an output item."""

    type: Literal["response.output_item.done"] = "response.output_item.done"


class _PartEvent(ServerEventBase):
    """Fields of every event about one content part of one output item."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ResponseContentPartAdded(_PartEvent):
    """A content part began."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart


class ResponseContentPartDone(_PartEvent):
    """A content part is final."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart


class TextDeltaFields(_PartEvent):
    """A piece of text output."""

    delta: str


class TextDoneFields(_PartEvent):
    """The whole text output."""

    text: str


class AudioDeltaFields(_PartEvent):
    """A piece of audio output; ``delta`` is base64 in the session's output format."""

    delta: str

    @property
    def audio_bytes(self) -> bytes:
        """The decoded audio. Raises RemoteProtocolError if ``delta`` is not base64."""
        return decode_base64(self.delta, event_type=str(getattr(self, "type", "")), field="delta")


class AudioDoneFields(_PartEvent):
    """The end of an audio output part."""


class TranscriptDeltaFields(_PartEvent):
    """A piece of the transcript of audio output."""

    delta: str


class TranscriptDoneFields(_PartEvent):
    """The whole transcript of audio output."""

    transcript: str


class ResponseOutputTextDelta(TextDeltaFields):
    """A piece of text output."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"


class ResponseOutputTextDone(TextDoneFields):
    """The whole text output."""

    type: Literal["response.output_text.done"] = "response.output_text.done"


class ResponseOutputAudioDelta(AudioDeltaFields):
    """A piece of audio output (base64 in ``delta``; ``audio_bytes`` decodes it)."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"


class ResponseOutputAudioDone(AudioDoneFields):
    """The end of an audio output part."""

    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseOutputAudioTranscriptDelta(TranscriptDeltaFields):
    """A piece of the transcript of audio output."""

    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )


class ResponseOutputAudioTranscriptDone(TranscriptDoneFields):
    """The whole transcript of audio output."""

    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"


class ResponseFunctionCallArgumentsDelta(ServerEventBase):
    """A fragment of a function call's JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEventBase):
    """A function call's complete JSON arguments: run the tool now.

    ``name`` is sent in GA only; on beta connections the session core fills it from
    the call's ``response.output_item.added``.
    """

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None = None


class ResponseMcpCallArgumentsDelta(ServerEventBase):
    """A fragment of an MCP call's arguments."""

    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | None = None


class ResponseMcpCallArgumentsDone(ServerEventBase):
    """An MCP call's complete arguments."""

    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


class _McpCallEvent(ServerEventBase):
    item_id: str
    output_index: int


class ResponseMcpCallInProgress(_McpCallEvent):
    """An MCP call started."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"


class ResponseMcpCallCompleted(_McpCallEvent):
    """An MCP call succeeded."""

    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"


class ResponseMcpCallFailed(_McpCallEvent):
    """An MCP call failed."""

    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"


class _McpListToolsEvent(ServerEventBase):
    item_id: str


class McpListToolsInProgress(_McpListToolsEvent):
    """Listing an MCP server's tools started."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"


class McpListToolsCompleted(_McpListToolsEvent):
    """Listing an MCP server's tools succeeded."""

    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"


class McpListToolsFailed(_McpListToolsEvent):
    """Listing an MCP server's tools failed."""

    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"


class RateLimitsUpdated(ServerEventBase):
    """The current rate limits, sent at the start of each response."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


ServerEvent: TypeAlias = (
    ErrorEvent
    | SessionCreated
    | SessionUpdated
    | ConversationCreated
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemCreated
    | ConversationItemRetrieved
    | ConversationItemTruncated
    | ConversationItemDeleted
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | InputAudioTranscriptionSegment
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferTimeoutTriggered
    | InputAudioBufferDtmfEventReceived
    | OutputAudioBufferStarted
    | OutputAudioBufferStopped
    | OutputAudioBufferCleared
    | ResponseCreated
    | ResponseDone
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseOutputTextDelta
    | ResponseOutputTextDone
    | ResponseOutputAudioDelta
    | ResponseOutputAudioDone
    | ResponseOutputAudioTranscriptDelta
    | ResponseOutputAudioTranscriptDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | ResponseMcpCallArgumentsDelta
    | ResponseMcpCallArgumentsDone
    | ResponseMcpCallInProgress
    | ResponseMcpCallCompleted
    | ResponseMcpCallFailed
    | McpListToolsInProgress
    | McpListToolsCompleted
    | McpListToolsFailed
    | RateLimitsUpdated
    | TranscriptionSessionUpdated
)
"""Every GA server event."""

#: Server event types the GA spec still publishes outside its union.
GA_EXTRA_SERVER_EVENT_TYPES: frozenset[str] = frozenset({"transcription_session.updated"})
#: The 46 server event types of the GA protocol.
GA_SERVER_EVENT_TYPES: frozenset[str] = (
    frozenset(literal_tag(cls) for cls in get_args(ServerEvent)) - GA_EXTRA_SERVER_EVENT_TYPES
)
