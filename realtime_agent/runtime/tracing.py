"""OpenTelemetry spans of a session, its turns and their tool calls (optional).

With the ``opentelemetry-api`` package installed (the ``otel`` extra), each session
gives a span, and each turn a child span with its figures as attributes
(:class:`~realtime_agent.protocol.events.TurnMetrics`), each tool call a child of its
turn. The API is a no-op until the application configures an SDK, so this costs next
to nothing when nobody listens. Without the package, nothing is traced.

* ``realtime.session``: from the session's creation to its end. Attributes:
  ``realtime.session.agent``, ``realtime.session.model`` (the agent's, else the URL's
  ``model`` or ``deployment``), ``realtime.session.url`` (scheme, host, port, path and
  only the ``model``, ``deployment`` and ``api-version`` query parameters: never a key,
  a token, user info or a header), ``realtime.session.dialect``; at the end, every field
  of :class:`~realtime_agent.protocol.events.SessionSummary` as
  ``realtime.session.<field>``, and status ERROR (with ``error.type``) when the session
  ended by itself with an error.
* ``realtime.turn``: a child of the session, made once the turn is over, with its real
  start and end. Attributes ``realtime.turn.<field>`` for ``number`` (its ``turn``),
  ``began``, ``item_id``, ``response_ids``, ``first_audio_ms``, ``first_heard_ms``,
  ``barge_in_ms``, ``interrupted``, ``status``; a figure that is None is left out.
* ``realtime.tool``: a child of its turn per tool call, ``realtime.tool.name`` and
  ``realtime.tool.call_id``; status ERROR when the tool failed.

None of these spans is made the current one: the session runs in tasks of its own, so
each span names its parent explicitly. The session's times are ``time.monotonic()``;
they become wall-clock times by one offset taken when the session's span starts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from realtime_agent._version import __version__
from realtime_agent.protocol import events as app

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from realtime_agent.runtime.agent import Agent
    from realtime_agent.runtime.transport import Endpoint

__all__ = ["SESSION_SPAN", "TOOL_SPAN", "TURN_SPAN", "Tracing", "safe_url"]

#: The span names: a session, each of its turns, each tool call of a turn.
SESSION_SPAN = "realtime.session"
TURN_SPAN = "realtime.turn"
TOOL_SPAN = "realtime.tool"

#: The query parameters of an endpoint's URL that may show in a span (no key, no token).
SAFE_QUERY = frozenset({"model", "deployment", "api-version"})

_Value: TypeAlias = str | bool | int | float | Sequence[str]
_NS = 1_000_000_000


def safe_url(url: str) -> str:
    """``url`` without what may be secret: user info, and every query parameter but
    :data:`SAFE_QUERY`; no fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in SAFE_QUERY])
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _model(agent: Agent, url: str) -> str | None:
    if agent.model is not None:
        return agent.model
    query = dict(parse_qsl(urlsplit(url).query))
    return query.get("model") or query.get("deployment")


class Tracing:
    """The spans of one session (see the module docstring)."""

    __slots__ = ("_ended", "_last_ns", "_offset_ns", "_span", "_tracer")

    def __init__(self, tracer: Tracer, span: Span, offset_ns: int) -> None:
        self._tracer = tracer
        self._span = span
        self._offset_ns = offset_ns  # wall clock minus monotonic clock, in ns
        self._ended = False
        self._last_ns = 0  # the latest end of a child span: the session's ends no earlier

    @classmethod
    def start(
        cls, agent: Agent, endpoint: Endpoint, *, tracer_provider: TracerProvider | None = None
    ) -> Tracing | None:
        """The session's tracing, or None when OpenTelemetry's API is not installed.

        ``tracer_provider``: where the spans go (default: the global provider, as
        ``opentelemetry.trace.set_tracer_provider`` set it).
        """
        try:
            from opentelemetry import trace
        except ImportError:
            return None
        tracer = trace.get_tracer("realtime_agent", __version__, tracer_provider=tracer_provider)
        offset_ns = time.time_ns() - time.monotonic_ns()
        attributes: dict[str, _Value] = {
            "realtime.session.agent": agent.name,
            "realtime.session.url": safe_url(endpoint.url),
            "realtime.session.dialect": endpoint.dialect.value,
        }
        model = _model(agent, endpoint.url)
        if model:
            attributes["realtime.session.model"] = model
        span = tracer.start_span(SESSION_SPAN, attributes=attributes)
        return cls(tracer, span, offset_ns)

    def _ns(self, monotonic: float) -> int:
        """A ``time.monotonic()`` time as ns since the epoch."""
        return self._offset_ns + round(monotonic * _NS)

    def turn(self, metrics: app.TurnMetrics, began_at: float, ended_at: float) -> None:
        """A turn is over (times: ``time.monotonic()``): its span and its tools'."""
        if self._ended or not self._span.is_recording():
            return  # nobody listens (no SDK, or the session was not sampled)
        from opentelemetry.trace import Status, StatusCode, set_span_in_context

        figures: dict[str, _Value | None] = {
            "realtime.turn.number": metrics.turn,
            "realtime.turn.began": metrics.began,
            "realtime.turn.item_id": metrics.item_id,
            "realtime.turn.response_ids": metrics.response_ids,
            "realtime.turn.first_audio_ms": metrics.first_audio_ms,
            "realtime.turn.first_heard_ms": metrics.first_heard_ms,
            "realtime.turn.barge_in_ms": metrics.barge_in_ms,
            "realtime.turn.interrupted": metrics.interrupted,
            "realtime.turn.status": metrics.status,
        }
        start = self._ns(began_at)
        span = self._tracer.start_span(
            TURN_SPAN,
            context=set_span_in_context(self._span),
            attributes={k: v for k, v in figures.items() if v is not None},
            start_time=start,
        )
        within = set_span_in_context(span)
        for tool in metrics.tools:
            tool_start = start + round(tool.started_ms * 1_000_000)
            child = self._tracer.start_span(
                TOOL_SPAN,
                context=within,
                attributes={"realtime.tool.name": tool.name, "realtime.tool.call_id": tool.call_id},
                start_time=tool_start,
            )
            if tool.error:
                child.set_status(Status(StatusCode.ERROR))
            child.end(end_time=tool_start + round(tool.ms * 1_000_000))
        end = max(start, self._ns(ended_at))
        self._last_ns = max(self._last_ns, end)
        span.end(end_time=end)

    def end(
        self, summary: app.SessionSummary, started_at: float, error: BaseException | None
    ) -> None:
        """The session ended: its span ends, with the summary as attributes."""
        if self._ended:
            return
        self._ended = True
        span = self._span
        for field in dataclasses.fields(summary):
            value = getattr(summary, field.name)
            if isinstance(value, int | float):
                span.set_attribute(f"realtime.session.{field.name}", value)
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        # summary.seconds is rounded to the ms: never end before the last turn did.
        end = self._ns(started_at + summary.seconds) if started_at else time.time_ns()
        span.end(end_time=max(end, self._last_ns))
