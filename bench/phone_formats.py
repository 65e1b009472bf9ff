"""The phone bridge's audio format: ``audio/pcmu`` straight through, or pcm16 with resampling.

A Twilio call carries G.711 μ-law at 8 kHz both ways. The bridge can pass it to the
Realtime API as it is (``audio/pcmu`` in and out), or decode it and resample it to the
API's default pcm16 at 24 kHz (and the answer back down to μ-law 8 kHz). Measured here on
the same speech (espeak-ng voices, the ``voice`` extra):

* **latency** each way: what the streaming resampler (``Resampler``, soxr HQ, 20 ms frames,
  as the bridge would run it) holds back, mean and max over the call's frames; pcmu: 0;
* **CPU** per second of call, both directions (μ-law decode/encode and the two
  resamplers); pcmu: no audio work at all (the base64 both paths share is left out);
* **the caller, recognized**: word error rate of the local server's recognizer on the
  caller's μ-law as pcmu, and as resampled pcm16 (the original 24 kHz speech as the
  ceiling). The phone's band is 4 kHz either way: upsampling adds no information;
* **the answer, heard**: the 24 kHz answer brought down to μ-law 8 kHz by the upstream
  (whole-signal soxr, as the local server does for pcmu) or by the bridge (streaming
  resampler per 40 ms delta, as pcm16 needs), each against an ideal reference (VHQ,
  no μ-law): SNR in dB;
* **bytes upstream** per second of the caller's audio (before base64);
* **the truncate**: with pcmu one μ-law byte is one sample on the caller's timeline and on
  the item's, so a mark's position is the truncate's, exactly; with pcm16 the positions
  pass through the resampler, whose held-back audio (the latency above) is an error unless
  tracked.

Run: ``python bench/phone_formats.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import soxr

from realtime_agent.audio.format import PCM16_24K, ULAW_8K
from realtime_agent.audio.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from realtime_agent.audio.resample import Resampler
from realtime_agent.server import stt
from realtime_agent.server.speech import EspeakVoice
from realtime_agent.server.stt import session_hints, word_error_rate

CALLER = [
    "What's the weather in Paris?",
    "Is it raining in London?",
    "What is the weather like in Tokyo today?",
    "Set a timer for five minutes.",
    "Turn on the lights in the kitchen.",
    "Book a table for two at eight.",
    "Remind me to call my mother tomorrow.",
    "Will it rain in Seattle tomorrow?",
    "Thank you very much.",
    "What time is it?",
]
VOICES = ["marin", "cedar", "sage", "ash"]
ANSWER = (
    "Here is what I found: the sky is clear in Paris, twenty one degrees, "
    "with a light breeze from the west."
)
HINTS = session_hints("Use get_weather for weather questions.")


def to_ulaw8(pcm24: bytes) -> bytes:
    """What the phone network delivers: 8 kHz μ-law (whole-signal soxr HQ)."""
    pcm = np.frombuffer(pcm24, dtype="<i2")
    return pcm16_to_ulaw(np.asarray(soxr.resample(pcm, 24000, 8000), dtype="<i2").tobytes())


def streamed(resampler: Resampler, audio: bytes, chunk: int) -> tuple[bytes, list[float]]:
    """``audio`` through ``resampler`` in chunks: the output, and what it held after each."""
    out, held = [], []
    for start in range(0, len(audio), chunk):
        out += resampler.push(audio[start : start + chunk])
        held.append(resampler.held_ms)
    out += resampler.flush()
    return b"".join(out), held


def snr_db(reference: np.ndarray, signal: np.ndarray) -> float:
    n = min(reference.size, signal.size)
    ref, sig = reference[:n].astype(np.float64), signal[:n].astype(np.float64)
    noise = float(np.sum((ref - sig) ** 2))
    return 10 * math.log10(float(np.sum(ref**2)) / max(noise, 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 voices, 4 utterances")
    args = parser.parse_args()
    voices, texts = (VOICES[:2], CALLER[:4]) if args.quick else (VOICES, CALLER)
    voice = EspeakVoice()
    engine = stt._engine()
    engine.recognize(bytes(3200), stt.PCM16_16K, HINTS)  # load the model first

    errors = {"pcmu": 0, "pcm16 (resampled)": 0, "wideband (ceiling)": 0}
    words = 0
    held_in: list[float] = []
    cpu_in = 0.0
    seconds = 0.0
    for text in texts:
        for speaker in voices:
            pcm24 = voice.synthesize(text, speaker).pcm
            ulaw = to_ulaw8(pcm24)
            seconds += len(ulaw) / 8000
            start = time.process_time()
            pcm8 = ulaw_to_pcm16(ulaw)
            up, held = streamed(Resampler(8000, 24000), pcm8, 320)
            cpu_in += time.process_time() - start
            held_in += held
            heard = {
                "pcmu": engine.recognize(ulaw, ULAW_8K, HINTS),
                "pcm16 (resampled)": engine.recognize(up, PCM16_24K, HINTS),
                "wideband (ceiling)": engine.recognize(pcm24, PCM16_24K, HINTS),
            }
            for name, hypothesis in heard.items():
                wrong, count = word_error_rate(text, hypothesis)
                errors[name] += wrong
            words += count

    answer = voice.synthesize(ANSWER, "marin").pcm
    reference = soxr.resample(np.frombuffer(answer, "<i2"), 24000, 8000, quality="VHQ")
    by_upstream = np.frombuffer(ulaw_to_pcm16(to_ulaw8(answer)), "<i2")
    start = time.process_time()
    down, held_out = streamed(Resampler(24000, 8000), answer, 1920)  # 40 ms deltas
    by_bridge = np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(down)), "<i2")
    cpu_out = time.process_time() - start
    answer_s = len(answer) / 48000

    print(f"phone audio formats: {len(texts)} utterances x {len(voices)} voices, {seconds:.0f} s")
    print("  latency added, ms (mean / max):")
    print("    pcmu:                   in 0 / 0, out 0 / 0")
    print(
        f"    pcm16 with resampling:  in {statistics.mean(held_in):.1f} / {max(held_in):.1f}, "
        f"out {statistics.mean(held_out):.1f} / {max(held_out):.1f}"
    )
    cpu = 1000 * (cpu_in / seconds + cpu_out / answer_s)
    print(f"  CPU, ms per s of call (both ways): pcmu 0.0, pcm16 {cpu:.2f}")
    print(f"  the caller recognized (word error rate over {words} words):")
    for name, wrong in errors.items():
        print(f"    {name:<22} {wrong / max(words, 1):6.1%}")
    print("  the answer as the caller gets it, SNR against the ideal 8 kHz, dB:")
    print(f"    pcmu (the upstream resamples):  {snr_db(reference, by_upstream):5.1f}")
    print(f"    pcm16 (the bridge resamples):   {snr_db(reference, by_bridge):5.1f}")
    print("  bytes upstream per s of the caller: pcmu 8000, pcm16 48000 (6x)")
    print(
        "  the truncate: pcmu maps a mark's position to the item's audio exactly; pcm16 "
        f"carries up to {max(held_out):.0f} ms of resampler delay unless it is tracked"
    )


if __name__ == "__main__":
    main()
