"""Speech for the local server's replies: audio with word timings, no model needed.

:class:`SyntheticVoice` (the default) turns text into speech-like sound: voiced
syllables on a gliding pitch, shaped by vowel formants, with noise bursts for the
consonants and pauses between words and at punctuation. It is deterministic, takes a
few ms per second of audio, lasts in proportion to the text (about 5 syllables a
second), and a voice activity detector hears it as speech, which a pure tone would not
be for a human ear and white noise would not be for a careful detector. Word offsets
let the server send transcript deltas in step with the audio.

:class:`EspeakVoice` speaks for real through the ``espeak-ng`` program when it is
installed (Debian: ``apt-get install espeak-ng``); word timings are then spread over
the audio in proportion to the characters of each word.
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import soxr

__all__ = ["EspeakVoice", "Speech", "SpeechSynthesizer", "SyntheticVoice"]

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

    def synthesize(self, text: str) -> Speech:
        """Speech for ``text``: pcm16 24 kHz mono with word offsets."""
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

    def synthesize(self, text: str) -> Speech:
        """Speech for ``text`` (cached: the same text gives the same audio)."""
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
        n = self._ms(35.0)
        noise: np.ndarray = np.diff(rng.normal(0.0, 1.0, n + 1))
        shaped: np.ndarray = 0.12 * noise * self._envelope(n, n // 4, n // 2)
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


class EspeakVoice:
    """Real speech from the ``espeak-ng`` program (see the module docstring).

    Raises RuntimeError when ``espeak-ng`` cannot be found.
    """

    def __init__(
        self, *, voice: str = "en-us", words_per_minute: int = 175, executable: str | None = None
    ) -> None:
        found = executable or shutil.which("espeak-ng")
        if found is None:
            raise RuntimeError(
                "espeak-ng is not installed (on Debian or Ubuntu: apt-get install espeak-ng)"
            )
        self.executable = found
        self.voice = voice
        self.words_per_minute = words_per_minute
        self._synthesize = lru_cache(maxsize=64)(self._render)

    def synthesize(self, text: str) -> Speech:
        """Speech for ``text`` (cached)."""
        return self._synthesize(text)

    def _render(self, text: str) -> Speech:
        command = [self.executable, "--stdout", "-v", self.voice, "-s", str(self.words_per_minute)]
        result = subprocess.run([*command, "--", text], capture_output=True, check=True, timeout=60)
        rate, pcm = _read_wav(result.stdout)
        samples = np.frombuffer(pcm, dtype="<i2")
        if rate != RATE:
            samples = np.asarray(soxr.resample(samples, rate, RATE), dtype="<i2")
        words = _WORDS.findall(text) or ([text] if text else [])
        total = max(1, sum(len(w) for w in words))
        offsets, position = [], 0
        for word in words:
            offsets.append((int(samples.size * position / total), word))
            position += len(word)
        return Speech(samples.astype("<i2").tobytes(), tuple(offsets))


def _read_wav(data: bytes) -> tuple[int, bytes]:
    """(sample rate, pcm16 mono) of a WAV that espeak-ng streams (its sizes are placeholders)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not produce a WAV stream")
    position, rate = 12, 0
    while position + 8 <= len(data):
        chunk, size = (
            data[position : position + 4],
            struct.unpack("<I", data[position + 4 : position + 8])[0],
        )
        body = position + 8
        if chunk == b"fmt ":
            channels, rate, _, _, bits = struct.unpack("<HIIHH", data[body + 2 : body + 16])
            if channels != 1 or bits != 16:
                raise RuntimeError(f"unexpected espeak-ng output: {channels} channels, {bits} bits")
        elif chunk == b"data":
            pcm = data[body:]  # the size field is a placeholder when streaming: read to the end
            return rate, pcm[: len(pcm) - len(pcm) % 2]
        position = body + size + (size & 1)
    raise RuntimeError("espeak-ng output has no audio")
