"""The streaming resampler: steady frames, exact length, aligned output, mono."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime_agent.audio.resample import Resampler, to_mono_int16


@pytest.mark.parametrize("rate", [48000, 44100, 32000, 24000, 16000, 8000])
def test_any_rate_to_24k_in_steady_frames_of_exact_total_length(rate: int) -> None:
    samples = np.random.default_rng(rate).normal(0, 3000, rate * 2 + 77).astype(np.int16)
    resampler = Resampler(rate)
    frames: list[bytes] = []
    chunk = rate // 100  # 10 ms chunks in, 20 ms frames out
    for start in range(0, samples.size, chunk):
        frames += resampler.push(samples[start : start + chunk].tobytes())
    assert {len(f) for f in frames} == {960}
    frames += resampler.flush()
    total = sum(len(f) for f in frames) // 2
    assert total == math.ceil(samples.size * 24000 / rate)
    assert resampler.held_ms == pytest.approx(0, abs=0.05)


def test_timing_is_preserved_no_delay_is_added() -> None:
    impulse = np.zeros(48000, np.int16)
    impulse[4800] = 20000  # at 100 ms
    resampler = Resampler(48000)
    out = b"".join(resampler.push(impulse.tobytes()) + resampler.flush())
    assert int(np.argmax(np.abs(np.frombuffer(out, "<i2")))) == 2400  # still at 100 ms


def test_stereo_and_float_are_downmixed_to_mono_int16() -> None:
    left = np.full(480, 1000, np.int16)
    right = np.full(480, 3000, np.int16)
    stereo = np.column_stack([left, right]).reshape(-1)
    assert set(to_mono_int16(stereo, 2).tolist()) == {2000}
    floats = np.full((10, 1), 0.5, np.float32)
    assert set(to_mono_int16(floats, 1).tolist()) == {16384}
    resampler = Resampler(24000, channels=2, frame_ms=10)
    assert resampler.push(stereo.tobytes()) == [np.full(240, 2000, "<i2").tobytes()] * 2


def test_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        Resampler(0)
