"""Handoffs: a tool may hand the conversation to another agent.

A tool returns ``Handoff(agent)``; the runtime then updates the session with that
agent's instructions, tools and voice (the voice only if the assistant has not spoken
yet: the server refuses to change it afterwards). This module knows nothing of the
runtime: anything with the attributes of :class:`HandoffTarget` can be handed to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from realtime_agent.tools.tool import Tool

__all__ = ["Handoff", "HandoffTarget"]


class HandoffTarget(Protocol):
    """What the runtime needs of an agent to hand over to it."""

    @property
    def name(self) -> str:
        """The agent's name, for the application's events."""
        ...

    @property
    def instructions(self) -> str:
        """Its instructions."""
        ...

    @property
    def voice(self) -> str | None:
        """Its voice, or None to keep the current one."""
        ...

    @property
    def tools(self) -> Sequence[Tool | Callable[..., Any]]:
        """Its tools (``Tool`` objects, or typed functions to make tools of)."""
        ...


@dataclass(frozen=True)
class Handoff:
    """Return this from a tool to hand the conversation to ``agent``."""

    agent: HandoffTarget
    message: str | None = None
    """What the model is told (default: that the conversation was handed over)."""
