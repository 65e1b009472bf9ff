"""Session configuration on the local server: defaults, partial updates, the checks.

``session.update`` is a partial update: the session object, ``audio``, ``audio.input``
and ``audio.output`` merge field by field; any other field (``turn_detection``,
``tools``, a format...) is replaced whole, and a new ``turn_detection`` gets the
defaults for what it leaves out. An update that fails a check is discarded whole,
and the error names the parameter, as the real server does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from realtime_agent.audio.format import AudioFormat
from realtime_agent.schema.common import ErrorDetail, TaggedModel, WireModel, literal_tag
from realtime_agent.schema.session import (
    SessionConfig,
    TranscriptionSessionConfig,
    UnknownSessionConfig,
)
from realtime_agent.server import messages

__all__ = [
    "EAGERNESS_SILENCE_MS",
    "SERVER_VAD_DEFAULTS",
    "apply_update",
    "below_min",
    "check_range",
    "default_config",
    "default_transcription_config",
    "parameter_name",
]

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. Keep your answers short. "
    "(Served by the realtime_agent local Realtime server.)"
)
SESSION_SECONDS = 3600
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
#: semantic_vad has no model here: its eagerness becomes a silence duration.
EAGERNESS_SILENCE_MS = {"low": 1500, "medium": 700, "auto": 700, "high": 300}
_CONTAINERS = {("audio",), ("audio", "input"), ("audio", "output")}


def default_config(session_id: str, model: str, created_at: float) -> SessionConfig:
    """The configuration ``session.created`` reports, shaped as the real server's."""
    return SessionConfig.model_validate(
        {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": model,
            "output_modalities": ["audio"],
            "instructions": DEFAULT_INSTRUCTIONS,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "prompt": None,
            "expires_at": int(created_at) + SESSION_SECONDS,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {"type": "server_vad", **SERVER_VAD_DEFAULTS},
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": "marin",
                    "speed": 1,
                },
            },
            "include": None,
        }
    )


def default_transcription_config(session_id: str, created_at: float) -> TranscriptionSessionConfig:
    """The configuration of a transcription-only session (``?intent=transcription``)."""
    return TranscriptionSessionConfig.model_validate(
        {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": session_id,
            "expires_at": int(created_at) + SESSION_SECONDS,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-transcribe", "language": None, "prompt": ""},
                    "noise_reduction": None,
                    "turn_detection": {"type": "server_vad", **SERVER_VAD_DEFAULTS},
                }
            },
            "include": None,
        }
    )


def _tags() -> frozenset[str]:
    found: set[str] = set()
    pending: list[type[BaseModel]] = [TaggedModel]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "type" in cls.model_fields:
            found.add(literal_tag(cls))
    return frozenset(found)


_UNION_TAGS = _tags()


def parameter_name(path: str | None) -> str:
    """A decoder's field path as the API names the parameter (union tags left out)."""
    return ".".join(p for p in (path or "").split(".") if p and p not in _UNION_TAGS)


def _first_extra(model: BaseModel, path: str) -> str | None:
    """The path of the first field ``model`` does not know, looking into nested models."""
    if type(model).__name__.startswith("Unknown"):
        return None
    for key in model.model_extra or {}:
        return f"{path}.{key}"
    for name in model.model_fields_set:
        value = getattr(model, name)
        for nested in value if isinstance(value, list) else [value]:
            if isinstance(nested, WireModel):
                found = _first_extra(nested, f"{path}.{name}")
                if found:
                    return found
    return None


def _merge(
    base: dict[str, Any], update: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        where = (*path, key)
        if where in _CONTAINERS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, where)
        else:
            merged[key] = value
    return merged


def _voice(config: SessionConfig) -> object:
    return config.audio.output.voice if config.audio and config.audio.output else None


def apply_update(
    current: SessionConfig | TranscriptionSessionConfig,
    update: SessionConfig | TranscriptionSessionConfig | UnknownSessionConfig,
    *,
    event_id: str | None,
    voice_locked: bool = False,
) -> SessionConfig | TranscriptionSessionConfig | ErrorDetail:
    """The configuration after ``update``, or the error that rejects it whole."""
    if isinstance(update, UnknownSessionConfig):
        return messages.invalid_value(
            "session.type",
            f"Invalid value: '{update.type}'. Supported values are: 'realtime' and "
            "'transcription'.",
            event_id,
        )
    if update.type != current.type:
        return messages.invalid_value(
            "session.type",
            f"Cannot change the session type from '{current.type}' to '{update.type}'.",
            event_id,
        )
    unknown = _first_extra(update, "session")
    if unknown is not None:
        return messages.unknown_parameter(unknown, event_id)
    changes = update.model_dump(exclude_unset=True, exclude={"id", "object", "expires_at", "model"})
    merged = _merge(current.model_dump(exclude_unset=True), changes)
    audio_in = (merged.get("audio") or {}).get("input") or {}
    detection = audio_in.get("turn_detection")
    if isinstance(detection, dict):
        kind = detection.get("type")
        defaults = SERVER_VAD_DEFAULTS if kind == "server_vad" else {}
        defaults = SEMANTIC_VAD_DEFAULTS if kind == "semantic_vad" else defaults
        audio_in["turn_detection"] = {**defaults, **detection}
    problem = _check(merged, event_id)
    if problem is not None:
        return problem
    if isinstance(current, TranscriptionSessionConfig):
        return TranscriptionSessionConfig.model_validate(merged)
    effective = SessionConfig.model_validate(merged)
    if voice_locked and _voice(effective) != _voice(current):
        return messages.voice_locked(event_id)
    return effective


def _check(merged: dict[str, Any], eid: str | None) -> ErrorDetail | None:
    """The first value out of range in a merged configuration, as an error."""
    modalities = merged.get("output_modalities")
    if modalities is not None and sorted(modalities) not in (["audio"], ["text"]):
        return messages.invalid_value(
            "session.output_modalities",
            f"Invalid modalities: {modalities}. "
            "Supported combinations are: ['text'] and ['audio'].",
            eid,
        )
    audio = merged.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    detection = audio_in.get("turn_detection")
    detection = detection if isinstance(detection, dict) else {}
    where = "session.audio.input.turn_detection"
    ranges: list[tuple[str, Any, float, float | None]] = [
        ("session.max_output_tokens", merged.get("max_output_tokens"), 1, 4096),
        (f"{where}.threshold", detection.get("threshold"), 0.0, 1.0),
        (f"{where}.prefix_padding_ms", detection.get("prefix_padding_ms"), 0, None),
        (f"{where}.silence_duration_ms", detection.get("silence_duration_ms"), 0, None),
        (f"{where}.idle_timeout_ms", detection.get("idle_timeout_ms"), 5000, 30000),
        ("session.audio.output.speed", audio_out.get("speed"), 0.25, 1.5),
    ]
    for param, value, low, high in ranges:
        if value is None or value == "inf":
            continue
        problem = check_range(param, value, low, high, eid)
        if problem is not None:
            return problem
    for side, settings in (("input", audio_in), ("output", audio_out)):
        wire = settings.get("format")
        if wire is not None:
            try:
                AudioFormat.from_wire(wire)
            except ValueError as exc:
                param = f"session.audio.{side}.format"
                return messages.invalid_value(param, f"Invalid '{param}': {exc}.", eid)
    return None


def below_min(param: str, value: float, low: float, eid: str | None) -> ErrorDetail:
    """A value under its minimum, worded as the real server words it."""
    kind = "integer" if isinstance(value, int) else "decimal"
    return messages.invalid_value(
        param,
        f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low}, "
        f"but got {value} instead.",
        eid,
        code=f"{kind}_below_min_value",
    )


def check_range(
    param: str, value: Any, low: float, high: float | None, eid: str | None
) -> ErrorDetail | None:
    """An error if ``value`` is not a number within ``low``-``high`` (no upper bound if None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return messages.invalid_value(
            param, f"Invalid type for '{param}': expected a number.", eid, code="invalid_type"
        )
    if value < low:
        return below_min(param, value, low, eid)
    if high is not None and value > high:
        kind = "integer" if isinstance(value, int) else "decimal"
        return messages.invalid_value(
            param,
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            eid,
            code=f"{kind}_above_max_value",
        )
    return None
