"""Per-turn telemetry: what each turn took, as the caller lived it.

:class:`TurnTracker` follows the application events a session emits (and two moments
only the session sees: a response asked for, a truncate written) and gives one
:class:`~realtime_agent.protocol.events.TurnMetrics` per turn, once the turn is over:

* a turn begins at the caller's ``speech_stopped``, or at a request for a response with
  no speech before it (``send_text()``, ``create_response()``);
* it is over once its last response ended with nothing more owed (no tool running, no
  request waiting) **and** its answer was heard to the end or cut; or when the next
  turn begins, whichever comes first. A timer (never a task) looks again when the
  answer should have finished playing;
* a barge-in is timed from the caller's ``speech_started`` to the truncate written to
  the socket, and given to the turn it begins (``barge_in_ms``); the turn it cut is
  ``interrupted``.

Times are ``time.monotonic()``, which is the event loop's clock too. The tracker does
not keep what it has reported: memory stays flat over a long session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

from realtime_agent.audio.playout import PlayoutHandle
from realtime_agent.protocol import events as app

__all__ = ["LAG_PROBE_INTERVAL", "TRACKED", "TurnTracker"]

#: How often a session's probe measures the event loop's lag (seconds).
LAG_PROBE_INTERVAL = 0.5

#: The application events the tracker follows (the session looks each type up in this set).
TRACKED: frozenset[type] = frozenset(
    {
        app.SpeechStarted,
        app.SpeechStopped,
        app.AgentStart,
        app.AgentEnd,
        app.AudioDelta,
        app.AudioInterrupted,
        app.ToolStart,
        app.ToolEnd,
    }
)


class _Call:
    __slots__ = ("end", "error", "name", "start")

    def __init__(self, name: str, start: float) -> None:
        self.name, self.start = name, start
        self.end: float | None = None
        self.error = False


class _Turn:
    __slots__ = (
        "audio",
        "barge_in_ms",
        "began",
        "began_at",
        "first_audio_at",
        "interrupted",
        "item_id",
        "over",
        "responses",
        "status",
        "tools",
    )

    def __init__(self, began: Literal["speech", "text"], at: float, item_id: str | None) -> None:
        self.began: Literal["speech", "text"] = began
        self.began_at = at
        self.item_id = item_id
        self.responses: list[str] = []
        self.first_audio_at: float | None = None
        self.audio: tuple[str, int] | None = None  # the answer's first audio part
        self.tools: dict[str, _Call] = {}
        self.barge_in_ms: float | None = None
        self.interrupted = False
        self.status: str | None = None
        self.over = False  # its responses are done; it waits for its audio to be heard


class TurnTracker:
    """Turns, timed (see the module docstring).

    Args:
        emit: where each turn's metrics go, with when the turn began (monotonic).
        busy: True while a response is active or owed, or a tool runs.
        handle: the playout's handle of an audio part, if it has one.
    """

    def __init__(
        self,
        emit: Callable[[app.TurnMetrics, float], None],
        busy: Callable[[], bool],
        handle: Callable[[tuple[str, int]], PlayoutHandle | None],
    ) -> None:
        self._emit = emit
        self._busy = busy
        self._handle = handle
        self.turns = 0
        """Turns reported so far."""
        self.barge_ins = 0
        self.tool_calls = 0
        self._turn: _Turn | None = None
        self._asked_at: float | None = None  # a response asked for with no turn under way
        self._speech_started_at: float | None = None
        self._barge_at: float | None = None  # the barge-in whose truncate is not written yet
        self._barge_in_ms: float | None = None  # for the next turn
        self._timer: asyncio.TimerHandle | None = None

    # --- what the session tells ------------------------------------------------------

    def seen(self, event: app.AppEvent) -> None:
        """An application event of a :data:`TRACKED` type, as it is emitted."""
        now = time.monotonic()
        turn = self._turn
        match event:
            case app.AudioDelta(item_id=item_id, content_index=index):
                if turn is not None and turn.first_audio_at is None and not turn.over:
                    turn.first_audio_at = now
                    turn.audio = (item_id, index)
            case app.SpeechStarted():
                self._speech_started_at = now
            case app.SpeechStopped(item_id=item_id):
                self._finish()
                self._begin("speech", now, item_id)
            case app.AgentStart(response_id=response_id):
                if turn is None or turn.over:
                    self._finish()
                    asked, self._asked_at = self._asked_at, None
                    turn = self._begin("text", now if asked is None else asked, None)
                turn.responses.append(response_id)
            case app.AgentEnd(status=status):
                if turn is not None:
                    turn.status = status
                    if not self._busy():
                        turn.over = True
                        self._check()
            case app.AudioInterrupted():
                self.barge_ins += 1
                self._barge_at = self._speech_started_at or now
                if turn is not None:
                    turn.interrupted = True
                    if turn.over:
                        self._finish()
            case app.ToolStart(call_id=call_id, name=name):
                self.tool_calls += 1
                if turn is not None:
                    turn.tools[call_id] = _Call(name, now)
            case app.ToolEnd(call_id=call_id, error=error):
                call = turn.tools.get(call_id) if turn is not None else None
                if call is not None:
                    call.end, call.error = now, error is not None
            case _:
                pass

    def asked(self) -> None:
        """The application asked for a response (a text turn begins, unless one is on)."""
        turn = self._turn
        if turn is None or turn.over:
            self._asked_at = time.monotonic()

    def truncate_sent(self) -> None:
        """A truncate was written to the socket: a barge-in's end."""
        barge_at = self._barge_at
        if barge_at is None:
            return
        self._barge_at = None
        ms = (time.monotonic() - barge_at) * 1000
        turn = self._turn  # the turn the barge-in began may be under way already
        if turn is not None and turn.began_at >= barge_at and turn.barge_in_ms is None:
            turn.barge_in_ms = ms
        else:
            self._barge_in_ms = ms

    def close(self) -> None:
        """The session ends: the turn under way is reported as it is."""
        self._finish()

    # --- turns ----------------------------------------------------------------------

    def _begin(self, began: Literal["speech", "text"], at: float, item_id: str | None) -> _Turn:
        turn = self._turn = _Turn(began, at, item_id)
        turn.barge_in_ms, self._barge_in_ms = self._barge_in_ms, None
        return turn

    def _check(self) -> None:
        """A turn whose responses are done: report it once its answer was heard, else
        look again when it should have been."""
        self._timer = None
        turn = self._turn
        if turn is None or not turn.over:
            return
        handle = self._handle(turn.audio) if turn.audio is not None else None
        if handle is None or handle.done():
            self._finish()
            return
        left = (handle.received_samples - handle.played_samples) / handle.sink.rate
        self._timer = asyncio.get_running_loop().call_later(max(0.02, left), self._check)

    def _finish(self) -> None:
        """Report the turn under way, if there is one, and forget it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        turn, self._turn = self._turn, None
        if turn is None:
            return
        self.turns += 1
        began = turn.began_at
        heard: float | None = None
        handle = self._handle(turn.audio) if turn.audio is not None else None
        if handle is not None and handle.first_heard_at is not None and handle.played_samples:
            heard = _ms(handle.first_heard_at - began)
        now = time.monotonic()  # a tool still running when the turn ends: so far
        tools = tuple(
            app.ToolTiming(
                call_id,
                call.name,
                _ms(call.start - began),
                _ms((call.end or now) - call.start),
                call.error,
            )
            for call_id, call in turn.tools.items()
        )
        self._emit(
            app.TurnMetrics(
                turn=self.turns,
                began=turn.began,
                item_id=turn.item_id,
                response_ids=tuple(turn.responses),
                first_audio_ms=None
                if turn.first_audio_at is None
                else _ms(turn.first_audio_at - began),
                first_heard_ms=heard,
                tools=tools,
                barge_in_ms=None if turn.barge_in_ms is None else round(turn.barge_in_ms, 2),
                interrupted=turn.interrupted,
                status=turn.status,
            ),
            began,
        )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
