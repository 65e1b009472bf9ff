"""G.711 μ-law and A-law in numpy (``audioop`` is deprecated, and gone in Python 3.13).

The encoders and decoders follow the ITU-T G.711 reference (the classic ``g711.c``);
both directions go through lookup tables built once, so a 20 ms frame costs a single
numpy indexing operation.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

__all__ = ["alaw_to_pcm16", "pcm16_to_alaw", "pcm16_to_ulaw", "ulaw_to_pcm16"]

_BIAS = 0x84
_ULAW_CLIP = 8159
_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for seg, end in enumerate(ends):
        if value <= end:
            return seg
    return len(ends)


def _linear_to_ulaw(sample: int) -> int:
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, _ULAW_CLIP) + (_BIAS >> 2)
    seg = _segment(value, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0xF)) ^ mask


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    t = (((code & 0x0F) << 3) + _BIAS) << ((code & 0x70) >> 4)
    return _BIAS - t if code & 0x80 else t - _BIAS


def _linear_to_alaw(sample: int) -> int:
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    seg = _segment(value, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    code = seg << 4
    code |= (value >> 1) & 0xF if seg < 2 else (value >> seg) & 0xF
    return code ^ mask


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    t = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


@cache
def _encode_table(law: str) -> npt.NDArray[np.uint8]:
    encode = _linear_to_ulaw if law == "ulaw" else _linear_to_alaw
    # Indexed by the int16 sample's bit pattern read as uint16.
    samples = np.arange(65536, dtype=np.uint16).view(np.int16)
    return np.array([encode(int(s)) for s in samples], dtype=np.uint8)


@cache
def _decode_table(law: str) -> npt.NDArray[np.int16]:
    decode = _ulaw_to_linear if law == "ulaw" else _alaw_to_linear
    return np.array([decode(code) for code in range(256)], dtype=np.int16)


def _pcm(pcm16: bytes) -> npt.NDArray[np.uint16]:
    return np.frombuffer(pcm16, dtype="<u2", count=len(pcm16) // 2)


def pcm16_to_ulaw(pcm16: bytes) -> bytes:
    """Encode 16-bit little-endian PCM as μ-law, one byte per sample."""
    return _encode_table("ulaw")[_pcm(pcm16)].tobytes()


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode μ-law to 16-bit little-endian PCM."""
    return _decode_table("ulaw")[np.frombuffer(ulaw, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_to_alaw(pcm16: bytes) -> bytes:
    """Encode 16-bit little-endian PCM as A-law, one byte per sample."""
    return _encode_table("alaw")[_pcm(pcm16)].tobytes()


def alaw_to_pcm16(alaw: bytes) -> bytes:
    """Decode A-law to 16-bit little-endian PCM."""
    return _decode_table("alaw")[np.frombuffer(alaw, dtype=np.uint8)].astype("<i2").tobytes()
