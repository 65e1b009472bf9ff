"""The runtime: asyncio sessions that carry out the core's decisions over a WebSocket."""

from realtime_agent.runtime.agent import Agent
from realtime_agent.runtime.continuity import ReconnectPolicy
from realtime_agent.runtime.session import RealtimeSession, connect, current_session
from realtime_agent.runtime.transport import Endpoint, Secret

__all__ = [
    "Agent",
    "Endpoint",
    "RealtimeSession",
    "ReconnectPolicy",
    "Secret",
    "connect",
    "current_session",
]
