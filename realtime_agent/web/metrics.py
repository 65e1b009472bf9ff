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

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "turn_latency_ms"]

_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_TOOL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TRUNCATE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def turn_latency_ms(metrics: app.TurnMetrics) -> float | None:
    """A turn's latency: to the answer's first sample played, else to its first audio
    received (a sink that never reported); None when the turn had no audio."""
    if metrics.first_heard_ms is not None:
        return metrics.first_heard_ms
    return metrics.first_audio_ms


class Metrics:
    """Counters, gauges and histograms of the conversations one web server carries.

    ``kind`` is ``"browser"`` or ``"phone"``. The timings come from the session's own
    telemetry: each turn's ``TurnMetrics`` and each session's ``SessionSummary``.
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
            "From a turn's beginning (the end of the caller's speech, or a request for a"
            " response) to when the answer's first sample played (else its first audio"
            " received), one per turn with audio",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.truncate = Histogram(
            "realtime_agent_truncate_seconds",
            "A barge-in: from the caller's speech_started to the truncate written upstream",
            ["kind"],
            buckets=_TRUNCATE_BUCKETS,
            registry=r,
        )
        self.tool_seconds = Histogram(
            "realtime_agent_tool_seconds",
            "How long each tool call ran",
            ["kind"],
            buckets=_TOOL_BUCKETS,
            registry=r,
        )
        self.playout_underruns = Counter(
            "realtime_agent_playout_underruns",
            "Times an answer's audio ran out on the sink mid-answer",
            ["kind"],
            registry=r,
        )
        self.dropped_events = Counter(
            "realtime_agent_dropped_events",
            "Session events (deltas) dropped because the call fell behind reading them",
            ["kind"],
            registry=r,
        )
        self.loop_lag = Histogram(
            "realtime_agent_loop_lag_seconds",
            "The longest the event loop was late to wake a session's probe, one per session",
            ["kind"],
            buckets=_LAG_BUCKETS,
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
        self.active_streams = Gauge(
            "realtime_agent_active_http_streams",
            "Streamed HTTP audio answers in progress, by route (chat, audio)",
            ["route"],
            registry=r,
        )
        self.http_requests = Counter(
            "realtime_agent_http_requests",
            "HTTP audio requests answered, by route (chat, audio) and status code",
            ["route", "status"],
            registry=r,
        )
        self.http_audio_seconds = Counter(
            "realtime_agent_http_audio_seconds",
            "Seconds of audio the HTTP audio endpoints sent, by route",
            ["route"],
            registry=r,
        )
        self.http_client_gone = Counter(
            "realtime_agent_http_client_gone",
            "Streamed HTTP audio answers whose client went away before their end, by route",
            ["route"],
            registry=r,
        )
        for route in ("chat", "audio"):
            self.active_streams.labels(route)
            self.http_client_gone.labels(route)
            self.http_audio_seconds.labels(route)
        for kind in ("browser", "phone"):  # every series exists from the start, at 0
            self.active_sessions.labels(kind)
            self.sessions.labels(kind)
            self.turns.labels(kind)
            self.turn_latency.labels(kind)
            self.truncate.labels(kind)
            self.tool_seconds.labels(kind)
            self.playout_underruns.labels(kind)
            self.dropped_events.labels(kind)
            self.loop_lag.labels(kind)
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
            case app.TurnMetrics():
                latency_ms = turn_latency_ms(event)
                if latency_ms is not None:
                    self.turn_latency.labels(kind).observe(latency_ms / 1000)
                for tool in event.tools:
                    self.tool_seconds.labels(kind).observe(tool.ms / 1000)
                if event.barge_in_ms is not None:
                    self.truncate.labels(kind).observe(event.barge_in_ms / 1000)
            case app.SessionSummary():
                self.playout_underruns.labels(kind).inc(event.underruns)
                self.dropped_events.labels(kind).inc(event.dropped_events)
                self.loop_lag.labels(kind).observe(event.loop_lag_max_ms / 1000)
            case _:
                pass

    def render(self) -> bytes:
        """The text exposition format (``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)
