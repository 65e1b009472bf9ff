"""A bare Realtime client for the server tests: plain websockets and JSON dicts.

It deliberately uses nothing of realtime_agent but what a test asks for, so that the
server is tested as any client would see it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

# A safety net so that a broken server fails a test instead of hanging it; never a
# way to wait for something to happen.
TIMEOUT = 20.0

Event = dict[str, Any]


class Client:
    """One connection, with helpers to send events and read until a type arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Event] = []

    async def send(self, event: Mapping[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def append(self, pcm: bytes, chunk: int = 4800) -> None:
        """Append audio in chunks (100 ms of pcm16 24 kHz by default)."""
        for start in range(0, len(pcm), chunk):
            audio = base64.b64encode(pcm[start : start + chunk]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})

    async def recv(self) -> Event:
        event: Event = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        self.received.append(event)
        return event

    async def until(self, *types: str) -> list[Event]:
        """Every event up to and including the first of one of ``types``."""
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] in types:
                return events

    async def expect(self, event_type: str) -> Event:
        """The first event of ``event_type`` (skipping others)."""
        return (await self.until(event_type))[-1]


@asynccontextmanager
async def client(
    url: str, headers: Iterable[tuple[str, str]] = (), *, opened: bool = True, **kwargs: Any
) -> AsyncIterator[Client]:
    """Connect; with ``opened``, read up to ``conversation.created`` first."""
    # max_queue=None: a test that stops reading must not stall the closing handshake
    # behind unread frames.
    async with connect(
        url, additional_headers=list(headers), max_size=None, max_queue=None, **kwargs
    ) as ws:
        peer = Client(ws)
        if opened:
            await peer.until("conversation.created")
        yield peer


def types(events: Iterable[Event]) -> list[str]:
    """The types of some events, in order."""
    return [event["type"] for event in events]


def squeeze(names: Iterable[str]) -> list[str]:
    """Consecutive repeats of a type folded into one, marked with ``*``."""
    out: list[str] = []
    for name in names:
        if out and out[-1].rstrip("*") == name:
            out[-1] = name + "*"
        else:
            out.append(name)
    return out
