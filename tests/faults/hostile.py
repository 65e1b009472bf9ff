"""A hostile Realtime server, written from the protocol alone with plain websockets.

Not our local server (the two must not share a misunderstanding): each test gives it
a script, an async function that plays the server's side of one connection with raw
frames, good and bad. The server records every frame the client sent, so a test can
check what went over the wire (every call answered exactly once, no null where the
API refuses one).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TIMEOUT = 20.0  # a safety net: a broken client fails the test instead of hanging it
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


class Peer:
    """The server's side of one connection, as a script sees it."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reading = False

    async def send(self, event: dict[str, Any] | str | bytes) -> None:
        """Send a server event (a dict gets an ``event_id``), or a raw frame as it is."""
        if isinstance(event, dict):
            event = json.dumps({"event_id": new_id("event"), **event})
        await self.ws.send(event)

    async def read(self) -> None:
        """Read the client's frames until the connection ends (run it as a task)."""
        self._reading = True
        try:
            async for frame in self.ws:
                self.received.append(json.loads(frame))
                self._arrived.set()
        except ConnectionClosed:
            pass

    async def expect(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until the client has sent ``count`` events of this type; those events."""

        async def wait() -> list[dict[str, Any]]:
            while True:
                found = self.of(event_type)
                if len(found) >= count:
                    return found
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(wait(), TIMEOUT)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        """The client's events of a type, so far."""
        return [e for e in self.received if e.get("type") == event_type]

    def outputs(self) -> dict[str, list[str]]:
        """call_id -> every function_call_output the client sent for it."""
        answers: dict[str, list[str]] = {}
        for event in self.of("conversation.item.create"):
            item = event.get("item", {})
            if item.get("type") == "function_call_output":
                answers.setdefault(item["call_id"], []).append(item["output"])
        return answers

    # --- well-formed server events ---------------------------------------------------------

    async def session_created(self) -> None:
        await self.send(
            {
                "type": "session.created",
                "session": {"type": "realtime", "id": new_id("sess"), "model": "gpt-realtime"},
            }
        )

    async def response_created(self, response_id: str) -> None:
        await self.send(
            {
                "type": "response.created",
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": "in_progress",
                    "conversation_id": "conv_1",
                    "output": [],
                },
            }
        )

    async def response_done(self, response_id: str, status: str = "completed") -> None:
        await self.send(
            {
                "type": "response.done",
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": status,
                    "conversation_id": "conv_1",
                    "output": [],
                },
            }
        )

    async def function_call(
        self, response_id: str, call_id: str, name: str, arguments: str = "{}"
    ) -> None:
        item_id = f"item_{call_id}"
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            }
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
            }
        )

    async def error(self, code: str, message: str, event_id: str | None = None) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": None,
                    "event_id": event_id,
                },
            }
        )


Script = Callable[[Peer], Awaitable[None]]


class HostileServer:
    """Serves each connection with ``script`` (after ``session.created``, unless told not to).

    ``peers`` holds one :class:`Peer` per connection, with what its client sent. The
    script's end closes the connection normally unless the script closed or aborted it.
    ``reading`` (default True) reads the client's frames in the background.
    """

    def __init__(self, script: Script, *, greet: bool = True, reading: bool = True) -> None:
        self.script = script
        self.greet = greet
        self.reading = reading
        self.peers: list[Peer] = []
        self.done = asyncio.Event()
        self.failures: list[BaseException] = []
        self._server: Server | None = None
        self._scripts: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        for task in self._scripts:
            task.cancel()  # a script may wait forever (a peer that never closes)
        self._server.close()
        await self._server.wait_closed()
        if self.failures and exc is None:
            raise self.failures[0]

    async def _handle(self, ws: ServerConnection) -> None:
        peer = Peer(ws)
        self.peers.append(peer)
        task = asyncio.current_task()
        assert task is not None
        self._scripts.add(task)
        try:
            async with asyncio.TaskGroup() as group:
                reader = group.create_task(peer.read()) if self.reading else None
                try:
                    if self.greet:
                        await peer.session_created()
                    await self.script(peer)
                except ConnectionClosed:
                    pass
                except Exception as exc:  # the test's own script broke: make the test fail
                    self.failures.append(exc)
                finally:
                    self.done.set()
                await ws.close()
                if reader is not None:
                    reader.cancel()
        except asyncio.CancelledError:
            ws.transport.abort()
        finally:
            self._scripts.discard(task)
