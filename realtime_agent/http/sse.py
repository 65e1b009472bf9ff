"""A sans-I/O parser of Server-Sent Events (``text/event-stream``), by the WHATWG HTML
standard's rules (§9.2.6, "Interpreting an event stream"): bytes in, events out.

Feed it the body as it comes, in pieces of any size (:meth:`EventStreamParser.feed`);
each call returns the events completed so far. The rules it follows:

* the stream is UTF-8 (invalid bytes become U+FFFD); one leading byte order mark is
  dropped;
* a line ends in CRLF, LF or CR; a CR that ends one piece and an LF that starts the next
  are one line end;
* a blank line dispatches the event; a line starting with ``:`` is a comment;
* ``field: value`` (one space after the colon is dropped; a line without a colon is a
  field with an empty value): ``data`` lines accumulate, joined by ``"\\n"``; ``event``
  sets the event's type (default ``"message"``); ``id`` sets the last event id, unless
  it contains NUL; ``retry`` sets the reconnection time when it is all ASCII digits;
  other fields are ignored;
* an event with no ``data`` line is not dispatched (its type is forgotten); the last
  event id and the reconnection time carry over to the events after;
* what follows the last blank line when the stream ends is discarded.

Memory is bounded: a line longer than ``max_line_bytes``, or an event whose data passes
``max_event_chars``, raises :class:`~realtime_agent.http.errors.EventStreamTooLarge`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from realtime_agent.http.errors import EventStreamTooLarge

__all__ = ["MAX_EVENT_CHARS", "MAX_LINE_BYTES", "EventStreamParser", "ServerSentEvent"]

MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest line the parser takes by default: 16 MiB (a Chat Completions audio chunk
is a few kilobytes; a whole spoken answer in one line would be a few megabytes)."""
MAX_EVENT_CHARS = 16 * 1024 * 1024
"""The most data one event may accumulate by default (characters)."""

_BOM = b"\xef\xbb\xbf"
_END_OF_LINE = re.compile(rb"[\r\n]")
_CR, _LF = 0x0D, 0x0A


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    Attributes:
        event: its type (the ``event`` field; ``"message"`` without one).
        data: its ``data`` lines joined by ``"\\n"``.
        id: the last event id the stream set, at or before this event (``""``: none).
        retry: the reconnection time the stream last set, in ms (None: never).
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class EventStreamParser:
    """Bytes of a ``text/event-stream`` body in, :class:`ServerSentEvent` out (see the
    module docstring for the rules, and the bounds)."""

    def __init__(
        self, *, max_line_bytes: int = MAX_LINE_BYTES, max_event_chars: int = MAX_EVENT_CHARS
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_chars = max_event_chars
        self.last_event_id = ""
        """The last event id the stream set (``""``: none yet)."""
        self.retry: int | None = None
        """The reconnection time the stream last set, in milliseconds."""
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no line end
        self._started = False  # past the place of a byte order mark
        self._after_cr = False  # the last piece ended in CR: an LF first is its CRLF
        self._type = ""
        self._data: list[str] = []
        self._data_chars = 0

    @property
    def pending(self) -> bool:
        """True when bytes or fields wait for a line end or a blank line (what the end
        of the stream would discard)."""
        return bool(self._buffer or self._data or self._type)

    def feed(self, data: bytes | bytearray | memoryview) -> list[ServerSentEvent]:
        """Take the next bytes of the body; return the events they complete, in order.

        Raises EventStreamTooLarge past a bound; the parser is unusable after.
        """
        buffer = self._buffer
        buffer += data
        if self._after_cr and buffer:
            self._after_cr = False
            if buffer[0] == _LF:
                del buffer[0]
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                return []  # maybe the start of a byte order mark: wait for more
            self._started = True
            if buffer.startswith(_BOM):
                del buffer[: len(_BOM)]
        events: list[ServerSentEvent] = []
        start = 0
        while (found := _END_OF_LINE.search(buffer, max(start, self._scanned))) is not None:
            end = found.start()
            self._line(buffer, start, end, events)
            start = end + 1
            if buffer[end] == _CR:
                if start == len(buffer):
                    self._after_cr = True
                elif buffer[start] == _LF:
                    start += 1
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self.max_line_bytes:
            raise self._too_long()
        return events

    def close(self) -> None:
        """The stream ended: discard what was not dispatched (an event without its blank
        line, a line without its end). The last event id and retry are kept."""
        self._buffer.clear()
        self._scanned = 0
        self._after_cr = False
        self._type = ""
        self._data.clear()
        self._data_chars = 0

    def _too_long(self) -> EventStreamTooLarge:
        return EventStreamTooLarge(
            f"a Server-Sent Events line is longer than {self.max_line_bytes} bytes",
            limit=self.max_line_bytes,
        )

    def _line(self, buffer: bytearray, start: int, end: int, events: list[ServerSentEvent]) -> None:
        if end - start > self.max_line_bytes:
            raise self._too_long()
        if start == end:
            self._dispatch(events)
            return
        if buffer[start] == 0x3A:  # ":" a comment
            return
        line = buffer[start:end].decode("utf-8", "replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_chars += len(value) + 1
            if self._data_chars > self.max_event_chars:
                raise EventStreamTooLarge(
                    f"a Server-Sent Event's data is longer than {self.max_event_chars} chars",
                    limit=self.max_event_chars,
                )
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self.retry = int(value)

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        if self._data:
            events.append(
                ServerSentEvent(
                    event=self._type or "message",
                    data="\n".join(self._data),
                    id=self.last_event_id,
                    retry=self.retry,
                )
            )
        self._type = ""
        self._data.clear()
        self._data_chars = 0
