"""Rollover gap: what a make-before-break rollover costs the caller.

Two sessions against the local server (real-time pacing, a ClockSink on the real
clock), the same conversation of text turns: one never rolls over (the baseline, in
the same run), the other rolls over between every two turns (``rollover_after`` a few
ms: the next connection opens while an answer plays and takes over once it was heard).
Per turn, from the session's own ``TurnMetrics``: the time from the request to the
first sample heard. The gap a rollover could leave is in two places: inside an answer
(the playout's underruns: must be 0) and before the next answer (its first sound later
than without rollover). Prints both, and the ratio of the medians.

Run: ``python bench/rollover_gap.py [--quick] [--turns N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from realtime_agent import Agent, connect, events
from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder


async def conversation(turns: int, rollover_after: float | None) -> tuple[list[float], int, int]:
    """First-heard times (ms) of each turn, the rollovers, the playout's underruns."""
    answers = [f"This is answer number {n}, short and to the point." for n in range(turns)]
    heard: list[float] = []
    async with LocalRealtimeServer(
        responder=lambda: ScriptedResponder(answers), pacing=Pacing.realtime()
    ) as server:
        async with connect(
            Agent(), url=server.url, rollover_after=rollover_after, reconnect=None
        ) as session:
            for turn in range(turns):
                await session.send_text(f"question {turn}")
                async for event in session:
                    if isinstance(event, events.TurnMetrics):
                        if event.first_heard_ms is None:
                            raise SystemExit(f"turn {turn}: nothing was heard ({event})")
                        heard.append(event.first_heard_ms)
                        break
                    if isinstance(event, events.Closed):
                        raise SystemExit(f"the session ended: {event.reason}")
            return heard, session.rollovers, session.playout.underruns


async def main(turns: int) -> int:
    base, _, base_underruns = await conversation(turns, None)
    rolled, rollovers, underruns = await conversation(turns, 0.005)
    # The first turn comes before any rollover: compare the turns after one.
    before, after = statistics.median(base[1:]), statistics.median(rolled[1:])
    print(f"{turns} text turns, real-time pacing, a ClockSink on the real clock")
    print(f"  without rollover: first sound {before:.1f} ms after the request (median)")
    print(
        f"  with a rollover before each turn ({rollovers} in all): {after:.1f} ms "
        f"({after / before:.2f}x, {after - before:+.1f} ms)"
    )
    print(f"  underruns within an answer: {base_underruns} without, {underruns} with")
    failed = underruns > 0 or rollovers < turns - 2
    print("FAILED" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 turns")
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(6 if args.quick else args.turns)))
