"""What a web server runs with: :class:`WebSettings` (plain, picklable: each worker
process gets a copy) and the secrets, which are read from the environment in each
process and never pickled, logged or shown.
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from realtime_agent.redact import Secret
from realtime_agent.runtime.agent import Agent

__all__ = ["WebSettings", "load_agent"]

SECRET_ENV = "REALTIME_AGENT_WEB_SECRET"
"""The environment variable that holds the browser tokens' signing secret."""
TWILIO_ENV = "TWILIO_AUTH_TOKEN"
"""The environment variable that holds the Twilio account's auth token."""
HTTP_KEY_ENV = "REALTIME_AGENT_HTTP_KEY"
"""The environment variable that holds the key the HTTP audio endpoints ask for
(``Authorization: Bearer <key>``); unset: any bearer is taken."""


@dataclass(frozen=True)
class WebSettings:
    """How ``realtime-agent web`` (or :func:`realtime_agent.web.create_app`) serves.

    Attributes:
        agent: ``"module:attribute"`` naming an :class:`~realtime_agent.Agent` (or a
            function returning one); ``None``: the demo agent with its weather tool.
        upstream: a Realtime URL (``ws://``/``wss://``; ``OPENAI_API_KEY`` is sent if
            set); ``None``: OpenAI when ``OPENAI_API_KEY`` is set, else a local Realtime
            server embedded in each worker.
        insecure: turn off the browser token and Twilio signature checks (local
            development only).
        allowed_origins: browser origins allowed besides the page's own (``"*"``: any).
        public_url: the server's public base URL (``https://voice.example.com``), as
            Twilio reaches it: the TwiML's stream URL and the signatures use it. ``None``:
            taken from each request's Host (right without a rewriting proxy).
        max_frame_bytes: the largest WebSocket message a client may send.
        max_sessions: conversations one worker carries at once; more are refused (1013).
        audio_rate_factor: how much faster than real time a client may send audio.
        control_rate: control messages per second a client may send (bursts of 4x).
        drain_timeout: on SIGTERM, how long live calls may go on before they are closed.
        jitter_ms: the playout's start-up buffer for the far end (which buffers too).
        pacing: the embedded local server's pacing (``"realtime"``, ``"instant"``), and
            the HTTP audio endpoints' (their audio streams at this pace).
        audio_dir: where ``POST /audio/chat/completions`` takes its answers from (see
            :class:`~realtime_agent.web.agora.FileSource`); ``None``: the stand-in model
            speaks its answer.
        audio_sample_rate: the rate of that endpoint's pcm16 (Agora's default 16 kHz).
        audio_chunk_ms: the duration of each of its audio chunks (Agora's default 40 ms).
    """

    agent: str | None = None
    upstream: str | None = None
    insecure: bool = False
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None
    max_frame_bytes: int = 64 * 1024
    max_sessions: int = 200
    audio_rate_factor: float = 2.0
    control_rate: float = 50.0
    drain_timeout: float = 30.0
    jitter_ms: float = 20.0
    pacing: str = "realtime"
    audio_dir: str | None = None
    audio_sample_rate: int = 16000
    audio_chunk_ms: int = 40
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Raises ValueError, naming the option, for a value it cannot serve with."""
        if not 8000 <= self.audio_sample_rate <= 48000:
            raise ValueError(
                f"audio_sample_rate (--audio-rate) is 8000-48000 Hz, not {self.audio_sample_rate}"
            )
        if not 10 <= self.audio_chunk_ms <= 1000:
            raise ValueError(
                f"audio_chunk_ms (--audio-chunk-ms) is 10-1000, not {self.audio_chunk_ms}"
            )
        if not 0 <= self.drain_timeout < math.inf:  # NaN fails too
            raise ValueError(
                f"drain_timeout (--drain-timeout) is 0 or more seconds, not {self.drain_timeout}"
            )
        if self.public_url is not None:
            url = urlsplit(self.public_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError(
                    "public_url (--public-url) is the base URL Twilio reaches, "
                    f"https://host, not {self.public_url!r}"
                )

    def secret(self) -> Secret | None:
        """The token secret (``REALTIME_AGENT_WEB_SECRET``), if set."""
        value = os.environ.get(SECRET_ENV)
        return Secret(value) if value else None

    def twilio_auth_token(self) -> Secret | None:
        """The Twilio auth token (``TWILIO_AUTH_TOKEN``), if set."""
        value = os.environ.get(TWILIO_ENV)
        return Secret(value) if value else None

    def http_key(self) -> Secret | None:
        """The HTTP audio endpoints' key (``REALTIME_AGENT_HTTP_KEY``), if set."""
        value = os.environ.get(HTTP_KEY_ENV)
        return Secret(value) if value else None


def load_agent(spec: str | None) -> Agent:
    """The agent ``"module:attribute"`` names (an Agent, or a callable returning one).

    Raises ValueError with one line saying what is wrong.
    """
    if spec is None:
        from realtime_agent.demo import AGENT

        return AGENT
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--agent takes module:attribute, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--agent {spec}: cannot import {module_name}: {exc}") from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"--agent {spec}: {module_name} has no {attribute}") from None
    if callable(found) and not isinstance(found, Agent):
        found = found()
    if not isinstance(found, Agent):
        raise ValueError(f"--agent {spec} is a {type(found).__name__}, not an Agent")
    return found
