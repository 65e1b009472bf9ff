"""What the HTTP audio endpoints share: Server-Sent Events framing, the bearer key check,
and the pace of a stream.

An event is ``data: <one line of JSON>`` and a blank line, as the Chat Completions stream
and Agora's format both send it; the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Send

from realtime_agent.redact import Secret

__all__ = [
    "DONE",
    "MEDIA_TYPE",
    "SSE_HEADERS",
    "BodyTooLarge",
    "EventStream",
    "NotJSON",
    "Pace",
    "bearer",
    "event",
    "key_accepted",
    "read_json",
]

DONE = b"data: [DONE]\n\n"
"""The stream's last event."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Sent with every stream: no cache, and no buffering in a reverse proxy (nginx)."""
MEDIA_TYPE = "text/event-stream"


PARSED_IN_LOOP_BYTES = 64 * 1024
"""A longer body is parsed in a thread, off the event loop the other streams share."""


class BodyTooLarge(Exception):
    """The request's body is over the route's limit (each route answers it its own way)."""


class NotJSON(Exception):
    """The request's body is not JSON; the message says why."""


async def read_json(request: Request, limit: int) -> object:
    """The request's JSON body, read up to ``limit`` bytes (by its Content-Length, then
    as it comes). Raises :class:`BodyTooLarge` or :class:`NotJSON`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # uvicorn refuses a malformed one
        raise BodyTooLarge(f"{declared} bytes")
    received = bytearray()
    async for piece in request.stream():
        received += piece
        if len(received) > limit:
            raise BodyTooLarge(f"over {limit} bytes")
    try:
        if len(received) > PARSED_IN_LOOP_BYTES:
            return await asyncio.to_thread(json.loads, received)
        return json.loads(received)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotJSON(str(exc)) from None


def event(payload: dict[str, Any]) -> bytes:
    """One ``data:`` event of compact JSON."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def bearer(request: Request) -> str | None:
    """The key in ``Authorization: Bearer <key>`` (or a bare value), None without one."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    return header


def key_accepted(given: str | None, key: Secret | None) -> bool:
    """Whether ``given`` opens the endpoint: any non-empty key when none is configured,
    else the configured one (compared in constant time)."""
    if given is None:
        return False
    if key is None:
        return True
    return hmac.compare_digest(given.encode(), key.reveal().encode())


class Pace:
    """Sends a stream's audio at ``speed`` times real time (None: as fast as it goes),
    measured from the stream's start so that slow writes do not add up."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self._start = time.monotonic()
        self._sent_s = 0.0

    async def sent(self, seconds: float) -> None:
        """``seconds`` more of audio went out: wait until it is due."""
        self._sent_s += seconds
        if self.speed is None:
            await asyncio.sleep(0)  # let a disconnect or a drain through
            return
        due = self._start + self._sent_s / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)


class EventStream(StreamingResponse):
    """A stream whose generator is always closed when the response ends.

    Starlette cancels the response when the client goes away; if that lands while a chunk
    is being written, the generator is left suspended at its ``yield``, and only the
    garbage collector would close it (in a task of its own). Closing it here, shielded,
    ends it in this task at once: the stream is released and its audio stops.
    """

    def __init__(self, events: AsyncGenerator[bytes, None]) -> None:
        super().__init__(events, media_type=MEDIA_TYPE, headers=SSE_HEADERS)
        self._events = events

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._events.aclose()
