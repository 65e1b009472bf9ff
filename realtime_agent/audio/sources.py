"""Where the user's audio comes from: async iterators of pcm16 24 kHz mono frames.

* :class:`ArraySource`: audio the application already has, in fixed frames, at real time
  or as fast as it is read.
* :class:`WavSource`: a WAV file of any rate, sample width (16/24/32-bit, float) and
  channel count, WAVE_FORMAT_EXTENSIBLE included (read with soundfile), resampled to
  24 kHz mono.
* ``Microphone`` (in :mod:`realtime_agent.audio.devices`): PortAudio capture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import soundfile

from realtime_agent.audio.resample import Resampler
from realtime_agent.errors import AudioError

__all__ = ["ArraySource", "AudioSource", "WavSource", "read_wav"]


class AudioSource(Protocol):
    """Audio in: an async iterator of pcm16 24 kHz mono frames."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The frames, in order, until the source ends."""
        ...


class ArraySource:
    """Frames of ``frame_ms`` from audio in memory (pcm16, ``rate`` Hz, mono).

    With ``realtime`` the frames come at the pace they would be spoken (scheduled on the
    loop's clock, so the pace does not drift); otherwise as fast as they are read. Either
    way each frame lets the loop run once at least: a source that has fallen behind (or
    that does not wait at all) never starves the other tasks while it catches up.
    """

    def __init__(
        self, audio: bytes, *, rate: int = 24000, frame_ms: int = 20, realtime: bool = False
    ) -> None:
        if frame_ms <= 0:
            raise ValueError("frame_ms must be positive")
        self.audio = audio
        self.frame_bytes = rate * frame_ms // 1000 * 2
        self.frame_seconds = frame_ms / 1000
        self.realtime = realtime

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, offset in enumerate(range(0, len(self.audio), self.frame_bytes)):
            delay = start + index * self.frame_seconds - loop.time() if self.realtime else 0.0
            await asyncio.sleep(max(0.0, delay))
            yield self.audio[offset : offset + self.frame_bytes]


def read_wav(path: str | Path, *, rate: int = 24000) -> bytes:
    """A whole audio file as pcm16 mono at ``rate``.

    Raises AudioError, one line saying what is wrong, if it cannot be read: no such file,
    a directory, no permission, or not an audio file libsndfile reads (with its reason).
    """
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioError(f"cannot read audio file {path}: {_unreadable(path, exc)}") from None
    resampler = Resampler(file_rate, rate, channels=data.shape[1], frame_ms=1000)
    return b"".join(resampler.push_samples(data) + resampler.flush())


def _unreadable(path: str | Path, exc: Exception) -> str:
    """Why ``path`` could not be read: libsndfile says "System error." for every failure
    to open the file, so the file system is asked first."""
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "it is a directory, not an audio file"
    except PermissionError:
        return "permission denied"
    except OSError as opening:
        return opening.strerror or str(opening)
    reason = str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")
    if reason == "Format not recognised":
        return "not a WAV (or other audio file) that libsndfile reads"
    return f"not an audio file libsndfile reads: {reason}"


class WavSource(ArraySource):
    """A WAV file (any rate, width, channels) as 24 kHz mono pcm16 frames.

    Raises AudioError at once if the file cannot be read.
    """

    def __init__(self, path: str | Path, *, frame_ms: int = 20, realtime: bool = False) -> None:
        self.path = Path(path)
        super().__init__(read_wav(self.path), frame_ms=frame_ms, realtime=realtime)
