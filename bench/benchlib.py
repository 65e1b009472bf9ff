"""What the benches share: the local server in a process of its own, and the machine.

A bench starts :class:`ServerProcess`, which runs this file as ``python bench/benchlib.py
serve ...``: a :class:`LocalRealtimeServer` that prints its URL, serves until its stdin
closes, then prints the events it sent on each connection (as JSON) and exits. The
server works in a process of its own so that the CPU a client process spends is the
client's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from realtime_agent.server import (
    CallTool,
    LocalRealtimeServer,
    Pacing,
    ScriptedResponder,
    SyntheticVoice,
)
from realtime_agent.server.vad import Detector

__all__ = [
    "CLIENT_CPU",
    "SERVER_CPU",
    "ChildServer",
    "ServerProcess",
    "long_reply",
    "machine",
    "pinned",
]

# With two cores or more, the server and the client each get one of their own (Linux):
# no migrations, no cache shared with the other side: steadier figures.
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
CLIENT_CPU = _CPUS[0] if len(_CPUS) >= 2 else None
SERVER_CPU = _CPUS[-1] if len(_CPUS) >= 2 else None


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins a child process to ``cpu`` (None: no pinning)."""
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


_SENTENCE = (
    "The weather in Paris is clear and mild today, with a light breeze from the west "
    "and a high of twenty one degrees. "
)


def long_reply(seconds: float) -> str:
    """Reply text that the server's synthetic voice speaks for about ``seconds``."""
    voice = SyntheticVoice()
    per_sentence = voice.synthesize(_SENTENCE).duration_ms / 1000
    return _SENTENCE * max(1, round(seconds / per_sentence))


def machine() -> str:
    """One line about this machine: CPU model, cores, Python."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    pinning = " (server and client pinned to a core each)" if CLIENT_CPU is not None else ""
    return f"{model}, {os.cpu_count()} cores, {platform.system()}, {python}{pinning}"


class ChildServer:
    """A server in a child process pinned to its core: ``with ChildServer(command) as child``.

    The child prints one line when it listens (``first``), serves until its stdin
    closes, and may print a last line as it ends (``last``, known after the block).
    """

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.first = ""
        self.last = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        """The server process's id."""
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinned(SERVER_CPU),
        )
        assert self._process.stdout is not None
        self.first = self._process.stdout.readline().strip()
        if not self.first:
            self._process.kill()
            self._process.communicate()
            raise RuntimeError(f"the bench server did not start: {' '.join(self.command)}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None
        try:
            output, _ = self._process.communicate(timeout=30)  # closes stdin: it stops
        except subprocess.TimeoutExpired:
            self._process.kill()
            output, _ = self._process.communicate()
        lines = output.strip().splitlines()
        self.last = lines[-1] if lines else ""


class ServerProcess(ChildServer):
    """The local server in a child process: ``with ServerProcess(...) as server: server.url``.

    Modes: ``"reply"`` answers the first response with a call to ``get_weather`` and the
    next with about ``seconds`` of speech, sent as fast as the socket takes it;
    ``"duplex"`` (for many sessions: the cheap mode) answers every response with about
    ``seconds`` of speech paced at real time, and the client is expected to turn the
    server VAD off. ``vad`` picks the server's detector.
    """

    def __init__(self, mode: str = "reply", *, seconds: float = 60.0, vad: str = "energy") -> None:
        args = ["serve", "--mode", mode, "--seconds", str(seconds), "--vad", vad]
        super().__init__([sys.executable, str(Path(__file__)), *args])

    @property
    def url(self) -> str:
        """Where the server listens."""
        return self.first

    @property
    def events_sent(self) -> list[int]:
        """Events sent on each connection, in order (known once the process has ended)."""
        return list(json.loads(self.last)) if self.last else []


async def _serve(mode: str, seconds: float, vad: str) -> None:
    voice = SyntheticVoice()
    text = long_reply(seconds)
    voice.synthesize(text)  # warm the voice's cache: every session shares the one rendering
    if mode == "reply":

        def responder() -> ScriptedResponder:
            return ScriptedResponder([CallTool("get_weather", {"city": "Paris"}), text])

        pacing = Pacing.instant()
    else:

        def responder() -> ScriptedResponder:
            return ScriptedResponder([], exhausted=text)

        pacing = Pacing.realtime()
    detector: Detector = "webrtc" if vad == "webrtc" else "energy"
    server = LocalRealtimeServer(
        responder=responder, synthesizer=voice, pacing=pacing, vad=detector
    )
    async with server:
        print(server.url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
    print(json.dumps([session.events_sent for session in server.sessions]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="the bench server (run by the benches)")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--mode", choices=["reply", "duplex"], default="reply")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--vad", choices=["energy", "webrtc"], default="energy")
    args = parser.parse_args()
    asyncio.run(_serve(args.mode, args.seconds, args.vad))


if __name__ == "__main__":
    main()
