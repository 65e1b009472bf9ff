"""A session's connections, one after another: reconnect after a drop, roll over before
the cap. What to replay is decided in :mod:`realtime_agent.runtime.continuity`; this
module carries it out for a :class:`~realtime_agent.runtime.session.RealtimeSession`.

* **Reconnect.** A connection that fails with a transient error (a drop, 1001 at the
  cap, 1011-1014) is replaced, backing off per the :class:`ReconnectPolicy`; an outage
  is the run of connections that failed within ``stable_after`` of their start, and
  ends with a connection that finished a response or rolled over. The new connection
  is seeded (:meth:`Connections.replay`) and the response the drop cut short, or owed
  to the caller's last turn, is asked for again.
* **Rollover** (make-before-break). After ``rollover_after`` the next connection is
  opened while the current one runs; at the next turn boundary (no response under way
  or owed, no tool running, nobody speaking, nothing playing) the old connection's
  events are ignored and nothing more is sent on it; the new one is seeded and takes
  over. Input audio sent meanwhile waits in the outbox and goes on the new one. If the
  old connection dies first, the next one is dropped and reconnect takes over.

The seed (configuration, items, the utterance in flight) goes before anything else,
and is not counted against :data:`~realtime_agent.runtime.session.URGENT_LIMIT`: it
is as long as the conversation, which is not a sign of a server that does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from realtime_agent.errors import TransportError
from realtime_agent.protocol import events as app
from realtime_agent.protocol.turns import ResponseRequest
from realtime_agent.runtime.continuity import (
    Heard,
    InputTape,
    ReconnectPolicy,
    TurnAudio,
    plan_replay,
)
from realtime_agent.runtime.transport import Transport
from realtime_agent.schema import server as s
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    InputAudioBufferAppend,
    ResponseCreate,
    SessionUpdate,
)

if TYPE_CHECKING:
    from realtime_agent.runtime.session import RealtimeSession

__all__ = ["ROLLOVER_AFTER", "Connections"]

logger = logging.getLogger("realtime_agent.session")

#: Seconds before a connection is replaced (the API closes sessions at 60 minutes).
ROLLOVER_AFTER = 55 * 60.0
#: How often a rollover ready to switch looks for a turn boundary.
_BOUNDARY_POLL = 0.05
#: The re-appended audio goes in events of at most this many bytes (the API takes 15 MiB).
_REAPPEND_CHUNK = 256 * 1024
#: Server events that move the input tape (what a reconnect appends again).
_MARKS: frozenset[type] = frozenset(
    {
        s.InputAudioBufferCommitted,
        s.InputAudioBufferCleared,
        s.InputAudioBufferSpeechStarted,
        s.ResponseDone,  # not input: a connection that finished a response has worked
    }
)


class _RollOver(Exception):
    """Ends a connection's task group: the next connection is open and seeded."""


def _ignore(_: object) -> None:
    """Where a replaced connection's last events go."""


class Connections:
    """The connections of one session, in turn (see the module docstring).

    Args:
        session: the session whose reader and writer run on each connection.
        reconnect: the policy after a transient failure; None: the first one ends it.
        rollover_after: seconds before a connection is replaced; None: never.
    """

    def __init__(
        self,
        session: RealtimeSession,
        reconnect: ReconnectPolicy | None,
        rollover_after: float | None,
    ) -> None:
        self.session = session
        self.reconnect = reconnect
        self.rollover_after = rollover_after
        self.reconnects = 0
        """Connections that replaced a lost one."""
        self.rollovers = 0
        """Connections replaced, make-before-break, before their cap."""
        agent = session.agent
        kept, turns = (
            (reconnect.reappend_seconds, reconnect.replay_audio_seconds)
            if reconnect
            else (30.0 if rollover_after is not None else 0.0, 0.0)
        )
        fmt = agent.input_format
        # Push-to-talk: the whole buffer is the utterance under way until the commit.
        onset = kept if agent.turn_detection is None else min(kept, 1.0)
        self.tape = InputTape(fmt.nbytes(kept * 1000), fmt.nbytes(onset * 1000))
        """The caller's audio since the last commit (appended again on a new connection)."""
        self.turn_audio = TurnAudio(fmt.nbytes(turns * 1000))
        """The caller's last turns as audio (replayed as audio)."""
        self._next: Transport | None = None  # switching to it: send nothing on the old
        self._ready: tuple[Transport, asyncio.Event] | None = None  # opened, not switched
        self._outage: list[float] | None = None  # began, attempts, the last connection's start

    @property
    def waiting(self) -> bool:
        """True while the next connection is open and waits for a turn boundary."""
        return self._ready is not None and self._next is None

    @property
    def switching(self) -> bool:
        """True from the turn boundary to the switch: sends wait for the new connection."""
        return self._next is not None

    async def run(self) -> None:
        """Each connection in turn: after a transient failure, the next (``reconnect``);
        before the cap, the next one already open (``rollover_after``). Raises what
        ended the last one."""
        while True:
            lost = await self._connection()
            if lost is None:
                self._switch()
                continue
            policy = self.reconnect
            if policy is None or not policy.retryable(lost) or self.session.closing:
                raise lost
            await self._reconnect(policy, lost)

    def seen(self, event: s.ServerEvent | object) -> None:
        """A server event, after the core took it: the tape follows the input buffer,
        and a rollover waiting for a boundary looks for one."""
        if type(event) in _MARKS:  # a set lookup: this runs per server event
            if isinstance(event, s.ResponseDone):
                self._outage = None  # the next failure is a new outage
            elif isinstance(event, s.InputAudioBufferSpeechStarted):
                self.tape.speaking = True
            elif isinstance(event, s.InputAudioBufferCommitted):
                self.turn_audio.keep(event.item_id, self.tape.take())  # the turn's audio
            else:
                self.tape.committed()
        if self._ready is not None:  # after the tape: speech that just began is no boundary
            self.try_switch()

    async def _connection(self) -> TransportError | None:
        """Read and write on the current connection until it fails (how it failed), or
        until the next one is ready to take over (None)."""
        session = self.session
        lost: TransportError | None = None
        try:
            async with asyncio.TaskGroup() as connection:
                connection.create_task(session._read(), name="realtime-reader")
                connection.create_task(session._write(), name="realtime-writer")
                if self.rollover_after is not None:
                    connection.create_task(self._roll_over(), name="realtime-rollover")
        except* TransportError as failure:
            first = failure.exceptions[0]
            assert isinstance(first, TransportError)
            lost = first
        except* _RollOver:
            pass
        if lost is not None and self._next is not None:
            self._next.abort()  # the old one died first: reconnect instead
            self._next = None
            self._ready = None
        return lost

    async def _roll_over(self) -> None:
        """After ``rollover_after``, open the next connection while this one runs; at the
        next turn boundary, hand over to it (make-before-break)."""
        assert self.rollover_after is not None
        session = self.session
        await asyncio.sleep(self.rollover_after)
        try:
            fresh = await session._open(
                session.endpoint,
                open_timeout=session.open_timeout,
                close_timeout=session.close_timeout,
            )
        except TransportError as exc:  # this one goes on; reconnect covers its end
            logger.warning("realtime session %r: could not roll over: %s", session.agent.name, exc)
            return
        self._ready = (fresh, asyncio.Event())
        try:
            # A boundary comes with a server event (looked for in seen()) or when the
            # playout falls silent (looked for here, every 50 ms).
            while not self.try_switch():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready[1].wait(), _BOUNDARY_POLL)
        finally:
            if self._next is None:  # ended before the switch: not needed
                self._ready = None
                fresh.abort()
        raise _RollOver

    def try_switch(self) -> bool:
        """At a turn boundary, with the next connection ready: from now on the old one's
        events are ignored and nothing more is sent on it (sends wait for the new one).
        Synchronous, so that nothing comes between the look and the switch. Looked for
        after each server event, every 50 ms, and before each of the application's
        sends (an application that asks again the moment an answer ends would
        otherwise leave no boundary to find)."""
        ready = self._ready
        if ready is None:
            return False
        if self._next is not None:
            return True
        session = self.session
        if session.busy or self.tape.speaking or session.playout.audible:
            return False  # not a turn boundary
        old = session.transport
        if old is not None:
            old.deliver(_ignore, _ignore)
        self._next = ready[0]
        ready[1].set()
        return True

    def _unsent_requests(self) -> set[str]:
        """The event ids of the ``response.create`` events still in the outbox."""
        return {
            item.event_id
            for item in self.session._outbox.waiting()
            if isinstance(item, ResponseCreate) and item.event_id is not None
        }

    def _switch(self) -> None:
        """Make the connection opened by ``_roll_over`` the current one, seeded."""
        session = self.session
        fresh, self._next, self._ready = self._next, None, None
        assert fresh is not None
        session._replace_transport(fresh)
        # Its items are text on the new one; a request the application made since the
        # boundary is still in the outbox: it goes as it is.
        actions, _ = session.core.connection_lost(self._unsent_requests())
        session._execute(actions)
        self.tape.speaking = True  # append the onset kept, and what came since, again
        replayed, lost, reappended = self._replay(under_way=False)
        self.tape.speaking = False  # it was a boundary: nobody was speaking
        self.rollovers += 1
        self._outage = None  # a connection that lived to its rollover worked
        fmt = session.agent.input_format
        session._emit(app.RolledOver(replayed, tuple(lost), round(fmt.ms(reappended))))
        logger.info(
            "realtime session %r: rolled over to a new connection (%d items)",
            session.agent.name,
            replayed,
        )

    async def _reconnect(self, policy: ReconnectPolicy, cause: TransportError) -> None:
        """Open a new connection (backing off), then carry the conversation over to it.

        Raises the last error when the policy gives up, or a final one (a refused key).
        """
        session = self.session
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._outage is None or now - self._outage[2] >= policy.stable_after:
            self._outage = [now, 0, now]  # began, attempts so far, the last connection's start
        outage = self._outage
        began = outage[0]
        session._replace_transport(None)
        actions, under_way = session.core.connection_lost(self._unsent_requests())
        session._execute(actions)
        logger.warning(
            "realtime session %r: connection lost (%s); reconnecting", session.agent.name, cause
        )
        while True:
            outage[1] += 1
            attempt = int(outage[1])
            delay = policy.delay(attempt)
            if attempt > policy.attempts or loop.time() + delay - began > policy.deadline:
                raise cause
            session._emit(app.Reconnecting(attempt, round(delay, 3), str(cause)))
            await asyncio.sleep(delay)
            try:
                transport = await session._open(
                    session.endpoint,
                    open_timeout=session.open_timeout,
                    close_timeout=session.close_timeout,
                )
            except TransportError as exc:
                if not policy.retryable(exc):
                    raise
                cause = exc
                continue
            break
        session._replace_transport(transport)
        outage[2] = loop.time()
        self.reconnects += 1
        replayed, lost, reappended = self._replay(under_way)
        fmt = session.agent.input_format
        session._emit(app.Reconnected(attempt, replayed, tuple(lost), round(fmt.ms(reappended))))
        logger.info(
            "realtime session %r: reconnected (attempt %d): %d items replayed, %d lost",
            session.agent.name,
            attempt,
            replayed,
            len(lost),
        )

    def _replay(self, under_way: bool) -> tuple[int, list[str], int]:
        """Seed the new connection, ahead of everything else: the configuration, the
        items, the audio in flight; then ask for the response owed (the one the drop cut
        short, or one to the caller's last turn). Returns the items replayed, what was
        lost, and the bytes appended again."""
        session = self.session
        core = session.core
        core.sequencer.connection_lost(self._unsent_requests())  # sent while there was none
        out = core.output_format
        heard = {
            key: Heard(track.played_ms, out.ms(track.received_bytes), track.cut)
            for key, track in core.conversation.tracks.items()
        }
        waiting = {
            item.item.id
            for item in session._outbox.waiting()
            if isinstance(item, ConversationItemCreate) and item.item.id is not None
        }
        items = list(core.conversation.items())
        items += [  # sent on the lost connection, never reported: replayed after the rest
            item
            for item_id, item in core.unacknowledged.items()
            if item_id not in waiting and core.conversation.get(item_id) is None
        ]
        replay = plan_replay(
            items,
            heard=heard,
            answers=core.calls.outputs,
            running=[call.call_id for call in core.calls.running()],
            transcripts=core.user_transcripts,
            partial=core.partial_text,
            audio=self.turn_audio,
        )
        # The partial texts stay (bounded by the core) until the new server reports the
        # items replayed with them: a connection that dies first is seeded the same way.
        events: list[ClientEvent] = [SessionUpdate(session=session.agent.session_config())]
        events += replay.events
        audio = self.tape.take() if self.tape.speaking else b""
        if not audio:
            self.tape.committed()
        for start in range(0, len(audio), _REAPPEND_CHUNK):
            events.append(InputAudioBufferAppend.from_audio(audio[start : start + _REAPPEND_CHUNK]))
        if audio:
            self.tape.record(audio)  # uncommitted on the new connection too
            self.tape.speaking = True
        session._seed_connection(events)
        owed = under_way or replay.last_role == "user_audio"
        if owed and not core.sequencer.waiting:
            core.sequencer.request(ResponseRequest())
        session._execute(core.resume())
        return len(replay.events), replay.lost, len(audio)
