"""Your own audio for Agora's Conversational AI Engine: a custom LLM endpoint in Agora's
audio-modalities format, ``POST /audio/chat/completions``, whose answers you make.

Agora's AI Studio calls the endpoint instead of an LLM, TTS off, and plays the audio it
streams back: in the project's custom settings, ``"llm": {"vendor": "custom", "url":
"https://HOST/audio/chat/completions", "api_key": "...", "output_modalities":
["audio"]}``. The answers come from an ``AudioSource``: here ``EchoSource`` says back the
caller's last words in the local stack's voice (espeak-ng with the ``voice`` extra, else
the synthetic voice); ``--dir`` sends fixed files instead, as Agora's own example does
(``file.txt``, the transcript, and ``file.pcm``, pcm16 mono 16 kHz, or ``file.wav``).
Put a TTS service or your own recordings in an ``AudioSource`` of your own the same way.

Run it (the ``web`` extra)::

    python examples/audio_modalities_server.py             # echo, on port 8000
    python examples/audio_modalities_server.py --dir DIR   # DIR/file.txt and DIR/file.pcm

and ask it, as Agora would::

    curl -X POST http://localhost:8000/audio/chat/completions \\
      -H "Content-Type: application/json" \\
      -H "Authorization: Bearer any-api-key" \\
      -d '{
        "messages": [
          {"role": "user", "content": "Please generate an audio response"}
        ],
        "stream": true,
        "modalities": ["text", "audio"]
      }'

Any key is taken unless ``REALTIME_AGENT_HTTP_KEY`` is set (then that one is required).
``--port 0`` takes a free port; the first line printed is always the endpoint's URL.
``--once`` answers one request and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from realtime_agent.server.speech import RATE, default_synthesizer
from realtime_agent.web import WebSettings, create_app
from realtime_agent.web.agora import (
    AudioSource,
    FileSource,
    MessagesRefused,
    SpokenAnswer,
    resample,
)
from realtime_agent.web.serve import DrainingServer, config

PATH = "/audio/chat/completions"


def last_words(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message (a string, or its text parts)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    raise MessagesRefused("there is no user message to answer")


class EchoSource:
    """An ``AudioSource`` that says back the caller's last words."""

    def __init__(self, voice: str = "marin") -> None:
        self.synthesizer = default_synthesizer()
        self.voice = voice

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        text = f"You said: {last_words(messages)}"
        # Synthesis and resampling take CPU: a thread, so that other streams go on.
        return await asyncio.to_thread(self.speak, text, rate)

    def speak(self, text: str, rate: int) -> SpokenAnswer:
        speech = self.synthesizer.synthesize(text, self.voice)  # pcm16 at 24 kHz
        return SpokenAnswer(text, resample(speech.pcm, RATE, rate))


class Once:
    """The app, until its first answer of ``PATH`` has been sent: then the server exits."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.server: uvicorn.Server | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == PATH and self.server is not None:
            self.server.should_exit = True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="answer with DIR/file.txt and file.pcm")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: a free one")
    parser.add_argument("--pacing", choices=["realtime", "instant"], default="realtime")
    parser.add_argument("--once", action="store_true", help="answer one request, then exit")
    args = parser.parse_args(argv)
    if args.dir is not None and not args.dir.is_dir():
        sys.exit(f"audio_modalities_server.py: --dir {args.dir}: no such directory")
    if not 0 <= args.port <= 65535:
        sys.exit(f"audio_modalities_server.py: --port is 0-65535, not {args.port}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one line per request

    source: AudioSource = FileSource(args.dir) if args.dir else EchoSource()
    settings = WebSettings(pacing=args.pacing)  # 16 kHz in 40 ms chunks, Agora's defaults
    app = create_app(settings, audio_source=source)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:  # in use, or no such address: one line
        where = f"{args.host}:{args.port}"
        sys.exit(f"audio_modalities_server.py: cannot listen on {where}: {exc.strerror or exc}")
    sock.listen(128)  # a request sent from now on waits in the backlog until uvicorn runs
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"http://{host}:{sock.getsockname()[1]}{PATH}", flush=True)
    served = Once(app) if args.once else app
    server = DrainingServer(config(served, settings, args.host, args.port), app.state.web)
    if isinstance(served, Once):
        served.server = server
    server.run(sockets=[sock])  # until Ctrl-C or SIGTERM (which drains the streams)


if __name__ == "__main__":
    main()
