"""Soak: a long conversation, compressed in time, through rollovers and random drops.

One session (``connect(agent, url=..., rollover_after=R, reconnect=...)``) against the
local server (instant pacing, the rule responder, a weather tool) asks, turn after turn,
"What is the weather like in CITY?"; each turn is a tool call and a spoken answer. The
server drops the connection at random (``--drop-rate`` of the connections, each after a
random number of events: mid-answer, mid-call, between turns) and every ``R`` seconds
the session rolls over to a new one. A turn counts as answered when the assistant's
answer to its question arrives ("Here is what I found: clear in CITY."), on whichever
connection; the bench waits for it on events, never on time (a turn that takes more
than 30 s is lost).

Figures: turns, drops, reconnects, rollovers, tool runs per call (exactly one each, and
never a call run again on a new connection), the Python heap (tracemalloc) and the
session's live tasks at the first and the last tenth of the run: the session keeps the
conversation (it grows, as it must), so the heap is also given per turn, against the
first tenth's (the local server runs in the same process: its own allocations are left
out). Exits 1 if a turn was lost, a call ran twice, the session ended, the
session's tasks grew, or any task was left once it and the server had ended.
``--quick``: 40 turns (CI's smoke run); the default 600 turns are about an hour of
conversation at a turn every 6 s.

Run: ``python bench/soak.py [--quick] [--turns N] [--seed S] [--drop-rate P] [--rollover S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
import tracemalloc
from collections import Counter

from realtime_agent import Agent, ReconnectPolicy, connect, events, tool
from realtime_agent.server import LocalRealtimeServer, RuleResponder, faults
from realtime_agent.testing import InstantSink

CITIES = ["Paris", "Rome", "Berlin", "Madrid", "Lisbon", "Vienna", "Prague", "Dublin"]
TURN_TIMEOUT = 30.0
DETAIL = (events.AudioDelta, events.TranscriptDelta, events.HistoryAdded, events.HistoryUpdated)


def client_heap() -> int:
    """Bytes the process holds, less what the local server's own code allocated (it
    runs in this process, and keeps each session's audio)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, "*/realtime_agent/server/*")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def soak(turns: int, seed: int, drop_rate: float, rollover: float) -> int:
    rng = random.Random(seed)
    runs: Counter[str] = Counter()
    calls_by_city: Counter[str] = Counter()

    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: The city, e.g. "Paris".
        """
        calls_by_city[city] += 1
        return f"clear in {city}"

    drops = 0

    def plan(connection: int) -> list[faults.Fault]:
        nonlocal drops
        if rng.random() >= drop_rate:
            return []
        drops += 1
        return [faults.drop(after_events=rng.randint(3, 80))]

    agent = Agent(instructions="Answer about the weather.", tools=[get_weather])
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.1, deadline=10.0)
    samples: list[tuple[int, int, int]] = []  # turn, heap bytes, live tasks
    lost = 0
    names: list[str] = []
    tracemalloc.start()
    began = time.perf_counter()
    async with LocalRealtimeServer(
        responder=lambda: RuleResponder(), faults=plan, keep_sessions=False
    ) as server:
        async with connect(
            agent,
            url=server.url,
            audio_out=InstantSink(),
            reconnect=policy,
            rollover_after=rollover,
        ) as session:
            for turn in range(turns):
                city = CITIES[turn % len(CITIES)]
                await session.send_text(f"What is the weather like in {city}?")
                seen: list[str] = []
                try:
                    async with asyncio.timeout(TURN_TIMEOUT):
                        async for event in session:
                            if isinstance(event, events.Transcript | events.ToolStart):
                                seen.append(repr(event))
                            elif not isinstance(event, DETAIL):
                                seen.append(type(event).__name__)
                            match event:
                                case events.ToolStart(call_id=call_id):
                                    runs[call_id] += 1
                                case events.Transcript(role="assistant", text=text) if (
                                    text.startswith("Here is what I found") and city in text
                                ):
                                    break
                                case events.Closed(reason=reason):
                                    print(f"the session ended at turn {turn}: {reason}")
                                    print(f"  its events: {' '.join(seen)}")
                                    return 1
                except TimeoutError:
                    lost += 1
                    print(f"turn {turn} ({city}) got no answer within {TURN_TIMEOUT:.0f} s")
                    print(f"  its events: {' '.join(seen)}")
                if turn % max(1, turns // 10) == 0 or turn == turns - 1:
                    # The session's own tasks (the local server's, in this process, come
                    # and go with its connections), less the close of a replaced
                    # connection (bounded by close_timeout; none may be left at the end).
                    names = [t.get_name() for t in asyncio.all_tasks()]
                    ours = [
                        name
                        for name in names
                        if name.startswith("realtime-") and "close-old" not in name
                    ]
                    samples.append((turn + 1, client_heap(), len(ours)))
            reconnects, rollovers = session.reconnects, session.rollovers
    elapsed = time.perf_counter() - began
    left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    tracemalloc.stop()
    twice = {c: n for c, n in runs.items() if n > 1}
    first, last = samples[0], samples[-1]
    per_turn = (last[1] - first[1]) / max(1, last[0] - first[0])
    print(
        f"{turns} turns in {elapsed:.1f} s, seed {seed}: {drops} drops injected, "
        f"{reconnects} reconnects, {rollovers} rollovers (every {rollover:g} s)"
    )
    print(
        f"  tool calls: {len(runs)}, each started once: {not twice}; "
        f"runs per city: {dict(sorted(calls_by_city.items()))}"
    )
    print(
        f"  heap: {first[1] / 1e6:.2f} MB after turn {first[0]}, {last[1] / 1e6:.2f} MB "
        f"after turn {last[0]} ({per_turn / 1024:.1f} kB per turn: the conversation)"
    )
    print(
        f"  the session's tasks: {first[2]} after turn {first[0]}, {last[2]} after turn "
        f"{last[0]}; after the end: {len(left)} tasks left"
    )
    if last[2] > first[2] or left:
        print(f"  the tasks then: {', '.join(sorted(names))}; at the end: {left}")
    print(f"  turns lost: {lost}")
    failed = lost > 0 or bool(twice) or last[2] > first[2] or bool(left)
    if twice:
        print(f"  calls started more than once: {twice}")
    print("FAILED" if failed else "ok")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 turns, a rollover every 0.3 s")
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop-rate", type=float, default=0.3)
    parser.add_argument("--rollover", type=float, default=1.0, help="rollover_after, seconds")
    args = parser.parse_args()
    # Each drop logs a warning; the figures below count them.
    logging.getLogger("realtime_agent").setLevel(logging.ERROR)
    turns, rollover = (40, 0.3) if args.quick else (args.turns, args.rollover)
    sys.exit(asyncio.run(soak(turns, args.seed, args.drop_rate, rollover)))


if __name__ == "__main__":
    main()
