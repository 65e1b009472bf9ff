"""Metrics.count on the session's telemetry events, directly: figures a conversation over
the sockets does not choose (underruns, dropped events, a turn with no audio)."""

from __future__ import annotations

import pytest

from realtime_agent.protocol import events as app
from realtime_agent.web.metrics import Metrics


def value(metrics: Metrics, name: str, kind: str = "phone") -> float | None:
    return metrics.registry.get_sample_value(name, {"kind": kind})


def summary(underruns: int, dropped: int, lag_ms: float) -> app.SessionSummary:
    return app.SessionSummary(
        seconds=10.0,
        turns=1,
        barge_ins=0,
        tool_calls=0,
        reconnects=0,
        rollovers=0,
        underruns=underruns,
        dropped_events=dropped,
        dropped_audio=0,
        events_high_water=3,
        outbox_high_water=1,
        urgent_high_water=0,
        loop_lag_max_ms=lag_ms,
    )


def test_a_summary_adds_its_counts_and_one_lag() -> None:
    metrics = Metrics()
    metrics.count("phone", summary(3, 2, 12.5))
    metrics.count("phone", summary(0, 0, 40.0))
    assert value(metrics, "realtime_agent_playout_underruns_total") == 3
    assert value(metrics, "realtime_agent_dropped_events_total") == 2
    assert value(metrics, "realtime_agent_loop_lag_seconds_count") == 2
    assert value(metrics, "realtime_agent_loop_lag_seconds_sum") == pytest.approx(0.0525)
    assert value(metrics, "realtime_agent_loop_lag_seconds_count", "browser") == 0


def test_a_turn_s_latency_is_what_was_heard_else_the_first_audio() -> None:
    metrics = Metrics()

    def turn(
        heard: float | None,
        audio: float | None,
        barge_in_ms: float | None = None,
        tools: tuple[app.ToolTiming, ...] = (),
    ) -> app.TurnMetrics:
        return app.TurnMetrics(
            1, "speech", "item_1", ("resp_1",), audio, heard, tools=tools, barge_in_ms=barge_in_ms
        )

    metrics.count("browser", turn(450.0, 300.0, barge_in_ms=4.0))
    metrics.count("browser", turn(None, 250.0))
    metrics.count("browser", turn(None, None, tools=(app.ToolTiming("c", "t", 5.0, 120.0),)))
    assert value(metrics, "realtime_agent_turn_latency_seconds_count", "browser") == 2
    assert value(metrics, "realtime_agent_turn_latency_seconds_sum", "browser") == pytest.approx(
        0.7
    )
    assert value(metrics, "realtime_agent_truncate_seconds_count", "browser") == 1
    assert value(metrics, "realtime_agent_truncate_seconds_sum", "browser") == pytest.approx(0.004)
    assert value(metrics, "realtime_agent_tool_seconds_sum", "browser") == pytest.approx(0.12)
