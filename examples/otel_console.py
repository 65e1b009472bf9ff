"""OpenTelemetry tracing: a span per session, per turn, per tool call, printed to the console.

The session traces itself through the OpenTelemetry API as soon as it is installed (the
``otel`` extra); the application picks the SDK and the exporter. Here, the SDK's
``ConsoleSpanExporter`` prints each span as JSON when it ends: the tool call, its turn,
the next turn, then the session with its summary. In production, hand a
``BatchSpanProcessor`` an OTLP exporter instead.

Runs offline against the embedded local Realtime server (a scripted stand-in for the
model), or against OpenAI when OPENAI_API_KEY is set:

    pip install 'realtime-agent[otel]' opentelemetry-sdk
    python examples/otel_console.py
"""

from __future__ import annotations

import asyncio
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from realtime_agent import Agent, RealtimeSession, connect, events, tool
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder


@tool
async def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city, e.g. "Paris".
    """
    await asyncio.sleep(0.05)  # an HTTP call in real life
    return f"Sunny in {city}"


AGENT = Agent(
    name="weather", instructions="You are a weather bot. Use your tool.", tools=[get_weather]
)

SCRIPT = ScriptedResponder(
    [CallTool("get_weather", {"city": "Paris"}), "It is sunny in Paris.", "You're welcome."]
)


async def turn(session: RealtimeSession, text: str) -> None:
    """Say ``text``; return once the turn is over (its answer heard), as its span ends."""
    await session.send_text(text)
    async for event in session:
        match event:
            case events.Transcript(role="assistant", text=said):
                print(f"assistant: {said}")
            case events.TurnMetrics(turn=number, first_audio_ms=first_audio):
                print(f"(turn {number} over: first audio after {first_audio} ms)")
                return
            case events.Closed(reason=reason):
                print(f"session closed: {reason}")
                return


async def converse(url: str | None) -> None:
    async with connect(AGENT, url=url) as session:
        await turn(session, "What's the weather in Paris?")
        await turn(session, "Thanks!")
    # Leaving `async with` closed the session: its span has ended, the last one printed.


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await converse(None)
        return
    async with LocalRealtimeServer(responder=SCRIPT) as server:
        print(f"(offline: the local Realtime server at {server.url})")
        await converse(server.url)


if __name__ == "__main__":
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-console-example"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)  # once, before the first session
    try:
        asyncio.run(main())
    finally:
        provider.shutdown()
