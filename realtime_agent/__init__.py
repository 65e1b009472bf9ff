"""realtime_agent: an asyncio runtime for realtime voice agents on the OpenAI Realtime API.

This release holds the wire layer: :mod:`realtime_agent.schema` models every Realtime
event (GA and beta) and decodes and encodes them; :mod:`realtime_agent.errors` is the
exception tree. The session runtime, the local Realtime server and the audio pipeline
build on it.
"""

from realtime_agent.errors import LocalProtocolError, RealtimeAgentError, RemoteProtocolError

__all__ = ["LocalProtocolError", "RealtimeAgentError", "RemoteProtocolError", "__version__"]

__version__ = "0.1.0"
