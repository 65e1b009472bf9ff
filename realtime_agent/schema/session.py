"""Session configuration: the GA session object and the beta flat session.

GA (``session.type="realtime"``) nests audio settings under ``audio.input`` and
``audio.output``; a transcription-only session has ``session.type="transcription"``.
The beta dialect has one flat object (``input_audio_format``, ``voice``,
``turn_detection``, ...). :mod:`realtime_agent.schema.dialect` maps one to the other.

Every field is optional, because ``session.update`` is a partial update: only the
fields present change. ``None`` written explicitly means something for some fields
(``turn_detection: null`` turns VAD off), which is why encoding writes exactly the
fields that were set, and no others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from realtime_agent.schema.common import (
    AudioFormat,
    BetaAudioFormat,
    BetaSourced,
    JsonData,
    TaggedModel,
    WireModel,
    tagged_union,
)

__all__ = [
    "AnySessionConfig",
    "AudioInput",
    "AudioOutput",
    "BetaSessionConfig",
    "FlatTranscriptionSessionConfig",
    "FunctionTool",
    "InputTranscription",
    "MaxTokens",
    "McpTool",
    "NoiseReduction",
    "PromptReference",
    "Reasoning",
    "RetentionRatioTruncation",
    "SemanticVad",
    "ServerVad",
    "SessionAudio",
    "SessionConfig",
    "Tool",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "TracingConfig",
    "TranscriptionAudio",
    "TranscriptionAudioInput",
    "TranscriptionSessionConfig",
    "TurnDetection",
    "UnknownSessionConfig",
    "UnknownTool",
    "UnknownTurnDetection",
    "VoiceId",
]

MaxTokens: TypeAlias = int | Literal["inf"]
"""An output-token limit: 1-4096, or ``"inf"``."""


# --- turn detection --------------------------------------------------------------------------


class ServerVad(TaggedModel):
    """Voice activity detection by audio level on the server."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = None
    """Activation threshold, 0.0-1.0 (default 0.5); higher needs louder audio."""
    prefix_padding_ms: int | None = None
    """Audio kept before the detected start of speech (default 300 ms)."""
    silence_duration_ms: int | None = None
    """Silence that ends a turn (read the effective value from ``session.created``)."""
    create_response: bool | None = None
    """Start a response when a turn ends (default true)."""
    interrupt_response: bool | None = None
    """Cancel the active response when the user starts speaking (default true)."""
    idle_timeout_ms: int | None = None
    """GA only: commit and respond after this much silence following a response."""


class SemanticVad(TaggedModel):
    """Turn detection by a model that judges whether the user has finished."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class UnknownTurnDetection(WireModel):
    """A turn-detection mode this version does not know, or lacking a value it needs, as sent."""

    type: str | None = None


if TYPE_CHECKING:
    TurnDetection: TypeAlias = ServerVad | SemanticVad | UnknownTurnDetection
else:
    TurnDetection = tagged_union(ServerVad, SemanticVad, unknown=UnknownTurnDetection)


class InputTranscription(WireModel):
    """Transcription of the user's audio (asynchronous, after each commit)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class NoiseReduction(WireModel):
    """Noise reduction applied to input audio as it is appended."""

    type: str | None = None
    """``"near_field"`` or ``"far_field"``."""


# --- tools -----------------------------------------------------------------------------------


class FunctionTool(TaggedModel):
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    type: Literal["function"] = "function"
    name: str | None = None
    description: str | None = None
    parameters: dict[str, JsonData] | None = None


class McpTool(TaggedModel):
    """A remote MCP server whose tools the model may call (GA)."""

    type: Literal["mcp"] = "mcp"
    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    allowed_tools: JsonData = None
    require_approval: JsonData = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    server_description: str | None = None


class UnknownTool(WireModel):
    """A tool of a type this version does not know, or lacking a value it needs, as sent."""

    type: str | None = None


if TYPE_CHECKING:
    Tool: TypeAlias = FunctionTool | McpTool | UnknownTool
else:
    # The spec lets a function tool leave out its ``type``.
    Tool = tagged_union(FunctionTool, McpTool, unknown=UnknownTool, default="function")


class ToolChoiceFunction(TaggedModel):
    """Force a call of one function."""

    type: Literal["function"] = "function"
    name: str


class ToolChoiceMcp(TaggedModel):
    """Force a call of an MCP server's tool."""

    type: Literal["mcp"] = "mcp"
    server_label: str
    name: str | None = None


ToolChoice: TypeAlias = str | ToolChoiceFunction | ToolChoiceMcp
"""``"auto"``, ``"none"``, ``"required"``, or a forced function or MCP tool."""


class TracingConfig(WireModel):
    """Tracing with explicit names (``"auto"`` uses defaults; ``None`` turns it off)."""

    workflow_name: str | None = None
    group_id: str | None = None
    metadata: dict[str, JsonData] | None = None


class TokenLimits(WireModel):
    """Token limits of a truncation policy."""

    post_instructions: int | None = None


class RetentionRatioTruncation(TaggedModel):
    """Drop the oldest part of the conversation, keeping this fraction, when it grows too long."""

    type: Literal["retention_ratio"] = "retention_ratio"
    retention_ratio: float
    token_limits: TokenLimits | None = None


class PromptReference(WireModel):
    """A stored prompt template, with its variables."""

    id: str
    version: str | None = None
    variables: dict[str, JsonData] | None = None


class Reasoning(WireModel):
    """Reasoning effort of reasoning models."""

    effort: str | None = None


class VoiceId(WireModel):
    """A custom voice, by id."""

    id: str


# --- GA session ------------------------------------------------------------------------------


class AudioInput(WireModel):
    """GA ``audio.input``: what the client sends and how the server listens."""

    format: AudioFormat | None = None
    noise_reduction: NoiseReduction | None = None
    transcription: InputTranscription | None = None
    turn_detection: TurnDetection | None = None
    """``None`` turns VAD off: the client commits and asks for responses itself."""


class AudioOutput(WireModel):
    """GA ``audio.output``: how the model speaks."""

    format: AudioFormat | None = None
    voice: str | VoiceId | None = None
    speed: float | None = None


class SessionAudio(WireModel):
    """GA ``audio``: input and output settings."""

    input: AudioInput | None = None
    output: AudioOutput | None = None


class _SessionInfo(TaggedModel):
    """Read-only fields the server adds to a session it reports."""

    id: str | None = None
    object: str | None = None
    expires_at: int | None = None


class SessionConfig(_SessionInfo, BetaSourced):
    """GA realtime session (``session.type="realtime"``)."""

    type: Literal["realtime"] = "realtime"
    model: str | None = None
    instructions: str | None = None
    output_modalities: list[Literal["text", "audio"]] | None = None
    """``["audio"]`` (audio with its transcript) or ``["text"]``; not both."""
    audio: SessionAudio | None = None
    include: list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    max_output_tokens: MaxTokens | None = None
    tracing: Literal["auto"] | TracingConfig | None = None
    truncation: Literal["auto", "disabled"] | RetentionRatioTruncation | None = None
    prompt: PromptReference | None = None


class TranscriptionAudioInput(WireModel):
    """``audio.input`` of a GA transcription session."""

    format: AudioFormat | None = None
    noise_reduction: NoiseReduction | None = None
    transcription: InputTranscription | None = None
    turn_detection: TurnDetection | None = None


class TranscriptionAudio(WireModel):
    """``audio`` of a GA transcription session."""

    input: TranscriptionAudioInput | None = None


class TranscriptionSessionConfig(_SessionInfo):
    """GA transcription-only session (``session.type="transcription"``)."""

    type: Literal["transcription"] = "transcription"
    audio: TranscriptionAudio | None = None
    include: list[str] | None = None


class UnknownSessionConfig(WireModel):
    """A session of a ``type`` this version does not know, kept as sent."""

    type: str | None = None


if TYPE_CHECKING:
    AnySessionConfig: TypeAlias = SessionConfig | TranscriptionSessionConfig | UnknownSessionConfig
else:
    # Only the first GA session.update must carry session.type; a later one may leave it
    # out, and then means the realtime session.
    AnySessionConfig = tagged_union(
        SessionConfig, TranscriptionSessionConfig, unknown=UnknownSessionConfig, default="realtime"
    )


# --- beta session ----------------------------------------------------------------------------


class BetaSessionConfig(WireModel):
    """The beta dialect's flat session object."""

    id: str | None = None
    object: str | None = None
    expires_at: int | None = None
    model: str | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    """``["text", "audio"]`` (the default) or ``["text"]``."""
    instructions: str | None = None
    voice: str | VoiceId | None = None
    input_audio_format: BetaAudioFormat | None = None
    output_audio_format: BetaAudioFormat | None = None
    input_audio_transcription: InputTranscription | None = None
    input_audio_noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None
    tools: list[Tool] | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    """Sampling temperature, 0.6-1.2 (beta only: GA removed it)."""
    max_response_output_tokens: MaxTokens | None = None
    speed: float | None = None
    tracing: Literal["auto"] | TracingConfig | None = None
    include: list[str] | None = None
    client_secret: dict[str, JsonData] | None = None


class FlatTranscriptionSessionConfig(WireModel):
    """A transcription session in the flat ``transcription_session.*`` form.

    The beta dialect uses it; the GA spec still publishes it beside the GA form.
    """

    id: str | None = None
    object: str | None = None
    expires_at: int | None = None
    input_audio_format: BetaAudioFormat | str | None = None
    """A beta format name; the SDK lets the server report others, kept as they come."""
    input_audio_transcription: InputTranscription | None = None
    input_audio_noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None
    include: list[str] | None = None
    modalities: list[str] | None = None
    client_secret: dict[str, JsonData] | None = None
