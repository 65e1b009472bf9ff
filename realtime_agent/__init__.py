"""realtime_agent: an asyncio runtime for realtime voice agents on the OpenAI Realtime API.

::

    from realtime_agent import Agent, connect, tool

    @tool
    async def get_weather(city: str) -> str:
        \"\"\"Current weather for a city.\"\"\"
        return f"Sunny in {city}"

    agent = Agent(instructions="You are a helpful voice assistant.", tools=[get_weather])
    async with connect(agent, url=server.url) as session:   # or OpenAI, or Azure
        await session.send_text("What's the weather in Paris?")
        async for event in session:
            ...

Packages: :mod:`~realtime_agent.runtime` (sessions), :mod:`~realtime_agent.protocol`
(the sans-I/O core), :mod:`~realtime_agent.tools`, :mod:`~realtime_agent.audio`,
:mod:`~realtime_agent.schema` (every Realtime event), :mod:`~realtime_agent.server`
(the local Realtime server) and :mod:`~realtime_agent.errors`.
"""

from realtime_agent._version import __version__
from realtime_agent.audio.sinks import ClockSink, ManualClock, RemoteSink
from realtime_agent.audio.sources import ArraySource
from realtime_agent.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionLost,
    LocalProtocolError,
    RealtimeAgentError,
    RemoteProtocolError,
    TransportError,
)
from realtime_agent.runtime import events
from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.session import RealtimeSession, connect, current_session
from realtime_agent.runtime.transport import Endpoint, Secret
from realtime_agent.tools import Handoff, Tool, tool

__all__ = [
    "Agent",
    "ArraySource",
    "AuthenticationError",
    "ClockSink",
    "ConnectError",
    "ConnectionLost",
    "Endpoint",
    "Handoff",
    "LocalProtocolError",
    "ManualClock",
    "RealtimeAgentError",
    "RealtimeSession",
    "RemoteProtocolError",
    "RemoteSink",
    "Secret",
    "Tool",
    "TransportError",
    "__version__",
    "connect",
    "current_session",
    "events",
    "tool",
]
