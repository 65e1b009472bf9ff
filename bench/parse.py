"""Decode cost of the hot server frames: ours vs json.loads alone vs the openai SDK.

Frames: a 40 ms and a 100 ms ``response.output_audio.delta`` (pcm16 24 kHz) and a
``response.done``. For each, the best of several timed runs in this process, as µs
per event, and ratios against the baselines measured in the same run (these machines
are noisy: compare ratios, not absolute figures):

* ``json.loads`` alone: parsing without any typing, the floor;
* ``openai``: the SDK's own parse, ``RealtimeConnection.parse_event`` (json.loads +
  ``construct_type_unchecked`` over its ``RealtimeServerEvent`` union), if the
  ``bench`` extra is installed;
* ``+ audio``: the same with the audio decoded from base64, as a client must.

Run: ``make bench`` (or ``python bench/parse.py [--quick]``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import importlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from realtime_agent.schema import codec
from realtime_agent.schema.server import AudioDeltaFields


def pcm(ms: int) -> bytes:
    """Speech-like pcm16 at 24 kHz (incompressible enough to look real)."""
    samples = 24 * ms
    return b"".join(
        int(8000 * math.sin(i * 0.07) * math.sin(i * 0.0011) + (i * 7919) % 300).to_bytes(
            2, "little", signed=True
        )
        for i in range(samples)
    )


def audio_delta(ms: int) -> str:
    return json.dumps(
        {
            "type": "response.output_audio.delta",
            "event_id": "event_CCXHxcMy86rrKhBLDdqCh",
            "response_id": "resp_CCXHw0UJld10EzIUXQCNh",
            "item_id": "item_CCXHwGjjDUfOXbiySlK7i",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(pcm(ms)).decode(),
        }
    )


RESPONSE_DONE = json.dumps(
    {
        "type": "response.done",
        "event_id": "event_CCXHxcMy86rrKhBLDdqCh",
        "response": {
            "object": "realtime.response",
            "id": "resp_CCXHw0UJld10EzIUXQCNh",
            "status": "completed",
            "status_details": None,
            "output": [
                {
                    "id": "item_CCXHwGjjDUfOXbiySlK7i",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "output_audio",
                            "transcript": "Loud and clear! I can hear you perfectly. "
                            "How can I help you today?",
                        }
                    ],
                }
            ],
            "conversation_id": "conv_CCXHsurMKcaVxIZvaCI5m",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
            "usage": {
                "total_tokens": 253,
                "input_tokens": 132,
                "output_tokens": 121,
                "input_token_details": {
                    "text_tokens": 119,
                    "audio_tokens": 13,
                    "image_tokens": 0,
                    "cached_tokens": 64,
                    "cached_tokens_details": {
                        "text_tokens": 64,
                        "audio_tokens": 0,
                        "image_tokens": 0,
                    },
                },
                "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
            },
            "metadata": None,
        },
    }
)


def best_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """The best of ``repeat`` runs of ``number`` calls, in µs per call."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / number / 1000)
    return best


def openai_parser() -> Callable[[str], Any] | None:
    """The openai SDK's own parse of a server frame, or None if it is not installed."""
    try:
        models = importlib.import_module("openai._models")
        types = importlib.import_module("openai.types.realtime")
    except ImportError:
        return None
    construct: Any = models.construct_type_unchecked
    union: Any = types.RealtimeServerEvent

    def parse(data: str) -> Any:
        return construct(value=json.loads(data), type_=union)

    return parse


def ours_with_audio(frame: str) -> object:
    event = codec.decode(frame)
    if isinstance(event, AudioDeltaFields):
        return event.audio_bytes
    return event


def loads_with_audio(frame: str) -> object:
    data = json.loads(frame)
    if "delta" in data:
        return binascii.a2b_base64(data["delta"], strict_mode=True)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args()
    number, repeat = (200, 3) if args.quick else (5000, 7)

    sdk = openai_parser()
    frames = {
        "audio delta 40 ms": audio_delta(40),
        "audio delta 100 ms": audio_delta(100),
        "response.done": RESPONSE_DONE,
    }
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    if sdk is None:
        print("openai is not installed: `pip install -e '.[bench]'` adds the SDK column")
    header = f"{'frame':<20} {'bytes':>7} {'ours':>8} {'loads':>8} {'openai':>8}"
    print(header + f" {'ours/loads':>11} {'ours/openai':>12}")
    for name, frame in frames.items():
        ours = best_us(partial(codec.decode, frame), number, repeat)
        loads = best_us(partial(json.loads, frame), number, repeat)
        theirs = best_us(partial(sdk, frame), number, repeat) if sdk else math.nan
        print(
            f"{name:<20} {len(frame):>7} {ours:>7.2f}µ {loads:>7.2f}µ {theirs:>7.2f}µ"
            f" {ours / loads:>10.2f}x {ours / theirs:>11.3f}x"
        )
    for name in ("audio delta 40 ms", "audio delta 100 ms"):
        frame = frames[name]
        ours = best_us(partial(ours_with_audio, frame), number, repeat)
        loads = best_us(partial(loads_with_audio, frame), number, repeat)
        print(
            f"{name + ' + audio':<28} {ours:>7.2f}µ {loads:>7.2f}µ {'':>8} {ours / loads:>10.2f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
