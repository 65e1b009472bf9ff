"""Speech for the local server's replies: audio with word timings, no model needed.

:class:`SyntheticVoice` (the default) turns text into speech-like sound: voiced
syllables on a gliding pitch, shaped by vowel formants, with noise bursts for the
consonants and pauses between words and at punctuation. It is deterministic, takes a
few ms per second of audio, lasts in proportion to the text (about 5 syllables a
second), and a voice activity detector hears it as speech, which a pure tone would not
be for a human ear and white noise would not be for a careful detector. Word offsets
let the server send transcript deltas in step with the audio.

:class:`EspeakVoice` speaks words, through espeak-ng's library (the ``voice`` extra),
each OpenAI voice name as a distinct espeak-ng voice, with the word timings espeak-ng
reports. It is the local server's default voice when the extra is installed
(:func:`default_synthesizer`).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from realtime_agent.audio.resample import Resampler

if TYPE_CHECKING:
    from realtime_agent.server.espeak import Word as espeak_Word

__all__ = [
    "ESPEAK_VOICES",
    "EspeakVoice",
    "Speech",
    "SpeechSynthesizer",
    "SyntheticVoice",
    "default_synthesizer",
]

RATE = 24000


@dataclass(frozen=True, slots=True)
class Speech:
    """Synthesized speech: pcm16 at 24 kHz, and where each word of the text starts."""

    pcm: bytes
    words: tuple[tuple[int, str], ...]
    """(sample offset, word with its trailing space); the words join back to the text."""

    @property
    def duration_ms(self) -> float:
        """The duration of the audio in ms."""
        return len(self.pcm) / 2 * 1000 / RATE


class SpeechSynthesizer(Protocol):
    """Anything that turns reply text into speech for the local server."""

    def synthesize(self, text: str, voice: str = "marin") -> Speech:
        """Speech for ``text`` in ``voice`` (the session's voice name): pcm16 24 kHz mono
        with word offsets."""
        ...


_FORMANTS = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
    "y": (300.0, 2100.0, 2900.0),
}
_VOWELS = re.compile(r"[aeiouy]+")
_WORDS = re.compile(r"\s*\S+\s*")


def _syllables(word: str) -> list[tuple[bool, str]]:
    """(has a consonant onset, vowel) per syllable of a word."""
    letters = "".join(c for c in word.lower() if c.isalnum())
    if not letters:
        return []
    if letters.isdigit():
        return [(True, "e")] * len(letters)
    out, position = [], 0
    for match in _VOWELS.finditer(letters):
        out.append((match.start() > position, match.group()[0]))
        position = match.end()
    return out or [(True, "e")]


class SyntheticVoice:
    """A deterministic speech-like voice (see the module docstring)."""

    def __init__(self, *, pitch_hz: float = 140.0, speed: float = 1.0, seed: int = 0) -> None:
        if not 50.0 <= pitch_hz <= 400.0:
            raise ValueError(f"pitch_hz must be within 50-400, not {pitch_hz}")
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be within 0.25-4, not {speed}")
        self.pitch_hz = pitch_hz
        self.speed = speed
        self.seed = seed
        self._synthesize = lru_cache(maxsize=64)(self._render)

    def synthesize(self, text: str, voice: str = "marin") -> Speech:
        """Speech for ``text`` (cached: the same text gives the same audio); one voice
        whatever ``voice`` names: set ``pitch_hz`` for another."""
        return self._synthesize(text)

    def _ms(self, ms: float) -> int:
        return int(ms / self.speed * RATE / 1000)

    def _render(self, text: str) -> Speech:
        rng = np.random.default_rng(self.seed)
        words = _WORDS.findall(text) or ([text] if text else [])
        total_syllables = max(1, sum(len(_syllables(w)) for w in words))
        chunks: list[np.ndarray] = []
        offsets: list[tuple[int, str]] = []
        position, syllable_index = 0, 0
        for word in words:
            offsets.append((position, word))
            for onset, vowel in _syllables(word):
                progress = syllable_index / total_syllables
                syllable_index += 1
                if onset:
                    chunks.append(self._consonant(rng))
                chunks.append(self._vowel(vowel, progress, rng))
            stripped = word.rstrip()
            pause = 70.0
            if stripped.endswith((",", ";", ":")):
                pause = 220.0
            elif stripped.endswith((".", "!", "?")):
                pause = 380.0
            chunks.append(rng.normal(0.0, 0.0005, self._ms(pause)))
            position = sum(len(c) for c in chunks)
        signal = np.concatenate(chunks) if chunks else np.zeros(0)
        peak = float(np.max(np.abs(signal))) if signal.size else 0.0
        if peak > 0:
            signal = signal * (0.35 / peak)
        pcm = np.clip(signal * 32767.0, -32768, 32767).astype("<i2").tobytes()
        return Speech(pcm, tuple(offsets))

    def _envelope(self, n: int, attack: int, release: int) -> np.ndarray:
        env = np.ones(n)
        attack, release = min(attack, n // 2), min(release, n // 2)
        if attack:
            env[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, attack))
        if release:
            env[n - release :] = 0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, release))
        return env

    def _consonant(self, rng: np.random.Generator) -> np.ndarray:
        # A fricative: noise in a band around 3.5 kHz (no energy up where clicks live),
        # faded in and out over its whole length, so it never starts or stops abruptly.
        n = self._ms(40.0)
        spectrum = np.fft.rfft(rng.normal(0.0, 1.0, n))
        frequencies = np.fft.rfftfreq(n, 1.0 / RATE)
        spectrum *= np.exp(-(((frequencies - 3500.0) / 1100.0) ** 2))
        noise = np.fft.irfft(spectrum, n)
        noise /= max(1e-9, float(np.sqrt(np.mean(noise**2))))
        shaped: np.ndarray = 0.05 * noise * np.hanning(n)
        return shaped

    def _vowel(self, vowel: str, progress: float, rng: np.random.Generator) -> np.ndarray:
        n = self._ms(float(rng.uniform(95.0, 135.0)))
        t = np.arange(n) / RATE
        base = self.pitch_hz * (1.1 - 0.2 * progress)  # declination over the utterance
        f0 = base * (
            1.0 + 0.08 * np.sin(math.pi * t / t[-1]) + 0.01 * np.sin(2 * math.pi * 5.5 * t)
        )
        phase = 2 * math.pi * np.cumsum(f0) / RATE
        formants = _FORMANTS.get(vowel, _FORMANTS["e"])
        signal = np.zeros(n)
        for k in range(1, int(3800 / base) + 1):
            frequency = k * base
            gain = sum(math.exp(-(((frequency - f) / 110.0) ** 2)) for f in formants)
            gain = gain / math.sqrt(k) + 0.02 / k
            signal += gain * np.sin(k * phase)
        shaped: np.ndarray = signal * self._envelope(n, self._ms(20.0), self._ms(35.0))
        return shaped


# OpenAI's voices, each as a distinct espeak-ng voice: (espeak voice, pitch 0-100). Chosen
# among espeak-ng's variants for how well speech recognition hears them (bench/stt.py):
# Klatt synthesis for the male voices, the f2 and f5 variants for most female ones.
ESPEAK_VOICES: dict[str, tuple[str, int]] = {
    "marin": ("en-us+f2", 50),
    "alloy": ("en-us+f2", 64),
    "sage": ("en-us+f5", 50),
    "coral": ("en-us+f5", 36),
    "shimmer": ("en-us+f1", 60),
    "cedar": ("en-us+klatt3", 45),
    "ash": ("en-us+klatt4", 36),
    "echo": ("en-us+klatt6", 58),
    "verse": ("en-us+klatt2", 50),
    "ballad": ("en-gb-x-rp+m6", 50),
}
DEFAULT_VOICE = "marin"


class EspeakVoice:
    """Real speech from espeak-ng's library (see :mod:`realtime_agent.server.espeak`).

    The session's voice picks one of :data:`ESPEAK_VOICES` (an unknown name speaks as
    ``marin``); ``voices`` replaces that table. Word positions come from espeak-ng
    itself, so transcript deltas follow the audio word by word.

    Raises RuntimeError (:class:`~realtime_agent.server.espeak.EspeakError`) when espeak-ng
    cannot be loaded: install the ``voice`` extra.
    """

    def __init__(
        self,
        *,
        words_per_minute: int = 165,
        voices: dict[str, tuple[str, int]] | None = None,
    ) -> None:
        from realtime_agent.server import espeak

        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be within 80-450, not {words_per_minute}")
        with espeak._lock:
            espeak._loaded()  # fail now, not at the first reply
        self.words_per_minute = words_per_minute
        self.voices = dict(voices or ESPEAK_VOICES)
        self._synthesize = lru_cache(maxsize=64)(self._render)

    def synthesize(self, text: str, voice: str = DEFAULT_VOICE) -> Speech:
        """Speech for ``text`` in ``voice`` (cached)."""
        return self._synthesize(text, voice)

    def _render(self, text: str, voice: str) -> Speech:
        from realtime_agent.server import espeak

        name, pitch = self.voices.get(voice) or self.voices.get(DEFAULT_VOICE, ("en-us", 50))
        spoken = espeak.synthesize(
            text, voice=name, words_per_minute=self.words_per_minute, pitch=pitch
        )
        resampler = Resampler(spoken.rate, RATE)
        pcm = b"".join([*resampler.push_samples(spoken.samples), *resampler.flush()])
        scale = RATE / spoken.rate
        total = len(pcm) // 2
        return Speech(pcm, _word_offsets(text, spoken.words, scale, total))


def _word_offsets(
    text: str, words: Sequence[espeak_Word], scale: float, total: int
) -> tuple[tuple[int, str], ...]:
    """Each word of ``text`` (with its trailing space) and the sample where it begins.

    espeak-ng reports a word's first character (after punctuation, the space before it);
    a word it did not report (punctuation alone) begins where the previous one did."""
    pieces = _WORDS.findall(text) or ([text] if text else [])
    ends = list(itertools.accumulate(len(piece) for piece in pieces))
    starts: dict[int, int] = {}
    for word in words:
        char = word.char
        if 0 <= char < len(text) and text[char].isspace():
            char += 1
        index = bisect.bisect_right(ends, char)
        if index < len(pieces):
            starts.setdefault(index, min(total, int(word.sample * scale)))
    offsets, previous = [], 0
    for index, piece in enumerate(pieces):
        previous = max(previous, starts.get(index, previous))
        offsets.append((previous, piece))
    return tuple(offsets)


def default_synthesizer() -> SpeechSynthesizer:
    """The local server's default voice: espeak-ng's words when the ``voice`` extra is
    installed, else :class:`SyntheticVoice` (and a note in the server's log, once)."""
    from realtime_agent.server import espeak

    if espeak.available():
        return EspeakVoice()
    global _noted
    if not _noted:
        _noted = True
        logging.getLogger("realtime_agent.server").info(
            "speaking with the synthetic voice (no words): pip install 'realtime-agent[voice]' "
            "for real speech"
        )
    return SyntheticVoice()


_noted = False
