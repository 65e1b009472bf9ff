"""What the session core asks the runtime to do: its only way to act on the world.

Actions are made per server event (two per audio delta), so they are plain slotted
dataclasses, not frozen ones (a frozen dataclass costs ~3x as much to build); treat
them as immutable all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime_agent.protocol.events import AppEvent
from realtime_agent.schema.client import ClientEvent

__all__ = [
    "Action",
    "CallTool",
    "Emit",
    "EndAudio",
    "HistoryChanged",
    "PlayAudio",
    "SendEvent",
    "StopPlayout",
    "ToolCall",
]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model made, to be answered exactly once."""

    call_id: str
    name: str
    arguments: str
    """JSON text, as the model wrote it (it may not be valid)."""
    response_id: str
    item_id: str


@dataclass(slots=True)
class SendEvent:
    """Send this client event (in GA form; the transport translates for beta)."""

    event: ClientEvent


@dataclass(slots=True)
class PlayAudio:
    """Play this assistant audio (it belongs to ``item_id``/``content_index``)."""

    item_id: str
    content_index: int
    audio: bytes = field(repr=False)


@dataclass(slots=True)
class EndAudio:
    """All of this item's audio has arrived: play out what is buffered, then it is done."""

    item_id: str
    content_index: int


@dataclass(slots=True)
class StopPlayout:
    """Stop playing these items now (barge-in); then report where each stopped.

    The runtime silences output within one frame and calls
    ``SessionCore.playout_stopped`` with the frozen positions.
    """

    items: tuple[tuple[str, int], ...]
    """(item_id, content_index) of every item of the cut response with audio."""


@dataclass(slots=True)
class CallTool:
    """Run this tool call; hand its result to ``SessionCore.receive_tool_result``."""

    call: ToolCall


@dataclass(slots=True)
class Emit:
    """Give this event to the application."""

    event: AppEvent


@dataclass(slots=True)
class HistoryChanged:
    """The conversation changed: give the application a ``HistoryUpdated``.

    The runtime coalesces these (one waits in the application's queue at a time) and
    takes the snapshot of ``SessionCore.conversation.items()`` when the application
    reads it, so a long conversation costs one copy per update read, not per change.
    """


Action = SendEvent | PlayAudio | EndAudio | StopPlayout | CallTool | Emit | HistoryChanged
