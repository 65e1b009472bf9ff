"""How many full-duplex sessions one client process carries in real time.

N concurrent sessions in one client process (one core: asyncio is single-threaded)
against the local server in another process. Each session is full duplex, as a phone
bridge's would be: 20 ms frames of 24 kHz pcm16 go out at real time from an
``ArraySource`` (``send_audio``), and one long spoken answer comes in at real time
(40 ms deltas with transcript deltas) into the default ``ClockSink`` playout; every
application event is consumed. The server runs in its cheap mode (``benchlib``
"duplex": no VAD, the client's turn detection off, canned speech).

For each N of a rising ladder, after a warm-up, over a window of W seconds:

* playout underruns: times a session's playout ran dry mid-answer (must be 0);
* input lag: how late the frames left the ``ArraySource`` against their schedule
  (p99 must stay under one frame, 20 ms) and the input rate (frames sent against
  real time: at least 0.99);
* client CPU: the process's CPU time over the window, as a share of one core, and
  per session (ms of CPU per second of session); the server's share too, to show
  which side saturates.

The knee is the last N that keeps real time. Sessions per core: at the knee, and as
extrapolated from the CPU per session (1 / CPU share per session).

Run: ``python bench/many_sessions.py [--quick] [--window W] [--ladder 50,100,...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import CLIENT_CPU, ServerProcess, machine, pinned

FRAME_S = 0.020
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- the client process --------------------------------------------------------------------


@dataclass
class Lane:
    """One session's figures."""

    late: list[float] = field(default_factory=list)  # s late, per frame in the window
    frames: int = 0
    events: int = 0
    underruns: tuple[int, int] = (0, 0)  # at the window's start and end


async def session(url: str, audio: bytes, lane: Lane, window: tuple[float, float]) -> None:
    from realtime_agent.audio.sinks import ClockSink
    from realtime_agent.audio.sources import ArraySource
    from realtime_agent.runtime import Agent, connect

    loop = asyncio.get_running_loop()
    sink = ClockSink()
    agent = Agent(turn_detection=None)
    async with connect(agent, url=url, audio_out=sink, open_timeout=60) as live:
        await live.send_text("Talk to me for a while.")

        async def consume() -> None:
            async for _ in live:
                lane.events += 1

        consumer = loop.create_task(consume())
        start, end = window
        first: float | None = None
        async for index, frame in _enumerate(ArraySource(audio, realtime=True)):
            now = loop.time()
            first = now if first is None else first
            if now >= end:
                break
            if now >= start:
                if not lane.frames:
                    lane.underruns = (sink.underruns, sink.underruns)
                lane.late.append(now - (first + index * FRAME_S))
                lane.frames += 1
            await live.send_audio(frame)
        lane.underruns = (lane.underruns[0], sink.underruns)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer


async def _enumerate(source: AsyncIterable[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    index = 0
    async for frame in source:
        yield index, frame
        index += 1


async def run_client(url: str, sessions: int, warmup: float, window: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    seconds = warmup + window + 1
    rng = np.random.default_rng(7)
    audio = (rng.normal(0, 2000, int(24000 * seconds))).astype("<i2").tobytes()
    start = loop.time() + warmup
    lanes = [Lane() for _ in range(sessions)]
    tasks = [loop.create_task(session(url, audio, lane, (start, start + window))) for lane in lanes]
    await asyncio.sleep(max(0.0, start - loop.time()))  # the bench's own clock, not a sync
    print("window", flush=True)  # the bench samples the server's CPU at these marks
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, start + window - loop.time()))
    cpu = time.process_time() - cpu0
    print("end", flush=True)
    await asyncio.gather(*tasks)
    late = sorted(x for lane in lanes for x in lane.late)
    frames = sum(lane.frames for lane in lanes)
    return {
        "cpu": cpu / window,
        "underruns": sum(lane.underruns[1] - lane.underruns[0] for lane in lanes),
        "late_p99": late[int(0.99 * (len(late) - 1))] if late else math.inf,
        "late_max": late[-1] if late else math.inf,
        "input_rate": frames / (sessions * window / FRAME_S),
        "events": sum(lane.events for lane in lanes),
    }


# --- the bench -----------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (Linux); 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def step(sessions: int, warmup: float, window: float) -> dict[str, Any]:
    speech = warmup + window + 30
    with ServerProcess("duplex", seconds=speech) as server:
        command = [sys.executable, __file__, "--client", str(sessions), "--url", server.url]
        command += ["--warmup", str(warmup), "--window", str(window)]
        client = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=pinned(CLIENT_CPU),
        )
        assert client.stdout is not None
        marks: list[tuple[float, int]] = []
        lines = []
        for line in client.stdout:
            lines.append(line)
            if line.strip() in ("window", "end"):
                marks.append((time.monotonic(), cpu_ticks(server.pid)))
        _, errors = client.communicate()
    if client.returncode != 0 or len(marks) != 2:
        raise RuntimeError(f"the client failed with {sessions} sessions:\n{errors[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    (t0, ticks0), (t1, ticks1) = marks
    figures["server_cpu"] = (ticks1 - ticks0) / TICKS / (t1 - t0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short ladder (smoke)")
    parser.add_argument("--ladder", default="50,100,200,300,400,500,600,800")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        figures = asyncio.run(run_client(args.url, args.client, args.warmup, args.window))
        print(json.dumps(figures))
        return
    ladder = [10, 50] if args.quick else [int(n) for n in args.ladder.split(",")]
    warmup, window = (1.0, 2.0) if args.quick else (args.warmup, args.window)
    print(f"machine: {machine()}")
    print(f"window {window:g} s after {warmup:g} s of warm-up; one client process")
    header = f"{'sessions':>8} {'client CPU':>10} {'ms CPU/s':>9} {'server CPU':>10}"
    print(f"{header} {'underruns':>9} {'late p99':>9} {'late max':>9} {'in rate':>7}  ok")
    knee: tuple[int, dict[str, Any]] | None = None
    for sessions in ladder:
        f = step(sessions, warmup, window)
        ok = f["underruns"] == 0 and f["late_p99"] < FRAME_S and f["input_rate"] >= 0.99
        per_session = f["cpu"] / sessions * 1000
        print(
            f"{sessions:>8} {f['cpu']:>9.0%} {per_session:>9.2f} {f['server_cpu']:>9.0%}"
            f" {f['underruns']:>9} {f['late_p99'] * 1000:>7.1f}ms {f['late_max'] * 1000:>7.1f}ms"
            f" {f['input_rate']:>7.3f}  {'yes' if ok else 'NO'}",
            flush=True,
        )
        if not ok:
            break
        knee = (sessions, f)
    if knee is None:
        print("no step kept real time")
        return
    sessions, f = knee
    label = "knee" if sessions != ladder[-1] else "no step failed; the last"
    print(
        f"{label}: {sessions} sessions kept real time on one client core"
        f" ({f['cpu']:.0%} of it; {f['cpu'] / sessions * 1000:.2f} ms CPU per session-second);"
        f" by CPU per session, {sessions / f['cpu']:.0f} sessions per core"
    )


if __name__ == "__main__":
    main()
