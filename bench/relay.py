"""How many browser calls one relay process carries in real time, against the runtime alone.

Three processes, as in production: N browser-protocol clients (the pages) in one, the
relay (``realtime_agent.web.create_app`` served by uvicorn, one worker) in a second,
pinned to a core of its own, and the local server in a third (cheap: energy VAD, no
speech recognition, one canned answer paced at real time). Each page says hello, then
sends its microphone in real time (20 ms frames of pcm16, 24 kHz unless ``--mic-rate``
says otherwise: at 24 kHz the relay only reframes, at 48 kHz it resamples with soxr as
for most browsers; a synthetic utterance of 1.9 s every 6 s, silence between), plays
what it receives on a simulated clock (as ``tests/web/page_client.py`` does), reports
what it played every 20 ms (as the playback worklet does), and obeys ``clear``. The
server VAD makes the turns; each answer is longer than the rest of the period, so every
turn ends in a barge-in (clear, truncate) and audio flows out two thirds of the time.

The baseline, measured in the same run at the same N: the same workload without the
relay, N ``RealtimeSession`` with a ``ClockSink`` in one process on the relay's core,
straight to the server (what ``many_sessions.py`` measures). The ratio of the two CPU
figures is what the relay costs on top of the runtime it wraps (the browser WebSocket,
uvicorn and Starlette, reframing or resampling, the played reports, the JSON to the
page, the metrics).

For each N of a rising ladder, after a warm-up, over a window of W seconds:

* relay CPU: the relay process's utime + stime (``/proc``) as a share of one core, and
  per session (ms of CPU per second of session);
* loop lag: how late a 10 ms timer fires in the relay's event loop (p99 must stay under
  one frame, 20 ms);
* input lag: how late the pages sent their frames against schedule (p99 under 20 ms)
  and the input rate (at least 0.99): the pages kept up, so the relay got all its work;
* output lag: how late each audio chunk reached a page against the earliest real-time
  schedule of its answer so far (p99 under 40 ms, one server delta: what a page's buffer
  would have to absorb not to run dry);
* no call closed early; the server's and the pages' CPU shares, to show which side
  saturates, and the CPU the rest of the machine used meanwhile (``others``: another
  job on the machine skews every figure).

The knee is the last N that keeps real time. Sessions per core: at the knee, as
extrapolated from the relay's CPU per session (1 / CPU share per session), and the same
for the runtime alone at that N, with the ratio relay / runtime alone. With two cores
the pages share the server's core, which may fill before the relay's: then the knee is
the other side's, and the extrapolation is the relay's figure.

Run: ``python bench/relay.py [--quick] [--window W] [--ladder 10,25,50,...] [--mic-rate R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from benchlib import CLIENT_CPU, SERVER_CPU, ChildServer, long_reply, machine, pinned

from realtime_agent.runtime.agent import Agent

RATE = 24000
FRAME_S = 0.020
PERIOD_S = 6.0  # one utterance per period
UTTERANCE = "What is the weather like in Paris"  # about 1.9 s, no pause long enough to end it
REPLY_S = 2 * PERIOD_S  # longer than the period: every answer is cut by the next turn
JITTER_MS = 20.0  # the relay's default start-up buffer; the baseline gets the same
PROBE_S = 0.010
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
# The pages get a core of their own with three or more; with two they share the server's.
PAGES_CPU = _CPUS[1] if len(_CPUS) >= 3 else SERVER_CPU

AGENT = Agent(name="bench")  # server VAD; no tools, no input transcription


@dataclass(frozen=True)
class Mic:
    """One period of microphone at ``rate``: the utterance, then silence, in 20 ms frames."""

    rate: int
    frames: list[bytes]

    @classmethod
    def make(cls, rate: int) -> Mic:
        import soxr

        from realtime_agent.server.speech import SyntheticVoice

        voice = SyntheticVoice(pitch_hz=210, seed=3)  # not the server's voice
        speech = np.frombuffer(voice.synthesize(UTTERANCE).pcm, dtype="<i2")
        period = np.zeros(int(PERIOD_S * RATE), dtype="<i2")
        period[: len(speech)] = speech[: len(period)]
        if rate != RATE:
            period = np.asarray(soxr.resample(period, RATE, rate), dtype="<i2")
        step = int(FRAME_S * rate)
        return cls(rate, [period[i : i + step].tobytes() for i in range(0, len(period), step)])


# --- what the client processes measure ----------------------------------------------------


@dataclass
class Window:
    """The measured span, in loop time (monotonic: the same clock in every process)."""

    start: float = math.inf
    end: float = math.inf

    def __contains__(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass
class Figures:
    """Every session's figures in one client process, over the window."""

    window: Window = field(default_factory=Window)
    input_late: list[float] = field(default_factory=list)
    output_late: list[float] = field(default_factory=list)
    frames: int = 0
    turns: int = 0
    closed: int = 0  # sessions that ended before the bench ended them

    def summary(self, sessions: int, window: float) -> dict[str, Any]:
        return {
            "input_late_p99": _p99(self.input_late),
            "output_late_p99": _p99(self.output_late),
            "output_late_max": max(self.output_late, default=0.0),
            "input_rate": self.frames / (sessions * window / FRAME_S),
            "turns": self.turns,
            "closed": self.closed,
        }


def _p99(values: list[float]) -> float:
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


@dataclass
class Answer:
    """Output lag: how late each chunk of an answer arrives against real time, from the
    earliest schedule its chunks so far allow (what a page's buffer would have to absorb)."""

    figures: Figures
    anchor: float | None = None  # loop time at which the answer's sample 0 was due, at best
    samples: int = 0

    def restart(self) -> None:
        """A new answer (or a clear): a new schedule."""
        self.anchor = None
        self.samples = 0

    def chunk(self, samples: int, now: float) -> None:
        due = now - self.samples / RATE  # when sample 0 was due, judging by this chunk
        if self.anchor is None:
            self.anchor = due
        else:
            self.anchor = min(self.anchor, due)
            if now in self.figures.window:
                self.figures.output_late.append(due - self.anchor)
        self.samples += samples


async def paced(
    mic: Mic,
    phase: float,
    figures: Figures,
    stop: asyncio.Event,
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    """Send the microphone at real time from ``phase`` s into its period until ``stop``,
    noting how late each frame left. Calls connected together do not tick together: the
    first frame waits for the phase's fraction of a frame."""
    loop = asyncio.get_running_loop()
    due = loop.time() + phase % FRAME_S
    index = int(phase / FRAME_S)
    await asyncio.sleep(max(0.0, due - loop.time()))
    while not stop.is_set():
        now = loop.time()
        if now in figures.window:
            figures.input_late.append(now - due)
            figures.frames += 1
        await send(mic.frames[index % len(mic.frames)])
        index += 1
        due += FRAME_S
        await asyncio.sleep(max(0.0, due - loop.time()))  # the microphone's own clock


@dataclass
class Player:
    """The page's audio output: plays what it got at 24 kHz from when it got it."""

    clock: float = 0.0  # loop time up to which ``played`` is exact
    queued: int = 0
    played: int = 0  # in this epoch

    def advance(self, now: float) -> None:
        due = int((now - self.clock) * RATE)
        step = min(due, self.queued)
        self.played += step
        self.queued -= step
        self.clock = now if step == due or self.queued == 0 else self.clock + step / RATE

    def add(self, samples: int, now: float) -> None:
        self.advance(now)
        if self.queued == 0:
            self.clock = now  # a new start after silence
        self.queued += samples

    def clear(self, now: float) -> None:
        self.advance(now)
        self.queued = 0
        self.played = 0


async def page(
    url: str,
    mic: Mic,
    phase: float,
    figures: Figures,
    ready: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """One browser call over the relay protocol, until ``stop``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    player = Player()
    answer = Answer(figures)
    epoch = 0
    async with connect(url, max_size=None, open_timeout=120) as ws:
        await ws.send(json.dumps({"type": "hello", "rate": mic.rate}))
        reply = json.loads(await ws.recv())
        ready()
        if reply.get("type") != "ready":
            figures.closed += 1
            return

        async def receive() -> None:
            nonlocal epoch
            with contextlib.suppress(ConnectionClosed):
                async for data in ws:
                    now = loop.time()
                    if isinstance(data, bytes):
                        player.add(len(data) // 2, now)
                        answer.chunk(len(data) // 2, now)
                        continue
                    message = json.loads(data)
                    kind = message.get("type")
                    if kind == "clear":
                        player.clear(now)
                        epoch = message["epoch"]
                        answer.restart()
                    elif kind == "response_start":
                        answer.restart()
                        figures.turns += now in figures.window
                    elif kind == "closed":
                        break
            if not stop.is_set():
                figures.closed += 1

        last = 0

        async def send(frame: bytes) -> None:
            nonlocal last
            await ws.send(frame)
            player.advance(loop.time())
            if player.played != last:  # the playback worklet reports about every 21 ms
                last = player.played
                await ws.send(json.dumps({"type": "played", "epoch": epoch, "samples": last}))

        async with asyncio.TaskGroup() as group:
            receiving = group.create_task(receive())
            with contextlib.suppress(ConnectionClosed):
                await paced(mic, phase, figures, stop, send)
            await ws.close()
            await receiving


async def runtime_session(
    url: str,
    mic: Mic,
    phase: float,
    figures: Figures,
    ready: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """The baseline: one RealtimeSession with a ClockSink, the same microphone."""
    from realtime_agent.audio.sinks import ClockSink
    from realtime_agent.protocol import events as app
    from realtime_agent.runtime import connect

    loop = asyncio.get_running_loop()
    answer = Answer(figures)
    session = connect(AGENT, url=url, audio_out=ClockSink(), jitter_ms=JITTER_MS, open_timeout=120)
    async with session as live:
        ready()

        async def consume() -> None:
            async for event in live:
                now = loop.time()
                match event:
                    case app.AudioDelta(audio=audio):
                        answer.chunk(len(audio) // 2, now)
                    case app.AgentStart():
                        answer.restart()
                        figures.turns += now in figures.window
                    case app.AudioInterrupted():
                        answer.restart()
                    case app.Closed():
                        if not stop.is_set():
                            figures.closed += 1
                        return
                    case _:
                        pass

        async with asyncio.TaskGroup() as group:
            consuming = group.create_task(consume())
            await paced(mic, phase, figures, stop, live.send_audio)
            consuming.cancel()


Client = Callable[
    [str, Mic, float, Figures, Callable[[], None], asyncio.Event],
    Coroutine[Any, Any, None],
]


async def run_clients(
    client: Client, mic: Mic, url: str, sessions: int, warmup: float, window: float
) -> dict[str, Any]:
    """N clients; the window starts ``warmup`` s after the last one is connected."""
    loop = asyncio.get_running_loop()
    phases = np.random.default_rng(7).random(sessions) * PERIOD_S
    figures = Figures()
    stop = asyncio.Event()
    connected = asyncio.Event()
    count = 0

    def ready() -> None:
        nonlocal count
        count += 1
        if count == sessions:
            connected.set()

    async with asyncio.TaskGroup() as group:
        for phase in phases:
            group.create_task(client(url, mic, float(phase), figures, ready, stop))
        await connected.wait()
        figures.window.start = loop.time() + warmup
        figures.window.end = figures.window.start + window
        await asyncio.sleep(warmup)  # the bench's own clock, not a sync
        print("window", flush=True)  # the bench samples the processes' CPU at these marks
        await asyncio.sleep(max(0.0, figures.window.end - loop.time()))
        print("end", flush=True)
        stop.set()
    return figures.summary(sessions, window)


# --- the server process --------------------------------------------------------------------


async def serve_upstream() -> None:
    """The local server, cheap: energy VAD, no recognition (a response would wait for its
    words), one canned answer of ``REPLY_S`` paced at real time; prints its URL and serves
    until stdin closes."""
    from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder
    from realtime_agent.server.speech import SyntheticVoice

    voice = SyntheticVoice()
    text = long_reply(REPLY_S)
    voice.synthesize(text)  # warm the voice's cache: every session shares the one rendering

    def responder() -> ScriptedResponder:
        return ScriptedResponder([], exhausted=text)

    server = LocalRealtimeServer(
        responder=responder,
        synthesizer=voice,
        recognizer="off",
        pacing=Pacing.realtime(),
        vad="energy",
        max_connections=None,
        keep_sessions=False,
    )
    async with server:
        print(server.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def upstream() -> ChildServer:
    """The server process, pinned to its core: ``with upstream() as server: server.first``."""
    return ChildServer([sys.executable, __file__, "--role", "server"])


# --- the relay process ---------------------------------------------------------------------


async def serve_relay(upstream: str) -> None:
    """Serve the relay; print its URL; on a line "t0 t1" from stdin, stop and print the
    loop lag between those monotonic times."""
    from realtime_agent.web import WebSettings, create_app
    from realtime_agent.web.serve import DrainingServer, config

    settings = WebSettings(
        insecure=True, upstream=upstream, max_sessions=100_000, jitter_ms=JITTER_MS
    )
    app = create_app(settings, agent=AGENT)
    server = DrainingServer(config(app, settings, "127.0.0.1", 0), app.state.web)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # listening before uvicorn starts: early pages wait in the backlog
    print(f"ws://127.0.0.1:{sock.getsockname()[1]}/relay", flush=True)
    loop = asyncio.get_running_loop()
    lags: list[tuple[float, float]] = []

    async def probe() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_S)
            lags.append((before, loop.time() - before - PROBE_S))

    async with asyncio.TaskGroup() as group:
        serving = group.create_task(server.serve(sockets=[sock]))
        probing = group.create_task(probe())
        line = await loop.run_in_executor(None, sys.stdin.readline)
        server.should_exit = True
        await serving
        probing.cancel()
    sock.close()
    start, end = (float(x) for x in line.split())
    within = [lag for at, lag in lags if start <= at < end]
    print(json.dumps({"lag_p99": _p99(within), "lag_max": max(within, default=math.inf)}))


# --- the bench -----------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (Linux); 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def busy_ticks() -> int:
    """The whole machine's busy time (every core, every process, and what the hypervisor
    took), in clock ticks."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + steal  # not irq, softirq: our own loopback traffic


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]


def clients(
    role: str,
    url: str,
    sessions: int,
    warmup: float,
    window: float,
    watched: dict[str, int],
    mic_rate: int = RATE,
) -> dict[str, Any]:
    """Run a client process (pinned as ``role`` says); CPU shares of it and ``watched``."""
    command = [sys.executable, __file__, "--role", role, "--url", url, "--sessions", str(sessions)]
    command += ["--warmup", str(warmup), "--window", str(window), "--mic-rate", str(mic_rate)]
    cpu = PAGES_CPU if role == "pages" else CLIENT_CPU
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, preexec_fn=pinned(cpu)
        )
        assert process.stdout is not None
        pids = {**watched, role: process.pid}
        marks: list[tuple[float, dict[str, int]]] = []
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.strip() in ("window", "end"):
                ticks = {k: cpu_ticks(p) for k, p in pids.items()}
                marks.append((time.monotonic(), {**ticks, "machine": busy_ticks()}))
        process.wait()
        if process.returncode != 0 or len(marks) != 2:
            raise RuntimeError(f"{role} failed with {sessions} sessions:\n{_tail(errors)}")
    figures: dict[str, Any] = json.loads(lines[-1])
    (t0, ticks0), (t1, ticks1) = marks
    for name in [*pids, "machine"]:
        figures[f"{name}_cpu"] = (ticks1[name] - ticks0[name]) / TICKS / (t1 - t0)
    # What the rest of the machine did meanwhile (another job's CPU skews every figure).
    # Rough: /proc/stat samples ticks, a process's times are exact; a few % either way.
    ours = sum(figures[f"{n}_cpu"] for n in pids)
    figures["others_cpu"] = max(0.0, figures["machine_cpu"] - ours)
    figures["marks"] = (t0, t1)
    return figures


def relay_step(sessions: int, warmup: float, window: float, mic_rate: int) -> dict[str, Any]:
    """N pages through the relay to the server."""
    with (
        upstream() as server,
        tempfile.TemporaryFile() as errors,
    ):
        command = [sys.executable, __file__, "--role", "relay", "--url", server.first]
        relay = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            preexec_fn=pinned(CLIENT_CPU),
        )
        assert relay.stdout is not None
        url = relay.stdout.readline().strip()
        try:
            if not url:
                raise RuntimeError(f"the relay did not start:\n{_tail(errors)}")
            watched = {"relay": relay.pid, "server": server.pid}
            figures = clients("pages", url, sessions, warmup, window, watched, mic_rate)
            t0, t1 = figures["marks"]
            output, _ = relay.communicate(f"{t0} {t1}\n", timeout=60)
        finally:
            if relay.poll() is None:
                relay.kill()
                relay.communicate()
        if relay.returncode != 0:
            raise RuntimeError(f"the relay failed with {sessions} sessions:\n{_tail(errors)}")
    figures.update(json.loads(output.strip().splitlines()[-1]))
    return figures


def runtime_step(sessions: int, warmup: float, window: float) -> dict[str, Any]:
    """The baseline: N RealtimeSessions straight to the server, on the relay's core."""
    with upstream() as server:
        return clients("runtime", server.first, sessions, warmup, window, {"server": server.pid})


def verdict(f: dict[str, Any]) -> str:
    """Empty if the step kept real time, else what broke (and whether the relay's core or
    the other side was full)."""
    broken = []
    if f["lag_p99"] >= FRAME_S:
        broken.append("relay loop lag")
    if f["input_late_p99"] >= FRAME_S or f["input_rate"] < 0.99:
        broken.append("pages' input")
    if f["output_late_p99"] >= 2 * FRAME_S:
        broken.append("output lag")
    if f["closed"]:
        broken.append(f"{f['closed']} calls closed")
    if broken and PAGES_CPU == SERVER_CPU:
        broken.append(f"server + pages: {f['server_cpu'] + f['pages_cpu']:.0%} of their core")
    return ", ".join(broken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short ladder (smoke)")
    parser.add_argument("--ladder", default="10,25,50,75,100,150")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--mic-rate", type=int, default=RATE, help="the pages' microphone rate")
    parser.add_argument(
        "--role", choices=["server", "relay", "pages", "runtime"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        asyncio.run(serve_upstream())
        return
    if args.role == "relay":
        asyncio.run(serve_relay(args.url))
        return
    if args.role is not None:
        client = page if args.role == "pages" else runtime_session
        mic = Mic.make(args.mic_rate if args.role == "pages" else RATE)  # the runtime's: 24 kHz
        figures = asyncio.run(
            run_clients(client, mic, args.url, args.sessions, args.warmup, args.window)
        )
        print(json.dumps(figures))
        return
    ladder = [5, 20] if args.quick else [int(n) for n in args.ladder.split(",")]
    warmup, window = (2.0, 2.0) if args.quick else (args.warmup, args.window)
    print(f"machine: {machine()}")
    shared = " (sharing the server's core)" if PAGES_CPU == SERVER_CPU else ""
    print(
        f"window {window:g} s after {warmup:g} s of warm-up; relay pinned to a core; "
        f"pages in one process{shared}, mic at {args.mic_rate / 1000:g} kHz;"
        f" a turn every {PERIOD_S:g} s per call, each a barge-in"
    )
    header = f"{'sessions':>8} {'relay CPU':>9} {'ms CPU/s':>8} {'loop p99':>8} {'in p99':>7}"
    header += f" {'out p99':>7} {'turns':>5} {'server':>6} {'pages':>5} {'others':>6}"
    print(f"{header} {'alone ms/s':>10} {'ratio':>5}  ok")
    knee: tuple[int, dict[str, Any], dict[str, Any]] | None = None
    for sessions in ladder:
        f = relay_step(sessions, warmup, window, args.mic_rate)
        broken = verdict(f)
        alone = None if broken else runtime_step(sessions, warmup, window)
        relay_ms = f["relay_cpu"] / sessions * 1000
        others = max(f["others_cpu"], alone["others_cpu"] if alone else 0.0)
        row = (
            f"{sessions:>8} {f['relay_cpu']:>8.0%} {relay_ms:>8.2f} {f['lag_p99'] * 1000:>6.1f}ms"
            f" {f['input_late_p99'] * 1000:>5.1f}ms {f['output_late_p99'] * 1000:>5.1f}ms"
            f" {f['turns']:>5} {f['server_cpu']:>5.0%} {f['pages_cpu']:>5.0%} {others:>5.0%}"
        )
        if alone is None:
            print(f"{row} {'-':>10} {'-':>5}  NO: {broken}", flush=True)
            break
        alone_ms = alone["runtime_cpu"] / sessions * 1000
        late = "" if alone["input_late_p99"] < FRAME_S else " (the runtime alone was late)"
        print(f"{row} {alone_ms:>10.2f} {relay_ms / alone_ms:>4.1f}x  yes{late}", flush=True)
        knee = (sessions, f, alone)
    if knee is None:
        print("no step kept real time")
        return
    sessions, f, alone = knee
    label = "knee" if sessions != ladder[-1] else "no step failed; the last"
    relay_share = f["relay_cpu"] / sessions
    alone_share = alone["runtime_cpu"] / sessions
    print(
        f"{label}: {sessions} browser calls kept real time through one relay core"
        f" ({f['relay_cpu']:.0%} of it; {relay_share * 1000:.2f} ms CPU per session-second);"
        f" by CPU per session, {1 / relay_share:.0f} sessions per core; the runtime alone,"
        f" same workload: {alone_share * 1000:.2f} ms ({1 / alone_share:.0f} per core);"
        f" relay / runtime alone: {relay_share / alone_share:.1f}x"
    )


if __name__ == "__main__":
    main()
