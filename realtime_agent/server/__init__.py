"""The local Realtime server: an offline twin of the OpenAI Realtime API.

::

    from realtime_agent.server import LocalRealtimeServer, ScriptedResponder, CallTool

    responder = ScriptedResponder([CallTool("get_weather", {"city": "Paris"}), "It is sunny."])
    async with LocalRealtimeServer(responder=responder) as server:
        ...  # point any Realtime client at server.url

It imports only :mod:`realtime_agent.schema` and :mod:`realtime_agent.audio`.
"""

from realtime_agent.server import faults
from realtime_agent.server.app import LocalRealtimeServer, Pacing
from realtime_agent.server.responder import (
    CallTool,
    Responder,
    ResponseContext,
    RuleResponder,
    Say,
    ScriptedResponder,
)
from realtime_agent.server.speech import Speech, SpeechSynthesizer, SyntheticVoice
from realtime_agent.server.state import ServerSession

__all__ = [
    "CallTool",
    "LocalRealtimeServer",
    "Pacing",
    "Responder",
    "ResponseContext",
    "RuleResponder",
    "Say",
    "ScriptedResponder",
    "ServerSession",
    "Speech",
    "SpeechSynthesizer",
    "SyntheticVoice",
    "faults",
]
