"""The local server's voices: espeak-ng words (the voice extra) and the synthetic fallback."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from realtime_agent.server import espeak
from realtime_agent.server.speech import (
    ESPEAK_VOICES,
    EspeakVoice,
    SyntheticVoice,
    default_synthesizer,
)
from realtime_agent.server.vad import VoiceActivityDetector

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="the voice extra is not installed")

TEXTS = [
    "It is sunny in Paris today, twenty one degrees.",
    "Hello there! Set a timer for five minutes.",
]


def high_frequency_share(pcm: bytes) -> float:
    """The largest share of energy above 6 kHz in any 5 ms window of the sound (not silence)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    level = float(np.sqrt(np.mean(x**2)))
    frequencies = np.fft.rfftfreq(120, 1 / 24000)
    worst = 0.0
    for start in range(0, x.size - 120, 60):
        window = x[start : start + 120]
        if np.sqrt(np.mean(window**2)) < 0.1 * level:
            continue
        power = np.abs(np.fft.rfft(window * np.hanning(120))) ** 2
        worst = max(worst, float(power[frequencies > 6000].sum() / power.sum()))
    return worst


@pytest.mark.parametrize("text", TEXTS)
def test_the_synthetic_voice_has_no_clicks(text: str) -> None:
    # Its consonants were noise bursts with 95% of their energy above 6 kHz: a click each.
    assert high_frequency_share(SyntheticVoice().synthesize(text).pcm) < 0.05


def hears(pcm: bytes) -> list[str]:
    vad = VoiceActivityDetector()
    audio = bytes(48 * 500) + pcm + bytes(48 * 800)
    events = []
    for start in range(0, len(audio), 960):
        events += vad.feed(audio[start : start + 960])
    return [type(event).__name__ for event in events]


@needs_espeak
def test_espeak_speaks_words_the_vad_hears_as_one_turn() -> None:
    text = "Hello there, how are you doing today?"
    speech = EspeakVoice().synthesize(text)
    assert 1000 < speech.duration_ms < 4000
    assert "".join(word for _, word in speech.words) == text
    assert hears(speech.pcm) == ["SpeechStarted", "SpeechStopped"]


@needs_espeak
def test_each_word_begins_where_espeak_spoke_it() -> None:
    # Pauses between the words: each offset is at the end of a silence, not spread evenly.
    speech = EspeakVoice().synthesize("One. Two. Three. Four.")
    samples = np.abs(np.frombuffer(speech.pcm, dtype="<i2").astype(np.int32))
    offsets = [offset for offset, _ in speech.words]
    assert offsets == sorted(offsets) and len(offsets) == 4
    for offset in offsets[1:]:
        before = samples[offset - 2400 : offset - 240].mean()  # 100 ms to 10 ms before
        after = samples[offset : offset + 4800].mean()  # its first 200 ms
        assert after > 8 * before, (offset, before, after)


@needs_espeak
def test_espeak_audio_is_24_khz_and_unicode_text_joins_back() -> None:
    text = "Un café au lait, s'il vous plaît."
    speech = EspeakVoice().synthesize(text)
    native = espeak.synthesize(text, voice=ESPEAK_VOICES["marin"][0], words_per_minute=165)
    # The female voices breathe (random noise): renderings differ by a few samples.
    assert len(speech.pcm) // 2 == pytest.approx(native.samples.size * 24000 / native.rate, 0.005)
    assert "".join(word for _, word in speech.words) == text


def pitch_hz(pcm: bytes) -> float:
    """The median pitch of the loud 40 ms windows (autocorrelation)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    found = []
    for start in range(0, x.size - 960, 480):
        window = x[start : start + 960]
        if np.sqrt(np.mean(window**2)) < 1000:
            continue
        correlation = np.correlate(window, window, "full")[959:]
        low, high = 24000 // 400, 24000 // 60
        found.append(24000 / (low + int(np.argmax(correlation[low:high]))))
    return float(np.median(found))


@needs_espeak
def test_the_session_voices_sound_different() -> None:
    voice = EspeakVoice()
    text = "Hello there, how are you doing today?"
    pitches = {name: pitch_hz(voice.synthesize(text, name).pcm) for name in ESPEAK_VOICES}
    female = {"marin", "alloy", "coral", "sage", "shimmer"}
    assert all(pitches[name] > 150 for name in female), pitches
    assert all(pitches[name] < 120 for name in set(ESPEAK_VOICES) - female), pitches
    unknown = voice.synthesize(text, "no-such-voice")
    assert unknown.duration_ms == pytest.approx(voice.synthesize(text).duration_ms, 0.02)
    assert pitch_hz(unknown.pcm) == pytest.approx(pitches["marin"], 0.1)


@needs_espeak
def test_an_unknown_espeak_voice_is_a_clear_error() -> None:
    with pytest.raises(espeak.EspeakError, match="no voice 'xx-nope'"):
        EspeakVoice(voices={"marin": ("xx-nope", 50)}).synthesize("Hello.")
    assert EspeakVoice().synthesize("Hello.").duration_ms > 200  # the library still works


@needs_espeak
def test_espeak_is_the_default_voice_with_the_extra() -> None:
    assert isinstance(default_synthesizer(), EspeakVoice)


# Without the voice extra and without a system libespeak-ng (a fresh machine): the loader
# package is hidden and no system library is found.
WITHOUT_ESPEAK = """
import ctypes.util, logging, sys
sys.modules["espeakng_loader"] = None
ctypes.util.find_library = lambda name: None
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from realtime_agent.server.speech import EspeakVoice, SyntheticVoice, default_synthesizer
assert isinstance(default_synthesizer(), SyntheticVoice)
assert isinstance(default_synthesizer(), SyntheticVoice)
try:
    EspeakVoice()
except RuntimeError as error:
    print("error:", error)
"""


def test_without_espeak_the_server_falls_back_and_says_why_once() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_ESPEAK], capture_output=True, text=True, check=True
    )
    notes = [line for line in result.stderr.splitlines() if "synthetic voice" in line]
    assert len(notes) == 1 and "pip install 'realtime-agent[voice]'" in notes[0]
    assert notes[0].startswith("realtime_agent.server:")
    assert result.stdout.strip() == (
        "error: espeak-ng is not available: pip install 'realtime-agent[voice]'"
    )


def test_the_note_goes_to_the_server_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="realtime_agent.server")
    default_synthesizer()
    assert all(record.name == "realtime_agent.server" for record in caplog.records)
