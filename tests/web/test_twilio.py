"""The Twilio phone bridge over real sockets: a Twilio-protocol client (twilio_client.py),
the web server on a port, and the local Realtime server upstream (its record of each
conversation is what the tests compare with what the caller heard)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import numpy as np
import pytest
import soxr
from websockets.exceptions import InvalidStatus

from realtime_agent.audio.g711 import pcm16_to_ulaw
from realtime_agent.protocol import events as app
from realtime_agent.runtime.transport import Endpoint
from realtime_agent.schema.items import FunctionCallItem, FunctionCallOutputItem, MessageItem
from realtime_agent.server import LocalRealtimeServer, Pacing
from realtime_agent.server import faults as fault
from realtime_agent.server.conversation import Entry
from realtime_agent.server.faults import FaultPlan
from realtime_agent.web import DtmfPressed, WebSettings
from realtime_agent.web.app import Call
from realtime_agent.web.auth import twilio_signature
from realtime_agent.web.twilio import PhoneCall
from tests.speech import REAL, spoken
from tests.web.conftest import Hook, RunningWeb, WebFactory, heard_turns, scrape
from tests.web.twilio_client import TwilioCall, twilio_call

TOKEN = "twilio-auth-token-for-tests"
QUESTION = "What is the weather like in Paris today?"


async def ulaw(text: str, *, lead_ms: int = 200, silence_ms: int = 700) -> bytes:
    """``text`` spoken, as a phone carries it: μ-law 8 kHz (synthesized off the loop)."""
    return await asyncio.to_thread(_ulaw, text, lead_ms, silence_ms)


@functools.cache
def _ulaw(text: str, lead_ms: int, silence_ms: int) -> bytes:
    pcm = np.frombuffer(spoken(text, lead_ms=lead_ms, silence_ms=silence_ms), dtype="<i2")
    return pcm16_to_ulaw(np.asarray(soxr.resample(pcm, 24000, 8000), dtype="<i2").tobytes())


@contextlib.asynccontextmanager
async def upstream(pacing: Pacing, faults: FaultPlan = ()) -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(pacing=pacing, faults=faults) as server:
        yield server


def web_options(server: LocalRealtimeServer) -> dict[str, object]:
    url = server.url
    return {"endpoint_factory": lambda: Endpoint.local(url)}


def stream_url(running: RunningWeb) -> str:
    return running.ws + "/twilio/stream"


def signed_stream(running: RunningWeb, token: str = TOKEN) -> str:
    """The signature Twilio puts on the upgrade: over the wss:// URL of the TwiML."""
    return twilio_signature(token, f"wss://127.0.0.1:{running.port}/twilio/stream")


def assistant_entries(server: LocalRealtimeServer, index: int = 0) -> list[Entry]:
    return [
        e
        for e in server.sessions[index].conversation.entries()
        if isinstance(e.item, MessageItem) and e.item.role == "assistant"
    ]


def conversation(server: LocalRealtimeServer, index: int = 0) -> list[str]:
    """What the upstream's conversation holds, item by item (for a failure's message)."""
    if len(server.sessions) <= index:
        return ["(no session upstream)"]
    return [
        item.model_dump_json(exclude_none=True)[:300]
        for item in server.sessions[index].conversation.items()
    ]


def metric(running: RunningWeb, name: str, labels: str = 'kind="phone"') -> float:
    for line in running.web.metrics.render().decode().splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name}{{{labels}}}")


def live_call(running: RunningWeb) -> PhoneCall:
    calls: list[PhoneCall] = [c for c in running.web.calls if isinstance(c, PhoneCall)]
    assert len(calls) == 1
    return calls[0]


def completed(entry: Entry) -> bool:
    """The server has sent all of this item (generated, not necessarily heard)."""
    return isinstance(entry.item, MessageItem) and entry.item.status == "completed"


def check_frames(call: TwilioCall) -> None:
    """20 ms media, a mark after each, the streamSid on everything, nothing unknown."""
    assert call.bad == []
    assert call.media_sizes and max(call.media_sizes) == 160
    assert sum(size == 160 for size in call.media_sizes) >= 0.95 * len(call.media_sizes)
    for before, after in zip(call.events, call.events[1:], strict=False):
        if before == "media":
            assert after == "mark"


async def post(url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    """POST a form (in a thread: urllib blocks); status and body."""
    return await asyncio.to_thread(_post, url, params, headers)


def _post(url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_a_call_with_a_tool(serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    hook = Hook()
    async with (
        upstream(Pacing.realtime()) as server,
        serve_web(WebSettings(), on_event=hook, **web_options(server)) as running,
        twilio_call(stream_url(running), signature=signed_stream(running), speed=1.5) as call,
    ):
        await call.say(await ulaw(QUESTION))
        try:
            await call.wait_until(
                lambda: (
                    metric(running, "realtime_agent_tool_calls_total", 'kind="phone",outcome="ok"')
                    == 1
                )
            )
        except TimeoutError:
            pytest.fail(f"no tool call; the conversation: {conversation(server)}")
        await call.wait_until(lambda: len(assistant_entries(server)) == 1)
        answer = assistant_entries(server)[0]
        await call.wait_until(lambda: completed(answer))
        await call.wait_heard(len(answer.audio))
        assert bytes(call.heard[-len(answer.audio) :]) == bytes(answer.audio)  # byte for byte
        items = server.sessions[0].conversation.items()
        calls = [i for i in items if isinstance(i, FunctionCallItem)]
        assert [c.name for c in calls] == ["get_weather"]
        if REAL:
            assert json.loads(calls[0].arguments or "{}") == {"city": "Paris"}
        outputs = [i for i in items if isinstance(i, FunctionCallOutputItem)]
        assert "Paris" in outputs[0].output and "clear" in outputs[0].output
        check_frames(call)
        assert metric(running, "realtime_agent_active_sessions") == 1
        # The turn is over once Twilio echoed the answer's last mark: its metrics come then.
        await call.wait_until(lambda: hook.of(app.TurnMetrics))
        during = await scrape(running, "phone")
        (turn,) = hook.of(app.TurnMetrics)
        assert turn.first_heard_ms is not None and [t.name for t in turn.tools] == ["get_weather"]
        assert during["realtime_agent_turn_latency_seconds_count"] == heard_turns(hook) == 1
        assert during["realtime_agent_turn_latency_seconds_sum"] == pytest.approx(
            turn.first_heard_ms / 1000
        )
        assert during["realtime_agent_tool_seconds_count"] == 1
        assert during["realtime_agent_tool_seconds_sum"] == pytest.approx(turn.tools[0].ms / 1000)
        assert during["realtime_agent_loop_lag_seconds_count"] == 0
        # The caller hangs up: the session's summary was counted before the stream closed.
        call.stop()
        assert await call.wait_closed() == 1000
        after = await scrape(running, "phone")
        (summary,) = hook.of(app.SessionSummary)
        assert isinstance(hook.events[-1], app.Closed)
        assert after["realtime_agent_loop_lag_seconds_count"] == 1
        assert after["realtime_agent_loop_lag_seconds_sum"] == pytest.approx(
            summary.loop_lag_max_ms / 1000
        )
        assert after["realtime_agent_dropped_events_total"] == summary.dropped_events
        assert after["realtime_agent_playout_underruns_total"] == summary.underruns
        assert after["realtime_agent_turn_latency_seconds_count"] == heard_turns(hook)


def segment_start(call: TwilioCall, k: int) -> int:
    """Where the audio after the ``k``-th clear (0: from the start) begins in ``heard``."""
    return call.clears[k - 1].heard if k else 0


async def barge_in_after(call: TwilioCall, k: int, heard_ms: int) -> None:
    """Once the caller has heard ``heard_ms`` of the current answer, speak over it; return
    when its ``clear`` came."""
    start = segment_start(call, k)
    await call.wait_until(lambda: len(call.heard) - start >= heard_ms * 8)
    speaking = asyncio.create_task(call.say(await ulaw("hello there", lead_ms=0)))
    await call.wait_for("clear", count=k + 1)
    await speaking


@pytest.mark.parametrize(
    "pacing", [Pacing.realtime(), Pacing.instant()], ids=["realtime", "instant"]
)
async def test_a_barge_in_truncates_at_what_the_caller_heard(
    serve_web: WebFactory, pacing: Pacing
) -> None:
    """Several cuts; with instant pacing the whole answer waits at Twilio when it is cut
    (openai-agents-js #1173: there, barge-in did nothing). Each cut is truncated at the
    last mark the caller echoed: byte for byte what it heard, up to one frame short."""
    cuts_ms = [500, 1100, 1700]
    async with (
        upstream(pacing) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
        twilio_call(stream_url(running), latency_ms=60.0) as call,
    ):
        await call.say(await ulaw("hello"))
        for k, heard_ms in enumerate(cuts_ms):
            await barge_in_after(call, k, heard_ms)
        await call.wait_until(lambda: len(assistant_entries(server)) > len(cuts_ms))
        entries = assistant_entries(server)
        assert len(call.clears) == len(cuts_ms)
        for k, (clear, heard_ms) in enumerate(zip(call.clears, cuts_ms, strict=True)):
            start = segment_start(call, k)
            heard = clear.heard - start
            acknowledged = clear.acknowledged - start
            truncated = bytes(entries[k].audio)
            # What the server kept of the item is what the caller heard, byte for byte ...
            assert truncated == bytes(call.heard[start : start + len(truncated)])
            # ... cut at the last mark it echoed (or the one before, if that echo crossed
            # the clear), never more than a frame above what it heard and within 100 ms.
            assert len(truncated) in (acknowledged, acknowledged - 160)
            assert 0 <= heard - len(truncated) <= 100 * 8
            assert heard >= heard_ms * 8
        assert len(call.clears) == len(cuts_ms)
        assert metric(running, "realtime_agent_barge_ins_total") == len(cuts_ms)
        check_frames(call)


async def test_a_caller_who_stops_acknowledging(serve_web: WebFactory) -> None:
    """The bridge goes on sending (it never waits for echoes); what it keeps for the marks
    is bounded (and forgotten at a clear); the truncate is at the last echoed mark."""
    async with (
        upstream(Pacing.instant()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
        twilio_call(stream_url(running)) as call,
    ):
        await call.say(await ulaw("hello"))
        await call.wait_heard(800 * 8)
        call.acknowledge = False
        last_echoed = call.acknowledged
        await call.wait_until(lambda: assistant_entries(server))
        answer = assistant_entries(server)[0]
        await call.wait_until(lambda: completed(answer))
        full = len(answer.audio)
        await call.wait_until(lambda: call.received_bytes >= full)  # all of it came
        bridge = live_call(running)
        await call.wait_until(lambda: bridge.marks.acknowledged == last_echoed)  # its trip
        assert 0 < bridge.marks.pending <= bridge.marks.max_pending
        assert bridge.marks.ahead == full - last_echoed
        await call.wait_heard(2000 * 8)  # the caller hears on, echoing nothing
        await barge_in_after(call, 0, 2000)
        assert call.unacknowledged > 0
        await call.wait_until(lambda: len(assistant_entries(server)) == 2)
        assert len(assistant_entries(server)[0].audio) == last_echoed  # the last echo
        # No stall: the next answer comes, all of it; the cut answer's marks are forgotten.
        second = assistant_entries(server)[1]
        await call.wait_until(lambda: completed(second))
        await call.wait_until(lambda: call.received_bytes == full + len(second.audio))
        assert bridge.marks.sent == last_echoed + len(second.audio)
        since_clear = call.events[len(call.events) - call.events[::-1].index("clear") :]
        assert bridge.marks.pending == since_clear.count("mark") > 0
        call.press("7")
        await call.wait_until(lambda: metric(running, "realtime_agent_dtmf_digits_total") == 1)
        call.stop()
        assert await call.wait_closed() == 1000
    assert await running.web.drain(5.0) == 0


def user_texts(server: LocalRealtimeServer) -> list[str]:
    texts = []
    for item in server.sessions[0].conversation.items():
        if isinstance(item, MessageItem) and item.role == "user":
            texts += [getattr(part, "text", None) or "" for part in item.content]
    return [t for t in texts if t]


async def test_dtmf_digits_join_the_conversation_and_reach_the_application(
    serve_web: WebFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, object]] = []

    def on_event(call: Call, event: object) -> None:
        seen.append((call.kind, event))
        if event == DtmfPressed("#"):
            raise ValueError("the application's own bug")

    caplog.set_level(logging.WARNING, "realtime_agent.web")
    async with (
        upstream(Pacing.instant()) as server,
        serve_web(WebSettings(insecure=True), on_event=on_event, **web_options(server)) as running,
        twilio_call(stream_url(running), speed=1.5) as call,
    ):
        await call.wait_until(lambda: server.sessions and running.web.calls)
        call.press("5")
        call.press("#")
        await call.wait_until(lambda: len(user_texts(server)) == 2)
        assert user_texts(server) == ["[the caller pressed 5]", "[the caller pressed #]"]
        assert metric(running, "realtime_agent_dtmf_digits_total") == 2
        await call.say(await ulaw("hello"))  # the next turn answers; the digits asked for nothing
        await call.wait_until(lambda: assistant_entries(server))
        await call.wait_until(lambda: completed(assistant_entries(server)[0]))
        assert len(assistant_entries(server)) == 1
        # The application saw the digits, in order, then the session's events: the hook's
        # exception was one log line and a count, and the call went on.
        await call.wait_until(lambda: any(isinstance(e, app.AgentEnd) for _, e in seen))
        digits = [e for _, e in seen if isinstance(e, DtmfPressed)]
        assert digits == [DtmfPressed("5"), DtmfPressed("#")]
        assert {kind for kind, _ in seen} == {"phone"}
        assert (
            metric(running, "realtime_agent_errors_total", 'kind="phone",source="application"') == 1
        )
    failures = [r.getMessage() for r in caplog.records if "on_event" in r.getMessage()]
    assert failures == [
        "web: the application's on_event failed on DtmfPressed: ValueError: "
        "the application's own bug"
    ]


async def test_stop_mid_answer_ends_the_call_cleanly(serve_web: WebFactory) -> None:
    async with (
        upstream(Pacing.realtime()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
    ):
        async with twilio_call(stream_url(running)) as call:
            await call.say(await ulaw("hello"))
            await call.wait_heard(600 * 8)
            assert metric(running, "realtime_agent_active_sessions") == 1
            call.stop()
            assert await call.wait_closed() == 1000
        # Released before the stream closed: nothing is left of the call.
        assert not running.web.calls
        assert metric(running, "realtime_agent_active_sessions") == 0
        assert metric(running, "realtime_agent_sessions_total") == 1
        assert not server.connections  # the upstream session is closed too


async def test_the_socket_closing_ends_the_call(serve_web: WebFactory) -> None:
    async with (
        upstream(Pacing.realtime()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
    ):
        async with twilio_call(stream_url(running)) as call:
            await call.say(await ulaw("hello"))
            await call.wait_heard(300 * 8)
            await call.hang_up()
        assert await running.web.drain(5.0) == 0  # it ended by itself
        assert metric(running, "realtime_agent_active_sessions") == 0


async def test_a_broken_message_is_one_log_line(
    serve_web: WebFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        upstream(Pacing.instant()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
        twilio_call(stream_url(running)) as call,
    ):
        await call.wait_until(lambda: running.web.calls)
        with caplog.at_level(logging.INFO):
            await call.socket.send("this is not JSON")
            assert await call.wait_closed() == 1008
            assert await running.web.drain(5.0) == 0
        records = [r for r in caplog.records if r.name.startswith("realtime_agent.web")]
        assert len(records) == 1
        message = records[0].getMessage()
        assert message.startswith(f"twilio: call {call.call_sid} ended after "), message
        assert " s (1008): a message is not JSON (" in message
        assert not [r for r in caplog.records if r.exc_info is not None]
        assert metric(running, "realtime_agent_errors_total", 'kind="phone",source="client"') == 1


async def test_a_call_is_refused_while_draining(serve_web: WebFactory) -> None:
    async with (
        upstream(Pacing.instant()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
    ):
        assert await running.web.drain(0) == 0
        async with twilio_call(stream_url(running)) as call:
            assert await call.wait_closed() == 1013
        assert not server.sessions  # no upstream session was opened


# -- signatures ---------------------------------------------------------------------------

CALL = {"CallSid": "CA1234", "AccountSid": "AC5678", "From": "+15550001111", "To": "+15550002222"}


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    (stream,) = root.findall("./Connect/Stream")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), parameters


async def test_the_webhook_answers_twiml_when_signed(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    async with serve_web(WebSettings()) as running:
        url = running.http + "/twilio/voice"
        good = {"X-Twilio-Signature": twilio_signature(TOKEN, url, CALL)}
        status, body = await post(url, CALL, good)
        assert status == 200
        stream, parameters = stream_of(body)
        assert stream == f"wss://127.0.0.1:{running.port}/twilio/stream"
        assert parameters == {"callSid": "CA1234"}
        # A query string is part of what Twilio signs.
        query = url + "?tenant=a"
        signed = {"X-Twilio-Signature": twilio_signature(TOKEN, query, CALL)}
        assert (await post(query, CALL, signed))[0] == 200
        for headers, params in [
            ({}, CALL),  # no signature
            ({"X-Twilio-Signature": twilio_signature("another-token", url, CALL)}, CALL),
            (good, {**CALL, "From": "+15559999999"}),  # a parameter changed
            (
                {"X-Twilio-Signature": twilio_signature(TOKEN, url.replace("http", "https"), CALL)},
                CALL,
            ),
        ]:
            assert (await post(url, params, headers))[0] == 403
        assert metric(running, "realtime_agent_errors_total", 'kind="phone",source="auth"') == 4


async def test_the_public_url_is_what_is_signed_and_streamed_to(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    public = "https://voice.example.com"
    async with serve_web(WebSettings(public_url=public)) as running:
        url = running.http + "/twilio/voice"
        signed = {"X-Twilio-Signature": twilio_signature(TOKEN, public + "/twilio/voice", CALL)}
        status, body = await post(url, CALL, signed)
        assert status == 200
        assert stream_of(body)[0] == "wss://voice.example.com/twilio/stream"
        local = {"X-Twilio-Signature": twilio_signature(TOKEN, url, CALL)}
        assert (await post(url, CALL, local))[0] == 403
        # The upgrade is signed over the public wss:// URL too.
        with pytest.raises(InvalidStatus) as refused:
            async with twilio_call(stream_url(running), signature=signed_stream(running)):
                pass
        assert refused.value.response.status_code == 403
        signature = twilio_signature(TOKEN, "wss://voice.example.com/twilio/stream")
        async with twilio_call(stream_url(running), signature=signature) as call:
            await call.wait_until(lambda: running.web.calls)
            call.stop()
            assert await call.wait_closed() == 1000


async def test_the_upgrade_is_refused_without_a_good_signature(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    async with serve_web(WebSettings()) as running:
        wss = f"wss://127.0.0.1:{running.port}/twilio/stream"
        for signature in [
            None,
            "bm90IGEgc2lnbmF0dXJl",
            twilio_signature("another-token", wss),
            twilio_signature(TOKEN, f"https://127.0.0.1:{running.port}/twilio/stream"),
            twilio_signature(TOKEN, wss + "?x=1"),
        ]:
            with pytest.raises(InvalidStatus) as refused:
                async with twilio_call(stream_url(running), signature=signature):
                    pass
            assert refused.value.response.status_code == 403
        assert not running.web.calls
        assert metric(running, "realtime_agent_errors_total", 'kind="phone",source="auth"') == 5


async def test_without_an_auth_token_everything_is_refused_and_said_once(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with caplog.at_level(logging.WARNING, logger="realtime_agent.web.twilio"):
        async with serve_web(WebSettings()) as running:
            url = running.http + "/twilio/voice"
            for _ in range(2):
                assert (await post(url, CALL, {"X-Twilio-Signature": "x"}))[0] == 403
                with pytest.raises(InvalidStatus):
                    async with twilio_call(stream_url(running), signature="x"):
                        pass
    warnings = [r for r in caplog.records if r.name == "realtime_agent.web.twilio"]
    assert len(warnings) == 1 and "TWILIO_AUTH_TOKEN is not set" in warnings[0].getMessage()


async def test_insecure_takes_no_signature(serve_web: WebFactory) -> None:
    async with serve_web(WebSettings(insecure=True)) as running:
        status, body = await post(running.http + "/twilio/voice", CALL, {})
        assert status == 200 and stream_of(body)[1] == {"callSid": "CA1234"}


async def test_audio_faster_than_real_time_is_cut_off(serve_web: WebFactory) -> None:
    async with (
        upstream(Pacing.instant()) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
        twilio_call(stream_url(running), speed=10.0) as call,
    ):
        assert await call.wait_closed() == 1008
        assert await running.web.drain(5.0) == 0
        assert metric(running, "realtime_agent_errors_total", 'kind="phone",source="client"') == 1


async def test_the_call_goes_on_when_the_upstream_drops(serve_web: WebFactory) -> None:
    # The first upstream connection drops as the answer begins: the session reconnects,
    # replays the conversation, and the caller hears an answer from the second one.
    drop = fault.drop(at_event="response.created")
    async with (
        upstream(Pacing.instant(), lambda n: [drop] if n == 0 else []) as server,
        serve_web(WebSettings(insecure=True), **web_options(server)) as running,
        twilio_call(stream_url(running), speed=1.5) as call,
    ):
        await call.say(await ulaw("hello"))
        await call.wait_until(lambda: len(server.sessions) == 2 and assistant_entries(server, 1))
        # The caller's turn went again as its audio (no transcript: transcription is off).
        user = [
            e for e in server.sessions[1].conversation.entries() if isinstance(e.item, MessageItem)
        ]
        assert user[0].item.role == "user" and len(user[0].audio) > 0  # type: ignore[union-attr]
        said = [
            e for e in server.sessions[0].conversation.entries() if isinstance(e.item, MessageItem)
        ]
        assert bytes(said[0].audio) in bytes(user[0].audio)  # all of what the caller said
        answer = assistant_entries(server, 1)[-1]
        await call.wait_until(lambda: completed(answer))
        await call.wait_heard(len(answer.audio))
        assert bytes(call.heard[-len(answer.audio) :]) == bytes(answer.audio)
        assert metric(running, "realtime_agent_upstream_reconnects_total") == 1
        assert call.close_code is None and len(running.web.calls) == 1
