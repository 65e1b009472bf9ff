"""The session core: sans-I/O. Server events in, actions out; no asyncio, no sockets, no clock."""

from realtime_agent.protocol.actions import (
    Action,
    CallTool,
    Emit,
    EndAudio,
    PlayAudio,
    SendEvent,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol.core import SessionCore

__all__ = [
    "Action",
    "CallTool",
    "Emit",
    "EndAudio",
    "PlayAudio",
    "SendEvent",
    "SessionCore",
    "StopPlayout",
    "ToolCall",
]
