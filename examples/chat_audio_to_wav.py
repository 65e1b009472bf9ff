"""A spoken answer streamed into a WAV file, its transcript printed as it comes.

The Chat Completions API speaks when asked for ``modalities: ["text", "audio"]``; with
``stream: true`` its audio comes as base64 pcm16 (24 kHz mono) in pieces, next to the
pieces of its transcript. ``stream_chat_audio`` yields them decoded and typed;
``write_chat_audio`` writes the audio to the WAV as it arrives (a stream that fails
midway still leaves a valid file) and hands each transcript piece over as it comes.

Runs against OpenAI when OPENAI_API_KEY is set, else offline against the local stack
served in this process (the stand-in model and its voices):

    pip install 'realtime-agent[http,web]'
    python examples/chat_audio_to_wav.py
    python examples/chat_audio_to_wav.py --voice fable --out count.wav \\
        "Count to 13 slowly, with a dramatic flair"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

from realtime_agent.http import ChatAudioError, stream_chat_audio, write_chat_audio


async def main(prompt: str, out: Path, voice: str) -> None:
    messages = [
        {"role": "system", "content": "You are a storyteller. Keep it short."},
        {"role": "user", "content": prompt},
    ]
    async with contextlib.AsyncExitStack() as stack:
        url = None  # OpenAI's endpoint, with OPENAI_API_KEY
        if not os.environ.get("OPENAI_API_KEY"):
            from realtime_agent.http.local import local_stack
            from realtime_agent.web import WebSettings

            # As fast as it goes: OpenAI's audio streams faster than real time too.
            base = await stack.enter_async_context(local_stack(WebSettings(pacing="instant")))
            url = base + "/v1/chat/completions"
            print(f"(no OPENAI_API_KEY: asking the local stack at {base})")
        result = await write_chat_audio(
            stream_chat_audio(messages, voice=voice, url=url),
            out,
            on_transcript=lambda text: print(text, end="", flush=True),
        )
    print()
    for call in result.tool_calls:  # none here: no tools were offered
        print(f"tool call: {call.name}({call.arguments})")
    print(f"wrote {result.path}: {result.duration_s:.2f} s of audio ({result.finish_reason})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", default="Tell me a 10 second story")
    parser.add_argument("--out", type=Path, default=Path("response_stream.wav"))
    parser.add_argument("--voice", default="alloy")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.prompt, args.out, args.voice))
    except ChatAudioError as exc:  # refused, unreachable, cut off: the WAV keeps what came
        sys.exit(f"chat_audio_to_wav.py: {exc}")  # one line on stderr, exit status 1
    except OSError as exc:  # --out cannot be written
        sys.exit(f"chat_audio_to_wav.py: cannot write {args.out}: {exc.strerror or exc}")
