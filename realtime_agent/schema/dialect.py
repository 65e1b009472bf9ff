"""GA <-> beta translation, both ways, for events and session configuration.

The runtime speaks GA inside and translates at the edge when a connection uses the
beta dialect (the ``OpenAI-Beta: realtime=v1`` header, or Azure's preview path); the
local server does the opposite for its beta clients. Four directions::

    server_to_ga(beta server event)   -> GA server event        (a runtime on beta)
    client_to_beta(GA client event)   -> beta client event      (a runtime on beta)
    client_to_ga(beta client event)   -> GA client event        (the local server)
    server_to_beta(GA server event)   -> beta server event | None  (the local server)

What changes (PROTOCOL.md 3.2): six event names (``response.audio.delta`` <->
``response.output_audio.delta`` ...); the flat beta session <-> the GA session object
(``input_audio_format: "pcm16"`` <-> ``audio.input.format: {"type": "audio/pcm",
"rate": 24000}`` ...); ``modalities`` <-> ``output_modalities``; the response objects;
assistant content parts ``text``/``audio`` (beta) <-> ``output_text``/``output_audio``.

Some beta fields have no GA form (:data:`LOSSY_BETA_FIELDS`: ``temperature``, for
one). A GA object translated from beta remembers its beta source in memory (never on
the wire), so beta -> GA -> beta gives back exactly what came in; a GA object built
any other way translates to beta without them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import beta as b
from realtime_agent.schema import client as c
from realtime_agent.schema import server as s
from realtime_agent.schema.codec import UnknownClientEvent, UnknownServerEvent, encode
from realtime_agent.schema.common import BetaSourced, literal_tag
from realtime_agent.schema.items import (
    AudioPart,
    ContentPart,
    Item,
    MessageItem,
    OutputAudioPart,
    OutputTextPart,
    TextPart,
)
from realtime_agent.schema.response import (
    BetaResponse,
    BetaResponseCreateParams,
    Response,
    ResponseCreateParams,
)
from realtime_agent.schema.session import (
    BetaSessionConfig,
    FlatTranscriptionSessionConfig,
    SessionConfig,
    TranscriptionSessionConfig,
)

__all__ = [
    "GA_ONLY_SERVER_EVENT_TYPES",
    "LOSSY_BETA_FIELDS",
    "SERVER_EVENT_NAMES_BETA_TO_GA",
    "Dialect",
    "client_to_beta",
    "client_to_ga",
    "response_params_to_beta",
    "response_params_to_ga",
    "response_to_beta",
    "response_to_ga",
    "server_to_beta",
    "server_to_ga",
    "session_to_beta",
    "session_to_ga",
]


class Dialect(enum.StrEnum):
    """The protocol dialect of one connection."""

    GA = "ga"
    BETA = "beta"


#: The server events renamed in GA, beta name -> GA name.
SERVER_EVENT_NAMES_BETA_TO_GA: Mapping[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}

#: GA server events a beta client never receives (``server_to_beta`` gives None for them,
#: and for a ``session.created``/``updated`` of a session beta cannot describe).
GA_ONLY_SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "conversation.item.done",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
    }
)

#: Beta fields that GA cannot carry, and why. They survive beta -> GA -> beta only
#: through the in-memory beta source of the GA object.
LOSSY_BETA_FIELDS: Mapping[str, str] = {
    "temperature": "GA removed the sampling temperature",
    "client_secret": "GA creates client secrets through REST, not in the session",
    "modalities": 'GA cannot say ["audio"] alone or name "text" beside "audio": '
    '["text", "audio"] <-> ["audio"] and ["text"] <-> ["text"]; anything else is lost',
    "max_output_tokens": "beta response.create names it max_response_output_tokens; "
    "the published beta example uses max_output_tokens, which comes back renamed",
}

_BETA_ONLY_KEYS = frozenset({"temperature", "client_secret"})

_FORMATS_TO_GA: Mapping[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMATS_TO_BETA: Mapping[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}


def _format_to_ga(value: Any) -> Any:
    if isinstance(value, str) and value in _FORMATS_TO_GA:
        return dict(_FORMATS_TO_GA[value])
    return value


def _format_to_beta(value: Any) -> Any:
    if isinstance(value, dict):
        return _FORMATS_TO_BETA.get(value.get("type", ""), value)
    return value


def _modalities_to_ga(value: Any) -> Any:
    if isinstance(value, list):
        return ["audio"] if "audio" in value else list(value)
    return value


def _modalities_to_beta(value: Any) -> Any:
    if isinstance(value, list):
        return ["text", "audio"] if "audio" in value else list(value)
    return value


def _same(value: Any) -> Any:
    return value


# A mapping table: beta key -> (GA path, to GA, to beta).
_Rule = tuple[tuple[str, ...], Callable[[Any], Any], Callable[[Any], Any]]

_SESSION_RULES: Mapping[str, _Rule] = {
    "modalities": (("output_modalities",), _modalities_to_ga, _modalities_to_beta),
    "input_audio_format": (("audio", "input", "format"), _format_to_ga, _format_to_beta),
    "input_audio_transcription": (("audio", "input", "transcription"), _same, _same),
    "input_audio_noise_reduction": (("audio", "input", "noise_reduction"), _same, _same),
    "turn_detection": (("audio", "input", "turn_detection"), _same, _same),
    "output_audio_format": (("audio", "output", "format"), _format_to_ga, _format_to_beta),
    "voice": (("audio", "output", "voice"), _same, _same),
    "speed": (("audio", "output", "speed"), _same, _same),
    "max_response_output_tokens": (("max_output_tokens",), _same, _same),
}
_RESPONSE_RULES: Mapping[str, _Rule] = {
    "modalities": (("output_modalities",), _modalities_to_ga, _modalities_to_beta),
    "voice": (("audio", "output", "voice"), _same, _same),
    "output_audio_format": (("audio", "output", "format"), _format_to_ga, _format_to_beta),
}
_RESPONSE_PARAMS_RULES: Mapping[str, _Rule] = {
    **_RESPONSE_RULES,
    "max_response_output_tokens": (("max_output_tokens",), _same, _same),
}
_TRANSCRIPTION_RULES: Mapping[str, _Rule] = {
    "input_audio_format": (("audio", "input", "format"), _format_to_ga, _format_to_beta),
    "input_audio_transcription": (("audio", "input", "transcription"), _same, _same),
    "input_audio_noise_reduction": (("audio", "input", "noise_reduction"), _same, _same),
    "turn_detection": (("audio", "input", "turn_detection"), _same, _same),
}

_MISSING = object()


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _flat_to_nested(flat: Mapping[str, Any], rules: Mapping[str, _Rule]) -> dict[str, Any]:
    """Beta (flat) -> GA (nested): mapped keys move to their path, the rest stay."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        rule = rules.get(key)
        if rule is not None:
            path, to_ga, _ = rule
            _put(nested, path, to_ga(value))
        elif key not in _BETA_ONLY_KEYS:
            nested[key] = value
    return nested


def _nested_to_flat(nested: Mapping[str, Any], rules: Mapping[str, _Rule]) -> dict[str, Any]:
    """GA (nested) -> beta (flat): mapped paths move to their key, other top-level keys stay."""
    flat: dict[str, Any] = {}
    consumed = {"type", "audio"} | {rule[0][0] for rule in rules.values()}
    for key, (path, _, to_beta) in rules.items():
        value = _get(nested, path)
        if value is not _MISSING:
            flat[key] = to_beta(value)
    for key, value in nested.items():
        if key not in consumed:
            flat[key] = value
    return flat


M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", bound=BetaSourced)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


def _to_ga(source: BaseModel, target: type[S], rules: Mapping[str, _Rule]) -> S:
    data = _dump(source)
    result = target.model_validate(_flat_to_nested(data, rules))
    result._beta_source = data
    return result


def _to_beta(model: BetaSourced, target: type[M], rules: Mapping[str, _Rule]) -> M:
    data = _dump(model)
    source = model._beta_source
    if source is not None:
        if _dump(type(model).model_validate(_flat_to_nested(source, rules))) == data:
            return target.model_validate(source)  # unchanged since it came from beta
        flat = _nested_to_flat(data, rules)
        flat.update({k: v for k, v in source.items() if k in _BETA_ONLY_KEYS})
        return target.model_validate(flat)
    return target.model_validate(_nested_to_flat(data, rules))


def session_to_ga(session: BetaSessionConfig) -> SessionConfig:
    """A beta session object as a GA realtime session."""
    return _to_ga(session, SessionConfig, _SESSION_RULES)


def session_to_beta(session: SessionConfig) -> BetaSessionConfig:
    """A GA realtime session as a beta session object (see :data:`LOSSY_BETA_FIELDS`)."""
    return _to_beta(session, BetaSessionConfig, _SESSION_RULES)


def response_to_ga(response: BetaResponse) -> Response:
    """A beta response object as a GA one."""
    return _to_ga(response, Response, _RESPONSE_RULES)


def response_to_beta(response: Response) -> BetaResponse:
    """A GA response object as a beta one, with beta content-part names."""
    result = _to_beta(response, BetaResponse, _RESPONSE_RULES)
    if result.output:
        result.output = [_item_to_beta(item) for item in result.output]
    return result


def response_params_to_ga(params: BetaResponseCreateParams) -> ResponseCreateParams:
    """Beta ``response.create`` parameters as GA ones."""
    return _to_ga(params, ResponseCreateParams, _RESPONSE_PARAMS_RULES)


def response_params_to_beta(params: ResponseCreateParams) -> BetaResponseCreateParams:
    """GA ``response.create`` parameters as beta ones."""
    return _to_beta(params, BetaResponseCreateParams, _RESPONSE_PARAMS_RULES)


def _transcription_to_flat(session: TranscriptionSessionConfig) -> FlatTranscriptionSessionConfig:
    return FlatTranscriptionSessionConfig.model_validate(
        _nested_to_flat(_dump(session), _TRANSCRIPTION_RULES)
    )


# --- content parts: GA output_* -> beta text/audio --------------------------------------------


def _part_to_beta(part: ContentPart) -> ContentPart:
    if isinstance(part, OutputTextPart):
        return _rebuild(TextPart, part, type="text")
    if isinstance(part, OutputAudioPart):
        return _rebuild(AudioPart, part, type="audio")
    return part


def _item_to_beta(item: Item) -> Item:
    if isinstance(item, MessageItem) and any(
        isinstance(part, OutputTextPart | OutputAudioPart) for part in item.content
    ):
        return _rebuild(MessageItem, item, content=[_part_to_beta(p) for p in item.content])
    return item


def _rebuild(target: type[M], source: BaseModel, **changes: Any) -> M:
    """``source``'s fields (extras and set-ness included) as a ``target``, with changes."""
    values = dict(source.__dict__)
    if source.__pydantic_extra__:
        values.update(source.__pydantic_extra__)
    values.update(changes)
    return target.model_construct(source.model_fields_set | changes.keys(), **values)


# --- events ----------------------------------------------------------------------------------

_RENAMED_TO_GA: Mapping[type[BaseModel], type[BaseModel]] = {
    b.BetaResponseTextDelta: s.ResponseOutputTextDelta,
    b.BetaResponseTextDone: s.ResponseOutputTextDone,
    b.BetaResponseAudioDelta: s.ResponseOutputAudioDelta,
    b.BetaResponseAudioDone: s.ResponseOutputAudioDone,
    b.BetaResponseAudioTranscriptDelta: s.ResponseOutputAudioTranscriptDelta,
    b.BetaResponseAudioTranscriptDone: s.ResponseOutputAudioTranscriptDone,
}
_RENAMED_TO_BETA: Mapping[type[BaseModel], type[BaseModel]] = {
    ga: beta for beta, ga in _RENAMED_TO_GA.items()
}


def _renamed(event: BaseModel, target: type[M]) -> M:
    return _rebuild(target, event, type=literal_tag(target))


def _as_ga(event: BaseModel, name: str, translate: Callable[[Any], S], what: str) -> S:
    """``translate(event.<name>)``, or RemoteProtocolError if that is not valid GA.

    A beta object can carry a field beta does not define but GA does, with a value GA
    refuses (``session.audio: 5``): the event decoded, yet has no GA form.
    """
    try:
        return translate(getattr(event, name))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(part) for part in (name, *first["loc"]))
        event_type = str(getattr(event, "type", ""))
        raise RemoteProtocolError(
            f"invalid {event_type} {what} event: field {path!r} has no GA form: {first['msg']}",
            event_type=event_type,
            field=path,
            raw=encode(event),
        ) from exc


def server_to_ga(
    event: b.BetaServerEvent | UnknownServerEvent,
) -> s.ServerEvent | UnknownServerEvent:
    """A beta server event in GA form (the runtime's internal vocabulary).

    Raises RemoteProtocolError for a decoded event that has no GA form (see ``_as_ga``).
    """
    match event:
        case (
            b.BetaResponseTextDelta()
            | b.BetaResponseTextDone()
            | b.BetaResponseAudioDelta()
            | b.BetaResponseAudioDone()
            | b.BetaResponseAudioTranscriptDelta()
            | b.BetaResponseAudioTranscriptDone()
        ):
            return cast(s.ServerEvent, _renamed(event, _RENAMED_TO_GA[type(event)]))
        case b.BetaSessionCreated():
            session = _as_ga(event, "session", session_to_ga, "server")
            return _rebuild(s.SessionCreated, event, session=session)
        case b.BetaSessionUpdated():
            session = _as_ga(event, "session", session_to_ga, "server")
            return _rebuild(s.SessionUpdated, event, session=session)
        case b.BetaResponseCreated():
            response = _as_ga(event, "response", response_to_ga, "server")
            return _rebuild(s.ResponseCreated, event, response=response)
        case b.BetaResponseDone():
            response = _as_ga(event, "response", response_to_ga, "server")
            return _rebuild(s.ResponseDone, event, response=response)
        case _:
            return event  # the same in both dialects


def server_to_beta(
    event: s.ServerEvent | UnknownServerEvent,
) -> b.BetaServerEvent | UnknownServerEvent | None:
    """A GA server event as a beta client would receive it; None if it has no beta form.

    ``conversation.item.added`` becomes ``conversation.item.created``; the GA-only
    events (:data:`GA_ONLY_SERVER_EVENT_TYPES`) give None.
    """
    match event:
        case (
            s.ConversationItemDone()
            | s.InputAudioTranscriptionSegment()
            | s.InputAudioBufferTimeoutTriggered()
            | s.InputAudioBufferDtmfEventReceived()
            | s.ResponseMcpCallArgumentsDelta()
            | s.ResponseMcpCallArgumentsDone()
            | s.ResponseMcpCallInProgress()
            | s.ResponseMcpCallCompleted()
            | s.ResponseMcpCallFailed()
            | s.McpListToolsInProgress()
            | s.McpListToolsCompleted()
            | s.McpListToolsFailed()
        ):
            return None
        case (
            s.ResponseOutputTextDelta()
            | s.ResponseOutputTextDone()
            | s.ResponseOutputAudioDelta()
            | s.ResponseOutputAudioDone()
            | s.ResponseOutputAudioTranscriptDelta()
            | s.ResponseOutputAudioTranscriptDone()
        ):
            return cast(b.BetaServerEvent, _renamed(event, _RENAMED_TO_BETA[type(event)]))
        case s.SessionCreated(session=SessionConfig() as session):
            return _rebuild(b.BetaSessionCreated, event, session=session_to_beta(session))
        case s.SessionUpdated(session=SessionConfig() as session):
            return _rebuild(b.BetaSessionUpdated, event, session=session_to_beta(session))
        case s.SessionUpdated(session=TranscriptionSessionConfig() as session):
            flat = _transcription_to_flat(session)
            return _rebuild(s.TranscriptionSessionUpdated, event, session=flat)
        case s.SessionCreated() | s.SessionUpdated():
            return None  # a transcription or unknown session: no beta session event says it
        case s.ResponseCreated():
            response = response_to_beta(event.response)
            return _rebuild(b.BetaResponseCreated, event, response=response)
        case s.ResponseDone():
            return _rebuild(b.BetaResponseDone, event, response=response_to_beta(event.response))
        case s.ConversationItemAdded():
            created = "conversation.item.created"
            item = _item_to_beta(event.item)
            return _rebuild(s.ConversationItemCreated, event, type=created, item=item)
        case (
            s.ConversationItemCreated()
            | s.ConversationItemRetrieved()
            | s.ResponseOutputItemAdded()
            | s.ResponseOutputItemDone()
        ):
            return _rebuild(type(event), event, item=_item_to_beta(event.item))
        case s.ResponseContentPartAdded() | s.ResponseContentPartDone():
            return _rebuild(type(event), event, part=_part_to_beta(event.part))
        case _:
            return event  # the same in both dialects


def client_to_beta(
    event: c.ClientEvent | UnknownClientEvent,
) -> b.BetaClientEvent | UnknownClientEvent:
    """A GA client event as a beta server expects it.

    A GA ``session.update`` of a transcription session becomes
    ``transcription_session.update``.
    """
    match event:
        case c.SessionUpdate(session=SessionConfig() as session):
            return _rebuild(b.BetaSessionUpdate, event, session=session_to_beta(session))
        case c.SessionUpdate(session=TranscriptionSessionConfig() as session):
            flat = _transcription_to_flat(session)
            update = "transcription_session.update"
            return _rebuild(c.TranscriptionSessionUpdate, event, type=update, session=flat)
        case c.SessionUpdate():
            unknown = BetaSessionConfig.model_validate(_dump(event.session))
            return _rebuild(b.BetaSessionUpdate, event, session=unknown)
        case c.ResponseCreate(response=ResponseCreateParams() as params):
            return _rebuild(b.BetaResponseCreate, event, response=response_params_to_beta(params))
        case c.ResponseCreate():
            return _rebuild(b.BetaResponseCreate, event)
        case c.ConversationItemCreate():
            return _rebuild(c.ConversationItemCreate, event, item=_item_to_beta(event.item))
        case _:
            return event


def client_to_ga(
    event: b.BetaClientEvent | UnknownClientEvent,
) -> c.ClientEvent | UnknownClientEvent:
    """A beta client event in GA form (what the local server works with).

    Raises RemoteProtocolError for a decoded event that has no GA form (see ``_as_ga``).
    """
    match event:
        case b.BetaSessionUpdate():
            session = _as_ga(event, "session", session_to_ga, "client")
            return _rebuild(c.SessionUpdate, event, session=session)
        case b.BetaResponseCreate(response=BetaResponseCreateParams()):
            params = _as_ga(event, "response", response_params_to_ga, "client")
            return _rebuild(c.ResponseCreate, event, response=params)
        case b.BetaResponseCreate():
            return _rebuild(c.ResponseCreate, event)
        case _:
            return event
