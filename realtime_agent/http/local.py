"""The local stack in this process: the web application
(:func:`realtime_agent.web.create_app`) served by uvicorn on 127.0.0.1, in the running
loop, for as long as a block runs. Its ``/v1/chat/completions`` answers as OpenAI's
would, offline, with the stand-in model and voices.

Needs the ``web`` extra (``pip install 'realtime-agent[web]'``): importing this module
without it raises ImportError (:mod:`realtime_agent.http` does not import it).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from realtime_agent.web.app import create_app
from realtime_agent.web.serve import config
from realtime_agent.web.settings import WebSettings

__all__ = ["local_stack"]


@contextlib.asynccontextmanager
async def local_stack(settings: WebSettings | None = None) -> AsyncIterator[str]:
    """Serve the web application on a free loopback port until the block ends; yield its
    base URL (``http://127.0.0.1:PORT``): post to it ``+ "/v1/chat/completions"``.

    The block starts once the server serves. Raises RuntimeError if the application
    does not start. When the block ends, the server stops (uvicorn closes what is still
    open) before this returns.
    """
    settings = settings or WebSettings()
    app = create_app(settings)
    server = _LoopbackServer(config(app, settings, "127.0.0.1", 0))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        ready = asyncio.create_task(server.ready.wait())
        try:
            await asyncio.wait({ready, serving}, return_when=asyncio.FIRST_COMPLETED)
            if not server.started:
                raise RuntimeError("the local stack did not start (its log says why)")
            yield f"http://127.0.0.1:{port}"
        finally:
            ready.cancel()
            server.should_exit = True
            await serving


class _LoopbackServer(uvicorn.Server):
    """A uvicorn server that says when it serves (:attr:`ready`), leaves the process's
    signals alone (Ctrl-C stays the application's), and does not end the process when
    the application fails to start (uvicorn's own answer to that is ``sys.exit``)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:  # the application's startup failed (uvicorn logged why)
            self.should_exit = True
        finally:
            self.ready.set()
