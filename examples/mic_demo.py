"""Talk to an agent from a terminal: microphone in, speaker out, interrupt it mid-sentence.

Offline by default (the embedded local Realtime server stands in for the model; set
OPENAI_API_KEY to talk to OpenAI). Use headphones, or pass ``--half-duplex`` so the agent
does not hear itself through laptop speakers. Without a sound card (or without the
``mic`` extra) it speaks a WAV file instead: ``--in FILE``, or the bundled question.

    python examples/mic_demo.py            # microphone and speaker when they work
    realtime-agent sample question.wav     # the bundled spoken question, copied here
    python examples/mic_demo.py --in question.wav --out recording/
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from realtime_agent.audio.devices import list_devices
from realtime_agent.demo import DemoOptions, run_demo
from realtime_agent.errors import AudioError


def devices_work() -> bool:
    try:
        found = list_devices()
    except AudioError as exc:
        print(f"(no microphone: {exc})")
        return False
    return any(d.inputs for d in found) and any(d.outputs for d in found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="wav_in", type=Path, help="speak this WAV instead of the mic")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="recording folder")
    parser.add_argument("--timeout", type=float, default=0, help="seconds; 0: until Ctrl-C")
    parser.add_argument(
        "--half-duplex",
        type=float,
        nargs="?",
        const=-25.0,
        metavar="DBFS",
        help="laptop speakers without headphones: gate the mic while the agent speaks",
    )
    args = parser.parse_args()
    mic = args.wav_in is None and devices_work()
    if mic:
        print("Speak now; Ctrl-C to stop.")
    options = DemoOptions(
        wav_in=args.wav_in,
        out=args.out,
        mic=mic,
        timeout=args.timeout or (None if mic else 60.0),
        half_duplex=args.half_duplex,
    )
    try:
        return asyncio.run(run_demo(options))
    except KeyboardInterrupt:
        print("bye")
        return 0


if __name__ == "__main__":
    sys.exit(main())
