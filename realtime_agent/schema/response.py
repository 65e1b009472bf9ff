"""Responses: what ``response.create`` asks for, and what ``response.created``/``done`` report."""

from __future__ import annotations

from typing import Literal, TypeAlias

from realtime_agent.schema.common import (
    AudioFormat,
    BetaAudioFormat,
    BetaSourced,
    JsonData,
    Usage,
    WireModel,
)
from realtime_agent.schema.items import Item
from realtime_agent.schema.session import (
    MaxTokens,
    PromptReference,
    Reasoning,
    Tool,
    ToolChoice,
    VoiceId,
)

__all__ = [
    "BetaResponse",
    "BetaResponseCreateParams",
    "Response",
    "ResponseAudio",
    "ResponseAudioOutput",
    "ResponseCreateParams",
    "ResponseError",
    "ResponseStatus",
    "ResponseStatusDetails",
]

ResponseStatus: TypeAlias = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


class ResponseError(WireModel):
    """Why a response failed."""

    type: str | None = None
    code: str | None = None
    message: str | None = None


class ResponseStatusDetails(WireModel):
    """Why a response ended as it did."""

    type: str | None = None
    """The final status again: ``completed``, ``cancelled``, ``failed`` or ``incomplete``."""
    reason: str | None = None
    """``turn_detected``, ``client_cancelled``, ``max_output_tokens`` or ``content_filter``."""
    error: ResponseError | None = None


class ResponseAudioOutput(WireModel):
    """The audio settings of one response."""

    format: AudioFormat | None = None
    voice: str | VoiceId | None = None


class ResponseAudio(WireModel):
    """GA ``response.audio``."""

    output: ResponseAudioOutput | None = None


class _ResponseBase(WireModel):
    id: str | None = None
    """``"resp_..."``."""
    object: str | None = None
    status: ResponseStatus | None = None
    status_details: ResponseStatusDetails | None = None
    output: list[Item] | None = None
    conversation_id: str | None = None
    """``"conv_..."``, or None for an out-of-band response."""
    usage: Usage | None = None
    metadata: dict[str, JsonData] | None = None


class Response(_ResponseBase, BetaSourced):
    """A GA response, as ``response.created`` and ``response.done`` report it."""

    output_modalities: list[Literal["text", "audio"]] | None = None
    max_output_tokens: MaxTokens | None = None
    audio: ResponseAudio | None = None


class BetaResponse(_ResponseBase):
    """A beta response, as ``response.created`` and ``response.done`` report it."""

    modalities: list[Literal["text", "audio"]] | None = None
    voice: str | VoiceId | None = None
    output_audio_format: BetaAudioFormat | None = None
    temperature: float | None = None
    max_output_tokens: MaxTokens | None = None


class _ResponseCreateBase(WireModel):
    instructions: str | None = None
    tools: list[Tool] | None = None
    conversation: str | None = None
    """``"auto"`` (the default conversation) or ``"none"`` (out of band)."""
    metadata: dict[str, JsonData] | None = None
    """At most 16 pairs; keys up to 64 characters, values up to 512."""
    input: list[Item] | None = None
    """A new context for this response: items and item references (``[]`` = empty)."""


class ResponseCreateParams(_ResponseCreateBase, BetaSourced):
    """GA ``response.create`` parameters: overrides of the session for one response."""

    output_modalities: list[Literal["text", "audio"]] | None = None
    audio: ResponseAudio | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    max_output_tokens: MaxTokens | None = None
    prompt: PromptReference | None = None


class BetaResponseCreateParams(_ResponseCreateBase):
    """Beta ``response.create`` parameters."""

    modalities: list[Literal["text", "audio"]] | None = None
    voice: str | VoiceId | None = None
    output_audio_format: BetaAudioFormat | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    max_response_output_tokens: MaxTokens | None = None
