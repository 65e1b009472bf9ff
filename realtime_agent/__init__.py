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

from typing import TYPE_CHECKING, Any

from realtime_agent._version import __version__

if TYPE_CHECKING:
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
    from realtime_agent.runtime.continuity import ReconnectPolicy
    from realtime_agent.runtime.session import RealtimeSession, connect, current_session
    from realtime_agent.runtime.transport import Endpoint, Secret
    from realtime_agent.tools import Handoff, Tool, tool

# Imported on first use (PEP 562): `import realtime_agent` stays cheap, which matters to
# every pytest run where the package is installed (its plugin loads with pytest).
_HOMES = {
    "ClockSink": "realtime_agent.audio.sinks",
    "ManualClock": "realtime_agent.audio.sinks",
    "RemoteSink": "realtime_agent.audio.sinks",
    "ArraySource": "realtime_agent.audio.sources",
    "AuthenticationError": "realtime_agent.errors",
    "ConnectError": "realtime_agent.errors",
    "ConnectionLost": "realtime_agent.errors",
    "LocalProtocolError": "realtime_agent.errors",
    "RealtimeAgentError": "realtime_agent.errors",
    "RemoteProtocolError": "realtime_agent.errors",
    "TransportError": "realtime_agent.errors",
    "Agent": "realtime_agent.runtime.agent",
    "ReconnectPolicy": "realtime_agent.runtime.continuity",
    "RealtimeSession": "realtime_agent.runtime.session",
    "connect": "realtime_agent.runtime.session",
    "current_session": "realtime_agent.runtime.session",
    "Endpoint": "realtime_agent.runtime.transport",
    "Secret": "realtime_agent.runtime.transport",
    "Handoff": "realtime_agent.tools",
    "Tool": "realtime_agent.tools",
    "tool": "realtime_agent.tools",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "events":
        value: Any = importlib.import_module("realtime_agent.runtime.events")
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'realtime_agent' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
    "ReconnectPolicy",
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
