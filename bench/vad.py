"""The local server's VAD: turn-boundary error and cost, WebRTC vs the energy gate.

Synthetic utterances (the server's own voice, several pitches and texts) are placed
between silences, then mixed with white noise at several signal-to-noise ratios. For
each detector: the error of the detected start (``audio_start_ms + prefix_padding``)
and stop (``audio_end_ms - silence_duration``) against where the sound really starts
and ends; how often it hears speech in noise alone or a steady tone (false turns);
and its CPU cost per second of audio. The energy gate is the baseline: ratios are
WebRTC over energy, measured in the same run.

Run: ``python bench/vad.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from realtime_agent.server.speech import SyntheticVoice
from realtime_agent.server.vad import Detector, SpeechStarted, SpeechStopped, VoiceActivityDetector

TEXTS = [
    "hello there how are you doing today",
    "what is the weather like in paris",
    "please book a table for two at eight",
    "can you remind me to call my mother tomorrow",
    "turn the lights off in the kitchen",
    "how long does it take to get to the airport",
]
RATE = 24000


def utterances(count: int) -> list[tuple[np.ndarray, float, float]]:
    """(pcm, true start ms, true end ms) with silence around the speech."""
    out = []
    for index in range(count):
        voice = SyntheticVoice(pitch_hz=100.0 + 25 * (index % 8), seed=index)
        speech = np.frombuffer(voice.synthesize(TEXTS[index % len(TEXTS)]).pcm, dtype="<i2")
        loud = np.nonzero(np.abs(speech.astype(np.int32)) > 300)[0]
        lead = 500 + 37 * index
        pcm = np.concatenate([np.zeros(24 * lead, np.int16), speech, np.zeros(24 * 1200, np.int16)])
        out.append((pcm, lead + loud[0] / 24, lead + loud[-1] / 24))
    return out


def noisy(pcm: np.ndarray, snr_db: float | None, seed: int) -> bytes:
    if snr_db is None:
        return pcm.tobytes()
    speech_power = float(np.mean(pcm[np.abs(pcm) > 300].astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).normal(0.0, 1.0, pcm.size)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10))
    return np.clip(pcm + noise, -32768, 32767).astype("<i2").tobytes()


def detect(detector: Detector, audio: bytes) -> list[SpeechStarted | SpeechStopped]:
    vad = VoiceActivityDetector(detector=detector)
    events: list[SpeechStarted | SpeechStopped] = []
    for start in range(0, len(audio), 960):  # 20 ms appends
        events += vad.feed(audio[start : start + 960])
    return events


def boundary_errors(
    detector: Detector, cases: list[tuple[np.ndarray, float, float]], snr: float | None
) -> tuple[list[float], list[float], int]:
    starts, stops, misses = [], [], 0
    for index, (pcm, truth_start, truth_end) in enumerate(cases):
        events = detect(detector, noisy(pcm, snr, index))
        started = [e for e in events if isinstance(e, SpeechStarted)]
        stopped = [e for e in events if isinstance(e, SpeechStopped)]
        if len(started) != 1 or len(stopped) != 1:
            misses += 1
            continue
        starts.append(started[0].audio_start_ms + 300 - truth_start)
        stops.append(stopped[0].audio_end_ms - 200 - truth_end)
    return starts, stops, misses


def false_turns(detector: Detector, seconds: int) -> dict[str, int]:
    rng = np.random.default_rng(1)
    t = np.arange(RATE * seconds) / RATE
    signals = {
        "white noise -30 dBFS": rng.normal(0, 32768 * 10 ** (-30 / 20), t.size),
        "tone 440 Hz -20 dBFS": 32768 * 10 ** (-20 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t),
        "hum 50 Hz -40 dBFS": 32768 * 10 ** (-40 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 50 * t),
        "tone 440 Hz after 1 s of silence": np.where(
            t > 1.0, 32768 * 10 ** (-20 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t), 0.0
        ),
    }
    out = {}
    for name, signal in signals.items():
        audio = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
        out[name] = sum(isinstance(e, SpeechStarted) for e in detect(detector, audio))
    return out


def cost_us_per_second(detector: Detector, audio: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        detect(detector, audio)
        best = min(best, time.perf_counter() - start)
    return best * 1e6 / (len(audio) / 2 / RATE)


def summary(errors: list[float]) -> str:
    if not errors:
        return "n/a"
    absolute = [abs(e) for e in errors]
    mean, worst, bias = statistics.mean(absolute), max(absolute), statistics.mean(errors)
    return f"mean |err| {mean:5.1f} ms, max {worst:5.1f} ms, bias {bias:+6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer utterances (a smoke run)")
    args = parser.parse_args()
    cases = utterances(6 if args.quick else 24)
    print(f"{len(cases)} utterances, prefix_padding 300 ms, silence_duration 200 ms, 20 ms appends")
    for snr in (None, 20.0, 10.0, 5.0):
        label = "clean" if snr is None else f"SNR {snr:.0f} dB"
        for detector in ("webrtc", "energy"):
            starts, stops, misses = boundary_errors(detector, cases, snr)
            print(f"{label:>10} {detector:>6}  start: {summary(starts)}")
            print(
                f"{'':>10} {'':>6}  stop:  {summary(stops)}   "
                f"wrong turn count: {misses}/{len(cases)}"
            )
    seconds = 5 if args.quick else 20
    for detector in ("webrtc", "energy"):
        print(f"false turns in {seconds} s, {detector}: {false_turns(detector, seconds)}")  # type: ignore[arg-type]
    audio = noisy(cases[0][0], 20.0, 0) * 4
    webrtc, energy = cost_us_per_second("webrtc", audio), cost_us_per_second("energy", audio)
    print(
        f"cost per second of audio: webrtc {webrtc:.0f} µs, energy {energy:.0f} µs, "
        f"ratio {webrtc / energy:.2f}x"
    )


if __name__ == "__main__":
    main()
