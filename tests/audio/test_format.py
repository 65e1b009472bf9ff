"""Audio formats: bytes, samples and milliseconds; the wire names."""

from __future__ import annotations

import pytest

from realtime_agent.audio.format import ALAW_8K, PCM16_24K, ULAW_8K, AudioFormat
from realtime_agent.schema.common import PcmaFormat, PcmFormat, PcmuFormat


def test_bytes_samples_and_ms() -> None:
    assert PCM16_24K.bytes_per_ms == 48 and ULAW_8K.bytes_per_ms == ALAW_8K.bytes_per_ms == 8
    assert PCM16_24K.ms(4800) == 100.0
    assert PCM16_24K.ms(4801) == 100.0  # a trailing half sample does not count
    assert PCM16_24K.samples(4801) == 2400
    assert PCM16_24K.nbytes(100) == 4800
    assert PCM16_24K.nbytes(0.99) == 46  # whole samples, rounded down
    assert ULAW_8K.ms(800) == 100.0 and ULAW_8K.nbytes(40) == 320


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (PcmFormat(), PCM16_24K),
        ({"type": "audio/pcm", "rate": 24000}, PCM16_24K),
        ("pcm16", PCM16_24K),
        (PcmuFormat(), ULAW_8K),
        ("g711_ulaw", ULAW_8K),
        (PcmaFormat(), ALAW_8K),
        ({"type": "audio/pcma"}, ALAW_8K),
    ],
)
def test_from_wire(wire: object, expected: AudioFormat) -> None:
    assert AudioFormat.from_wire(wire) == expected


@pytest.mark.parametrize("wire", ["opus", {"type": "audio/pcm", "rate": 16000}, {"type": "x"}])
def test_from_wire_refuses_what_the_api_does_not_carry(wire: object) -> None:
    with pytest.raises(ValueError):
        AudioFormat.from_wire(wire)
