"""Shared pieces of the wire: model bases, tagged unions, audio formats, errors, usage.

Every wire model keeps fields it does not know (``extra="allow"``) and writes them
back out: the server adds fields without notice, and a client that rejects them
breaks the day it happens. Nested objects discriminated by ``type`` (formats,
items, content parts, tools, turn detection) fall back to an ``Unknown*`` model
that keeps the raw data when the ``type`` is new, for the same reason, and when
the object leaves out what its model needs (see :func:`tagged_union`).

Numbers are finite: JSON has no NaN or Infinity, and a value that could not be
written back as JSON is refused (a float field, an untyped one, an unknown field).
"""

from __future__ import annotations

import binascii
import math
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union, get_args

import pybase64
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Tag

from realtime_agent.errors import RemoteProtocolError

__all__ = [
    "TOLERATE_INCOMPLETE",
    "UNKNOWN_TAG",
    "AudioFormat",
    "BetaAudioFormat",
    "BetaSourced",
    "ClientEventBase",
    "ErrorDetail",
    "InputTokenDetails",
    "JsonData",
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
    "non_finite_path",
    "tagged_union",
]

#: The tag a tagged union gives to a ``type`` it does not know.
UNKNOWN_TAG = "__unknown__"

#: Whether a tagged union reads an object of a known ``type`` that lacks a value its model
#: needs as the ``Unknown*`` model (True, the default: server events, read as the openai
#: SDK reads them) or refuses it (False: client events, read as the server reads them,
#: which answers ``missing_required_parameter``). The codec sets it per decoder.
TOLERATE_INCOMPLETE: ContextVar[bool] = ContextVar("TOLERATE_INCOMPLETE", default=True)


def non_finite_path(value: Any) -> str | None:
    """The dotted path of the first NaN or infinity in JSON data (``""`` for ``value`` itself).

    None when there is none. Iterative: JSON nests deeper than Python recurses.
    """
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                return path
        elif isinstance(node, dict):
            pending.extend((f"{path}.{key}" if path else str(key), v) for key, v in node.items())
        elif isinstance(node, list):
            pending.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(node))
    return None


def _finite(value: Any) -> Any:
    path = non_finite_path(value)
    if path is not None:
        where = f" (at {path})" if path else ""
        raise ValueError(f"JSON has no NaN or Infinity{where}")
    return value


JsonData: TypeAlias = Annotated[Any, AfterValidator(_finite)]
"""Any JSON value; one holding NaN or an infinity (which have no JSON text) is refused."""


def _extra_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # Unknown fields are JsonData, whose schema is {}: say `true`, as plain `extra="allow"` does.
    if schema.get("additionalProperties") == {}:
        schema["additionalProperties"] = True


class WireModel(BaseModel):
    """Base of every model on the wire: keeps unknown fields and writes them back.

    Float fields, and unknown fields, refuse NaN and infinities: they could not be
    written back as JSON (pydantic would write ``null``).
    """

    model_config = ConfigDict(
        extra="allow",
        protected_namespaces=(),
        use_attribute_docstrings=True,
        allow_inf_nan=False,
        json_schema_extra=_extra_schema,
    )

    __pydantic_extra__: dict[str, JsonData]


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

    ``unknown`` also reads an object whose ``type`` is known but which has ``null``, or
    nothing, where that type's model needs a value: a beta message with ``content:
    null`` or no ``role``, a call output with ``call_id: null``, an ``audio/pcm`` format
    with ``rate: null``. The openai SDK accepts them; an ``Unknown*`` model keeps them
    exactly as sent, where a typed model would either lie (an empty call id) or fail
    the whole event. A value of the wrong type still fails: only absence is tolerated,
    and only while :data:`TOLERATE_INCOMPLETE` is true. A ``type`` that is not a string
    goes to ``unknown`` too, which refuses it.
    """
    tags = {literal_tag(model): model for model in models}
    classes = {model: tag for tag, model in tags.items()}
    required = {tag: _required(model) for tag, model in tags.items()}
    non_null = {tag: _non_null(model) for tag, model in tags.items()}

    def tag_of(value: Any) -> str:
        if not isinstance(value, dict):
            # A model built in Python is its own variant; JSON that is not an object is
            # left to `unknown`, which refuses it.
            return classes.get(type(value), UNKNOWN_TAG)
        tag = value.get("type", default)
        if not isinstance(tag, str) or tag not in tags:
            return UNKNOWN_TAG
        if TOLERATE_INCOMPLETE.get() and (
            any(value.get(name) is None for name in required[tag])
            or any(name in value and value[name] is None for name in non_null[tag])
        ):
            return UNKNOWN_TAG
        return tag

    choices: list[Any] = [_annotated(model, Tag(tag)) for tag, model in tags.items()]
    choices.append(_annotated(unknown, Tag(UNKNOWN_TAG)))
    return _annotated(Union[tuple(choices)], Discriminator(tag_of))  # noqa: UP007


def _required(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` without a default, that cannot be null."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if name != "type" and info.is_required() and not _admits_none(info.annotation)
    )


def _non_null(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` with a default, that cannot be null."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if name != "type" and not info.is_required() and not _admits_none(info.annotation)
    )


def _admits_none(annotation: Any) -> bool:
    return annotation is Any or annotation is None or type(None) in get_args(annotation)


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
    """An audio format this version does not know, or lacking a value it needs, as sent."""

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
