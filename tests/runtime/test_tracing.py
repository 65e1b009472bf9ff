"""OpenTelemetry spans over real sockets: a session span, a child span per turn with the
figures the application saw, a span per tool call under its turn, and no key anywhere.

The spans go to the SDK's in-memory exporter through a provider of each test's own: the
``spans`` fixture has ``Tracing.start`` (which the session calls) use that provider, and
undoes it after the test. The global provider is never set (OpenTelemetry allows that
once per process, and it would trace every later test of the run).

The module imports without OpenTelemetry (CI's wheel venv has neither the API nor the
SDK): the tests that read spans skip there, those of its absence run for real.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from realtime_agent.errors import AuthenticationError, ConnectionLost
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.runtime.agent import Agent as AgentType
from realtime_agent.runtime.tracing import Tracing, safe_url
from realtime_agent.runtime.transport import Endpoint, Secret
from realtime_agent.schema.dialect import Dialect
from realtime_agent.server import CallTool, LocalRealtimeServer, ScriptedResponder, faults
from realtime_agent.testing import InstantSink
from realtime_agent.tools import tool
from tests.runtime.conftest import collect_until, next_of
from tests.runtime.test_session import get_weather

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import TracerProvider as AnyTracerProvider

pytestmark = pytest.mark.usefixtures("no_task_left")

KEY = "sk-test-secret"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "otel_console.py"


@tool
async def broken_tool(city: str) -> str:
    """A tool that fails.

    Args:
        city: The city name.
    """
    raise RuntimeError("the weather service is down")


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider of the test's own, whose spans go to an in-memory exporter."""
    pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the dev extra)")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def spans(
    provider: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> InMemorySpanExporter:
    """The spans of the sessions this test makes (their ``Tracing`` uses this provider)."""
    ours, exporter = provider
    original = Tracing.start

    def start(
        agent: AgentType, endpoint: Endpoint, *, tracer_provider: AnyTracerProvider | None = None
    ) -> Tracing | None:
        return original(agent, endpoint, tracer_provider=ours)

    monkeypatch.setattr(Tracing, "start", staticmethod(start))
    return exporter


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def expected_turn_attributes(turn: app.TurnMetrics) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "realtime.turn.number": turn.turn,
        "realtime.turn.began": turn.began,
        "realtime.turn.item_id": turn.item_id,
        "realtime.turn.response_ids": turn.response_ids,
        "realtime.turn.first_audio_ms": turn.first_audio_ms,
        "realtime.turn.first_heard_ms": turn.first_heard_ms,
        "realtime.turn.barge_in_ms": turn.barge_in_ms,
        "realtime.turn.interrupted": turn.interrupted,
        "realtime.turn.status": turn.status,
    }
    return {k: v for k, v in figures.items() if v is not None}


def everything_said(spans: Sequence[ReadableSpan]) -> str:
    """Every attribute, event and status text of ``spans``, as one string."""
    parts: list[str] = []
    for span in spans:
        parts += [span.name, repr(dict(span.attributes or {})), str(span.status.description)]
        for event in span.events:
            parts += [event.name, repr(dict(event.attributes or {}))]
    return "\n".join(parts)


async def test_a_session_gives_a_span_a_turn_a_child_and_a_tool_a_grandchild(
    spans: InMemorySpanExporter,
) -> None:
    responder = ScriptedResponder(
        [CallTool("get_weather", {"city": "Paris"}), "It is clear in Paris.", "Bye."]
    )
    async with LocalRealtimeServer(responder=responder, api_key=KEY) as server:
        assert server.api_key == KEY  # the session below could only connect with the key
        url = server.url
        agent = Agent(name="weather-bot", tools=[get_weather])
        session = connect(agent, url=server.url, api_key=KEY, audio_out=InstantSink())
        async with session:
            await session.send_text("weather in Paris?")
            first = (await collect_until(session, app.TurnMetrics))[-1]
            # The turn's span ended as its metrics were emitted: before the app saw them.
            assert [s.name for s in spans.get_finished_spans()] == [
                "realtime.tool",
                "realtime.turn",
            ]
            await session.send_text("thanks")
            second = (await collect_until(session, app.TurnMetrics))[-1]
        summary = await next_of(session, app.SessionSummary)
    assert isinstance(first, app.TurnMetrics) and isinstance(second, app.TurnMetrics)
    finished = spans.get_finished_spans()
    [root] = named(finished, "realtime.session")
    turns = named(finished, "realtime.turn")
    [tool_span] = named(finished, "realtime.tool")

    # The session: no parent, what it talked to, then its summary.
    assert root.parent is None
    assert root.instrumentation_scope is not None
    assert root.instrumentation_scope.name == "realtime_agent"
    attributes = dict(root.attributes or {})
    assert attributes["realtime.session.agent"] == "weather-bot"
    assert attributes["realtime.session.model"] == "gpt-realtime"
    assert attributes["realtime.session.dialect"] == "ga"
    assert attributes["realtime.session.url"] == url  # it has nothing secret
    for field in dataclasses.fields(summary):  # every figure, but those that are None
        value = getattr(summary, field.name)
        assert attributes.get(f"realtime.session.{field.name}") == value, field.name
    assert (summary.turns, summary.tool_calls) == (2, 1)
    assert root.status.status_code.name == "UNSET"

    # A turn per turn, a child of the session, its figures those the application saw.
    assert [parent_of(t) for t in turns] == [span_id(root)] * 2
    for span, metrics in zip(turns, [first, second], strict=True):
        assert dict(span.attributes or {}) == expected_turn_attributes(metrics)
    assert [len(first.response_ids), len(second.response_ids)] == [2, 1]  # a tool: two

    # The tool, under its turn, within it.
    assert parent_of(tool_span) == span_id(turns[0])
    [timing] = first.tools
    assert dict(tool_span.attributes or {}) == {
        "realtime.tool.name": "get_weather",
        "realtime.tool.call_id": timing.call_id,
    }
    assert tool_span.status.status_code.name == "UNSET"

    # Times: each span within its parent, turns one after the other, on the wall clock.
    def times(span: ReadableSpan) -> tuple[int, int]:
        assert span.start_time is not None and span.end_time is not None
        return span.start_time, span.end_time

    (r0, r1), (a0, a1), (b0, b1), (t0, t1) = map(times, [root, *turns, tool_span])
    assert r0 <= a0 <= t0 <= t1 <= a1 <= b0 <= b1 <= r1
    assert t0 - a0 == pytest.approx(timing.started_ms * 1e6, abs=1)
    assert t1 - t0 == pytest.approx(timing.ms * 1e6, abs=1)
    assert r1 - r0 >= summary.seconds * 1e9 - 1e6

    # No key anywhere, in any span.
    assert KEY not in everything_said(finished)


async def test_a_failed_tool_is_an_error_span(spans: InMemorySpanExporter) -> None:
    responder = ScriptedResponder([CallTool("broken_tool", {"city": "Paris"}), "Sorry."])
    async with LocalRealtimeServer(responder=responder) as server:
        agent = Agent(tools=[broken_tool])
        async with connect(agent, url=server.url, audio_out=InstantSink()) as session:
            await session.send_text("weather?")
            turn = (await collect_until(session, app.TurnMetrics))[-1]
    assert isinstance(turn, app.TurnMetrics)
    [timing] = turn.tools
    assert timing.error
    [tool_span] = named(spans.get_finished_spans(), "realtime.tool")
    assert tool_span.status.status_code.name == "ERROR"
    assert dict(tool_span.attributes or {})["realtime.tool.name"] == "broken_tool"


async def test_a_session_that_ends_with_an_error_has_an_error_span(
    spans: InMemorySpanExporter,
) -> None:
    plan = [faults.drop(at_event="response.created")]
    async with LocalRealtimeServer(faults=plan) as server:
        async with connect(Agent(), url=server.url, reconnect=None) as session:
            await session.send_text("hello")
            closed = await next_of(session, app.Closed)
    assert isinstance(closed.error, ConnectionLost)
    [root] = named(spans.get_finished_spans(), "realtime.session")
    assert root.status.status_code.name == "ERROR"
    assert root.status.description == str(closed.error)
    assert dict(root.attributes or {})["error.type"] == "ConnectionLost"


async def test_a_session_that_never_connected_ends_its_span(
    spans: InMemorySpanExporter,
) -> None:
    async with LocalRealtimeServer(api_key="sk-the-right-one") as server:
        session = connect(Agent(), url=server.url, api_key="sk-a-wrong-one")
        with pytest.raises(AuthenticationError):
            await session.start()
    [root] = named(spans.get_finished_spans(), "realtime.session")
    assert root.status.status_code.name == "ERROR"
    assert dict(root.attributes or {})["error.type"] == "AuthenticationError"
    assert "sk-a-wrong-one" not in everything_said([root])


def test_no_secret_of_an_endpoint_shows(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    ours, exporter = provider
    url = (
        "wss://user:hunter2@example.openai.azure.com/openai/realtime"
        "?api-version=2025-04-01-preview&deployment=my-realtime&api_key=sk-in-url&token=tok"
    )
    endpoint = Endpoint(url, Dialect.BETA, Secret(KEY), key_header="api-key")
    tracing = Tracing.start(Agent(name="a"), endpoint, tracer_provider=ours)
    assert tracing is not None
    summary = app.SessionSummary(
        seconds=0.0,
        turns=0,
        barge_ins=0,
        tool_calls=0,
        reconnects=0,
        rollovers=0,
        underruns=0,
        dropped_events=0,
        dropped_audio=0,
        events_high_water=0,
        outbox_high_water=0,
        urgent_high_water=0,
        loop_lag_max_ms=0.0,
    )
    tracing.end(summary, 0.0, None)
    tracing.end(summary, 0.0, None)  # once only
    [root] = exporter.get_finished_spans()
    attributes = dict(root.attributes or {})
    assert attributes["realtime.session.url"] == (
        "wss://example.openai.azure.com/openai/realtime"
        "?api-version=2025-04-01-preview&deployment=my-realtime"
    )
    assert attributes["realtime.session.model"] == "my-realtime"  # Azure: the deployment
    assert attributes["realtime.session.dialect"] == "beta"
    said = everything_said([root])
    for secret in (KEY, "hunter2", "sk-in-url", "tok", "api-key", "Bearer"):
        assert secret not in said, secret


def test_safe_url_keeps_where_and_drops_what_may_be_secret() -> None:
    assert safe_url("wss://api.openai.com/v1/realtime?model=gpt-realtime") == (
        "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    )
    assert safe_url("ws://k:s@127.0.0.1:8080/v1/realtime?key=x#frag") == (
        "ws://127.0.0.1:8080/v1/realtime"
    )


def test_without_opentelemetry_there_is_no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry fails
    endpoint = Endpoint.local("ws://127.0.0.1:1/v1/realtime", api_key=KEY)
    assert Tracing.start(Agent(), endpoint) is None
    assert Tracing.start(Agent(), endpoint, tracer_provider=None) is None


async def test_a_session_without_opentelemetry_runs_untraced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    made: list[Tracing | None] = []
    original = Tracing.start

    def start(
        agent: AgentType, endpoint: Endpoint, *, tracer_provider: AnyTracerProvider | None = None
    ) -> Tracing | None:
        made.append(original(agent, endpoint, tracer_provider=tracer_provider))
        return made[-1]

    monkeypatch.setattr(Tracing, "start", staticmethod(start))
    async with LocalRealtimeServer(responder=ScriptedResponder(["Hello."])) as server:
        async with connect(Agent(), url=server.url, audio_out=InstantSink()) as session:
            await session.send_text("hi")
            turn = (await collect_until(session, app.TurnMetrics))[-1]
        summary = await next_of(session, app.SessionSummary)
    assert made == [None]  # the session asked, got no tracing, and ran all the same
    assert isinstance(turn, app.TurnMetrics) and turn.status == "completed"
    assert summary.turns == 1


def test_the_console_example_prints_its_spans() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the dev extra)")
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "assistant: It is sunny in Paris." in out
    for name in ("realtime.tool", "realtime.turn", "realtime.session"):
        assert f'"name": "{name}"' in out, name
    assert '"realtime.tool.name": "get_weather"' in out
    assert '"realtime.turn.number": 2' in out and '"realtime.session.turns": 2' in out
