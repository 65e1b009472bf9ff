"""The web application: one Starlette app serves the page, the relay, the phone bridge,
health and metrics (see :mod:`realtime_agent.web`).

:class:`WebContext` is what every handler shares (``app.state.web``): the settings, the
agent, the upstream, the metrics, and the registry of live calls that the drain on
SIGTERM closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Literal, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from realtime_agent.protocol import events as app
from realtime_agent.redact import Secret
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.transport import Endpoint
from realtime_agent.server.chat import ChatStandIn
from realtime_agent.web.auth import Origins
from realtime_agent.web.metrics import CONTENT_TYPE_LATEST, Metrics
from realtime_agent.web.settings import WebSettings, load_agent

if TYPE_CHECKING:
    from realtime_agent.runtime.session import RealtimeSession
    from realtime_agent.web.agora import AudioSource
    from realtime_agent.web.calls import DtmfPressed, EventHook

__all__ = ["Call", "Kind", "Refused", "Stream", "WebContext", "create_app"]

log = logging.getLogger("realtime_agent.web")

Kind = Literal["browser", "phone"]


class Call(Protocol):
    """A live conversation, as the drain and the application's event hook see it."""

    kind: Kind
    session: RealtimeSession | None
    """Its session upstream (None until it starts)."""

    async def close(self, reason: str) -> None:
        """End the conversation cleanly, telling the far end ``reason``."""
        ...


class Refused(Exception):
    """A new call or stream cannot start now (draining, or at capacity); ``code`` is the
    WebSocket close code (a stream's: the HTTP status)."""

    def __init__(self, reason: str, code: int = 1013) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Stream:
    """A streamed HTTP answer in progress (``POST /v1/chat/completions`` with ``stream``,
    ``POST /audio/chat/completions``), as :meth:`WebContext.streaming` registers it.

    Its generator checks :attr:`stopped` between chunks: the drain sets it once the
    deadline has passed, and the answer ends there (a client that goes away instead
    cancels the generator, which stops at once).
    """

    __slots__ = ("audio_s", "route", "stopped")

    def __init__(self, route: str) -> None:
        self.route = route
        self.stopped = False
        self.audio_s = 0.0
        """Seconds of audio sent so far (counted in ``/metrics`` when the stream ends)."""


class WebContext:
    """What the handlers share. ``endpoint_factory`` overrides where sessions go."""

    def __init__(
        self,
        settings: WebSettings,
        *,
        agent: Agent | None = None,
        endpoint_factory: Callable[[], Endpoint] | None = None,
        on_event: EventHook | None = None,
        audio_source: AudioSource | None = None,
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.audio_source = audio_source
        """Where ``POST /audio/chat/completions`` takes its answers (None: the settings')."""
        self.agent = agent if agent is not None else load_agent(settings.agent)
        self.metrics = Metrics()
        self.origins = Origins(settings.allowed_origins)
        self.secret: Secret | None = settings.secret()
        self.twilio_auth_token: Secret | None = settings.twilio_auth_token()
        self.http_key: Secret | None = settings.http_key()
        self.chat = ChatStandIn()
        """The stand-in model behind the HTTP audio endpoints (speech made at first use)."""
        self.calls: set[Call] = set()
        self.streams: set[Stream] = set()
        self.draining = False
        self.upstream_description = "not started"
        self._endpoint_factory = endpoint_factory
        self._local_server: object | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._told_closed: set[Call] = set()

    # -- the upstream ---------------------------------------------------------------

    def endpoint(self) -> Endpoint:
        """Where the next call's session goes."""
        if self._endpoint_factory is None:
            raise RuntimeError("the web application has not started (no lifespan)")
        return self._endpoint_factory()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The application's lifespan: start the embedded local server if one is needed."""
        if self._endpoint_factory is not None:
            self.upstream_description = "given by the application"
            yield
            return
        key = os.environ.get("OPENAI_API_KEY")
        upstream = self.settings.upstream
        if upstream is not None:
            self._endpoint_factory = lambda: Endpoint.local(upstream, api_key=key or None)
            # Told to every page: never its query string (a key may ride in one).
            self.upstream_description = upstream.split("?", 1)[0]
            yield
        elif key:
            model = self.agent.model
            self._endpoint_factory = lambda: (
                Endpoint.openai(api_key=key)
                if model is None
                else Endpoint.openai(model, api_key=key)
            )
            self.upstream_description = "OpenAI"
            yield
        else:
            from realtime_agent.server import LocalRealtimeServer, Pacing, RuleResponder

            pacing = Pacing.instant() if self.settings.pacing == "instant" else Pacing.realtime()
            server = LocalRealtimeServer(
                responder=lambda: RuleResponder(), pacing=pacing, keep_sessions=False
            )
            async with server:
                url = server.url
                self._endpoint_factory = lambda: Endpoint.local(url)
                self.upstream_description = f"the embedded local Realtime server ({url})"
                try:
                    yield
                finally:
                    self._endpoint_factory = None

    # -- live calls -----------------------------------------------------------------

    def notify(self, call: Call, event: app.AppEvent | DtmfPressed) -> None:
        """Pass ``event`` to the application's hook, if any; never raises."""
        if self.on_event is None:
            return
        if isinstance(event, app.Closed):
            self._told_closed.add(call)
        try:
            self.on_event(call, event)
        except Exception as exc:
            self.metrics.errors.labels(call.kind, "application").inc()
            log.warning(
                "web: the application's on_event failed on %s: %s: %s",
                type(event).__name__,
                type(exc).__name__,
                exc,
            )

    def admit(self, call: Call) -> None:
        """Register a new call; raises :class:`Refused` while draining or at capacity."""
        if self.draining:
            raise Refused("the server is shutting down: try again", 1013)
        if len(self.calls) >= self.settings.max_sessions:
            self.metrics.errors.labels(call.kind, "limit").inc()
            raise Refused("the server is at capacity: try again", 1013)
        self.calls.add(call)
        self._idle.clear()
        self.metrics.sessions.labels(call.kind).inc()
        self.metrics.active_sessions.labels(call.kind).inc()

    def release(self, call: Call, reason: str = "the call ended") -> None:
        """A call ended (idempotent). The hook's last event of it is always a ``Closed``."""
        if call in self.calls:
            self.calls.discard(call)
            self.metrics.active_sessions.labels(call.kind).dec()
            if call not in self._told_closed:
                self.notify(call, app.Closed(reason))
            self._told_closed.discard(call)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self.calls and not self.streams:
            self._idle.set()

    @contextlib.contextmanager
    def streaming(self, route: str) -> Iterator[Stream]:
        """Register a streamed HTTP answer for as long as the block runs: counted in
        ``/metrics``, waited for by the drain. Raises :class:`Refused` while draining."""
        if self.draining:
            raise Refused("the server is shutting down: try again", 503)
        stream = Stream(route)
        self.streams.add(stream)
        self._idle.clear()
        self.metrics.active_streams.labels(route).inc()
        try:
            yield stream
        finally:
            self.streams.discard(stream)
            self.metrics.active_streams.labels(route).dec()
            self.metrics.http_audio_seconds.labels(route).inc(stream.audio_s)
            self._check_idle()

    async def idle(self) -> None:
        """Wait until no call and no stream is live."""
        await self._idle.wait()

    async def drain(self, deadline: float | None = None) -> int:
        """Refuse new calls, let live ones finish for up to ``deadline`` seconds (default:
        the settings' ``drain_timeout``), then close the rest cleanly. Returns how many
        had to be closed."""
        self.draining = True
        deadline = self.settings.drain_timeout if deadline is None else deadline
        try:
            await asyncio.wait_for(self._idle.wait(), deadline)
            return 0
        except TimeoutError:
            pass
        left = list(self.calls)
        streams = list(self.streams)
        for stream in streams:
            stream.stopped = True
        await asyncio.gather(
            *(call.close("the server is shutting down") for call in left), return_exceptions=True
        )
        return len(left) + len(streams)


def _static() -> str:
    return str(importlib.resources.files("realtime_agent.web") / "static")


async def _page(request: Request) -> Response:
    return FileResponse(os.path.join(_static(), "index.html"), media_type="text/html")


async def _healthz(request: Request) -> Response:
    web: WebContext = request.app.state.web
    body = {
        "status": "draining" if web.draining else "ok",
        "sessions": len(web.calls),
        "upstream": web.upstream_description,
    }
    return JSONResponse(body, status_code=503 if web.draining else 200)


async def _metrics(request: Request) -> Response:
    web: WebContext = request.app.state.web
    return Response(web.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: WebSettings | None = None,
    *,
    agent: Agent | None = None,
    endpoint_factory: Callable[[], Endpoint] | None = None,
    on_event: EventHook | None = None,
    audio_source: AudioSource | None = None,
) -> Starlette:
    """The web application (ASGI): serve it with uvicorn or any ASGI server.

    ``agent`` overrides ``settings.agent``; ``endpoint_factory`` (a function returning
    an :class:`~realtime_agent.runtime.transport.Endpoint` per call) overrides
    ``settings.upstream``, for Azure or anything else the settings cannot name;
    ``on_event`` sees every event of every call, and the phone's keypad digits
    (:data:`~realtime_agent.web.calls.EventHook`); ``audio_source`` gives the answers of
    ``POST /audio/chat/completions`` (:class:`~realtime_agent.web.agora.AudioSource`),
    overriding ``settings.audio_dir`` and the stand-in model.
    """
    from realtime_agent.web.agora import audio_chat_completions
    from realtime_agent.web.chat import chat_completions
    from realtime_agent.web.relay import relay
    from realtime_agent.web.twilio import twilio_stream, twilio_voice

    settings = settings or WebSettings()
    web = WebContext(
        settings,
        agent=agent,
        endpoint_factory=endpoint_factory,
        on_event=on_event,
        audio_source=audio_source,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with web.running():
            yield
        await web.drain(0)

    routes = [
        Route("/", _page),
        Route("/healthz", _healthz),
        Route("/metrics", _metrics),
        WebSocketRoute("/relay", relay),
        Route("/twilio/voice", twilio_voice, methods=["POST"]),
        WebSocketRoute("/twilio/stream", twilio_stream),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/audio/chat/completions", audio_chat_completions, methods=["POST"]),
        Mount("/static", StaticFiles(directory=_static()), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.web = web
    return app
