"""Conversation items and their content parts, for both dialects.

GA items are discriminated by ``type`` (``message``, ``function_call``,
``function_call_output``, the MCP items); messages carry a ``role`` and a list of
content parts discriminated by their own ``type``. The beta dialect uses one flat
item with everything optional; its shapes are a subset of these models (assistant
parts are ``text``/``audio`` rather than ``output_text``/``output_audio``), so one
set of models reads both. A ``type`` this version does not know is kept as raw data
in an ``Unknown*`` model rather than rejected; so is, in a server event, an item that
leaves out what its typed model needs (the beta SDK allows a message with ``content:
null`` or no ``role``, a ``function_call_output`` with ``call_id: null``): the typed
models stay what the runtime can rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import Field

from realtime_agent.schema.common import (
    JsonData,
    TaggedModel,
    WireModel,
    decode_base64,
    tagged_union,
)

__all__ = [
    "AssistantRole",
    "AudioPart",
    "ContentPart",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputAudioPart",
    "InputImagePart",
    "InputTextPart",
    "Item",
    "ItemReference",
    "ItemReferencePart",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "McpCallItem",
    "McpListToolsItem",
    "McpToolInfo",
    "MessageItem",
    "OutputAudioPart",
    "OutputTextPart",
    "TextPart",
    "UnknownContentPart",
    "UnknownItem",
]

ItemStatus: TypeAlias = Literal["completed", "incomplete", "in_progress"]
AssistantRole: TypeAlias = Literal["assistant"]


class _AudioBytes:
    """``audio_bytes``: the base64 ``audio`` of a part, decoded only when asked."""

    audio: str | None
    type: Any

    @property
    def audio_bytes(self) -> bytes:
        """The decoded audio (empty when absent). Raises RemoteProtocolError if not base64."""
        if not self.audio:
            return b""
        return decode_base64(self.audio, event_type=f"{self.type} content part", field="audio")


# --- content parts ---------------------------------------------------------------------------


class InputTextPart(TaggedModel):
    """Text the user (or system) typed."""

    type: Literal["input_text"] = "input_text"
    text: str | None = None


class InputAudioPart(_AudioBytes, TaggedModel):
    """Audio the user spoke; ``transcript`` once transcribed."""

    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    transcript: str | None = None


class InputImagePart(TaggedModel):
    """An image as a data URI (PNG or JPEG)."""

    type: Literal["input_image"] = "input_image"
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class OutputTextPart(TaggedModel):
    """Text the assistant wrote (GA)."""

    type: Literal["output_text"] = "output_text"
    text: str | None = None


class OutputAudioPart(_AudioBytes, TaggedModel):
    """Audio the assistant spoke, with its transcript (GA)."""

    type: Literal["output_audio"] = "output_audio"
    audio: str | None = None
    transcript: str | None = None


class TextPart(TaggedModel):
    """Assistant text in the beta dialect (and in some GA payloads)."""

    type: Literal["text"] = "text"
    text: str | None = None


class AudioPart(_AudioBytes, TaggedModel):
    """Assistant audio in the beta dialect (and in ``conversation.item.retrieved``)."""

    type: Literal["audio"] = "audio"
    audio: str | None = None
    transcript: str | None = None
    format: str | None = None


class ItemReferencePart(TaggedModel):
    """A reference to another item's content (beta)."""

    type: Literal["item_reference"] = "item_reference"
    id: str | None = None


class UnknownContentPart(WireModel):
    """A content part of a type this version does not know, or lacking a value it needs, as sent."""

    type: str | None = None


if TYPE_CHECKING:
    ContentPart: TypeAlias = (
        InputTextPart
        | InputAudioPart
        | InputImagePart
        | OutputTextPart
        | OutputAudioPart
        | TextPart
        | AudioPart
        | ItemReferencePart
        | UnknownContentPart
    )
else:
    ContentPart = tagged_union(
        InputTextPart,
        InputAudioPart,
        InputImagePart,
        OutputTextPart,
        OutputAudioPart,
        TextPart,
        AudioPart,
        ItemReferencePart,
        unknown=UnknownContentPart,
    )


# --- items -----------------------------------------------------------------------------------


class _ItemBase(TaggedModel):
    id: str | None = None
    object: Literal["realtime.item"] | None = None
    status: ItemStatus | None = None


class MessageItem(_ItemBase):
    """A message from the user, the assistant or the system."""

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system"]
    content: list[ContentPart] = Field(default_factory=list)


class FunctionCallItem(_ItemBase):
    """The model's call of a function tool. ``arguments`` is a JSON string."""

    type: Literal["function_call"] = "function_call"
    name: str | None = None
    arguments: str | None = None
    call_id: str | None = None


class FunctionCallOutputItem(_ItemBase):
    """The client's answer to a function call, matched by ``call_id``."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


class McpCallItem(_ItemBase):
    """A call of a tool on a remote MCP server (GA)."""

    type: Literal["mcp_call"] = "mcp_call"
    name: str | None = None
    arguments: str | None = None
    server_label: str | None = None
    output: str | None = None
    error: JsonData = None
    approval_request_id: str | None = None


class McpToolInfo(WireModel):
    """One tool an MCP server lists."""

    name: str
    input_schema: JsonData = None
    description: str | None = None
    annotations: JsonData = None


class McpListToolsItem(_ItemBase):
    """The tools an MCP server offers (GA)."""

    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    server_label: str | None = None
    tools: list[McpToolInfo] | None = None


class McpApprovalRequestItem(_ItemBase):
    """The server asks the client to approve an MCP call (GA)."""

    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    name: str | None = None
    arguments: str | None = None
    server_label: str | None = None


class McpApprovalResponseItem(_ItemBase):
    """The client's answer to an MCP approval request (GA)."""

    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    approval_request_id: str
    approve: bool
    reason: str | None = None


class ItemReference(TaggedModel):
    """A reference to an existing item, in ``response.create``'s ``input``."""

    type: Literal["item_reference"] = "item_reference"
    id: str


class UnknownItem(WireModel):
    """An item of a type this version does not know, kept as sent.

    In a server event, also an item of a known ``type`` with ``null`` (or nothing) where
    its model needs a value, e.g. a message with no ``role``: it cannot be read as that
    type (see :func:`~realtime_agent.schema.common.tagged_union`).
    """

    type: str | None = None
    id: str | None = None


if TYPE_CHECKING:
    Item: TypeAlias = (
        MessageItem
        | FunctionCallItem
        | FunctionCallOutputItem
        | McpCallItem
        | McpListToolsItem
        | McpApprovalRequestItem
        | McpApprovalResponseItem
        | ItemReference
        | UnknownItem
    )
else:
    Item = tagged_union(
        MessageItem,
        FunctionCallItem,
        FunctionCallOutputItem,
        McpCallItem,
        McpListToolsItem,
        McpApprovalRequestItem,
        McpApprovalResponseItem,
        ItemReference,
        unknown=UnknownItem,
    )
