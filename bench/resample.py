"""The resampler: cost per 20 ms chunk and latency, for each soxr quality and input rate.

For 48 kHz, 44.1 kHz and 16 kHz to 24 kHz: CPU per 20 ms chunk (ratio to QQ, measured in
the same run), the audio held back (mean and worst, in ms, while streaming 20 ms
chunks: the latency the resampler adds), and whether the total length is exact. QQ has
no anti-aliasing filter; the default is HQ.

Then, side by side in the same run, against our default (HQ) as the baseline, the common
alternatives used the way streaming code often uses them, one call per 20 ms chunk:

- ``scipy.signal.resample_poly(chunk, up, down)`` (up/down from the gcd: 48k -> 24k is
  1/2, 44.1k -> 24k is 80/147, 16k -> 24k is 3/2);
- ``resampy.resample(chunk, rate, 24000)`` with its default filter ``kaiser_best`` and
  with ``kaiser_fast``.

Every method does the same job: pcm16 bytes in, pcm16 bytes at 24 kHz out (the int16
<-> float conversions are timed too; they are about 1 µs). Each cost is the best of a
few passes over the same chunks, after a warm-up call (resampy's first call compiles
with numba, which is reported and excluded) and with malloc warmed (see ``warm_malloc``:
cold, resampy costs about 10x more; the full run measures that too).

Held back is measured the same way for every method (input in minus output out). The
per-chunk calls hold nothing back because they treat each chunk as if the signal were
silent outside it, and that is what the boundary SNR measures: a 1 kHz sine and a
speech-band multi-tone (150 Hz to 3.4 kHz), fed 20 ms at a time, against the exact
analytic signal at 24 kHz (int16 in and out, 100 ms trimmed at both ends of the stream),
with the worst error (a click at a chunk boundary). The same algorithms over the whole
signal at once (rows "whole") are the ceilings: what each gets without chunking. A
summary for the README (48 kHz in) closes.

Run: ``python bench/resample.py [--quick]``. scipy and resampy are optional (the
``bench`` extra); without them their rows say so and the rest runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soxr

from realtime_agent.audio.resample import Resampler

try:
    import resampy
except ImportError:  # optional: pip install -e '.[bench]'
    resampy = None
try:
    import scipy.signal as scipy_signal
except ImportError:  # optional: pip install -e '.[bench]'
    scipy_signal = None

QUALITIES = ["QQ", "LQ", "MQ", "HQ", "VHQ"]
RATES = (48000, 44100, 16000)
OUT_RATE = 24000
TRIM_S = 0.1  # stream start and end transients, not chunk boundaries
SINE = [(1000.0, 0.5, 0.0)]  # (Hz, amplitude of full scale, phase)
TONES = [  # speech band
    (150.0, 0.15, 0.3),
    (440.0, 0.15, 1.1),
    (1000.0, 0.15, 2.0),
    (2300.0, 0.15, 4.2),
    (3400.0, 0.15, 5.0),
]

Push = Callable[[bytes], list[bytes]]
Flush = Callable[[], list[bytes]]


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


# The methods compared: each makes a fresh stream (push one chunk, flush at the end).


def _to_float(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def _to_pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


def _no_flush() -> list[bytes]:
    return []


def ours(rate: int) -> tuple[Push, Flush]:
    resampler = Resampler(rate, OUT_RATE, quality="HQ")
    return resampler.push, resampler.flush


def poly_ratio(rate: int) -> Fraction:
    return Fraction(OUT_RATE, rate)  # reduced by the gcd: 48k -> 1/2, 44.1k -> 80/147


def poly_per_chunk(rate: int) -> tuple[Push, Flush]:
    assert scipy_signal is not None
    ratio = poly_ratio(rate)
    up, down = ratio.numerator, ratio.denominator

    def push(data: bytes) -> list[bytes]:
        return [_to_pcm(np.asarray(scipy_signal.resample_poly(_to_float(data), up, down)))]

    return push, _no_flush


def resampy_per_chunk(filter_name: str) -> Callable[[int], tuple[Push, Flush]]:
    def make(rate: int) -> tuple[Push, Flush]:
        assert resampy is not None

        def push(data: bytes) -> list[bytes]:
            out = resampy.resample(_to_float(data), rate, OUT_RATE, filter=filter_name)
            return [_to_pcm(np.asarray(out))]

        return push, _no_flush

    return make


@dataclass
class Method:
    name: str  # as in the tables
    make: Callable[[int], tuple[Push, Flush]] | None  # None: its package is missing
    missing: str = ""


def methods() -> list[Method]:
    scipy_missing = "scipy not installed (pip install scipy): skipped"
    resampy_missing = "resampy not installed (pip install resampy): skipped"
    return [
        Method("ours (soxr HQ, stream)", ours),
        Method(
            "scipy resample_poly per chunk",
            poly_per_chunk if scipy_signal else None,
            scipy_missing,
        ),
        Method(
            "resampy kaiser_best per chunk",
            resampy_per_chunk("kaiser_best") if resampy else None,
            resampy_missing,
        ),
        Method(
            "resampy kaiser_fast per chunk",
            resampy_per_chunk("kaiser_fast") if resampy else None,
            resampy_missing,
        ),
    ]


def cost_per_chunk(
    make: Callable[[int], tuple[Push, Flush]], rate: int, chunks: list[bytes], repeats: int
) -> float:
    """µs per chunk: the best of ``repeats`` passes (fewer when one pass takes over 3 s)."""
    make(rate)[0](chunks[0])  # warm-up: numba compile, filter tables, imports
    best = math.inf
    for _ in range(repeats):
        push, _flush = make(rate)
        start = time.perf_counter()
        for data in chunks:
            push(data)
        elapsed = time.perf_counter() - start
        best = min(best, elapsed / len(chunks))
        if elapsed > 3.0:
            break
    return best * 1e6


def signal(rate: int, seconds: float, tones: list[tuple[float, float, float]]) -> np.ndarray:
    """The tones sampled at ``rate`` (float, full scale 1.0) for ``seconds``."""
    t = np.arange(round(rate * seconds)) / rate
    return np.asarray(sum(a * np.sin(2 * np.pi * f * t + p) for f, a, p in tones))


def snr_db(out: np.ndarray, reference: np.ndarray) -> float:
    """SNR of ``out`` against ``reference``, both at 24 kHz, stream ends trimmed."""
    trim = int(TRIM_S * OUT_RATE)
    n = min(out.size, reference.size)
    error = out[trim : n - trim] - reference[trim : n - trim]
    power = float(np.sum(reference[trim : n - trim] ** 2))
    return 10 * math.log10(power / max(float(np.sum(error**2)), 1e-30))


@dataclass
class Quality:
    held_mean: float  # ms
    held_max: float
    snr_sine: float  # dB
    peak_sine: float  # the worst error on the sine, in int16 steps (LSB)
    snr_tones: float


def pcm_signal(rate: int, seconds: float, tones: list[tuple[float, float, float]]) -> np.ndarray:
    return np.asarray(np.rint(signal(rate, seconds, tones) * 32767), dtype=np.int16)


def accuracy(
    out: np.ndarray, rate: int, size: int, tones: list[tuple[float, float, float]]
) -> tuple[float, float]:
    """SNR (dB) and peak error (LSB) of int16 ``out`` against the analytic tones."""
    reference = signal(OUT_RATE, size / rate, tones)
    samples = out.astype(np.float64) / 32768.0
    trim = int(TRIM_S * OUT_RATE)
    n = min(samples.size, reference.size) - trim
    peak = float(np.max(np.abs(samples[trim:n] - reference[trim:n]))) * 32768.0
    return snr_db(samples, reference), peak


def stream_quality(make: Callable[[int], tuple[Push, Flush]], rate: int, seconds: float) -> Quality:
    """Held back and boundary SNR of one method, streaming 20 ms chunks of the test signals."""
    chunk = rate // 50
    held: list[float] = []
    figures: list[tuple[float, float]] = []
    for tones in (SINE, TONES):
        pcm = pcm_signal(rate, seconds, tones)
        push, flush = make(rate)
        pushed = 0
        frames: list[bytes] = []
        for i in range(0, pcm.size, chunk):
            frames += push(pcm[i : i + chunk].tobytes())
            pushed += min(chunk, pcm.size - i)
            out = sum(len(f) for f in frames) // 2
            held.append((pushed * OUT_RATE / rate - out) * 1000 / OUT_RATE)
        frames += flush()
        figures.append(accuracy(np.frombuffer(b"".join(frames), "<i2"), rate, pcm.size, tones))
    (snr_sine, peak_sine), (snr_tones, _) = figures
    return Quality(statistics.mean(held), max(held), snr_sine, peak_sine, snr_tones)


# The same algorithms over the whole signal at once (not streaming): what chunking costs.


def soxr_whole(pcm: np.ndarray, rate: int) -> np.ndarray:
    return np.asarray(soxr.resample(pcm, rate, OUT_RATE, "HQ"), dtype=np.int16)


def poly_whole(pcm: np.ndarray, rate: int) -> np.ndarray:
    assert scipy_signal is not None
    ratio = poly_ratio(rate)
    out = scipy_signal.resample_poly(pcm / 32768.0, ratio.numerator, ratio.denominator)
    return np.frombuffer(_to_pcm(np.asarray(out)), "<i2")


def resampy_whole(pcm: np.ndarray, rate: int) -> np.ndarray:
    assert resampy is not None
    out = resampy.resample(pcm / 32768.0, rate, OUT_RATE)
    return np.frombuffer(_to_pcm(np.asarray(out)), "<i2")


def wholes() -> list[tuple[str, Callable[[np.ndarray, int], np.ndarray] | None]]:
    return [
        ("soxr HQ int16, whole signal", soxr_whole),
        ("resample_poly, whole signal", poly_whole if scipy_signal else None),
        ("resampy kaiser_best, whole", resampy_whole if resampy else None),
    ]


def whole_quality(
    resample: Callable[[np.ndarray, int], np.ndarray], rate: int, seconds: float
) -> Quality:
    figures = []
    for tones in (SINE, TONES):
        pcm = pcm_signal(rate, seconds, tones)
        figures.append(accuracy(resample(pcm, rate), rate, pcm.size, tones))
    (snr_sine, peak_sine), (snr_tones, _) = figures
    return Quality(math.nan, math.nan, snr_sine, peak_sine, snr_tones)


def warm_malloc() -> None:
    """Free a 16 MB block, so that glibc's malloc keeps blocks of a few MB in its heap.

    Until a process frees a block that large, glibc maps every block over its mmap
    threshold fresh (and page-faults it in) on each allocation. resampy's kaiser_best
    copies its 409,601-tap table twice per call (3.3 MB each): cold, a call costs about
    10x more. Every figure here is taken warm (resampy's best case); the full run also
    measures resampy cold, in a fresh process.
    """
    block = np.ones(1 << 21)
    del block


def resampy_cold_us(rate: int, calls: int = 50) -> float:
    """µs per 20 ms chunk for resampy kaiser_best in a fresh process (malloc not warmed)."""
    code = (
        "import sys, time, numpy as np, resampy\n"
        f"x = np.random.default_rng(0).normal(0, 0.1, {rate // 50})\n"
        f"resampy.resample(x, {rate}, {OUT_RATE})\n"
        "start = time.perf_counter()\n"
        f"for _ in range({calls}): resampy.resample(x, {rate}, {OUT_RATE})\n"
        f"print((time.perf_counter() - start) / {calls} * 1e6)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout)


def resampy_compile_s() -> float:
    """The first resampy call of the process: numba compiles (excluded from the costs)."""
    assert resampy is not None
    start = time.perf_counter()
    resampy.resample(np.zeros(960), 48000, OUT_RATE)
    return time.perf_counter() - start


def quality_table(seconds: float) -> None:
    header = f"{'in':>6} {'quality':>7} {'µs/chunk':>9} {'x QQ':>6}"
    print(f"{header} {'held mean':>10} {'held max':>9} exact")
    for rate in RATES:
        baseline = measure(rate, "QQ", seconds)[0]
        for quality in QUALITIES:
            cost, mean, worst, exact = measure(rate, quality, seconds)
            print(
                f"{rate:>6} {quality:>7} {cost:>9.1f} {cost / baseline:>6.2f}"
                f" {mean:>8.1f}ms {worst:>7.1f}ms {exact}"
            )


@dataclass
class Row:
    method: str
    cost: float  # µs per chunk (nan: not a streaming method)
    ratio: float  # x ours HQ
    quality: Quality


def print_row(rate: int, row: Row, baseline: Row) -> None:
    q, base = row.quality, baseline.quality
    if math.isnan(row.cost):
        timing = f"{'-':>9} {'-':>7} {'(not streaming)':>20}"
    else:
        timing = f"{row.cost:>9.1f} {row.ratio:>7.2f} {q.held_mean:>8.1f}ms {q.held_max:>7.1f}ms"
    print(
        f"{rate:>6} {row.method:<29} {timing} {q.snr_sine:>5.1f} dB"
        f" {q.snr_sine - base.snr_sine:>+6.1f} {q.peak_sine:>6.0f}"
        f" {q.snr_tones:>7.1f} dB {q.snr_tones - base.snr_tones:>+6.1f}"
    )


def comparison_table(seconds: float, snr_seconds: float, repeats: int) -> dict[int, list[Row]]:
    print()
    print("Against ours (HQ), measured in this run: 20 ms pcm16 chunks in, pcm16 24 kHz out.")
    print(f"µs/chunk: best of {repeats} pass(es) over {seconds:g} s of noise; x HQ: against ours.")
    print(f"SNR: against the exact signal at 24 kHz ({snr_seconds:g} s, 100 ms ends trimmed),")
    print("Δ: dB against ours; peak: the worst error on the 1 kHz sine, in int16 steps (LSB).")
    warm_malloc()
    print("malloc warmed first (see warm_malloc): resampy's best case.")
    if resampy is not None:
        print(f"resampy: first call {resampy_compile_s():.2f} s (numba compile, excluded)")
    print(
        f"{'in':>6} {'method':<29} {'µs/chunk':>9} {'x HQ':>7} {'held mean':>10} {'held max':>9}"
        f" {'SNR 1k':>8} {'Δ':>6} {'peak':>6} {'SNR tones':>10} {'Δ':>6}"
    )
    rows: dict[int, list[Row]] = {}
    for rate in RATES:
        chunk = rate // 50
        noise = np.random.default_rng(rate).normal(0, 3000, int(rate * seconds))
        pcm = noise.astype(np.int16)
        chunks = [pcm[i : i + chunk].tobytes() for i in range(0, pcm.size, chunk)]
        rows[rate] = []
        baseline: Row | None = None
        for method in methods():
            if method.make is None:
                print(f"{rate:>6} {method.name:<29} {method.missing}")
                continue
            cost = cost_per_chunk(method.make, rate, chunks, repeats)
            quality = stream_quality(method.make, rate, snr_seconds)
            if baseline is None:
                baseline = Row(method.name, cost, 1.0, quality)
            row = Row(method.name, cost, cost / baseline.cost, quality)
            rows[rate].append(row)
            print_row(rate, row, baseline)
        assert baseline is not None
        for name, resample in wholes():
            if resample is None:
                continue  # already said: not installed
            row = Row(name, math.nan, math.nan, whole_quality(resample, rate, snr_seconds))
            rows[rate].append(row)
            print_row(rate, row, baseline)
    for line in (
        "Held back: the per-chunk calls hold nothing back (zero added delay) because they",
        "treat each chunk as if the signal were silent outside it: hence a click at every",
        "chunk boundary, 50 a second (peak). soxr holds back the input its filter needs, so",
        "streaming costs it nothing against the whole signal at once. The whole rows are",
        "the ceilings: resample_poly's default filter (Kaiser, beta 5) is not flat to better",
        "than about 60 dB; soxr's int16 output is TPDF-dithered (a few dB under rounding).",
    ):
        print(line)
    return rows


def summary(rows: list[Row], cold: float | None) -> None:
    """A README-ready markdown table for 48 kHz in (``cold``: resampy in a fresh process)."""
    streaming = [row for row in rows if not math.isnan(row.cost)]
    ceilings = [row for row in rows if math.isnan(row.cost)]
    print()
    print("Summary, 48 kHz -> 24 kHz, 20 ms chunks (markdown):")
    print()
    print(
        "| method | µs / 20 ms chunk | x ours | added delay (mean / max)"
        " | boundary SNR, 1 kHz sine | worst click |"
    )
    print("|---|---|---|---|---|---|")
    for row in streaming:
        q = row.quality
        delay = f"{q.held_mean:.1f} / {q.held_max:.0f} ms" if q.held_max > 0.05 else "0 ms"
        print(
            f"| {row.method} | {row.cost:.1f} | {row.ratio:.2f} | {delay}"
            f" | {q.snr_sine:.1f} dB | {q.peak_sine:.0f} LSB |"
        )
    print()
    print("SNR against the exact 1 kHz sine at 24 kHz, int16 in and out; worst click: the")
    print("largest error, in int16 steps. The ceilings, over the whole signal at once:")
    for row in ceilings:
        print(f"- {row.method}: {row.quality.snr_sine:.1f} dB")
    if cold is not None:
        ours_cost = rows[0].cost
        print(
            f"resampy kaiser_best in a fresh process (malloc cold): {cold:.1f} µs per chunk,"
            f" {cold / ours_cost:.0f}x ours."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s of audio instead of 20 (smoke)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 20.0
    quality_table(seconds)
    rows = comparison_table(seconds, 1.0 if args.quick else 2.0, 1 if args.quick else 3)
    # The cold figure takes a fresh process (about 1.5 s): not in the smoke run.
    cold = resampy_cold_us(48000) if resampy is not None and not args.quick else None
    summary(rows[48000], cold)


if __name__ == "__main__":
    main()
