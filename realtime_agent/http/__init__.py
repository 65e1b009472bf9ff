"""Spoken answers over HTTP: the Chat Completions API with ``modalities: ["text",
"audio"]``, streamed (issue #11).

::

    from realtime_agent.http import stream_chat_audio, write_chat_audio

    pieces = stream_chat_audio("Tell me a ten second story")  # OpenAI, with OPENAI_API_KEY
    result = await write_chat_audio(pieces, "story.wav", on_transcript=print)

* :func:`stream_chat_audio` (:mod:`.client`): the pieces of a streamed answer, from
  OpenAI, the local stack (``realtime-agent web``: ``/v1/chat/completions``), or an
  Agora-style ``/audio/chat/completions``; needs the ``http`` extra
  (``pip install 'realtime-agent[http]'``);
* :func:`write_chat_audio` (:mod:`.wav`): those pieces into a WAV file, as they come;
* :mod:`.chunks`: the pieces, and the sans-I/O reader of the stream's chunks;
* :mod:`.sse`: the sans-I/O Server-Sent Events parser;
* :mod:`.errors`: what goes wrong, by who is at fault;
* :mod:`.local`: the local stack served in this process, for offline use.

Importing this package needs no extra; iterating :func:`stream_chat_audio` needs httpx2.
"""

from __future__ import annotations

from realtime_agent.http.chunks import (
    AudioPiece,
    ChatAudioPiece,
    ChatStreamDecoder,
    Finished,
    ToolCall,
    TranscriptPiece,
    Usage,
)
from realtime_agent.http.client import DEFAULT_MODEL, OPENAI_URL, stream_chat_audio
from realtime_agent.http.errors import (
    ChatAudioAPIError,
    ChatAudioAuthenticationError,
    ChatAudioConnectionError,
    ChatAudioError,
    ChatAudioIncomplete,
    ChatAudioStreamError,
    ChatAudioTimeout,
    EventStreamTooLarge,
)
from realtime_agent.http.sse import EventStreamParser, ServerSentEvent
from realtime_agent.http.wav import ChatAudioResult, write_chat_audio

__all__ = [
    "DEFAULT_MODEL",
    "OPENAI_URL",
    "AudioPiece",
    "ChatAudioAPIError",
    "ChatAudioAuthenticationError",
    "ChatAudioConnectionError",
    "ChatAudioError",
    "ChatAudioIncomplete",
    "ChatAudioPiece",
    "ChatAudioResult",
    "ChatAudioStreamError",
    "ChatAudioTimeout",
    "ChatStreamDecoder",
    "EventStreamParser",
    "EventStreamTooLarge",
    "Finished",
    "ServerSentEvent",
    "ToolCall",
    "TranscriptPiece",
    "Usage",
    "stream_chat_audio",
    "write_chat_audio",
]
