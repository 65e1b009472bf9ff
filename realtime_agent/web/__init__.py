"""The web server: a voice page, a browser relay, a Twilio phone bridge, health and metrics.

One Starlette application (:func:`create_app`), served by uvicorn
(``realtime-agent web``, :func:`realtime_agent.web.serve.run`) or any ASGI server:

* ``GET /``: the voice page; ``WS /relay``: the browser relay (:mod:`.relay` documents
  its protocol);
* ``POST /twilio/voice``: the TwiML webhook; ``WS /twilio/stream``: Twilio Media Streams
  (:mod:`.twilio`);
* ``POST /v1/chat/completions``: spoken or written Chat Completions as OpenAI's API
  answers them (:mod:`.chat`); ``POST /audio/chat/completions``: Agora's
  audio-modalities format (:mod:`.agora`);
* ``GET /healthz`` (503 while draining) and ``GET /metrics`` (Prometheus).

Needs the ``web`` extra: ``pip install 'realtime-agent[web]'``.
"""

from __future__ import annotations

from realtime_agent.web.app import WebContext, create_app
from realtime_agent.web.auth import mint_token, verify_token
from realtime_agent.web.calls import DtmfPressed, EventHook
from realtime_agent.web.settings import WebSettings

__all__ = [
    "DtmfPressed",
    "EventHook",
    "WebContext",
    "WebSettings",
    "create_app",
    "mint_token",
    "verify_token",
]
