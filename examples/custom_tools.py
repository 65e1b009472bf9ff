"""Custom tools: typed Python functions the model calls mid-conversation.

Runs offline against the embedded local Realtime server (a scripted stand-in for the
model), or against OpenAI when OPENAI_API_KEY is set. The question is typed, or spoken
from a WAV file:

    python examples/custom_tools.py
    realtime-agent sample question.wav    # the bundled spoken question, copied here
    python examples/custom_tools.py --in question.wav

Any WAV of your own works too. A WAV that cannot be read, or a connection that fails,
is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from realtime_agent import Agent, connect, events, tool
from realtime_agent.audio.sources import WavSource
from realtime_agent.errors import RealtimeAgentError
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder


class Forecast(BaseModel):
    city: str
    sky: str
    celsius: float


@tool
async def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> Forecast:
    """Current weather for a city.

    Args:
        city: The city, e.g. "Paris".
        unit: The unit the caller prefers.
    """
    await asyncio.sleep(0.05)  # an HTTP call in real life
    return Forecast(city=city, sky="clear", celsius=21.0)


@tool(timeout=5)
def book_table(restaurant: str, guests: int, time: str) -> str:
    """Book a table (a blocking client library: it runs in a worker thread).

    Args:
        restaurant: The restaurant's name.
        guests: How many people, 1-12.
        time: When, as HH:MM.
    """
    if not 1 <= guests <= 12:
        raise ValueError("we seat 1 to 12 guests")
    return f"Booked {restaurant} for {guests} at {time}."


@tool
def current_time(timezone: Literal["UTC", "Europe/Paris"] = "UTC") -> str:
    """The current time."""
    return dt.datetime.now(dt.UTC).strftime("%H:%M UTC")


AGENT = Agent(
    instructions="You are a concierge. Use your tools; answer in one sentence.",
    tools=[get_weather, book_table, current_time],
)

SCRIPT = ScriptedResponder(
    [
        [
            CallTool("get_weather", {"city": "Paris"}),
            CallTool("book_table", {"restaurant": "Chez Nous", "guests": 2, "time": "20:00"}),
        ],
        "It is clear and 21 degrees in Paris, and your table for two at eight is booked.",
    ]
)


async def converse(url: str | None, source: WavSource | None) -> None:
    async with connect(AGENT, url=url, audio_in=source) as session:
        if source is None:
            await session.send_text(
                "What's the weather in Paris? And book Chez Nous for two at 8pm."
            )
        async for event in session:
            match event:
                case events.ToolStart(name=name, arguments=arguments):
                    print(f"tool call: {name}({arguments})")
                case events.ToolEnd(name=name, output=output, error=error):
                    print(f"tool done: {name} -> {error or output}")
                case events.Transcript(role="assistant", text=text):
                    print(f"assistant: {text}")
                    break  # the answer is in: this example is done
                case events.Closed(reason=reason):
                    print(f"session closed: {reason}")


async def main(spoken: Path | None) -> None:
    source = WavSource(spoken) if spoken else None  # read first: a bad file fails at once
    if os.environ.get("OPENAI_API_KEY"):
        await converse(None, source)
        return
    async with LocalRealtimeServer(responder=SCRIPT) as server:
        print(f"(offline: the local Realtime server at {server.url})")
        await converse(server.url, source)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="wav_in", type=Path, help="speak this WAV file")
    try:
        asyncio.run(main(parser.parse_args().wav_in))
    except RealtimeAgentError as exc:  # AudioError, ConnectError, AuthenticationError...
        sys.exit(f"custom_tools.py: {exc}")  # one line on stderr, exit status 1
