"""Shared pieces of the wire: model bases, tagged unions, audio formats, errors, usage.

Every wire model keeps fields it does not know (``extra="allow"``) and writes them
back out: the server adds fields without notice, and a client that rejects them
breaks the day it happens. Nested objects discriminated by ``type`` (formats,
items, content parts, tools, turn detection) fall back to an ``Unknown*`` model
that keeps the raw data when the ``type`` is new, for the same reason.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union, get_args

import pybase64
from pydantic import BaseModel, ConfigDict, Discriminator, Tag

from realtime_agent.errors import RemoteProtocolError

__all__ = [
    "UNKNOWN_TAG",
    "AudioFormat",
    "BetaAudioFormat",
    "BetaSourced",
    "ClientEventBase",
    "ErrorDetail",
    "InputTokenDetails",
    "OutputTokenDetails",
    "PcmFormat",
    "PcmaFormat",
    "PcmuFormat",
    "RateLimit",
    "ServerEventBase",
    "TaggedModel",
    "TokenCounts",
    "TranscriptionErrorDetail",
    "TranscriptionUsage",
    "UnknownAudioFormat",
    "Usage",
    "WireModel",
    "decode_base64",
    "literal_tag",
    "tagged_union",
]

#: The tag a tagged union gives to a ``type`` it does not know.
UNKNOWN_TAG = "__unknown__"


class WireModel(BaseModel):
    """Base of every model on the wire: keeps unknown fields and writes them back."""

    model_config = ConfigDict(extra="allow", protected_namespaces=(), use_attribute_docstrings=True)


class TaggedModel(WireModel):
    """A nested object discriminated by its ``type``.

    ``type`` is always written, even when the caller left it at its default, because
    the peer needs it to tell the variants apart.
    """

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("type")


class BetaSourced(WireModel):
    """A GA object that may have been translated from the beta dialect.

    It remembers the beta object it came from, in memory only (a private attribute,
    never serialised), so that translating it back gives exactly what came in.
    """

    _beta_source: dict[str, Any] | None = None


class ClientEventBase(WireModel):
    """Fields every client event has."""

    event_id: str | None = None
    """Optional id of the client's choice; the server copies it into ``error.event_id``."""


class ServerEventBase(WireModel):
    """Fields every server event has (but ``input_audio_buffer.dtmf_event_received``)."""

    event_id: str
    """The server's unique id of this event."""


def literal_tag(model: type[BaseModel]) -> str:
    """The single ``Literal`` value of a model's ``type`` field."""
    (tag,) = get_args(model.model_fields["type"].annotation)
    if not isinstance(tag, str):  # pragma: no cover - a programming error in the schema
        raise TypeError(f"{model.__name__}.type is not a string Literal")
    return str(tag)


def tagged_union(
    *models: type[BaseModel], unknown: type[BaseModel], default: str | None = None
) -> Any:
    """A union discriminated by ``type`` that maps a ``type`` it does not know to ``unknown``.

    ``default`` is the tag used when ``type`` is absent (the spec lets a function tool
    omit it, for example); without a default an absent ``type`` is unknown too.
    """
    tags = {literal_tag(model): model for model in models}

    def tag_of(value: Any) -> str:
        if isinstance(value, dict):
            tag = value.get("type", default)
        else:
            tag = getattr(value, "type", default)
        return tag if tag in tags else UNKNOWN_TAG

    choices: list[Any] = [_annotated(model, Tag(tag)) for tag, model in tags.items()]
    choices.append(_annotated(unknown, Tag(UNKNOWN_TAG)))
    return _annotated(Union[tuple(choices)], Discriminator(tag_of))  # noqa: UP007


def _annotated(tp: Any, *metadata: Any) -> Any:
    """``typing.Annotated[tp, *metadata]`` for a type only known at run time."""
    return Annotated[(tp, *metadata)]


def encode_base64(data: bytes) -> str:
    """Standard base64 text of ``data`` (pybase64: SIMD, ~9x faster than the stdlib)."""
    return pybase64.b64encode_as_string(data)


def decode_base64(data: str, *, event_type: str, field: str) -> bytes:
    """Decode strict base64, raising :class:`RemoteProtocolError` naming the event and field.

    Strict: only the standard alphabet, no whitespace, correct padding. pybase64 decodes
    a 40 ms audio delta in ~0.5 µs (the stdlib: ~3.4 µs), on every audio event.
    """
    try:
        return pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError(
            f"{event_type}: field {field!r} is not valid base64 ({exc})",
            event_type=event_type,
            field=field,
            raw=data,
        ) from exc


# --- audio formats ---------------------------------------------------------------------------


class PcmFormat(TaggedModel):
    """16-bit signed little-endian PCM, mono, 24 kHz (48 bytes per ms)."""

    type: Literal["audio/pcm"] = "audio/pcm"
    rate: int = 24000


class PcmuFormat(TaggedModel):
    """G.711 μ-law, 8 kHz (8 bytes per ms)."""

    type: Literal["audio/pcmu"] = "audio/pcmu"


class PcmaFormat(TaggedModel):
    """G.711 A-law, 8 kHz (8 bytes per ms)."""

    type: Literal["audio/pcma"] = "audio/pcma"


class UnknownAudioFormat(WireModel):
    """An audio format this version does not know, kept as sent."""

    type: str | None = None


if TYPE_CHECKING:
    AudioFormat: TypeAlias = PcmFormat | PcmuFormat | PcmaFormat | UnknownAudioFormat
else:
    AudioFormat = tagged_union(PcmFormat, PcmuFormat, PcmaFormat, unknown=UnknownAudioFormat)

#: The beta dialect names formats with a bare string.
BetaAudioFormat: TypeAlias = Literal["pcm16", "g711_ulaw", "g711_alaw"]


# --- errors, usage, rate limits --------------------------------------------------------------


class ErrorDetail(WireModel):
    """The ``error`` object of an ``error`` event."""

    type: str
    """Error class, e.g. ``invalid_request_error`` or ``server_error``."""
    message: str
    code: str | None = None
    """Machine-readable code, e.g. ``conversation_already_has_active_response``."""
    param: str | None = None
    event_id: str | None = None
    """The ``event_id`` of the client event that caused the error, if it had one."""


class TranscriptionErrorDetail(WireModel):
    """The ``error`` of a failed input-audio transcription; every field is optional."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


class TokenCounts(WireModel):
    """Tokens by modality."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class InputTokenDetails(TokenCounts):
    """Input tokens by modality, with the cached ones."""

    cached_tokens: int | None = None
    cached_tokens_details: TokenCounts | None = None


class OutputTokenDetails(WireModel):
    """Output tokens by modality."""

    text_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(WireModel):
    """Token usage of a response."""

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None


class TranscriptionUsage(WireModel):
    """Usage of an input transcription: ``type="tokens"`` with counts, or ``"duration"``."""

    type: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_token_details: TokenCounts | None = None
    seconds: float | None = None


class RateLimit(WireModel):
    """One rate limit, as ``rate_limits.updated`` reports it."""

    name: str | None = None
    """``"requests"`` or ``"tokens"``."""
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None
