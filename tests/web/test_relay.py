"""The browser relay over real sockets: a page client, the web server, the local server."""

from __future__ import annotations

import json
import logging
import signal

import numpy as np
import pytest
import soxr
from websockets.datastructures import Headers  # noqa: F401
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from realtime_agent.protocol import events as app
from realtime_agent.web import WebSettings, mint_token
from tests.speech import REAL, spoken
from tests.web.conftest import Hook, WebFactory, get, heard_turns, scrape
from tests.web.page_client import PageClient, page

QUESTION = "What is the weather like in Paris today?"
LONG = "Tell me about the museums and the gardens of Paris"


async def test_health_and_metrics(serve_web: WebFactory) -> None:
    async with serve_web(WebSettings(insecure=True)) as running:
        status, kind, body = await get(running.http + "/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")
        assert kind.startswith("application/json")
        status, kind, body = await get(running.http + "/metrics")
        assert status == 200 and kind.startswith("text/plain")
        assert 'realtime_agent_active_sessions{kind="browser"} 0.0' in body
        assert "realtime_agent_turn_latency_seconds_bucket" in body
        for series in (  # every series from the start, at 0
            'realtime_agent_tool_seconds_count{kind="browser"} 0.0',
            'realtime_agent_truncate_seconds_count{kind="phone"} 0.0',
            'realtime_agent_playout_underruns_total{kind="browser"} 0.0',
            'realtime_agent_dropped_events_total{kind="phone"} 0.0',
            'realtime_agent_loop_lag_seconds_count{kind="browser"} 0.0',
        ):
            assert series in body


async def test_a_spoken_turn_with_a_tool_call(serve_web: WebFactory) -> None:
    seen: list[tuple[str, object]] = []
    async with (
        serve_web(
            WebSettings(insecure=True), on_event=lambda call, e: seen.append((call.kind, e))
        ) as running,
        page(running.ws + "/relay") as client,
    ):
        rate = 48000  # a browser's device rate: the relay resamples
        await client.hello(rate=rate)
        ready = await client.wait_for("ready")
        assert ready["rate"] == 24000 and ready["epoch"] == 0
        assert "key" not in json.dumps(ready).lower()
        speech = np.frombuffer(spoken(QUESTION), "<i2")
        up = soxr.resample(speech, 24000, rate).astype("<i2").tobytes()
        await client.send_audio(up, frame_ms=10, realtime=False)  # the relay paces nothing
        start = await client.wait_for("tool_start")
        assert start["name"] == "get_weather"
        if REAL:
            assert json.loads(start["arguments"]) == {"city": "Paris"}
        end = await client.wait_for("tool_end")
        assert end["call_id"] == start["call_id"] and end["error"] is None
        said = await client.wait_for("transcript", count=1)
        if REAL:
            user = [m for m in client.of("transcript") if m["role"] == "user"]
            assert user and "paris" in user[0]["text"].lower()
        answer = [m for m in client.messages if m["type"] == "transcript"]
        assert said in answer
        await client.wait_for("response_end", count=2)  # the tool call's, then the answer's
        assistant = await client.wait_for("transcript", count=2)
        assert assistant["role"] == "assistant" and "Paris" in assistant["text"]
        assert client.audio_bytes > 24000  # at least half a second of the answer
        turn = await client.wait_for("turn")
        assert turn["latency_ms"] >= 0
    # The application's hook saw the same conversation, event by event.
    ends = [e for kind, e in seen if kind == "browser" and isinstance(e, app.ToolEnd)]
    assert [(e.call_id, e.name, e.error) for e in ends] == [(start["call_id"], "get_weather", None)]
    assert isinstance(seen[-1][1], app.Closed)


async def test_the_metrics_come_from_the_session_s_telemetry(serve_web: WebFactory) -> None:
    """/metrics over the socket: a turn with a tool call, then the call's summary."""
    hook = Hook()
    async with serve_web(WebSettings(insecure=True), on_event=hook) as running:
        before = await scrape(running, "browser")
        assert before["realtime_agent_loop_lag_seconds_count"] == 0
        async with page(running.ws + "/relay") as client:
            await client.hello()
            await client.wait_for("ready")
            await client.send_audio(spoken(QUESTION), realtime=False)
            await client.wait_for("tool_end")
            # The turn is over once its answer was heard: its metrics were counted first.
            turn = await client.wait_for("turn")
            during = await scrape(running, "browser")
            (metrics,) = hook.of(app.TurnMetrics)
            assert (turn["turn"], turn["item_id"]) == (metrics.turn, metrics.item_id)
            stopped = client.of("speech_stopped")
            assert metrics.item_id is not None
            assert metrics.item_id in [m["item_id"] for m in stopped]
            latency = metrics.first_heard_ms
            assert latency is not None and turn["latency_ms"] == round(latency)
            assert [t.name for t in metrics.tools] == ["get_weather"]
            assert during["realtime_agent_tool_seconds_count"] == 1
            assert during["realtime_agent_tool_seconds_sum"] == pytest.approx(
                metrics.tools[0].ms / 1000
            )
            assert during["realtime_agent_turn_latency_seconds_count"] == (
                before["realtime_agent_turn_latency_seconds_count"] + heard_turns(hook)
            )
            assert during["realtime_agent_turn_latency_seconds_sum"] == pytest.approx(
                latency / 1000
            )
            assert during["realtime_agent_truncate_seconds_count"] == 0  # no barge-in
            assert during["realtime_agent_loop_lag_seconds_count"] == 0  # the call goes on
        # The page went away: the session's summary, just before its Closed, was counted.
        await hook.wait_closed()
        after = await scrape(running, "browser")
        (summary,) = hook.of(app.SessionSummary)
        assert isinstance(hook.events[-1], app.Closed)
        assert hook.events.index(summary) == len(hook.events) - 2
        assert after["realtime_agent_loop_lag_seconds_count"] == 1
        assert after["realtime_agent_loop_lag_seconds_sum"] == pytest.approx(
            summary.loop_lag_max_ms / 1000
        )
        assert after["realtime_agent_dropped_events_total"] == summary.dropped_events
        assert after["realtime_agent_playout_underruns_total"] == summary.underruns
        assert summary.turns == len(hook.of(app.TurnMetrics))
        assert after["realtime_agent_turn_latency_seconds_count"] == heard_turns(hook)


@pytest.mark.parametrize("report_ms", [10.0, 40.0])
async def test_a_barge_in_truncates_at_what_the_page_played(
    serve_web: WebFactory, report_ms: float
) -> None:
    settings = WebSettings(insecure=True, pacing="realtime")
    hook = Hook()
    async with serve_web(settings, on_event=hook) as running:
        async with page(running.ws + "/relay") as client:
            client.report_ms = report_ms
            await client.hello()
            await client.wait_for("ready")
            await client.send_audio(spoken(LONG), realtime=False)
            await client.wait_for("response_start")
            # Barge in once the page has played a second and a half of the answer.
            async with client._arrived:
                await client._arrived.wait_for(lambda: client.player.played >= 36000)
            await client.send_audio(spoken("stop please", lead_ms=0), realtime=True)
            clear = await client.wait_for("clear")
            assert clear["epoch"] == 1
            cut = await client.wait_for("interrupted")
            # The cut is at a position the page reported (the last one to reach the relay:
            # one may still have been on its way), and never past the last one sent.
            reported_ms = {
                samples * 1000 // 24000 for epoch, samples in client.reported if epoch == 0
            }
            assert cut["played_ms"] in reported_ms
            heard_ms = client.reported_at_clear[0] * 1000 / 24000
            assert 0 <= heard_ms - cut["played_ms"] <= 3 * report_ms
            assert cut["truncated_ms"] == cut["played_ms"]
            # What the page really heard is at most one report period past what it reported.
            really = client.heard_at_clear[0] * 1000 / 24000
            assert 0 <= really - cut["played_ms"] <= report_ms + 25
            # The turn the barge-in began has begun (the caller stopped speaking): the page
            # leaves, the session reports it, with how fast its truncate went out.
            await client.wait_for("speech_stopped", count=2)
        await hook.wait_closed()
        timed = [m.barge_in_ms for m in hook.of(app.TurnMetrics) if m.barge_in_ms is not None]
        assert len(timed) == 1 and 0 < timed[0] < 500
        assert [m.interrupted for m in hook.of(app.TurnMetrics)][:1] == [True]
        metrics = await scrape(running, "browser")
        assert metrics["realtime_agent_truncate_seconds_count"] == 1
        assert metrics["realtime_agent_truncate_seconds_sum"] == pytest.approx(timed[0] / 1000)


async def test_a_token_is_required_and_checked(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REALTIME_AGENT_WEB_SECRET", "s3cret-for-tests")
    async with serve_web(WebSettings()) as running:
        for token, reason in [
            (None, "a token is required"),
            ("nonsense", "malformed token"),
            (mint_token("another-secret"), "bad token signature"),
            (mint_token("s3cret-for-tests", ttl=1, now=lambda: 0.0), "expired token"),
        ]:
            async with page(running.ws + "/relay") as client:
                await client.hello(token=token)
                closed = await client.wait_for("closed")
                assert closed["reason"] == reason
                assert await client.wait_closed() == 1008
        async with page(running.ws + "/relay") as client:
            await client.hello(token=mint_token("s3cret-for-tests", subject="ada"))
            assert (await client.wait_for("ready"))["rate"] == 24000


async def test_a_wrong_origin_is_refused_at_the_upgrade(serve_web: WebFactory) -> None:
    settings = WebSettings(insecure=True, allowed_origins=("https://app.example.com",))
    async with serve_web(settings) as running:
        with pytest.raises(InvalidStatus) as refused:
            async with page(running.ws + "/relay", origin=Origin("https://evil.example.com")):
                pass
        assert refused.value.response.status_code == 403
        for origin in ("https://app.example.com", f"http://127.0.0.1:{running.port}"):
            async with page(running.ws + "/relay", origin=Origin(origin)) as client:
                await client.hello()
                await client.wait_for("ready")


async def _talks(client: PageClient, text: str = "hello there") -> None:
    """The client's conversation still works: a typed turn gets an answer."""
    answered = len(client.of("response_end"))
    await client.socket.send(json.dumps({"type": "text", "text": text}))
    await client.wait_for("response_end", count=answered + 1)


@pytest.mark.parametrize("abuse", ["oversize frame", "audio flood", "control flood", "bad json"])
async def test_a_misbehaving_client_is_cut_off_alone(serve_web: WebFactory, abuse: str) -> None:
    settings = WebSettings(
        insecure=True, max_frame_bytes=16 * 1024, control_rate=20.0, pacing="instant"
    )
    async with serve_web(settings) as running, page(running.ws + "/relay") as good:
        await good.hello()
        await good.wait_for("ready")
        async with page(running.ws + "/relay") as bad:
            await bad.hello()
            await bad.wait_for("ready")
            if abuse == "oversize frame":
                await bad.socket.send(bytes(16 * 1024 + 2))
                expected = 1009
            elif abuse == "audio flood":
                for _ in range(40):  # 40 x 0.32 s at once, past the 5 s burst
                    await bad.socket.send(bytes(15360))
                expected = 1008
            elif abuse == "control flood":
                for _ in range(1000):
                    await bad.socket.send(json.dumps({"type": "played", "epoch": 0, "samples": 0}))
                expected = 1008
            else:
                await bad.socket.send("{not json")
                expected = 1008
            assert await bad.wait_closed() == expected
        await _talks(good)
        assert running.web.metrics.errors.labels("browser", "client")._value.get() >= (
            0 if abuse == "oversize frame" else 1
        )


async def test_no_hello_no_conversation(serve_web: WebFactory) -> None:
    async with serve_web(WebSettings(insecure=True)) as running:
        async with page(running.ws + "/relay") as client:
            await client.socket.send(bytes(960))  # audio before the hello
            closed = await client.wait_for("closed")
            assert closed["reason"] == "the first message is a JSON hello"
        async with page(running.ws + "/relay") as client:
            await client.hello(rate=4000)
            assert "8000-96000" in (await client.wait_for("closed"))["reason"]
            assert await client.wait_closed() == 1008


async def test_capacity_refuses_the_next_call_with_try_again(serve_web: WebFactory) -> None:
    async with serve_web(WebSettings(insecure=True, max_sessions=1, pacing="instant")) as running:
        async with page(running.ws + "/relay") as first:
            await first.hello()
            await first.wait_for("ready")
            async with page(running.ws + "/relay") as second:
                await second.hello()
                assert "capacity" in (await second.wait_for("closed"))["reason"]
                assert await second.wait_closed() == 1013
            await _talks(first)


async def test_the_drain_lets_calls_finish_then_closes_them(serve_web: WebFactory) -> None:
    async with serve_web(
        WebSettings(insecure=True, drain_timeout=2.0, pacing="instant")
    ) as running:
        async with page(running.ws + "/relay") as client:
            await client.hello()
            await client.wait_for("ready")
            running.server.handle_exit(signal.SIGTERM, None)  # what uvicorn's handler calls
            status, _, body = await get(running.http + "/healthz")
            assert (status, json.loads(body)["status"]) == (503, "draining")
            async with page(running.ws + "/relay") as late:
                await late.hello()
                assert "shutting down" in (await late.wait_for("closed"))["reason"]
                assert await late.wait_closed() == 1013
            await _talks(client)  # the live call goes on
            closed = await client.wait_for("closed", timeout=10)
            assert closed["reason"] == "the server is shutting down"
            assert await client.wait_closed() == 1001
            assert running.web.draining and not running.web.calls


async def test_the_upstream_a_page_is_told_of_carries_no_query_string(
    serve_web: WebFactory,
) -> None:
    from realtime_agent.server import LocalRealtimeServer

    async with LocalRealtimeServer() as upstream:
        url = upstream.url + "&api-key=sk-should-stay-hidden"
        async with serve_web(WebSettings(insecure=True, upstream=url)) as running:
            async with page(running.ws + "/relay") as client:
                await client.hello()
                ready = await client.wait_for("ready")
                assert "sk-should" not in json.dumps(ready)
                assert ready["upstream"] == upstream.url.split("?")[0]


async def test_each_call_is_logged_its_refusals_and_its_end_without_a_secret(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-for-the-log-test-Zq9Xv4Lm"
    monkeypatch.setenv("REALTIME_AGENT_WEB_SECRET", secret)
    caplog.set_level(logging.INFO, logger="realtime_agent.web")
    settings = WebSettings(allowed_origins=("https://app.example.com",))
    forged = mint_token("another-secret-Hd5Jf3Kg6Ps0")
    good = mint_token(secret, subject="ada")
    async with serve_web(settings) as running:
        with pytest.raises(InvalidStatus):
            async with page(running.ws + "/relay", origin=Origin("https://evil.example.com")):
                pass
        for token in (None, forged):
            async with page(running.ws + "/relay") as client:
                await client.hello(token=token)
                assert await client.wait_closed() == 1008
        async with page(running.ws + "/relay") as client:
            await client.hello(token=good)
            await client.wait_for("ready")
        assert await running.web.drain(5.0) == 0  # the call has ended: its line is logged
    lines = [r.getMessage() for r in caplog.records if r.name == "realtime_agent.web.relay"]
    said = "\n".join(lines)
    assert "refused (HTTP 403): the page's origin 'https://evil.example.com' is not allowed" in said
    assert "refused (1008): a token is required" in said
    assert "refused (1008): bad token signature" in said
    connected = [line for line in lines if " connected: a browser call, subject 'ada'" in line]
    ended = [line for line in lines if " ended after " in line]
    assert len(connected) == len(ended) == 1, lines
    assert connected[0].startswith("relay: 127.0.0.1:")
    assert ended[0].startswith(connected[0].split(" connected")[0] + " ended after ")
    everything = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    for hidden in (secret, forged, good, good.split(".")[-1]):
        assert hidden not in everything
