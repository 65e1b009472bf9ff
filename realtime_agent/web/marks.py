"""What a phone caller has heard, from Twilio's ``mark`` echoes: the bookkeeping, pure.

No I/O, no clock: the bridge (:mod:`realtime_agent.web.twilio`) tells a :class:`MarkBook`
what it sends and what comes back, and carries out what it answers.

**The timeline.** Positions are samples (one μ-law byte each, 8 kHz) on the timeline of
the call's :class:`~realtime_agent.audio.sinks.RemoteSink`: every byte the playout writes
is one more sample sent; a barge-in takes the timeline back to what was heard.

**Sending.** :meth:`MarkBook.send` cuts the audio into 20 ms frames (160 bytes; the last
one of a write may be shorter: Twilio plays any size) and names the mark to send after
each: ``"m<n>"``, ``n`` counting up over the whole call, never reused. It keeps the
position each mark stands for (the end of its frame).

**Echoes.** Twilio echoes a mark when its playback reaches it, in the order sent.
:meth:`MarkBook.echoed` turns an echo into the new acknowledged position: the only
evidence of what the caller heard (never the clock, never what was sent). An echo of a
mark that is not pending (already passed, forgotten at a clear, never sent, or a name
that is not ours) means nothing: ``None``, counted in ``ignored``.

**Clear.** At a barge-in the bridge sends ``clear``; Twilio drops its queue and echoes
every pending mark at once, though their audio was never played. :meth:`MarkBook.clear`
forgets the pending marks (their echoes are then ignored: their numbers are below every
mark sent afterwards) and takes the timeline back to the acknowledged position, as the
sink does (``RemoteSink.clear``): the cut item is truncated there.

**The cap.** Audio always goes out as it comes: the bridge never waits for an echo, so a
caller whose echoes are late, or who never sends any, cannot stall it. What is bounded
is the memory: at most ``max_pending`` marks wait for their echo (by default two
minutes of audio, 8 bytes each); past that, frames go out without a mark (counted in
``unmarked``) until echoes make room. The acknowledged position then stays where the
last echo put it, below what the caller heard: a truncate there is early, never late.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

__all__ = ["FRAME_BYTES", "MAX_PENDING", "Frame", "MarkBook"]

FRAME_BYTES = 160
"""20 ms of μ-law at 8 kHz: one media message."""
MAX_PENDING = 6000
"""Marks waiting for their echo, at most: two minutes of 20 ms frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One media message to send, and the mark to send right after it (None: none)."""

    payload: bytes
    mark: str | None


class MarkBook:
    """One call's marks (see the module docstring)."""

    def __init__(self, *, frame_bytes: int = FRAME_BYTES, max_pending: int = MAX_PENDING) -> None:
        if frame_bytes < 1 or max_pending < 1:
            raise ValueError("frame_bytes and max_pending must be positive")
        self.frame_bytes = frame_bytes
        self.max_pending = max_pending
        self.sent = 0
        """The position after the last sample sent."""
        self.acknowledged = 0
        """The position of the last mark echoed: what the caller has surely heard."""
        self.unmarked = 0
        """Samples sent without a mark because ``max_pending`` marks were waiting."""
        self.ignored = 0
        """Echoes that meant nothing (after a clear, repeated, or not ours)."""
        self.clears = 0
        self._positions = array("q")  # of the pending marks, oldest first, from _head
        self._head = 0
        self._first = 0  # the number of the oldest pending mark
        self._next = 0  # the number of the next mark

    def __repr__(self) -> str:
        return (
            f"<MarkBook sent={self.sent} acknowledged={self.acknowledged} pending={self.pending}>"
        )

    @property
    def pending(self) -> int:
        """Marks sent and not yet echoed."""
        return self._next - self._first

    @property
    def ahead(self) -> int:
        """Samples sent that no echo has acknowledged yet."""
        return self.sent - self.acknowledged

    def send(self, audio: bytes) -> list[Frame]:
        """Audio to send: its frames, each with the mark to send after it."""
        frames = []
        size = self.frame_bytes
        for start in range(0, len(audio), size):
            payload = audio[start : start + size]
            self.sent += len(payload)
            if self.pending < self.max_pending:
                self._positions.append(self.sent)
                frames.append(Frame(payload, f"m{self._next}"))
                self._next += 1
            else:
                self.unmarked += len(payload)
                frames.append(Frame(payload, None))
        return frames

    def echoed(self, name: object) -> int | None:
        """Twilio echoed the mark ``name``: the new acknowledged position, or None (ignored).

        Echoes come in the order the marks were sent; one that skips some (their messages
        lost) acknowledges those too: the audio before it has played.
        """
        number = _number(name)
        if number is None or not self._first <= number < self._next:
            self.ignored += 1
            return None
        index = self._head + number - self._first
        self.acknowledged = self._positions[index]
        self._first = number + 1
        self._head = index + 1
        if self._head >= 1024 and self._head * 2 >= len(self._positions):
            del self._positions[: self._head]  # amortised: the array stays within 2x pending
            self._head = 0
        return self.acknowledged

    def clear(self) -> int:
        """A ``clear`` was sent: forget the pending marks, go back to the acknowledged
        position (returned); the samples after it were not heard."""
        self.clears += 1
        self.sent = self.acknowledged
        self._first = self._next
        self._positions = array("q")
        self._head = 0
        return self.acknowledged


def _number(name: object) -> int | None:
    if not isinstance(name, str) or len(name) < 2 or len(name) > 20 or name[0] != "m":
        return None
    digits = name[1:]
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)
