"""The resampler: cost per 20 ms chunk and latency, for each soxr quality and input rate.

For 48 kHz, 44.1 kHz and 16 kHz to 24 kHz: CPU per 20 ms chunk (ratio to QQ, measured in
the same run), the audio held back (mean and worst, in ms, while streaming 20 ms
chunks: the latency the resampler adds), and whether the total length is exact. QQ has
no anti-aliasing filter; the default is HQ.

Run: ``python bench/resample.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from realtime_agent.audio.resample import Resampler

QUALITIES = ["QQ", "LQ", "MQ", "HQ", "VHQ"]


def measure(rate: int, quality: str, seconds: float) -> tuple[float, float, float, bool]:
    samples = np.random.default_rng(rate).normal(0, 3000, int(rate * seconds)).astype(np.int16)
    chunk = rate // 50
    chunks = [samples[i : i + chunk].tobytes() for i in range(0, samples.size, chunk)]
    resampler = Resampler(rate, quality=quality)
    held: list[float] = []
    out = 0
    start = time.perf_counter()
    for data in chunks:
        out += sum(len(f) for f in resampler.push(data)) // 2
        held.append(resampler.held_ms)
    out += sum(len(f) for f in resampler.flush()) // 2
    cost = (time.perf_counter() - start) / len(chunks) * 1e6
    exact = out == math.ceil(samples.size * 24000 / rate)
    return cost, statistics.mean(held), max(held), exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s of audio instead of 20 (smoke)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 20.0
    header = f"{'in':>6} {'quality':>7} {'µs/chunk':>9} {'x QQ':>6}"
    print(f"{header} {'held mean':>10} {'held max':>9} exact")
    for rate in (48000, 44100, 16000):
        baseline = measure(rate, "QQ", seconds)[0]
        for quality in QUALITIES:
            cost, mean, worst, exact = measure(rate, quality, seconds)
            print(
                f"{rate:>6} {quality:>7} {cost:>9.1f} {cost / baseline:>6.2f}"
                f" {mean:>8.1f}ms {worst:>7.1f}ms {exact}"
            )


if __name__ == "__main__":
    main()
