"""The Speaker's position heard, against a test double of PortAudio's output stream.

The double is a stand-in ``pyaudio`` module (third-party code, put in ``sys.modules`` where
the Speaker imports it); everything of ours runs for real. Its stream calls the Speaker's
callback from its own thread, a block at a time in real time, as PortAudio does: its wait
between blocks is the simulated device playing, not synchronisation. Each block leaves its
simulated DAC ``LATENCY`` after the callback, which the double reports in the callback's
``time_info`` (in its own stream clock), through ``get_output_latency()``, or both; and it
records every block with when it was handed over, so that a test can say what the listener
had heard at any moment. Tests wait for the device's progress (blocks taken), never for time.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from realtime_agent.audio.devices import Speaker
from realtime_agent.audio.playout import Playout

RATE = 24000
BLOCK = 480  # samples: the Speaker's default 20 ms block
LATENCY = 0.2  # seconds from the callback to the DAC
STREAM_EPOCH = 5000.0  # the double's stream clock is monotonic + this (PortAudio's is its own)
SAMPLE = b"\x34\x12"  # our audio: no zero byte in it, so padding is told apart
WAIT = 5.0  # a safety net for waits on the device's progress


def audio(samples: int) -> bytes:
    return SAMPLE * samples


@dataclass(frozen=True)
class Block:
    """One block the device took: the monotonic times just before and just after its
    callback, and what the callback returned."""

    before: float
    after: float
    data: bytes

    @property
    def ours(self) -> int:
        """Our samples in it (ours come first; the rest is padding)."""
        return len(self.data.rstrip(b"\x00")) // 2


class Stream:
    """The double of a pyaudio output stream (the methods the Speaker calls)."""

    def __init__(
        self,
        *,
        rate: int,
        frames_per_buffer: int,
        stream_callback: Callable[..., tuple[bytes, int]],
        stated_latency: float,
        timed: bool,
        **options: Any,
    ) -> None:
        assert options["output"] and options["channels"] == 1
        self.rate = rate
        self.frames = frames_per_buffer
        self.callback = stream_callback
        self.stated_latency = stated_latency
        self.timed = timed
        self.blocks: list[Block] = []
        self.changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def get_output_latency(self) -> float:
        return self.stated_latency

    def start_stream(self) -> None:
        self._thread.start()

    def stop_stream(self) -> None:
        self._stopping.set()
        self._thread.join(WAIT)

    def close(self) -> None:
        assert not self._thread.is_alive()

    def _run(self) -> None:
        # The device asks for the next block one block after it got the last (a late wake-up
        # is an underrun, as on a real device), so the blocks never overlap at the DAC.
        due = time.monotonic()
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            before = time.monotonic()
            now = before + STREAM_EPOCH
            timing = {
                "input_buffer_adc_time": 0.0,
                "current_time": now if self.timed else 0.0,
                "output_buffer_dac_time": now + LATENCY if self.timed else 0.0,
            }
            data, _ = self.callback(None, self.frames, timing, 0)
            block = Block(before, time.monotonic(), bytes(data))
            with self.changed:
                self.blocks.append(block)
                self.changed.notify_all()
            due = block.after + self.frames / self.rate  # the device plays it meanwhile

    def wait(self, done: Callable[[list[Block]], bool]) -> None:
        """Block until ``done(blocks)`` holds, checked as each block is taken."""
        with self.changed:
            assert self.changed.wait_for(lambda: done(self.blocks), WAIT)

    def wait_blocks(self, count: int) -> None:
        """Block until the device has taken ``count`` more blocks."""
        with self.changed:
            target = len(self.blocks) + count
        self.wait(lambda blocks: len(blocks) >= target)

    def heard(self, at: float, *, late: bool) -> int:
        """Our samples out of the DAC by ``at``. The callback read its clock between a
        block's ``before`` and ``after``: ``late`` counts as if at ``after`` (the least the
        Speaker may say), else as if at ``before`` (the most)."""
        with self.changed:
            blocks = list(self.blocks)
        total = 0
        for block in blocks:
            leaves = (block.after if late else block.before) + LATENCY
            total += min(block.ours, max(0, int((at - leaves) * self.rate)))
        return total


class Device:
    """The stand-in PortAudio: one output device, and the stream the Speaker opened."""

    def __init__(self, *, stated_latency: float, timed: bool) -> None:
        self.stated_latency = stated_latency
        self.timed = timed
        self.stream: Stream | None = None

    def module(self) -> types.ModuleType:
        pyaudio = types.ModuleType("pyaudio")
        pyaudio.paInt16 = 8  # type: ignore[attr-defined]
        pyaudio.paContinue = 0  # type: ignore[attr-defined]
        pyaudio.PyAudio = lambda: self  # type: ignore[attr-defined]
        return pyaudio

    def get_default_output_device_info(self) -> dict[str, Any]:
        return {
            "index": 0,
            "name": "double",
            "maxInputChannels": 0,
            "maxOutputChannels": 2,
            "defaultSampleRate": 48000.0,
        }

    def open(self, **options: Any) -> Stream:
        self.stream = Stream(stated_latency=self.stated_latency, timed=self.timed, **options)
        return self.stream

    def terminate(self) -> None:
        pass


@dataclass
class Opened:
    speaker: Speaker
    stream: Stream

    def check(self) -> int:
        """``played_samples`` now, bracketed by what the double had played out around it."""
        start = time.monotonic()
        played = self.speaker.played_samples
        end = time.monotonic()
        least, most = self.stream.heard(start, late=True), self.stream.heard(end, late=False)
        assert least - 1 <= played <= most + 1, (least, played, most)  # 1: float rounding
        return played


# How the latency reaches the Speaker: both ways; only as the stream's stated latency (host
# APIs whose time_info is zeros); and through time_info, which wins over a wrong stated one.
LATENCIES = {
    "both": (LATENCY, True),
    "zeros": (LATENCY, False),
    "timing": (LATENCY / 4, True),
}


@pytest.fixture(params=sorted(LATENCIES))
def opened(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    stated, timed = LATENCIES[request.param]
    device = Device(stated_latency=stated, timed=timed)
    monkeypatch.setitem(sys.modules, "pyaudio", device.module())
    speaker = Speaker()
    assert device.stream is not None
    try:
        yield Opened(speaker, device.stream)
    finally:
        speaker.close()


def played_out(stream: Stream, samples: int) -> Callable[[list[Block]], bool]:
    """The device has taken ``samples`` of ours, then a block of padding (its queue is dry)."""
    return lambda blocks: (
        sum(b.ours for b in blocks) >= samples and bool(blocks) and blocks[-1].ours == 0
    )


async def test_an_item_heard_in_full_is_done_and_the_gate_reopens(opened: Opened) -> None:
    playout = Playout(opened.speaker)
    samples = 517 * RATE // 1000
    for start in range(0, samples, BLOCK):  # as the deltas arrive
        playout.push("a", 0, audio(min(BLOCK, samples - start)))
    playout.end("a", 0)
    handle = playout.handle("a")
    async with asyncio.timeout(WAIT):
        await handle.wait()
    assert not playout.audible
    assert opened.speaker.played_samples == handle.played_samples == samples
    assert opened.speaker.written_samples == samples
    assert opened.check() == samples


def test_a_barge_in_freezes_what_had_left_the_dac(opened: Opened) -> None:
    playout = Playout(opened.speaker)
    samples = 517 * RATE // 1000
    playout.push("a", 0, audio(samples))
    playout.end("a", 0)
    # The known point: the device took the last of it two blocks ago; most of the latency
    # is still to go, so the listener has heard less than all of it.
    opened.stream.wait(played_out(opened.stream, samples))
    opened.stream.wait_blocks(2)
    start = time.monotonic()
    playout.stop([("a", 0)])
    end = time.monotonic()
    handle = playout.handle("a")
    frozen = handle.played_samples
    assert handle.start == 0
    # What the device took cannot be recalled: the listener hears it, so it counts, even
    # though not all of it had left the DAC yet.
    assert opened.stream.heard(start, late=True) - 1 <= opened.speaker.played_samples
    assert opened.stream.heard(end, late=False) <= frozen == opened.speaker.written_samples
    assert frozen == samples


def test_clear_drops_the_queue_and_what_the_device_took_still_counts(opened: Opened) -> None:
    speaker, stream = opened.speaker, opened.stream
    speaker.write(audio(5 * RATE))
    stream.wait(lambda blocks: sum(b.ours for b in blocks) >= 10 * BLOCK)
    dropped = speaker.clear()
    cut = time.monotonic()
    taken = speaker.written_samples
    assert dropped + taken == 5 * RATE and 10 * BLOCK <= taken < 5 * RATE
    opened.check()
    stream.wait(lambda _: speaker.played_samples == taken)
    stream.wait_blocks(3)
    assert opened.check() == taken == sum(b.ours for b in stream.blocks)
    assert all(b.ours == 0 for b in stream.blocks if b.before > cut)  # silent after the cut
    speaker.write(audio(BLOCK))  # the timeline goes on from there
    stream.wait(played_out(stream, taken + BLOCK))
    stream.wait(lambda _: speaker.played_samples == taken + BLOCK)
    assert speaker.written_samples == taken + BLOCK


def test_padding_is_not_audio_and_the_count_follows_the_dac(opened: Opened) -> None:
    speaker, stream = opened.speaker, opened.stream
    total = 0
    for samples in (1234, 7 * BLOCK + 1, 1):  # ends mid-block: the rest of it is padding
        speaker.write(audio(samples))
        total += samples
        for _ in range(int(WAIT * RATE / BLOCK)):  # at every block until all was heard
            stream.wait_blocks(1)
            if opened.check() == total:
                break
        else:
            pytest.fail(f"{speaker.played_samples} of {total} samples heard")
        stream.wait_blocks(3)
        assert opened.check() == total == speaker.written_samples
    assert all(len(b.data) == 2 * BLOCK for b in stream.blocks)  # whole blocks, always
    assert all(b.data.count(0) == len(b.data) - 2 * b.ours for b in stream.blocks)  # ours first
