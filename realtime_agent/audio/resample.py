"""Streaming resampling to and from 24 kHz, in steady frames, with an exact total length.

:class:`Resampler` wraps ``soxr.ResampleStream`` (int16 in, int16 out). soxr's output
is aligned with its input (sample n out is at n / rate, no delay added to timestamps)
but it comes in bursts (at HQ: 0 or ~830 samples per 20 ms chunk at 48 kHz), so the
resampler buffers and hands out frames of exactly ``frame_ms``; :meth:`Resampler.flush`
at the end of a stream returns the rest, so that the total length is exactly
``ceil(n * out_rate / in_rate)``. It also downmixes interleaved channels to mono.

Quality, measured (``bench/resample.py``): QQ has no anti-aliasing filter (aliasing in
speech), VHQ adds latency and cost for nothing audible in 24 kHz speech, so HQ is the
default. Its latency, the audio held back before it comes out as whole frames, is
30.6 ms on average and at most 40 ms at 48 kHz with 20 ms frames, framing included (see
the bench for each rate). soxr dithers its int16 output: digital silence in comes out
as +-1 LSB noise, not exact zeros.
"""

from __future__ import annotations

import numpy as np
import soxr

__all__ = ["Resampler", "to_mono_int16"]


def to_mono_int16(samples: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved (or 2-D) samples as one int16 channel (the mean of the channels)."""
    data = np.asarray(samples)
    floating = data.dtype.kind == "f"
    if data.ndim == 1 and channels > 1:
        data = data[: data.size - data.size % channels].reshape(-1, channels)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if floating:
        data = data * 32768.0
    if data.dtype.kind == "f":
        data = np.clip(np.rint(data), -32768, 32767)
    return np.asarray(data, dtype=np.int16)


class Resampler:
    """``in_rate`` Hz (``channels`` interleaved) to mono int16 ``out_rate`` Hz frames."""

    def __init__(
        self,
        in_rate: int,
        out_rate: int = 24000,
        *,
        channels: int = 1,
        frame_ms: int = 20,
        quality: str = "HQ",
    ) -> None:
        if in_rate <= 0 or out_rate <= 0 or channels <= 0 or frame_ms <= 0:
            raise ValueError("rates, channels and frame_ms must be positive")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.frame_samples = out_rate * frame_ms // 1000
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
        )
        self._pending = np.zeros(0, dtype=np.int16)
        self.samples_in = 0
        self.samples_out = 0

    def push(self, pcm: bytes) -> list[bytes]:
        """Resample a chunk of pcm16 input; the whole frames that are ready."""
        samples = to_mono_int16(np.frombuffer(pcm, dtype="<i2"), self.channels)
        self.samples_in += samples.size
        return self._frames(self._convert(samples, last=False), final=False)

    def push_samples(self, samples: np.ndarray) -> list[bytes]:
        """Like :meth:`push`, for samples already decoded (int16 or float, mono or 2-D)."""
        mono = to_mono_int16(samples, self.channels)
        self.samples_in += mono.size
        return self._frames(self._convert(mono, last=False), final=False)

    def flush(self) -> list[bytes]:
        """The end of the stream: the remaining frames, the last one possibly shorter."""
        return self._frames(self._convert(np.zeros(0, dtype=np.int16), last=True), final=True)

    @property
    def held_ms(self) -> float:
        """Input audio not yet out as whole frames, in ms (the latency at this moment)."""
        expected = self.samples_in * self.out_rate / self.in_rate
        return (expected - self.samples_out) * 1000 / self.out_rate

    def _convert(self, samples: np.ndarray, *, last: bool) -> np.ndarray:
        if self._stream is None:
            return samples
        return np.asarray(self._stream.resample_chunk(samples, last=last), dtype=np.int16)

    def _frames(self, out: np.ndarray, *, final: bool) -> list[bytes]:
        buffered = np.concatenate((self._pending, out)) if self._pending.size else out
        whole = buffered.size - buffered.size % self.frame_samples
        frames = [
            buffered[i : i + self.frame_samples].astype("<i2").tobytes()
            for i in range(0, whole, self.frame_samples)
        ]
        self._pending = buffered[whole:]
        if final and self._pending.size:
            frames.append(self._pending.astype("<i2").tobytes())
            self._pending = np.zeros(0, dtype=np.int16)
        self.samples_out += sum(len(f) // 2 for f in frames)
        return frames
