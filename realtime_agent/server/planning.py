"""What a ``response.create`` asks for: its overrides laid over the session's settings."""

from __future__ import annotations

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.schema.items import InputAudioPart, Item, ItemReference, MessageItem
from realtime_agent.schema.response import Response, ResponseCreateParams
from realtime_agent.schema.session import FunctionTool, SessionConfig
from realtime_agent.server.conversation import Conversation, Entry
from realtime_agent.server.responder import ResponseContext
from realtime_agent.server.responses import RunSettings

__all__ = ["in_conversation", "plan"]


def in_conversation(params: ResponseCreateParams | None) -> bool:
    """True when the response writes to the default conversation (not out of band)."""
    return params is None or params.conversation in (None, "auto")


def heard(entry: Entry) -> Item:
    """An item as the stand-in model understands it (user audio with its transcript)."""
    item = entry.item
    if entry.heard is not None and isinstance(item, MessageItem):
        parts = [
            part.model_copy(update={"transcript": entry.heard})
            if isinstance(part, InputAudioPart)
            else part
            for part in item.content
        ]
        return item.model_copy(update={"content": parts})
    return item


def _context_items(conversation: Conversation, params: ResponseCreateParams | None) -> list[Item]:
    if params is None or params.input is None:
        return [heard(entry) for entry in conversation.entries()]
    resolved: list[Item] = []
    for item in params.input:
        if isinstance(item, ItemReference):
            entry = conversation.get(item.id)
            if entry is not None:
                resolved.append(heard(entry))
        else:
            resolved.append(item)
    return resolved


def plan(
    config: SessionConfig,
    params: ResponseCreateParams | None,
    *,
    conversation: Conversation,
    response_id: str,
    delta_ms: int,
) -> tuple[ResponseContext, RunSettings]:
    """The responder's context and the run's settings for one ``response.create``."""
    modalities = (params.output_modalities if params else None) or config.output_modalities
    modalities = modalities or ["audio"]
    asked = params.audio.output if params and params.audio else None
    session = config.audio.output if config.audio else None
    voice = (asked.voice if asked else None) or (session.voice if session else None)
    wire_format = (asked.format if asked else None) or (session.format if session else None)
    max_tokens = (params.max_output_tokens if params else None) or config.max_output_tokens
    max_tokens = max_tokens or "inf"
    tools = params.tools if params and params.tools is not None else config.tools
    instructions = (params.instructions if params else None) or config.instructions or ""
    metadata = params.metadata if params else None
    context = ResponseContext(
        conversation=_context_items(conversation, params),
        instructions=instructions,
        tools=[tool for tool in tools or [] if isinstance(tool, FunctionTool)],
        output_audio="audio" in modalities,
        metadata=metadata,
    )
    writes = in_conversation(params)
    response = Response.model_validate(
        {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": conversation.id if writes else None,
            "output_modalities": list(modalities),
            "max_output_tokens": max_tokens,
            "audio": {
                "output": {
                    "format": wire_format or {"type": "audio/pcm", "rate": 24000},
                    "voice": voice,
                }
            },
            "usage": None,
            "metadata": metadata,
        }
    )
    text = sum(len(item.model_dump_json()) for item in context.conversation) + len(instructions)
    settings = RunSettings(
        output_audio="audio" in modalities,
        output_format=PCM16_24K if wire_format is None else AudioFormat.from_wire(wire_format),
        response=response,
        in_conversation=writes,
        max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        delta_ms=delta_ms,
        input_tokens=text // 4,
    )
    return context, settings
