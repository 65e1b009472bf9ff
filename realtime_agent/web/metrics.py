"""The web server's Prometheus metrics (``GET /metrics``), one registry per application.

Each application has its own :class:`Metrics` (its own ``CollectorRegistry``), so two
servers in one process, or the tests, never mix their counts. With several worker
processes each reports its own; a Prometheus scrape through a load balancer sees one
worker at a time, so scrape each worker's port or sum the series (``instance`` label).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from realtime_agent.protocol import events as app

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """Counters and gauges of the conversations one web server carries.

    ``kind`` is ``"browser"`` or ``"phone"``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_sessions = Gauge(
            "realtime_agent_active_sessions", "Conversations open now", ["kind"], registry=r
        )
        self.sessions = Counter(
            "realtime_agent_sessions", "Conversations started", ["kind"], registry=r
        )
        self.turns = Counter("realtime_agent_turns", "Assistant turns", ["kind"], registry=r)
        self.turn_latency = Histogram(
            "realtime_agent_turn_latency_seconds",
            "From the end of the caller's speech to the assistant's first audio out",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.barge_ins = Counter(
            "realtime_agent_barge_ins", "Assistant audio cut by the caller", ["kind"], registry=r
        )
        self.tool_calls = Counter(
            "realtime_agent_tool_calls", "Tool calls, by outcome", ["kind", "outcome"], registry=r
        )
        self.errors = Counter(
            "realtime_agent_errors",
            "Errors, by where they came from (upstream, client, auth, limit, application)",
            ["kind", "source"],
            registry=r,
        )
        self.upstream_reconnects = Counter(
            "realtime_agent_upstream_reconnects", "Upstream reconnections", ["kind"], registry=r
        )
        self.dtmf_digits = Counter(
            "realtime_agent_dtmf_digits", "Keypad digits the callers pressed", ["kind"], registry=r
        )
        self.dtmf_digits.labels("phone")
        for kind in ("browser", "phone"):  # every series exists from the start, at 0
            self.active_sessions.labels(kind)
            self.sessions.labels(kind)
            self.turns.labels(kind)
            self.turn_latency.labels(kind)
            self.barge_ins.labels(kind)
            self.upstream_reconnects.labels(kind)
            for outcome in ("ok", "error"):
                self.tool_calls.labels(kind, outcome)

    def count(self, kind: str, event: app.AppEvent) -> None:
        """Count what ``event``, from a ``kind`` conversation's session, says happened."""
        match event:
            case app.AgentEnd():
                self.turns.labels(kind).inc()
            case app.ToolEnd(error=error):
                self.tool_calls.labels(kind, "error" if error else "ok").inc()
            case app.AudioInterrupted():
                self.barge_ins.labels(kind).inc()
            case app.ErrorRaised():
                self.errors.labels(kind, "upstream").inc()
            case app.Reconnected():
                self.upstream_reconnects.labels(kind).inc()
            case _:
                pass

    def render(self) -> bytes:
        """The text exposition format (``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)
