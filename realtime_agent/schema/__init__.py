"""The wire: Pydantic models of every Realtime event, GA and beta, and their codec.

No I/O and no asyncio here. The usual entry points::

    from realtime_agent.schema import decode, encode
    event = decode(frame)            # -> the specific ServerEvent class, or UnknownServerEvent
    text = encode(ResponseCreate())  # -> '{"type":"response.create"}'

Modules: :mod:`~.common` (bases, audio formats, errors, usage), :mod:`~.session`,
:mod:`~.items`, :mod:`~.response`, :mod:`~.client` and :mod:`~.server` (GA events),
:mod:`~.beta` (the beta dialect's own events), :mod:`~.dialect` (GA <-> beta) and
:mod:`~.codec` (decode/encode).
"""

from realtime_agent.schema.beta import (
    BETA_CLIENT_EVENT_TYPES,
    BETA_SERVER_EVENT_TYPES,
    BetaClientEvent,
    BetaServerEvent,
)
from realtime_agent.schema.client import (
    GA_CLIENT_EVENT_TYPES,
    GA_EXTRA_CLIENT_EVENT_TYPES,
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    TranscriptionSessionUpdate,
)
from realtime_agent.schema.codec import (
    UnknownClientEvent,
    UnknownServerEvent,
    decode,
    decode_beta,
    decode_beta_client,
    decode_client,
    encode,
)
from realtime_agent.schema.dialect import Dialect
from realtime_agent.schema.server import (
    GA_EXTRA_SERVER_EVENT_TYPES,
    GA_SERVER_EVENT_TYPES,
    ErrorEvent,
    ServerEvent,
)

__all__ = [
    "BETA_CLIENT_EVENT_TYPES",
    "BETA_SERVER_EVENT_TYPES",
    "GA_CLIENT_EVENT_TYPES",
    "GA_EXTRA_CLIENT_EVENT_TYPES",
    "GA_EXTRA_SERVER_EVENT_TYPES",
    "GA_SERVER_EVENT_TYPES",
    "BetaClientEvent",
    "BetaServerEvent",
    "ClientEvent",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "Dialect",
    "ErrorEvent",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "ResponseCreate",
    "ServerEvent",
    "SessionUpdate",
    "TranscriptionSessionUpdate",
    "UnknownClientEvent",
    "UnknownServerEvent",
    "decode",
    "decode_beta",
    "decode_beta_client",
    "decode_client",
    "encode",
]
