"""The web server on a real port, in the test's own loop: uvicorn serving create_app()."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from realtime_agent.web import WebContext, WebSettings, create_app
from realtime_agent.web.serve import DrainingServer, config


@dataclass
class RunningWeb:
    """A web server serving on 127.0.0.1: ``http`` and ``ws`` are its base URLs."""

    server: DrainingServer
    web: WebContext
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def running_web(settings: WebSettings, **app_options: Any) -> AsyncIterator[RunningWeb]:
    """Serve ``create_app(settings)`` on a free port until the block ends."""
    app = create_app(settings, **app_options)
    server = DrainingServer(config(app, settings, "127.0.0.1", 0), app.state.web)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    # Listening before uvicorn starts: a client that connects early waits in the backlog.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield RunningWeb(server, app.state.web, port)
    finally:
        server.should_exit = True
        await task
        sock.close()


WebFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningWeb]]


@pytest.fixture
def serve_web() -> WebFactory:
    """``async with serve_web(WebSettings(...)) as running:`` a web server for the test."""
    return running_web
