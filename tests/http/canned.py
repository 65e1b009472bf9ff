"""A server on 127.0.0.1 that answers one canned HTTP/1.1 response, byte for byte: what
the real routes never send (a stream cut off, HTML errors, a stall), and what they do,
split anywhere. It notes each request it was sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class Request:
    """A request as the canned server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Canned:
    """The answer: ``status``, ``headers`` and the body in ``pieces`` (each one chunk of a
    chunked body, flushed on its own). ``end``: ``"complete"`` (the last chunk), ``"drop"``
    (the connection closes mid-body), ``"stall"`` (nothing more is sent: the server waits
    until the client closes, which sets ``client_closed``)."""

    pieces: Sequence[bytes] = ()
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    end: Literal["complete", "drop", "stall"] = "complete"
    requests: list[Request] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)


def sse(*chunks: dict[str, Any] | str) -> bytes:
    """``data: <chunk>`` events, as a Chat Completions stream sends them."""
    return b"".join(
        b"data: " + (c if isinstance(c, str) else json.dumps(c)).encode() + b"\n\n" for c in chunks
    )


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@contextlib.asynccontextmanager
async def canned_server(answer: Canned) -> AsyncIterator[str]:
    """Serve ``answer`` to every request until the block ends; yield the endpoint's URL."""
    stop = asyncio.Event()
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            start, *lines = head.split("\r\n")
            method, path, _ = start.split(" ", 2)
            headers = {}
            for line in filter(None, lines):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            answer.requests.append(Request(method, path, headers, json.loads(raw or b"null")))
            status_line = f"HTTP/1.1 {answer.status} Canned\r\n"
            fields = {**answer.headers, "transfer-encoding": "chunked", "connection": "close"}
            writer.write(
                (
                    status_line + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
                ).encode()
            )
            for piece in answer.pieces:
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
            if answer.end == "complete":
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            elif answer.end == "stall":
                eof = asyncio.ensure_future(reader.read())  # b"" once the client closes
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({eof, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if eof.done():
                    answer.client_closed.set()
                eof.cancel()
                stopped.cancel()
        except (ConnectionError, asyncio.IncompleteReadError):
            answer.client_closed.set()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/chat/completions"
    finally:
        stop.set()
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
