"""A client of the browser relay protocol, as a page would speak it (README, "The relay").

It plays the assistant's audio on a simulated device clock (real time from the first
sample; silence while nothing is queued is not counted), reports what it played every
``report_ms``, and obeys ``clear`` (drops its queue, counts from 0 in the new epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RATE = 24000


@dataclass
class Player:
    """A far end's audio output: plays what it was given at 24 kHz from when it got it."""

    clock: float = 0.0  # loop time up to which ``played`` is exact
    queued: int = 0
    played: int = 0  # in this epoch
    played_total: int = 0  # over all epochs

    def advance(self, now: float) -> None:
        due = int((now - self.clock) * RATE)
        step = min(due, self.queued)
        self.played += step
        self.played_total += step
        self.queued -= step
        self.clock = now if step == due or self.queued == 0 else self.clock + step / RATE

    def add(self, samples: int, now: float) -> None:
        self.advance(now)
        if self.queued == 0:
            self.clock = now  # a new start after silence
        self.queued += samples

    def clear(self, now: float) -> int:
        """Drop the queue; the played count of the new epoch starts at 0. Returns what was
        heard in the epoch that ended."""
        self.advance(now)
        heard = self.played
        self.queued = 0
        self.played = 0
        return heard


@dataclass
class PageClient:
    """One page's connection: ``messages`` holds every JSON message received, in order."""

    socket: ClientConnection
    report_ms: float = 20.0
    player: Player = field(default_factory=Player)
    epoch: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    heard_at_clear: list[int] = field(default_factory=list)
    """Samples the page had really played of each epoch when its clear arrived."""
    reported_at_clear: list[int] = field(default_factory=list)
    """The last position the page had reported in each epoch when its clear arrived."""
    close_code: int | None = None
    reported: list[tuple[int, int]] = field(default_factory=list)
    """Every (epoch, samples) report sent."""
    _last_report: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def hello(self, *, token: str | None = None, rate: int = 24000) -> None:
        message: dict[str, Any] = {"type": "hello", "rate": rate}
        if token is not None:
            message["token"] = token
        await self.socket.send(json.dumps(message))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._report())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.socket.close()

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for data in _messages(self.socket):
                if isinstance(data, bytes):
                    self.audio_bytes += len(data)
                    self.player.add(len(data) // 2, loop.time())
                    continue
                message = json.loads(data)
                if message["type"] == "clear":
                    self.heard_at_clear.append(self.player.clear(loop.time()))
                    self.reported_at_clear.append(self._last_report)
                    self.epoch = message["epoch"]
                    self._last_report = 0
                async with self._arrived:
                    self.messages.append(message)
                    self._arrived.notify_all()
        finally:
            self.close_code = self.socket.close_code
            async with self._arrived:
                self._arrived.notify_all()

    async def _report(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.report_ms / 1000)  # the device's own period
            self.player.advance(loop.time())
            if self.player.played != self._last_report:
                self._last_report = self.player.played
                self.reported.append((self.epoch, self.player.played))
                message = {"type": "played", "epoch": self.epoch, "samples": self.player.played}
                with contextlib.suppress(Exception):
                    await self.socket.send(json.dumps(message))

    async def send_audio(self, pcm: bytes, *, frame_ms: int = 20, realtime: bool = True) -> None:
        """Send microphone audio in frames, in real time by default (as a page does)."""
        loop = asyncio.get_running_loop()
        frame = RATE * frame_ms // 1000 * 2
        start = loop.time()
        for index, offset in enumerate(range(0, len(pcm), frame)):
            if realtime:
                await asyncio.sleep(max(0.0, start + index * frame_ms / 1000 - loop.time()))
            await self.socket.send(pcm[offset : offset + frame])

    async def wait_for(self, kind: str, *, count: int = 1, timeout: float = 30.0) -> dict[str, Any]:
        """The ``count``-th message of type ``kind`` (waits for it)."""

        def found() -> list[dict[str, Any]]:
            return [m for m in self.messages if m["type"] == kind]

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(
                lambda: len(found()) >= count or self.close_code is not None
            )
        matches = found()
        if len(matches) < count:
            raise AssertionError(f"no {kind!r} before the socket closed: {self.messages}")
        return matches[count - 1]

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: self.close_code is not None)
        return self.close_code

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


async def _messages(socket: ClientConnection) -> AsyncIterator[str | bytes]:
    """The socket's messages until it closes, whatever the close code."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            yield await socket.recv()


@contextlib.asynccontextmanager
async def page(url: str, **options: Any) -> AsyncIterator[PageClient]:
    """A connected page client (not yet said hello), stopped at the end."""
    async with connect(url, max_size=None, **options) as socket:
        client = PageClient(socket)
        client.start()
        try:
            yield client
        finally:
            await client.stop()
