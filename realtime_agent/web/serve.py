"""``realtime-agent web``: uvicorn serving :func:`~realtime_agent.web.create_app`, with a
drain on SIGTERM and one process per worker.

**Drain.** On SIGTERM (or the first Ctrl-C) ``/healthz`` turns 503 (a load balancer
stops sending calls), new calls are refused (1013, try again), and the live ones go on
for up to ``drain_timeout``; those still live then are closed cleanly (the page is told
why, the socket closed with 1001) and the process exits. A second signal ends it at
once. uvicorn's own shutdown would close every WebSocket with 1012 straight away; a
rolling deploy needs the drain.

**Workers.** ``workers > 1`` binds the socket once and starts that many processes that
accept on it (sessions are independent: no sticky sessions); a SIGTERM to the parent is
passed to each, and the parent waits for their drains.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from realtime_agent import _logs
from realtime_agent.web.app import WebContext, create_app
from realtime_agent.web.settings import WebSettings

__all__ = ["DrainingServer", "config", "run"]

log = logging.getLogger("realtime_agent.web")


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first exit signal drains the calls (module docstring)."""

    def __init__(self, config: uvicorn.Config, web: WebContext) -> None:
        super().__init__(config)
        self.web = web
        self._drain: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop, once started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving; note the loop, for the signal handler."""
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain; second: exit now."""
        if self._drain is not None or self.should_exit:
            self.force_exit = True
            self.should_exit = True
            return
        if self._loop is None:  # not serving yet: nothing to drain
            self.should_exit = True
            return
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        # Still listening: /healthz says 503 (the load balancer moves on) and new
        # calls are refused with 1013, while the live ones go on.
        left = await self.web.drain()
        if left:
            log.warning("drain: %d call(s) still live at the deadline were closed", left)
        self.should_exit = True


def config(app: object, settings: WebSettings, host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration for the web app: the frame limit, pings, quiet logs."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def _serve(
    settings: WebSettings,
    host: str,
    port: int,
    sock: socket.socket | None,
    log_level: int | None = None,
) -> None:
    if log_level is not None:  # a spawned worker starts with logging unconfigured
        _logs.configure(log_level)
    app = create_app(settings)
    server = DrainingServer(config(app, settings, host, port), app.state.web)
    server.run(sockets=None if sock is None else [sock])


def run(
    settings: WebSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    announce: Callable[[str], None] | None = None,
    log_level: int | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (then drain). ``announce`` gets the URL once listening.

    ``log_level``: the level of the ``realtime_agent`` loggers in each worker process
    (as :mod:`realtime_agent.cli` sets it in this one); None: workers leave logging as it is.

    Raises OSError if the address cannot be bound, ValueError for a bad agent or option.
    """
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    if announce is not None:
        announce(f"http://{host if ':' not in host else f'[{host}]'}:{bound}/")
    if workers == 1:
        _serve(settings, host, bound, sock)  # this process: its logging is set already
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_serve, args=(settings, host, bound, sock, log_level), daemon=False)
        for _ in range(workers)
    ]
    for child in children:
        child.start()
    sock.close()

    def forward(sig: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
