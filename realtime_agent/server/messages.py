"""The errors the local server sends, with the codes and messages the real server uses.

Sources: frame captures of the GA server and bug reports quoting it (pipecat,
livekit agents, openai-agents-python, Azure samples). Where no real wording was found,
the message follows the real server's pattern for its neighbours; those are marked
*pattern* below. ``error.event_id`` always carries the ``event_id`` of the client
event at fault, when it had one.
"""

from __future__ import annotations

from realtime_agent.schema.common import ErrorDetail

__all__ = [
    "GA_SUPPORTED_CLIENT_TYPES",
    "active_response",
    "cancel_not_active",
    "commit_empty",
    "invalid_audio",
    "invalid_event",
    "invalid_json",
    "invalid_type",
    "invalid_value",
    "item_not_found",
    "missing_parameter",
    "null_value",
    "previous_item_not_found",
    "truncate_beyond_audio",
    "truncate_not_audio",
    "unknown_parameter",
    "voice_locked",
]

INVALID_REQUEST = "invalid_request_error"

#: The list the GA server quotes when it meets an unknown client event type (as captured).
GA_SUPPORTED_CLIENT_TYPES = (
    "'session.update', 'session.close', 'input_audio_buffer.append', "
    "'session.input_audio_buffer.append', 'input_audio_buffer.commit', "
    "'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.truncate', "
    "'conversation.item.delete', 'conversation.item.retrieve', 'response.create', "
    "and 'response.cancel'"
)


def _error(code: str | None, message: str, param: str | None, event_id: str | None) -> ErrorDetail:
    return ErrorDetail(
        type=INVALID_REQUEST, code=code, message=message, param=param, event_id=event_id
    )


def invalid_type(event_type: str, event_id: str | None, supported: str) -> ErrorDetail:
    """An unknown client event type (captured)."""
    message = f"Invalid value: '{event_type}'. Supported values are: {supported}."
    return _error("invalid_value", message, "type", event_id)


def invalid_json(detail: str, event_id: str | None = None) -> ErrorDetail:
    """A frame that is not JSON (captured prefix; the tail is ours)."""
    message = f"Invalid event: failed to parse JSON value. {detail}"
    return _error("invalid_json", message, None, event_id)


def invalid_event(message: str, event_id: str | None = None) -> ErrorDetail:
    """A frame the server cannot take as an event (a binary frame: captured)."""
    return _error("invalid_event", message, None, event_id)


def missing_parameter(param: str, event_id: str | None) -> ErrorDetail:
    """A required field is absent (captured for 'session.type')."""
    return _error(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param, event_id
    )


def null_value(param: str, expected: str, event_id: str | None) -> ErrorDetail:
    """An explicit null where the field takes none (captured for 'response').

    ``expected`` is worded as the real server words it: "an object", "a string",
    "one of 'a' or 'b'" (the OpenAI API's wording, captured for fields of other endpoints).
    """
    message = f"Invalid type for '{param}': expected {expected}, but got null instead."
    return _error("invalid_type", message, param, event_id)


def unknown_parameter(param: str, event_id: str | None) -> ErrorDetail:
    """A field the server does not know, e.g. a beta field sent to GA (captured)."""
    return _error("unknown_parameter", f"Unknown parameter: '{param}'.", param, event_id)


def invalid_value(
    param: str, message: str, event_id: str | None, code: str = "invalid_value"
) -> ErrorDetail:
    """A field with a value out of range or of the wrong kind (pattern)."""
    return _error(code, message, param, event_id)


def invalid_audio(event_id: str | None) -> ErrorDetail:
    """``input_audio_buffer.append`` with audio that is not base64 (captured, beta/Azure)."""
    message = (
        "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz) "
        "but got an invalid value."
    )
    return _error("invalid_value", message, "audio.audio", event_id)


def commit_empty(buffered_ms: float, event_id: str | None) -> ErrorDetail:
    """``input_audio_buffer.commit`` with under 100 ms buffered (captured)."""
    message = (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms "
        f"of audio, but buffer only has {buffered_ms:.2f}ms of audio."
    )
    return _error("input_audio_buffer_commit_empty", message, None, event_id)


def truncate_beyond_audio(audio_ms: int, end_ms: int, event_id: str | None) -> ErrorDetail:
    """``audio_end_ms`` beyond the item's audio (captured: pipecat #2106)."""
    message = f"Audio content of {audio_ms}ms is already shorter than {end_ms}ms"
    return _error("invalid_value", message, None, event_id)


def truncate_not_audio(event_id: str | None) -> ErrorDetail:
    """Truncating an item that is not assistant audio (captured: livekit agents #6157)."""
    return _error(
        "unsupported_content_type",
        "Only model output audio messages can be truncated",
        None,
        event_id,
    )


def item_not_found(action: str, item_id: str, event_id: str | None) -> ErrorDetail:
    """An unknown ``item_id`` in delete, retrieve (captured) or truncate (pattern)."""
    verb = {"delete": "deleting", "retrieve": "retrieving", "truncate": "truncating"}[action]
    message = f"Error {verb} item: the item with id '{item_id}' does not exist."
    return _error(f"item_{action}_invalid_item_id", message, None, event_id)


def previous_item_not_found(item_id: str, event_id: str | None) -> ErrorDetail:
    """``conversation.item.create`` after an unknown item (pattern)."""
    message = f"Error adding item: the previous item with id '{item_id}' does not exist."
    return _error("item_create_invalid_previous_item_id", message, "previous_item_id", event_id)


def active_response(response_id: str, event_id: str | None) -> ErrorDetail:
    """``response.create`` while one is active in the default conversation (captured)."""
    message = (
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one."
    )
    return _error("conversation_already_has_active_response", message, None, event_id)


def cancel_not_active(event_id: str | None) -> ErrorDetail:
    """``response.cancel`` with no active response (captured)."""
    return _error(
        "response_cancel_not_active",
        "Cancellation failed: no active response found",
        None,
        event_id,
    )


def voice_locked(event_id: str | None) -> ErrorDetail:
    """Changing the voice after the assistant has spoken (seen in logs)."""
    message = "Cannot update a conversation's voice if assistant audio is present."
    return _error("cannot_update_voice", message, "session.audio.output.voice", event_id)


def transcription_failed() -> dict[str, str | None]:
    """The ``error`` of ``conversation.item.input_audio_transcription.failed`` (the spec's
    published example: nothing could be recognized in the audio)."""
    return {
        "type": "transcription_error",
        "code": "audio_unintelligible",
        "message": "The audio could not be transcribed.",
        "param": None,
    }
