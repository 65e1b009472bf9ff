"""How fast the local server sends a response's audio."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Pacing"]


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast responses send their audio: ``speed`` times real time, or as fast as possible.

    The real server sends audio faster than real time. ``Pacing()`` (instant) suits tests;
    ``Pacing.realtime()`` suits a demo that plays the audio as it comes.
    """

    speed: float | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and not 0 < self.speed < math.inf:  # NaN fails too
            raise ValueError(f"pacing speed must be a finite number above 0, not {self.speed}")

    @classmethod
    def instant(cls) -> Pacing:
        """As fast as the socket takes it."""
        return cls(None)

    @classmethod
    def realtime(cls) -> Pacing:
        """One second of audio a second."""
        return cls(1.0)

    @classmethod
    def times(cls, speed: float) -> Pacing:
        """``speed`` seconds of audio a second."""
        return cls(speed)
