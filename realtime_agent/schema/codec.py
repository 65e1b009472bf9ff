"""decode() and encode(): the only place where JSON text meets the models.

A frame is validated once, straight from its raw text, by a cached ``TypeAdapter``
over a union discriminated on ``type`` (no ``json.loads`` followed by a second pass
over a dict). What can come out of a decode:

* the specific event class of a known ``type``, unknown fields kept;
* :class:`UnknownServerEvent` / :class:`UnknownClientEvent` for a ``type`` this
  version does not know, carrying the raw JSON (forward compatible, never a crash);
* :class:`~realtime_agent.errors.RemoteProtocolError` for anything else: invalid JSON,
  a non-object, no ``type``, a known type with wrong fields, or a NaN or infinity
  anywhere (JSON has neither, and encode could not write it back). It names the event
  type and the field path and chains the pydantic error. No other exception escapes.

A frame is text or UTF-8 bytes: ``str``, ``bytes``, ``bytearray`` or ``memoryview``
(:data:`Frame`); bytes are parsed where they lie, without a copy (a ``memoryview`` that
is a part of its buffer, or of an object other than bytes, is copied once).

``encode`` writes exactly the fields that were set (explicit ``null`` included, since
``turn_detection: null`` turns VAD off), so a decoded event re-encodes to equal JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeAlias, TypeVar

import pydantic_core
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema.beta import BetaClientEvent, BetaServerEvent
from realtime_agent.schema.client import ClientEvent
from realtime_agent.schema.common import TOLERATE_INCOMPLETE, non_finite_path
from realtime_agent.schema.server import ServerEvent

__all__ = [
    "Frame",
    "UnknownClientEvent",
    "UnknownServerEvent",
    "decode",
    "decode_beta",
    "decode_beta_client",
    "decode_client",
    "encode",
    "sniff_event_id",
    "sniff_type",
]


@dataclass(frozen=True, slots=True)
class _UnknownEvent:
    type: str
    raw: str
    """The frame's JSON text, as received."""
    data: dict[str, Any] = field(repr=False)
    """The frame parsed as JSON."""
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownServerEvent(_UnknownEvent):
    """A server event of a ``type`` this version does not know, kept as it came."""


@dataclass(frozen=True, slots=True)
class UnknownClientEvent(_UnknownEvent):
    """A client event of a ``type`` this version does not know, kept as it came."""


E = TypeVar("E")
U = TypeVar("U", UnknownServerEvent, UnknownClientEvent)

Frame: TypeAlias = str | bytes | bytearray | memoryview
"""A frame as a WebSocket library hands it over: text, or its UTF-8 bytes."""

_SNIFF = {name: re.compile(rf'"{name}"\s*:\s*"([^"\\]{{1,200}})"') for name in ("type", "event_id")}


def _sniff(frame: Frame, name: str) -> str | None:
    head = frame[:4096]
    text = head if isinstance(head, str) else str(head, "utf-8", "replace")
    match = _SNIFF[name].search(text)
    return match.group(1) if match else None


def sniff_type(frame: Frame) -> str | None:
    """The ``type`` a frame seems to have, found without parsing it (it may not be JSON)."""
    return _sniff(frame, "type")


def sniff_event_id(frame: Frame) -> str | None:
    """The ``event_id`` a frame seems to have, found without parsing it."""
    return _sniff(frame, "event_id")


def _parsable(frame: Frame) -> str | bytes | bytearray:
    """What pydantic parses: ``frame`` itself, or the bytes a ``memoryview`` shows."""
    if not isinstance(frame, memoryview):
        return frame
    base = frame.obj
    if isinstance(base, bytes | bytearray) and frame.contiguous and frame.nbytes == len(base):
        return base  # the whole of a bytes object: no copy
    return frame.tobytes()


def _top_level_ids(frame: str | bytes | bytearray) -> dict[str, str]:
    """The identifying fields (``name``, ``*_id``) of a JSON object, when they are short strings.

    For an event that failed to validate: a broken ``arguments.done`` still names its call.
    """
    try:
        data = pydantic_core.from_json(frame)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: value
        for key, value in data.items()
        if (key == "name" or key.endswith("_id")) and isinstance(value, str) and len(value) <= 512
    }


def _as_text(frame: str | bytes | bytearray) -> str:
    return frame if isinstance(frame, str) else str(frame, "utf-8", "replace")


class _Decoder(Generic[E, U]):
    """Decodes one direction of one dialect: a cached adapter plus the unknown fallback."""

    def __init__(self, union: Any, unknown: type[U], what: str, *, tolerant: bool) -> None:
        discriminated: Any = Annotated[union, Field(discriminator="type")]
        self._adapter: TypeAdapter[E] = TypeAdapter(discriminated)
        self._unknown: type[U] = unknown
        self._what = what
        self._tolerant = tolerant

    def __call__(self, frame: Frame) -> E | U:
        data = _parsable(frame)
        token = TOLERATE_INCOMPLETE.set(self._tolerant)
        try:
            return self._adapter.validate_json(data)
        except ValidationError as exc:
            return self._recover(data, exc)
        finally:
            TOLERATE_INCOMPLETE.reset(token)

    def _recover(self, frame: str | bytes | bytearray, exc: ValidationError) -> U:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        kind, loc = first["type"], first["loc"]
        if kind == "union_tag_invalid" and not loc:
            return self._unknown_event(frame, exc)
        if kind == "json_invalid":
            event_type = sniff_type(frame)
            named = f" (type {event_type!r})" if event_type else ""
            raise RemoteProtocolError(
                f"malformed {self._what} frame{named}: invalid JSON: {first['msg']}",
                event_type=event_type,
                raw=frame,
            ) from exc
        if kind == "union_tag_not_found":
            raise RemoteProtocolError(
                f"malformed {self._what} frame: no 'type' field", raw=frame
            ) from exc
        if not loc:
            raise RemoteProtocolError(
                f"malformed {self._what} frame: not a JSON object ({first['msg']})", raw=frame
            ) from exc
        event_type = str(loc[0])
        path = ".".join(str(part) for part in loc[1:]) or None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        where = f"field {path!r}" if path else "event"
        raise RemoteProtocolError(
            f"invalid {event_type} {self._what} event: {where}: {first['msg']}{more}",
            event_type=event_type,
            field=path,
            raw=frame,
            ids=_top_level_ids(frame),
        ) from exc

    def _unknown_event(self, frame: str | bytes | bytearray, exc: ValidationError) -> U:
        text = _as_text(frame)
        data = json.loads(text)  # valid JSON: the adapter got as far as the tag
        event_type = data.get("type")
        if not isinstance(event_type, str):
            raise RemoteProtocolError(
                f"malformed {self._what} frame: 'type' is not a string", raw=frame
            ) from exc
        path = non_finite_path(data)
        if path is not None:
            raise RemoteProtocolError(
                f"invalid {event_type} {self._what} event: field {path!r}: "
                "JSON has no NaN or Infinity",
                event_type=event_type,
                field=path,
                raw=frame,
            ) from exc
        event_id = data.get("event_id")
        return self._unknown(
            type=event_type,
            raw=text,
            data=data,
            event_id=event_id if isinstance(event_id, str) else None,
        )


# Server events tolerate a nested object of a known type that lacks what its model needs
# (the SDK does); client events are read as the server reads them (see TOLERATE_INCOMPLETE).
_SERVER: _Decoder[ServerEvent, UnknownServerEvent] = _Decoder(
    ServerEvent, UnknownServerEvent, "server", tolerant=True
)
_CLIENT: _Decoder[ClientEvent, UnknownClientEvent] = _Decoder(
    ClientEvent, UnknownClientEvent, "client", tolerant=False
)
_BETA_SERVER: _Decoder[BetaServerEvent, UnknownServerEvent] = _Decoder(
    BetaServerEvent, UnknownServerEvent, "server", tolerant=True
)
_BETA_CLIENT: _Decoder[BetaClientEvent, UnknownClientEvent] = _Decoder(
    BetaClientEvent, UnknownClientEvent, "client", tolerant=False
)


def decode(frame: Frame) -> ServerEvent | UnknownServerEvent:
    """Decode a GA server frame. Raises RemoteProtocolError if it breaks the protocol."""
    return _SERVER(frame)


def decode_client(frame: Frame) -> ClientEvent | UnknownClientEvent:
    """Decode a GA client frame. Raises RemoteProtocolError if it breaks the protocol."""
    return _CLIENT(frame)


def decode_beta(frame: Frame) -> BetaServerEvent | UnknownServerEvent:
    """Decode a beta server frame; ``dialect.server_to_ga`` turns it into GA."""
    return _BETA_SERVER(frame)


def decode_beta_client(frame: Frame) -> BetaClientEvent | UnknownClientEvent:
    """Decode a beta client frame; ``dialect.client_to_ga`` turns it into GA."""
    return _BETA_CLIENT(frame)


def encode(event: BaseModel | UnknownServerEvent | UnknownClientEvent) -> str:
    """The JSON text of an event: exactly the fields that were set, unknown ones included.

    ``type`` is always written. An unknown event is written back as it came.
    """
    if isinstance(event, _UnknownEvent):
        return event.raw
    event.__pydantic_fields_set__.add("type")
    return event.model_dump_json(exclude_unset=True)
