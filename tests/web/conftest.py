"""The web server on a real port, in the test's own loop: uvicorn serving create_app()."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from realtime_agent.protocol import events as app
from realtime_agent.web import DtmfPressed, WebContext, WebSettings, create_app
from realtime_agent.web.serve import DrainingServer, config

WEATHER_TOOL = {  # a Chat Completions function tool the stand-in calls for the weather
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


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


async def get(url: str) -> tuple[int, str, str]:
    """GET ``url`` (in a thread: urllib blocks); status, content type, body."""
    return await asyncio.to_thread(_get, url)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read().decode()


async def scrape(running: RunningWeb, kind: str) -> dict[str, float]:
    """``GET /metrics`` over the socket: each series labelled with ``kind`` alone, by name
    (``realtime_agent_tool_seconds_count``...)."""
    status, _, body = await get(running.http + "/metrics")
    assert status == 200
    suffix = f'{{kind="{kind}"}}'
    found: dict[str, float] = {}
    for line in body.splitlines():
        name, _, value = line.partition(" ")
        if name.endswith(suffix):
            found[name.removesuffix(suffix)] = float(value)
    return found


E = TypeVar("E")


@dataclass
class Hook:
    """An ``on_event`` hook: every event of every call, and an event set at a ``Closed``."""

    events: list[app.AppEvent | DtmfPressed] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, call: object, event: app.AppEvent | DtmfPressed) -> None:
        self.events.append(event)
        if isinstance(event, app.Closed):
            self.closed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_closed(self, timeout: float = 15.0) -> None:
        """Until a call's last event reached the hook (its metrics were counted before)."""
        async with asyncio.timeout(timeout):
            await self.closed.wait()


def heard_turns(hook: Hook) -> int:
    """The turns the sessions reported that have a latency (audio was played or came)."""
    return sum(
        m.first_heard_ms is not None or m.first_audio_ms is not None
        for m in hook.of(app.TurnMetrics)
    )
