"""Speech for tests: espeak-ng words when the voice extra is installed, else the synthetic
voice (the server then cannot recognize it, and gives it a placeholder transcript)."""

from __future__ import annotations

from realtime_agent.server import espeak
from realtime_agent.server.speech import EspeakVoice, SpeechSynthesizer, SyntheticVoice

REAL = espeak.available()
"""True when test speech has words the local server can recognize."""

VOICE: SpeechSynthesizer = EspeakVoice() if REAL else SyntheticVoice(pitch_hz=180.0, seed=3)


def spoken(text: str, *, voice: str = "marin", lead_ms: int = 200, silence_ms: int = 700) -> bytes:
    """``text`` said as pcm16 24 kHz, with silence before and after (enough to end a turn)."""
    return bytes(48 * lead_ms) + VOICE.synthesize(text, voice).pcm + bytes(48 * silence_ms)
