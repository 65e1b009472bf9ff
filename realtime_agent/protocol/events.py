"""The events the application sees: ``async for event in session``.

One vocabulary for the application, apart from the wire's: what happened in the
conversation, in terms an application acts on. Audio and transcript deltas and raw
server events may be dropped (and counted) when the application falls behind, and
history updates are coalesced; every other event is always delivered
(:data:`DROPPABLE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.common import ErrorDetail
from realtime_agent.schema.items import Item
from realtime_agent.schema.server import ServerEvent

__all__ = [
    "DROPPABLE",
    "AgentEnd",
    "AgentStart",
    "AppEvent",
    "AudioDelta",
    "AudioEnd",
    "AudioInterrupted",
    "Closed",
    "ErrorRaised",
    "HandoffDone",
    "HistoryAdded",
    "HistoryUpdated",
    "RawServerEvent",
    "Reconnected",
    "Reconnecting",
    "RolledOver",
    "SessionSummary",
    "SpeechStarted",
    "SpeechStopped",
    "ToolEnd",
    "ToolStart",
    "ToolTiming",
    "Transcript",
    "TranscriptDelta",
    "TurnMetrics",
]

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class AgentStart:
    """The model began a response (``response.created``)."""

    response_id: str


@dataclass(frozen=True, slots=True)
class AgentEnd:
    """A response ended (``response.done``); ``status`` says how."""

    response_id: str
    status: str
    """``completed``, ``cancelled``, ``failed`` or ``incomplete``."""
    reason: str | None = None
    """Why it ended early, e.g. ``turn_detected`` or ``client_cancelled``."""


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """A piece of assistant audio, decoded (pcm16 24 kHz, or G.711 per the session)."""

    item_id: str
    content_index: int
    response_id: str
    audio: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AudioEnd:
    """All of an assistant item's audio has arrived (it may still be playing)."""

    item_id: str
    content_index: int


@dataclass(frozen=True, slots=True)
class AudioInterrupted:
    """The assistant was cut off: playback stopped and the item cut at what was heard.

    ``truncated_ms`` is where the item was truncated on the server; None when it was
    deleted instead (nothing had been heard). An item that had finished playing when
    the user spoke was not cut: no event says so.
    """

    item_id: str
    content_index: int
    played_ms: int
    truncated_ms: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Server VAD heard the user start speaking."""

    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Server VAD heard the user stop speaking."""

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """A piece of a transcript: of the assistant's speech, or of the user's."""

    item_id: str
    role: Role
    delta: str


@dataclass(frozen=True, slots=True)
class Transcript:
    """A whole transcript, once final."""

    item_id: str
    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class ToolStart:
    """A tool call began (``arguments`` as the model sent them: JSON text)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolEnd:
    """A tool call was answered; ``error`` says what went wrong, if anything did."""

    call_id: str
    name: str
    output: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HandoffDone:
    """The session now speaks as another agent."""

    from_agent: str
    to_agent: str
    voice_kept: bool = False
    """True when the new agent's voice could not be applied (the assistant had spoken)."""


@dataclass(frozen=True, slots=True)
class HistoryAdded:
    """An item entered the conversation."""

    item: Item


@dataclass(frozen=True, slots=True)
class HistoryUpdated:
    """The conversation changed: its items, oldest first, as they are when it is read.

    Updates are coalesced: while one waits in the queue, later changes show in it.
    """

    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    """Something went wrong that the session survived (a server error, a bad frame).

    ``code`` is the server's error code, when there is one; ``raw`` the offending frame
    (a bounded excerpt) when the server sent something that breaks the protocol.
    """

    message: str
    code: str | None = None
    detail: ErrorDetail | None = None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class RawServerEvent:
    """A server event as received (when asked for, and for types this version does not know)."""

    event: ServerEvent | UnknownServerEvent


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The connection was lost (``cause``); attempt ``attempt`` to reconnect comes in
    ``delay`` seconds. The playout keeps playing what it had; sends wait (bounded)."""

    attempt: int
    delay: float
    cause: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """A new connection carries the conversation on.

    ``replayed``: the items re-created on it (the session configuration was sent again
    first). ``lost``: what could not be restored, one line each (an item with nothing to
    replay, an unfinished function call). ``reappended_ms``: the caller's audio in flight
    (since the last commit) appended again, so the utterance under way survives.
    """

    attempt: int
    replayed: int
    lost: tuple[str, ...] = ()
    reappended_ms: int = 0


@dataclass(frozen=True, slots=True)
class RolledOver:
    """The session moved to a new connection before the old one reached its cap
    (``rollover_after``): opened while the old one ran, seeded with the conversation,
    switched to between two turns. Nothing the caller said or heard was lost."""

    replayed: int
    lost: tuple[str, ...] = ()
    reappended_ms: int = 0


@dataclass(frozen=True, slots=True)
class ToolTiming:
    """One tool call of a turn: when its tool started (``started_ms``, from the turn's
    beginning), how long it ran (``ms``), and whether it failed."""

    call_id: str
    name: str
    started_ms: float
    ms: float
    error: bool = False


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """What one turn took, once it is over (its last response ended with nothing more
    owed, or the next turn cut it short). Times in milliseconds on the session's clock.

    A turn begins when the caller stops speaking (``began="speech"``: the server's
    ``speech_stopped``), or when the application asks for a response with no speech
    before it (``began="text"``: ``send_text()`` or ``create_response()``).
    """

    turn: int
    """1 for the first turn of the session."""
    began: Literal["speech", "text"]
    item_id: str | None
    """The caller's item (their speech), when it began with speech."""
    response_ids: tuple[str, ...]
    """The responses of the turn, in order (a tool call makes two)."""
    first_audio_ms: float | None
    """From its beginning to the first audio delta of the answer (None: no audio)."""
    first_heard_ms: float | None
    """From its beginning to when the answer's first sample plays: the time it was
    written to the sink plus the audio queued ahead of it on the sink's clock (a
    speaker's latency included; for a ``RemoteSink``, what the far end had not yet
    reported). None: nothing was played."""
    tools: tuple[ToolTiming, ...] = ()
    barge_in_ms: float | None = None
    """When the caller cut the answer before this turn: from their ``speech_started`` to
    the truncate written to the socket (the assistant silenced in between)."""
    interrupted: bool = False
    """Its own answer was cut by the caller (the next turn's ``barge_in_ms`` says how fast)."""
    status: str | None = None
    """How its last response ended (``completed``, ``cancelled``, ...)."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The session as a whole, once it ends: the event just before ``Closed``."""

    seconds: float
    """From the start to the end."""
    turns: int
    barge_ins: int
    tool_calls: int
    reconnects: int
    rollovers: int
    underruns: int
    """Times an answer's audio ran out on the sink mid-answer (the playout's count)."""
    dropped_events: int
    """Deltas dropped because the application fell behind (``event_queue``)."""
    dropped_audio: int
    """Input frames ``send_audio_nowait`` dropped (the outbox was full)."""
    events_high_water: int
    """The most events that ever waited for the application."""
    outbox_high_water: int
    """The most of the application's sends that ever waited for the socket."""
    urgent_high_water: int
    """The most of the core's own sends that ever waited (see ``URGENT_LIMIT``)."""
    loop_lag_max_ms: float
    """The longest the event loop was late to wake the session's probe (every 0.5 s)."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The session ended; ``error`` says why when it was not the application's doing."""

    reason: str
    error: Any = None


AppEvent = (
    AgentStart
    | AgentEnd
    | AudioDelta
    | AudioEnd
    | AudioInterrupted
    | SpeechStarted
    | SpeechStopped
    | TranscriptDelta
    | Transcript
    | ToolStart
    | ToolEnd
    | HandoffDone
    | HistoryAdded
    | HistoryUpdated
    | ErrorRaised
    | RawServerEvent
    | Reconnecting
    | Reconnected
    | RolledOver
    | TurnMetrics
    | SessionSummary
    | Closed
)
"""Every event the application sees."""

#: Events dropped (and counted) rather than queued when the application falls behind.
DROPPABLE: tuple[type, ...] = (AudioDelta, TranscriptDelta, RawServerEvent)
