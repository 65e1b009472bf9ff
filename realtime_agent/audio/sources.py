"""Where the user's audio comes from: async iterators of pcm16 frames.

:class:`ArraySource` plays audio the application already has (a test utterance, a
file read into memory), in fixed frames, at real time or as fast as it is read. The
microphone and WAV files come with the audio I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ["ArraySource", "AudioSource"]


class AudioSource(Protocol):
    """Audio in: an async iterator of pcm16 24 kHz mono frames."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The frames, in order, until the source ends."""
        ...


class ArraySource:
    """Frames of ``frame_ms`` from audio in memory (pcm16, ``rate`` Hz, mono).

    With ``realtime`` the frames come at the pace they would be spoken (scheduled on the
    loop's clock, so the pace does not drift); otherwise as fast as they are read.
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
            if self.realtime:
                delay = start + index * self.frame_seconds - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield self.audio[offset : offset + self.frame_bytes]
