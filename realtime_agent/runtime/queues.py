"""The session's two queues that face the application, each with its stated policy.

* :class:`Outbox`: what the application sends (audio, text, commits, response
  requests), in order. Bounded; a full outbox makes the sender wait (backpressure).
  When the session ends, every waiting sender, and every later one, gets the
  session's end error (``ConnectionLost`` when the connection dropped): none hangs.
* :class:`AppEvents`: what the application reads (``async for event in session``).
  The reader of the socket puts events here and never waits: past ``limit`` events,
  audio and transcript deltas and raw server events are dropped (and counted); history
  updates are coalesced (one waits at a time, and shows the conversation as it is when
  it is read); every other event is kept, up to ``limit x OVERFLOW_FACTOR`` events,
  past which the application is plainly not reading and the session ends
  (:meth:`AppEvents.put` returns False).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from realtime_agent.protocol import events as app
from realtime_agent.schema.items import Item

__all__ = ["OVERFLOW_FACTOR", "AppEvents", "Outbox"]

T = TypeVar("T")

#: Events kept for an application that does not read, as a multiple of the queue's limit.
OVERFLOW_FACTOR = 16


class Outbox(Generic[T]):
    """A bounded FIFO with backpressure, released with an error when the session ends."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("the send queue needs room for at least one event")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._failure: Callable[[], BaseException] | None = None
        self.high_water = 0
        """The most items that ever waited at once."""

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        """True when nothing waits to be sent."""
        return not self._items

    def put_nowait(self, item: T) -> bool:
        """Queue ``item`` if there is room; False if the outbox is full."""
        self._raise_if_failed()
        waiting = len(self._items)
        if waiting >= self.maxsize:
            return False
        self._items.append(item)
        if waiting >= self.high_water:
            self.high_water = waiting + 1
        return True

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting for room. Raises the session's end error once it ended."""
        while len(self._items) >= self.maxsize:
            self._raise_if_failed()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._raise_if_failed()
        self._items.append(item)
        if len(self._items) > self.high_water:
            self.high_water = len(self._items)

    def get_nowait(self) -> T:
        """The oldest item (the outbox must not be empty); makes room for one sender."""
        item = self._items.popleft()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
        return item

    def waiting(self) -> list[T]:
        """What waits to be sent, oldest first (a copy)."""
        return list(self._items)

    def put_back(self, item: T) -> None:
        """Return the item just taken to the front (its send failed: it goes again first)."""
        self._items.appendleft(item)

    def fail(self, error: Callable[[], BaseException]) -> None:
        """The session ended: drop what waits; every sender raises ``error()`` from now on."""
        self._failure = error
        self._items.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure()


class _HistoryMark:
    """Stands in the queue for a coalesced ``HistoryUpdated``."""


_HISTORY = _HistoryMark()


class AppEvents:
    """The application's events: never blocks the putter (see the module docstring)."""

    def __init__(self, limit: int, history: Callable[[], tuple[Item, ...]]) -> None:
        if limit < 1:
            raise ValueError("the event queue needs room for at least one event")
        self.limit = limit
        self.hard_limit = limit * OVERFLOW_FACTOR
        self.dropped = 0
        """Events dropped because the application fell behind."""
        self.high_water = 0
        """The most events that ever waited for the application at once."""
        self._history = history
        self._queue: deque[app.AppEvent | _HistoryMark] = deque()
        self._history_waiting = False
        self._ready = asyncio.Event()
        self._ended = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def ended(self) -> bool:
        """True once the last event (``Closed``) is in."""
        return self._ended

    def put(self, event: app.AppEvent) -> bool:
        """Queue an event (or drop it, if droppable and the queue is full); False when the
        application has let :attr:`hard_limit` events pile up (the event is not kept)."""
        if self._ended:
            return True
        waiting = len(self._queue)
        if waiting >= self.limit and isinstance(event, app.DROPPABLE):
            self.dropped += 1
            return True
        if waiting >= self.hard_limit:
            return False
        self._queue.append(event)
        if waiting >= self.high_water:
            self.high_water = waiting + 1
        self._ready.set()
        return True

    def history_changed(self) -> None:
        """The conversation changed: a ``HistoryUpdated`` follows, unless one waits already."""
        if not self._history_waiting and not self._ended:
            self._history_waiting = True
            self._queue.append(_HISTORY)
            self._ready.set()

    def end(self, closed: app.Closed) -> None:
        """The last event: always kept, and nothing after it."""
        if not self._ended:
            self._ended = True
            self._queue.append(closed)
            self._ready.set()

    async def get(self) -> app.AppEvent | None:
        """The next event; None once the last one was read."""
        while not self._queue:
            if self._ended:
                return None
            self._ready.clear()
            await self._ready.wait()
        event = self._queue.popleft()
        if isinstance(event, _HistoryMark):
            self._history_waiting = False
            return app.HistoryUpdated(self._history())
        return event
