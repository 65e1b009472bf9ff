"""Injectable faults for the local server: what goes wrong, and when.

A fault pairs an action with a trigger. Triggers: before the server sends its
``after_events``-th event (counting from 0: ``after_events=0`` fires before the
first), before the ``occurrence``-th event of type ``at_event``, or ``after_seconds``
after the connection opened. Each fault fires once. Build them with the functions
here and hand a list to ``LocalRealtimeServer(faults=...)``, for every connection, or a
function of the connection's index (0, 1, ...) returning the list for that one::

    LocalRealtimeServer(faults=[faults.drop(at_event="response.output_audio.delta", occurrence=3)])
    LocalRealtimeServer(faults=lambda n: [faults.expire(after_seconds=1.0)] if n == 0 else [])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SESSION_EXPIRED_MESSAGE",
    "Fault",
    "FaultPlan",
    "close",
    "delay",
    "drop",
    "duplicate",
    "expire",
    "fragment",
    "inject_error",
    "malformed",
    "reorder",
]

SESSION_EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."

Action = Literal[
    "drop", "close", "delay", "duplicate", "reorder", "error", "malformed", "expire", "fragment"
]


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: an action and its trigger (see the module docstring)."""

    action: Action
    after_events: int | None = None
    at_event: str | None = None
    occurrence: int = 1
    after_seconds: float | None = None
    code: int = 1011
    """close: the WebSocket close code."""
    reason: str = ""
    """close: the close reason; error: the message."""
    seconds: float = 0.0
    """delay: how long to hold the event back."""
    error_code: str = "server_error"
    """error: the ``error.code`` (its ``type`` is ``server_error``)."""
    text: str = '{"type": "response.output_audio.delta", "event_id": "event_'
    """malformed: the frame sent."""
    pieces: int = 3
    """fragment: how many WebSocket frames carry the message."""

    def __post_init__(self) -> None:
        triggers = [self.after_events, self.at_event, self.after_seconds]
        if sum(t is not None for t in triggers) != 1:
            raise ValueError("a fault needs exactly one of after_events, at_event, after_seconds")
        if self.occurrence < 1:
            raise ValueError("occurrence counts from 1")
        acts_on_event = ("delay", "duplicate", "reorder", "fragment")
        if self.after_seconds is not None and self.action in acts_on_event:
            raise ValueError(f"{self.action} acts on an event: trigger it by event, not by time")

    def matches(self, sent: int, event_type: str, seen: int) -> bool:
        """True if it fires before sending event number ``sent`` (the ``seen``-th of its type)."""
        if self.after_events is not None:
            return sent == self.after_events
        return self.at_event == event_type and seen == self.occurrence


FaultPlan = Sequence[Fault] | Callable[[int], Sequence[Fault]]
"""Faults for every connection, or a function of the connection index giving them."""


@dataclass
class Faults:
    """The faults of one connection still to fire."""

    pending: list[Fault] = field(default_factory=list)

    def timed(self) -> list[Fault]:
        """The faults triggered by time."""
        return [f for f in self.pending if f.after_seconds is not None]

    def take(self, sent: int, event_type: str, seen: int) -> list[Fault]:
        """The faults that fire before this event; they will not fire again."""
        fired = [
            f for f in self.pending if f.after_seconds is None and f.matches(sent, event_type, seen)
        ]
        for fault in fired:
            self.pending.remove(fault)
        return fired

    def consume(self, fault: Fault) -> bool:
        """Mark a timed fault fired; False if it already was."""
        if fault in self.pending:
            self.pending.remove(fault)
            return True
        return False


def drop(
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
    after_seconds: float | None = None,
) -> Fault:
    """Drop the TCP connection abruptly, without a close frame."""
    return Fault("drop", after_events, at_event, occurrence, after_seconds)


def close(
    code: int = 1011,
    reason: str = "",
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
    after_seconds: float | None = None,
) -> Fault:
    """Close the WebSocket with ``code`` (1001 going away, 1011 internal error, 1012 restart)."""
    return Fault(
        "close", after_events, at_event, occurrence, after_seconds, code=code, reason=reason
    )


def expire(*, after_seconds: float | None = None, after_events: int | None = None) -> Fault:
    """End the session as the real one ends at 60 minutes: an error, then close 1001."""
    reason = SESSION_EXPIRED_MESSAGE
    return Fault("expire", after_events, None, 1, after_seconds, code=1001, reason=reason)


def delay(
    seconds: float,
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
) -> Fault:
    """Hold an event back for ``seconds`` before sending it (and everything after it)."""
    return Fault("delay", after_events, at_event, occurrence, seconds=seconds)


def duplicate(
    *, after_events: int | None = None, at_event: str | None = None, occurrence: int = 1
) -> Fault:
    """Send an event twice."""
    return Fault("duplicate", after_events, at_event, occurrence)


def reorder(
    *, after_events: int | None = None, at_event: str | None = None, occurrence: int = 1
) -> Fault:
    """Swap an event with the one after it."""
    return Fault("reorder", after_events, at_event, occurrence)


def inject_error(
    message: str = "The server had an error while processing your request.",
    code: str = "server_error",
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
    after_seconds: float | None = None,
) -> Fault:
    """Send an ``error`` event (type ``server_error``) before an event, or at a time."""
    return Fault(
        "error", after_events, at_event, occurrence, after_seconds, reason=message, error_code=code
    )


def malformed(
    text: str | None = None,
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
    after_seconds: float | None = None,
) -> Fault:
    """Send a frame that is not a valid event (by default, truncated JSON)."""
    if text is None:
        return Fault("malformed", after_events, at_event, occurrence, after_seconds)
    return Fault("malformed", after_events, at_event, occurrence, after_seconds, text=text)


def fragment(
    pieces: int = 3,
    *,
    after_events: int | None = None,
    at_event: str | None = None,
    occurrence: int = 1,
) -> Fault:
    """Send an event as a fragmented WebSocket message: legal, if rare.

    ``pieces`` frames carry the text (websockets then ends the message with an empty one).
    """
    if pieces < 2:
        raise ValueError("a fragmented message has at least 2 pieces")
    return Fault("fragment", after_events, at_event, occurrence, pieces=pieces)
