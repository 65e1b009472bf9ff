"""Audio formats of the Realtime API, and the arithmetic between bytes, samples and time.

The API carries three formats (PROTOCOL.md 3.4): 16-bit PCM at 24 kHz (48 bytes a ms),
and G.711 μ-law and A-law at 8 kHz (8 bytes a ms). Time is computed from whole samples,
never from wall clocks: ``ms(nbytes)`` is what a truncate must be measured in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ALAW_8K", "PCM16_24K", "ULAW_8K", "AudioFormat", "Encoding"]

Encoding = Literal["pcm16", "ulaw", "alaw"]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A mono audio format: encoding, sample rate and bytes per sample."""

    encoding: Encoding
    rate: int
    sample_width: int
    """Bytes per sample: 2 for pcm16, 1 for G.711."""

    @property
    def bytes_per_ms(self) -> float:
        """Bytes of audio in one millisecond (48 for pcm16 24 kHz, 8 for G.711)."""
        return self.rate * self.sample_width / 1000

    def samples(self, nbytes: int) -> int:
        """Whole samples in ``nbytes`` (a trailing partial sample does not count)."""
        return nbytes // self.sample_width

    def ms(self, nbytes: int) -> float:
        """Duration of ``nbytes`` of audio, in milliseconds (whole samples only)."""
        return self.samples(nbytes) * 1000 / self.rate

    def nbytes(self, ms: float) -> int:
        """Bytes in ``ms`` milliseconds, rounded down to whole samples."""
        return int(ms * self.rate / 1000) * self.sample_width

    @classmethod
    def from_wire(cls, wire: object) -> AudioFormat:
        """The format named by a GA format object (``{"type": "audio/pcm"}``) or a beta string.

        Raises ValueError for a format this version does not know.
        """
        name = getattr(wire, "type", wire)
        if isinstance(wire, dict):
            name = wire.get("type")
        match name:
            case "audio/pcm" | "pcm16":
                rate = getattr(wire, "rate", None) or (
                    wire.get("rate") if isinstance(wire, dict) else None
                )
                if rate not in (None, 24000):
                    raise ValueError(f"pcm16 is 24000 Hz only, not {rate}")
                return PCM16_24K
            case "audio/pcmu" | "g711_ulaw":
                return ULAW_8K
            case "audio/pcma" | "g711_alaw":
                return ALAW_8K
        raise ValueError(f"unknown audio format {name!r}")


PCM16_24K = AudioFormat("pcm16", 24000, 2)
"""16-bit signed little-endian PCM, mono, 24 kHz: the API's default."""
ULAW_8K = AudioFormat("ulaw", 8000, 1)
"""G.711 μ-law, 8 kHz (telephony)."""
ALAW_8K = AudioFormat("alaw", 8000, 1)
"""G.711 A-law, 8 kHz (telephony)."""
