"""``realtime-agent chat-audio "prompt" --out reply.wav``: a spoken answer into a WAV.

Where it asks: ``--url`` when given; else OpenAI when ``OPENAI_API_KEY`` is set; else
the local stack, served in this process on loopback (:mod:`realtime_agent.http.local`:
the stand-in model and voices, offline). It prints the transcript as it streams
(stdout), the seconds of audio received (stderr: in place on a terminal, one final line
otherwise), and last the WAV's path, duration and size (stdout).

Exit status: 0 done, 1 the answer failed (refused, unreachable, cut off: one line says
why; the WAV keeps what came), 2 a bad invocation or a missing extra (one line), 130
interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from realtime_agent.errors import LocalProtocolError
from realtime_agent.http.chunks import AudioPiece, ChatAudioPiece
from realtime_agent.http.client import DEFAULT_MODEL
from realtime_agent.http.errors import ChatAudioError
from realtime_agent.http.wav import ChatAudioResult, write_chat_audio

__all__ = ["ChatAudioOptions", "Progress", "run_chat_audio"]

PROG = "realtime-agent chat-audio"
AGORA_PATH = "/audio/chat/completions"
"""An endpoint in Agora's format: its audio is 16 kHz (OpenAI's and ours: 24 kHz)."""


@dataclass(frozen=True)
class ChatAudioOptions:
    """What ``chat-audio`` was asked."""

    prompt: str
    out: Path
    voice: str = "alloy"
    model: str = DEFAULT_MODEL
    system: str | None = None
    url: str | None = None
    sample_rate: int | None = None
    """The pcm16's rate (None: 16000 for an Agora endpoint, else 24000)."""
    timeout: float = 60.0
    fast: bool = False
    """The local stack streams as fast as it can instead of in real time (for tests)."""

    def problem(self) -> str | None:
        """What is wrong with the options (one line), or None."""
        if not self.prompt.strip():
            return "the prompt is empty: say what to ask, e.g. chat-audio 'Tell me a joke'"
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            return f"--url is an http:// or https:// URL, not {self.url!r}"
        if self.out.is_dir():
            return f"--out {self.out} is a directory: name the WAV file to write"
        if not self.out.parent.is_dir():
            return f"--out {self.out}: no such directory {self.out.parent}"
        if self.sample_rate is not None and not 1000 <= self.sample_rate <= 384000:
            return f"--sample-rate is 1000-384000 Hz, not {self.sample_rate}"
        if self.timeout <= 0:
            return f"--timeout is a positive number of seconds, not {self.timeout:g}"
        return None

    @property
    def rate(self) -> int:
        """The pcm16's rate."""
        if self.sample_rate is not None:
            return self.sample_rate
        agora = self.url is not None and urlsplit(self.url).path.rstrip("/").endswith(AGORA_PATH)
        return 16000 if agora else 24000


class Progress:
    """The transcript on ``out`` as it streams, and the seconds of audio received on
    ``err``: updated in place when ``err`` is a terminal (after the transcript's cursor
    when ``out`` is the same terminal), else written once, at the end."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.tty = err.isatty()
        self.shared = self.tty and out.isatty()
        self.seconds = 0.0
        self.wrote_text = False
        self.failed = False
        """Set when the stream failed (before :meth:`finish`)."""
        self._shown = False

    def text(self, piece: str) -> None:
        """A transcript piece came."""
        if self._shown and self.shared:
            self.err.write("\x1b[K")  # the figure after the cursor: cleared for the words
            self.err.flush()
        self.out.write(piece)
        self.out.flush()
        self.wrote_text = True

    def audio(self, seconds: float) -> None:
        """``seconds`` more audio came."""
        self.seconds += seconds
        if not self.tty:
            return
        if self.shared:  # after the transcript, the cursor kept where the words go on
            self.err.write(f"\x1b7  [{self.seconds:.1f} s of audio]\x1b[K\x1b8")
        else:
            self.err.write(f"\r{self.seconds:.1f} s of audio received\x1b[K")
        self.err.flush()
        self._shown = True

    def finish(self) -> None:
        """The stream ended, or failed: the transcript's line ends, and the figure is
        written a last time (not at all when no audio came before a failure)."""
        if self._shown and self.shared:
            self.err.write("\x1b[K")
            self.err.flush()
        if self.wrote_text:
            self.out.write("\n")
            self.out.flush()
        if self.seconds or not self.failed:
            line = f"{self.seconds:.1f} s of audio received"
            self.err.write(f"\r{line}\x1b[K\n" if self._shown and not self.shared else f"{line}\n")
            self.err.flush()


class _Refused(Exception):
    """The command cannot run: ``message`` (one line), exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def run_chat_audio(
    options: ChatAudioOptions, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command (see the module docstring); return its exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    progress = Progress(out, err)
    try:
        problem = options.problem()
        if problem is not None:
            raise _Refused(problem, 2)
        try:  # here, for a one-line refusal before the local stack starts (in a thread: ~0.1 s)
            await asyncio.to_thread(importlib.import_module, "httpx2")
        except ImportError:
            raise _Refused("needs the http extra: pip install 'realtime-agent[http]'", 2) from None
        async with contextlib.AsyncExitStack() as stack:
            url, key = await _endpoint(options, stack, err)
            try:
                progress.failed = True  # until the answer is whole
                result = await _answer(options, url, key, progress)
                progress.failed = False
            except ChatAudioError as exc:
                raise _Refused(f"{exc}{_kept(options.out, progress)}", 1) from None
            except LocalProtocolError as exc:
                raise _Refused(str(exc), 2) from None
            except OSError as exc:
                raise _Refused(f"cannot write {options.out}: {exc.strerror or exc}", 2) from None
            finally:
                progress.finish()
    except _Refused as refused:
        err.write(f"{PROG}: {' '.join(str(refused).split())}\n")
        err.flush()
        return refused.status
    for call in result.tool_calls:
        out.write(f"tool call: {call.name}({call.arguments})\n")
    if result.finish_reason not in (None, "stop", "tool_calls"):
        err.write(f"the answer ended early: finish_reason {result.finish_reason}\n")
    size = result.path.stat().st_size
    out.write(f"{result.path}: {result.duration_s:.2f} s of audio, {size} bytes\n")
    out.flush()
    return 0


async def _endpoint(
    options: ChatAudioOptions, stack: contextlib.AsyncExitStack, err: TextIO
) -> tuple[str | None, str | None]:
    """Where to ask, and with which key: --url, OpenAI, or the local stack started on
    ``stack``. Raises _Refused without the web extra, or if the local stack fails."""
    if options.url is not None:
        err.write(f"asking {urlsplit(options.url).netloc}\n")
        return options.url, (
            os.environ.get("OPENAI_API_KEY") or os.environ.get("REALTIME_AGENT_HTTP_KEY")
        )
    if os.environ.get("OPENAI_API_KEY"):
        err.write(f"asking OpenAI ({options.model})\n")
        return None, None  # the client's default: OpenAI, with OPENAI_API_KEY
    try:
        from realtime_agent.http.local import local_stack
        from realtime_agent.web.settings import HTTP_KEY_ENV, WebSettings
    except ImportError as exc:
        raise _Refused(
            "the local stack needs the web extra (pip install 'realtime-agent[web]'), or set "
            f"OPENAI_API_KEY: {exc}",
            2,
        ) from None
    settings = WebSettings(pacing="instant" if options.fast else "realtime")
    try:
        base = await stack.enter_async_context(local_stack(settings))
    except RuntimeError as exc:
        raise _Refused(str(exc), 1) from None
    err.write("asking the local stack: the stand-in model (set OPENAI_API_KEY for OpenAI's)\n")
    err.flush()
    return base + "/v1/chat/completions", os.environ.get(HTTP_KEY_ENV)


async def _answer(
    options: ChatAudioOptions, url: str | None, key: str | None, progress: Progress
) -> ChatAudioResult:
    from realtime_agent.http.client import stream_chat_audio

    messages = [{"role": "user", "content": options.prompt}]
    if options.system:
        messages.insert(0, {"role": "system", "content": options.system})
    pieces = stream_chat_audio(
        messages,
        model=options.model,
        voice=options.voice,
        url=url,
        api_key=key,
        timeout=options.timeout,
    )
    rate = options.rate

    async def counted() -> AsyncGenerator[ChatAudioPiece, None]:
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                if isinstance(piece, AudioPiece):
                    progress.audio(len(piece.pcm) / 2 / rate)
                yield piece

    async with contextlib.aclosing(counted()) as stream:
        return await write_chat_audio(
            stream, options.out, sample_rate=rate, on_transcript=progress.text
        )


def _kept(path: Path, progress: Progress) -> str:
    """What the WAV kept of a stream that failed midway."""
    if progress.seconds and path.is_file():
        return f" ({path} has the {progress.seconds:.1f} s received)"
    return ""
