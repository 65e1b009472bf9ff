"""The events the application sees (``async for event in session``).

They are defined with the session core (:mod:`realtime_agent.protocol.events`), which
emits them; this module is where applications import them from.
"""

from realtime_agent.protocol.events import (
    DROPPABLE,
    AgentEnd,
    AgentStart,
    AppEvent,
    AudioDelta,
    AudioEnd,
    AudioInterrupted,
    Closed,
    ErrorRaised,
    HandoffDone,
    HistoryAdded,
    HistoryUpdated,
    RawServerEvent,
    Reconnected,
    Reconnecting,
    RolledOver,
    SpeechStarted,
    SpeechStopped,
    ToolEnd,
    ToolStart,
    Transcript,
    TranscriptDelta,
)

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
    "SpeechStarted",
    "SpeechStopped",
    "ToolEnd",
    "ToolStart",
    "Transcript",
    "TranscriptDelta",
]
