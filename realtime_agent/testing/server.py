"""A local Realtime server on its own event loop, in a background thread.

::

    with start_server("weather.toml") as server:     # or responder=..., or neither
        ...  # connect to server.url from any test: sync, pytest-asyncio, anyio

The server runs in a thread of its own, with its own event loop, so it serves whatever
the test does with its own loop (or without one): the test needs no event-loop plugin,
and a test that blocks its loop does not stall the server. Audio is sent instantly (no
real-time pacing) unless ``pacing`` says otherwise. :meth:`ServerThread.stop` closes
every connection, stops the loop and joins the thread: nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from realtime_agent.server.app import LocalRealtimeServer
from realtime_agent.server.script import ConversationScript, load_script

if TYPE_CHECKING:
    from realtime_agent.server.responder import Responder
    from realtime_agent.server.state import ServerSession

__all__ = ["ServerThread", "start_server"]

START_TIMEOUT = 10.0
"""Seconds the server may take to start listening."""
STOP_TIMEOUT = 10.0
"""Seconds it may take to close and end its thread."""


class ServerThread:
    """A :class:`~realtime_agent.server.LocalRealtimeServer` served from a background thread.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. While it runs,
    read :attr:`url`; :attr:`server` (its sessions, for one) is the server itself: look at
    it between turns, not while it is serving (it lives on the thread's loop).
    """

    def __init__(
        self, server: LocalRealtimeServer, *, script: ConversationScript | None = None
    ) -> None:
        self.server = server
        self.script = script
        """The script it plays, if it plays one."""
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ServerThread {state} {self.server!r}>"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        """The URL of a GA session: ``ws://127.0.0.1:PORT/v1/realtime?model=gpt-realtime``."""
        return self.server.url

    @property
    def base_url(self) -> str:
        """``ws://host:port``."""
        return self.server.base_url

    @property
    def sessions(self) -> list[ServerSession]:
        """The server-side sessions so far, in order (one per connection)."""
        return self.server.sessions

    def start(self) -> Self:
        """Start the thread and wait until the server listens. Raises what starting it
        raised (OSError: the port is taken), or RuntimeError if it took too long."""
        if self._thread is not None:
            raise RuntimeError("a ServerThread starts once")
        self._thread = threading.Thread(
            target=self._run, name="realtime-agent-local-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"the local server did not start within {START_TIMEOUT:g} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and join its thread (idempotent).

        A client still connected is disconnected at once (its test is over); raises
        RuntimeError if the thread does not end within :data:`STOP_TIMEOUT`.
        """
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if thread.is_alive() and loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it is over
                loop.call_soon_threadsafe(stopping.set)
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"the local server's thread did not end within {STOP_TIMEOUT:g} s")
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"the local server failed: {error!r}") from error

    def check(self, *, finished: bool = False) -> None:
        """Raise the script's failed expectations (see ``ConversationScript.check``)."""
        if self.script is not None:
            self.script.check(finished=finished)

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(), or lost with the thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self.server.start()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            # A client still connected cannot answer a closing handshake when its test
            # is over (its loop no longer runs): it is disconnected rather than waited for.
            for connection in self.server.connections:
                connection.transport.abort()
            await self.server.close()


def start_server(
    script: str | os.PathLike[str] | ConversationScript | None = None,
    *,
    responder: Responder | None = None,
    **options: Any,
) -> ServerThread:
    """Start a local server in a background thread; stop it with ``stop()`` (or ``with``).

    ``script``: a conversation script (a path, TOML text, or one already loaded, see
    :mod:`realtime_agent.server.script`); or ``responder``: any responder (a
    ``ScriptedResponder``, say); neither: the default stand-in model. ``options`` go to
    :class:`~realtime_agent.server.LocalRealtimeServer` (``vad``, ``seed``, ``pacing``,
    ``faults``...). Raises ScriptError for a script that is not valid.
    """
    if script is not None and responder is not None:
        raise TypeError("give a script or a responder, not both")
    loaded: ConversationScript | None = None
    if script is not None:
        loaded = script if isinstance(script, ConversationScript) else load_script(script)
        server = loaded.server(**options)
    else:
        server = LocalRealtimeServer(responder=responder, **options)
    return ServerThread(server, script=loaded).start()
