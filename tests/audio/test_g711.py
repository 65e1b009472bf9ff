"""G.711 μ-law and A-law, against the reference values and audioop where it still exists."""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from realtime_agent.audio.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16


def pcm(*samples: int) -> bytes:
    return np.array(samples, dtype="<i2").tobytes()


def test_reference_values() -> None:
    assert pcm16_to_ulaw(pcm(0, -1, 32767, -32768)) == bytes([0xFF, 0x7E, 0x80, 0x00])
    assert pcm16_to_alaw(pcm(0, -1, 32767, -32768)) == bytes([0xD5, 0x55, 0xAA, 0x2A])
    assert ulaw_to_pcm16(bytes([0xFF, 0x80, 0x00])) == pcm(0, 32124, -32124)
    assert alaw_to_pcm16(bytes([0xD5, 0xAA, 0x2A])) == pcm(8, 32256, -32256)


@pytest.mark.parametrize(
    ("encode", "decode"), [(pcm16_to_ulaw, ulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)]
)
def test_round_trip_error_is_within_the_companding_step(
    encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes]
) -> None:
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    again = np.frombuffer(decode(encode(samples.tobytes())), dtype="<i2")
    error = np.abs(again.astype(np.int32) - samples.astype(np.int32))
    step = np.maximum(16, np.abs(samples.astype(np.int32)) // 16)  # ~1/16 of the magnitude
    assert np.all(error <= step)
    assert len(encode(b"\x00\x00\x01")) == 1  # a trailing odd byte is not a sample


def test_matches_audioop_where_it_exists() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            audioop = importlib.import_module("audioop")
        except ImportError:
            pytest.skip("audioop is gone from this Python (3.13+)")
    data = os.urandom(40000)
    assert pcm16_to_ulaw(data) == audioop.lin2ulaw(data, 2)
    assert pcm16_to_alaw(data) == audioop.lin2alaw(data, 2)
    assert ulaw_to_pcm16(data) == audioop.ulaw2lin(data, 2)
    assert alaw_to_pcm16(data) == audioop.alaw2lin(data, 2)
