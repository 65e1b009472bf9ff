"""Where assistant audio goes, and how much of it has been heard.

A sink keeps one timeline of samples: ``written_samples`` (the end of its queue) and
``played_samples`` (how far the listener has heard). Both only grow; ``clear()`` drops
what was queued and not yet heard, within one frame, so that a barge-in silences the
assistant at once and ``played_samples`` stays exactly what was heard.

* :class:`ClockSink` plays to nobody at the pace of a clock: headless runs, tests,
  benchmarks. It computes its position from the clock when asked, so it needs no task
  and no timer: a thousand of them cost nothing while idle. With a
  :class:`ManualClock`, tests decide exactly how much was heard.
* :class:`RemoteSink` is for audio that plays elsewhere (a browser, a phone bridge):
  the application forwards the audio and reports what the far end has played.

* :class:`WavSink` is a ClockSink that also keeps what was heard, and writes it to a
  WAV file when closed: the demo's output without a sound card.

The speaker is in :mod:`realtime_agent.audio.devices`.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = ["AudioSink", "ClockSink", "ManualClock", "RemoteSink", "WavSink", "write_wav"]


class AudioSink(Protocol):
    """Plays audio and says how much of it was heard (see the module docstring)."""

    @property
    def rate(self) -> int:
        """Samples per second."""
        ...

    @property
    def sample_width(self) -> int:
        """Bytes per sample (2 for pcm16, 1 for G.711)."""
        ...

    @property
    def played_samples(self) -> int:
        """Samples the listener has heard since the sink started."""
        ...

    @property
    def written_samples(self) -> int:
        """Samples heard plus samples queued: where the next write will play."""
        ...

    def write(self, audio: bytes) -> None:
        """Queue audio to play after what is queued. Never blocks."""
        ...

    def clear(self) -> int:
        """Drop everything queued and not yet heard; return how many samples were dropped."""
        ...


class ManualClock:
    """A clock that moves only when told: ``clock.advance(0.25)``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.now += seconds


class _Format:
    """The rate and sample width every sink states."""

    def __init__(self, rate: int, sample_width: int) -> None:
        self._rate = rate
        self._width = sample_width

    @property
    def rate(self) -> int:
        """Samples per second."""
        return self._rate

    @property
    def sample_width(self) -> int:
        """Bytes per sample."""
        return self._width


class ClockSink(_Format):
    """Plays queued audio at ``rate`` samples per second of ``clock`` (default: monotonic).

    Time while the queue is empty is silence: it does not count as played (an underrun).
    """

    def __init__(
        self,
        *,
        rate: int = 24000,
        sample_width: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate, sample_width)
        self.clock = clock
        self._played = 0
        self._queued = 0
        self._since = clock()  # the time up to which ``_played`` is exact
        self.underruns = 0
        """How often the queue ran dry while audio was expected (counted on the next write)."""

    def __repr__(self) -> str:
        return f"<ClockSink played={self._played} queued={self._queued}>"

    def _advance(self) -> None:
        now = self.clock()
        due = int((now - self._since) * self._rate + 1e-6)  # not lose a sample to rounding
        if due >= self._queued:
            self._played += self._queued
            self._queued = 0
            self._since = now  # the rest was silence
        elif due > 0:
            self._played += due
            self._queued -= due
            self._since += due / self._rate

    @property
    def played_samples(self) -> int:
        """Samples heard so far."""
        self._advance()
        return self._played

    @property
    def written_samples(self) -> int:
        """Samples heard plus samples queued (playing moves samples from one to the other,
        so the sum needs no look at the clock)."""
        return self._played + self._queued

    @property
    def queued_samples(self) -> int:
        """Samples waiting to be heard."""
        self._advance()
        return self._queued

    def write(self, audio: bytes) -> None:
        """Queue audio."""
        self._advance()
        if self._queued == 0 and self._played > 0:
            self.underruns += 1
        self._queued += len(audio) // self._width

    def clear(self) -> int:
        """Drop what is queued; the position freezes at what was heard."""
        self._advance()
        dropped, self._queued = self._queued, 0
        return dropped


class RemoteSink(_Format):
    """Audio that plays elsewhere: the application reports what the far end has heard.

    The runtime writes the assistant's audio here as it queues it for the far end. Either
    the application forwards each ``AudioDelta`` itself, or it gives ``on_write`` (called
    with each chunk as the playout writes it: exactly the sink's timeline) and
    ``on_clear`` (called when a barge-in drops what the far end has not played: tell it
    to stop). It calls :meth:`report` with the far end's position, in samples since the
    session began.
    """

    def __init__(
        self,
        *,
        rate: int = 24000,
        sample_width: int = 2,
        on_write: Callable[[bytes], None] | None = None,
        on_clear: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(rate, sample_width)
        self._written = 0
        self._played = 0
        self._on_write = on_write
        self._on_clear = on_clear

    def __repr__(self) -> str:
        return f"<RemoteSink played={self._played} written={self._written}>"

    @property
    def played_samples(self) -> int:
        """What the far end last reported it has played."""
        return self._played

    @property
    def written_samples(self) -> int:
        """Samples heard plus samples queued."""
        return self._written

    def write(self, audio: bytes) -> None:
        """Count audio handed to the far end (and hand it over, with ``on_write``)."""
        self._written += len(audio) // self._width
        if self._on_write is not None:
            self._on_write(audio)

    def clear(self) -> int:
        """The far end is told to stop (``on_clear``): what it has not played is dropped."""
        dropped = self._written - self._played
        self._written = self._played
        if self._on_clear is not None:
            self._on_clear()
        return dropped

    def report(self, played_samples: int) -> None:
        """The far end's position: samples played since the session began (never less)."""
        self._played = max(self._played, min(played_samples, self._written))


class WavSink(ClockSink):
    """Plays in real time to nobody, and writes what was heard to a WAV file on ``close()``.

    Audio cut off by a barge-in and never heard is not in the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        rate: int = 24000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate=rate, sample_width=2, clock=clock)
        self.path = Path(path)
        self._audio = bytearray()

    def write(self, audio: bytes) -> None:
        """Queue audio, and keep it for the file."""
        super().write(audio)
        self._audio += audio[: len(audio) - len(audio) % 2]

    def clear(self) -> int:
        """Drop what was not heard, from the queue and from the file."""
        dropped = super().clear()
        if dropped:
            del self._audio[len(self._audio) - dropped * 2 :]
        return dropped

    def close(self) -> Path:
        """Write the file (pcm16 mono); return its path."""
        return write_wav(self.path, bytes(self._audio), self.rate)


def write_wav(path: Path, pcm16: bytes, rate: int = 24000) -> Path:
    """Write mono pcm16 audio to a WAV file (making its folder); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm16[: len(pcm16) - len(pcm16) % 2])
    return path
