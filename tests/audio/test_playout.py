"""Sinks and the playout: what was heard, underruns, the jitter buffer, the stop."""

from __future__ import annotations

import pytest

from realtime_agent.audio.playout import Playout
from realtime_agent.audio.sinks import ClockSink, ManualClock, RemoteSink

MS = 48  # bytes of pcm16 24 kHz in a millisecond


def test_clock_sink_plays_at_the_clock_and_counts_silence_as_nothing() -> None:
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    sink.write(bytes(100 * MS))
    clock.advance(0.040)
    assert sink.played_samples == 40 * 24
    clock.advance(1.0)
    assert sink.played_samples == 100 * 24  # no more than was written
    clock.advance(1.0)
    sink.write(bytes(10 * MS))  # after an underrun, playing resumes from here
    assert sink.underruns == 1
    clock.advance(0.005)
    assert sink.played_samples == 105 * 24
    assert sink.clear() == 5 * 24 and sink.written_samples == sink.played_samples
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_remote_sink_takes_the_far_end_s_word() -> None:
    sink = RemoteSink()
    sink.write(bytes(100 * MS))
    sink.report(30 * 24)
    assert sink.played_samples == 30 * 24
    sink.report(20 * 24)  # never backwards
    sink.report(500 * 24)  # never beyond what it was given
    assert sink.played_samples == 100 * 24
    assert sink.clear() == 0


def test_jitter_buffer_holds_the_start_then_flushes_at_the_end() -> None:
    clock = ManualClock()
    playout = Playout(ClockSink(clock=clock), jitter_ms=60)
    playout.push("a", 0, bytes(40 * MS))
    handle = playout.handle("a")
    assert handle.pushed_samples == 0 and handle.received_samples == 40 * 24  # held
    playout.push("a", 0, bytes(40 * MS))
    assert handle.pushed_samples == 80 * 24  # 60 ms reached: playing
    playout.push("b", 0, bytes(20 * MS))  # the sink has plenty queued: no holding
    assert playout.handle("b").pushed_samples == 20 * 24
    short = Playout(ClockSink(clock=ManualClock()), jitter_ms=60)
    short.push("c", 0, bytes(10 * MS))
    short.end("c", 0)  # a short item is not cut off: the end flushes it
    assert short.handle("c").pushed_samples == 10 * 24


def test_jitter_buffer_holds_only_when_playback_has_stopped() -> None:
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    playout = Playout(sink, jitter_ms=60)
    playout.push("a", 0, bytes(40 * MS))
    playout.push("a", 0, bytes(40 * MS))  # 80 ms: playing
    clock.advance(0.050)  # 30 ms left: low, yet still playing
    playout.push("a", 0, bytes(40 * MS))
    assert playout.handle("a").pushed_samples == 120 * 24  # not held: no gap
    clock.advance(0.050)
    playout.push("a", 0, bytes(40 * MS))
    assert sink.underruns == 0
    clock.advance(1.0)  # it ran dry: the next audio waits for the jitter buffer again
    playout.push("a", 0, bytes(40 * MS))
    assert playout.handle("a").pushed_samples == 160 * 24


def test_each_item_knows_what_of_it_was_heard() -> None:
    clock = ManualClock()
    playout = Playout(ClockSink(clock=clock), jitter_ms=0)
    playout.push("a", 0, bytes(100 * MS))
    playout.end("a", 0)
    playout.push("b", 0, bytes(100 * MS))
    clock.advance(0.150)
    a, b = playout.handle("a"), playout.handle("b")
    assert a.played_ms == 100 and a.done()
    assert b.played_ms == 50 and not b.done()
    positions = playout.stop([("b", 0)])
    assert positions == [("b", 0, 50.0, False)]
    clock.advance(1.0)
    assert b.played_ms == 50  # frozen
    playout.push("b", 0, bytes(40 * MS))  # the rest of a cut item is dropped
    assert b.received_samples == 100 * 24 and b.interrupted and b.done()


def test_stop_says_when_an_item_had_been_heard_in_full() -> None:
    clock = ManualClock()
    playout = Playout(ClockSink(clock=clock), jitter_ms=0)
    playout.push("a", 0, bytes(30 * MS))
    playout.end("a", 0)
    clock.advance(0.5)
    assert playout.stop([("a", 0)]) == [("a", 0, 30.0, True)]


async def test_wait_returns_once_the_item_is_heard() -> None:
    playout = Playout(ClockSink(), jitter_ms=0)  # the real clock
    playout.push("a", 0, bytes(30 * MS))
    playout.end("a", 0)
    handle = playout.handle("a")
    await handle.wait()
    assert handle.done() and handle.played_ms == 30


def test_the_playout_counts_an_underrun_mid_item_and_not_between_items() -> None:
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    playout = Playout(sink, jitter_ms=0)
    frame = bytes(480)  # 10 ms
    playout.push("a", 0, frame)
    clock.advance(0.005)
    playout.push("a", 0, frame)  # still playing: fed in time
    clock.advance(0.1)  # ran dry
    playout.push("a", 0, frame)  # mid-item: an underrun
    playout.end("a")
    clock.advance(0.1)
    playout.push("b", 0, frame)  # a new item after silence: none
    assert playout.underruns == 1
