"""``POST /v1/chat/completions`` over real loopback HTTP: the stream as OpenAI sends it
(read raw, and by the official ``openai`` SDK unchanged), the whole answer in each audio
format, the errors in OpenAI's shape, a client that goes away, and the drain."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from realtime_agent.web import WebSettings
from realtime_agent.web.settings import HTTP_KEY_ENV
from tests.web.conftest import WEATHER_TOOL, RunningWeb, WebFactory

httpx2 = pytest.importorskip("httpx2")

SPOKEN = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "pcm16"}}
HELLO = [{"role": "user", "content": "Hello, who are you?"}]


async def events(
    running: RunningWeb, body: dict[str, Any], headers: dict[str, str] | None = None
) -> AsyncIterator[dict[str, Any] | str]:
    """The stream's events: each ``data:`` as JSON, and ``"[DONE]"``."""
    async with httpx2.AsyncClient(timeout=30) as client:
        async with client.stream(
            "POST", running.http + "/v1/chat/completions", json=body, headers=headers
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    data = line.removeprefix("data: ")
                    yield data if data == "[DONE]" else json.loads(data)


async def post(
    running: RunningWeb, body: object, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    async with httpx2.AsyncClient(timeout=30) as client:
        if isinstance(body, bytes):
            response = await client.post(
                running.http + "/v1/chat/completions", content=body, headers=headers
            )
        else:
            response = await client.post(
                running.http + "/v1/chat/completions", json=body, headers=headers
            )
    return response.status_code, response.json()


async def test_a_spoken_stream_says_each_word_before_its_audio(serve_web: WebFactory) -> None:
    body = {"model": "gpt-4o-audio-preview", "messages": HELLO, "stream": True, **SPOKEN}
    body["stream_options"] = {"include_usage": True}
    async with serve_web(WebSettings(pacing="instant")) as running:
        seen = [e async for e in events(running, body)]
    assert seen[-1] == "[DONE]"
    chunks = [e for e in seen[:-1] if isinstance(e, dict)]
    assert len(chunks) == len(seen) - 1
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {c["model"] for c in chunks} == {"gpt-4o-audio-preview"}
    *answer, usage = chunks
    assert usage["choices"] == [] and usage["usage"]["completion_tokens_details"]["audio_tokens"]
    assert all("usage" in c and c["usage"] is None for c in answer)
    deltas = [c["choices"][0]["delta"] for c in answer]
    assert deltas[0] == {"role": "assistant", "content": None, "refusal": None}
    assert [c["choices"][0]["finish_reason"] for c in answer][-1] == "stop"
    assert deltas[-1] == {}
    audio = [d["audio"] for d in deltas[1:-1]]
    assert len(audio) == len(deltas) - 2  # everything between is audio
    audio_id = audio[0]["id"]
    assert audio_id.startswith("audio_") and set(audio[0]) == {"id", "transcript"}
    assert audio[-1] == {"expires_at": audio[-1]["expires_at"]}  # the last: its expiry alone
    assert audio[-1]["expires_at"] == answer[0]["created"] + 3600
    transcript = "".join(a.get("transcript", "") for a in audio)
    assert transcript.startswith("Hello! This is the local Realtime server")
    pcm = b"".join(base64.b64decode(a["data"]) for a in audio if "data" in a)
    assert len(pcm) > 24000 * 2  # over a second of pcm16 24 kHz
    assert all(set(a) in ({"transcript"}, {"data"}) for a in audio[1:-1])
    # The first word comes before any sound, and all of the words before the last sound.
    kinds = ["data" if "data" in a else "word" for a in audio[:-1]]
    assert kinds[0] == "word" and kinds[-1] == "data"


async def test_the_official_sdk_streams_the_spoken_answer(serve_web: WebFactory) -> None:
    openai = pytest.importorskip("openai")
    async with serve_web(WebSettings(pacing="instant")) as running:
        client = openai.AsyncOpenAI(api_key="sk-anything", base_url=running.http + "/v1")
        stream = await client.chat.completions.create(
            model="gpt-4o-audio-preview",
            modalities=["text", "audio"],
            audio={"voice": "alloy", "format": "pcm16"},
            messages=[{"role": "user", "content": "Hello there"}],
            stream=True,
        )
        transcript, pcm, finish = "", b"", None
        async for chunk in stream:
            choice = chunk.choices[0]
            if choice.delta.audio is not None:
                transcript += choice.delta.audio.transcript or ""
                pcm += base64.b64decode(choice.delta.audio.data or "")
            finish = choice.finish_reason or finish
        await client.close()
    assert transcript.startswith("Hello!") and finish == "stop"
    assert len(pcm) % 2 == 0 and len(pcm) > 24000


async def test_a_tool_call_streams_its_arguments_in_pieces(serve_web: WebFactory) -> None:
    body = {
        "model": "gpt-4o-audio-preview",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "stream": True,
        **SPOKEN,
    }
    async with serve_web(WebSettings(pacing="instant")) as running:
        seen = [e async for e in events(running, body)]
    chunks = [e for e in seen if isinstance(e, dict)]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    first, *rest = calls
    assert first["index"] == 0 and first["id"].startswith("call_") and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    assert rest and all(set(c) == {"index", "function"} for c in rest)
    arguments = "".join(c["function"]["arguments"] for c in rest)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert not [d for d in deltas if "audio" in d]  # it calls the tool, it says nothing


async def test_the_tool_output_gets_the_spoken_answer(serve_web: WebFactory) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather",
            "arguments": '{"city": "Paris"}'}}  # fmt: skip
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "clear"}'},
    ]
    body = {"model": "m", "messages": messages, "tools": [WEATHER_TOOL], **SPOKEN}
    body["audio"] = {"voice": "alloy", "format": "wav"}
    async with serve_web(WebSettings(pacing="instant")) as running:
        status, answer = await post(running, body)
    assert status == 200 and answer["object"] == "chat.completion"
    message = answer["choices"][0]["message"]
    assert answer["choices"][0]["finish_reason"] == "stop" and message["content"] is None
    assert "clear" in message["audio"]["transcript"]


@pytest.mark.parametrize("audio_format", ["wav", "flac", "mp3", "opus", "pcm16"])
async def test_a_whole_answer_comes_in_the_format_asked(
    serve_web: WebFactory, audio_format: str
) -> None:
    soundfile = pytest.importorskip("soundfile")
    body = {"model": "m", "messages": HELLO, **SPOKEN}
    body["audio"] = {"voice": "alloy", "format": audio_format}
    async with serve_web(WebSettings(pacing="instant")) as running:
        status, answer = await post(running, body)
    assert status == 200, answer
    audio = answer["choices"][0]["message"]["audio"]
    assert set(audio) == {"id", "data", "expires_at", "transcript"}
    data = base64.b64decode(audio["data"])
    spoken = answer["usage"]["completion_tokens_details"]["audio_tokens"] / 12  # 12 a second
    if audio_format == "pcm16":
        seconds = len(data) / 2 / 24000
    else:
        info = soundfile.info(io.BytesIO(data))
        assert info.samplerate in (24000, 48000) and info.channels == 1
        seconds = info.duration
    assert abs(seconds - spoken) < 0.2  # mp3 and opus pad a few ms


async def test_a_written_answer_streams_its_words(serve_web: WebFactory) -> None:
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    async with serve_web(WebSettings(pacing="instant")) as running:
        seen = [e async for e in events(running, body)]
    deltas = [e["choices"][0]["delta"] for e in seen if isinstance(e, dict)]
    words = [d["content"] for d in deltas[1:-1]]
    assert len(words) > 3 and "".join(words).startswith("Hello! This is")
    assert not [d for d in deltas if "audio" in d]


ERRORS = [
    (b"{not json", 400, None, None),
    ([], 400, None, None),
    ({"messages": HELLO}, 400, None, None),
    ({"model": "m"}, 400, "messages", "missing_required_parameter"),
    ({"model": "m", "messages": []}, 400, "messages", "empty_array"),
    ({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}, 400,
     "messages[0].role", "invalid_value"),
    ({"model": "m", "messages": HELLO, "stream": True,
      "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, 400,
     "audio.format", "unsupported_value"),
    ({"model": "m", "messages": HELLO, "modalities": ["text", "audio"]}, 400, "audio",
     "missing_required_parameter"),
    ({"model": "m", "messages": HELLO, "stream_options": {"include_usage": True}}, 400,
     "stream_options", None),
    ({"model": "m", "messages": [
        {"role": "assistant", "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "and?"}]}, 400, "messages[0].role", None),
    ({"model": "m", "messages": [{"role": "assistant", "audio": {"id": "audio_gone"}}]}, 400,
     "messages[0].audio.id", "invalid_value"),
    ({"model": "m", "messages": HELLO, "tool_choice": "required"}, 400, "tool_choice", None),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "param", "code"), ERRORS)
async def test_a_bad_request_is_refused_in_openais_shape(
    serve_web: WebFactory, body: object, status: int, param: str | None, code: str | None
) -> None:
    async with serve_web(WebSettings(pacing="instant")) as running:
        got, answer = await post(running, body)
    assert got == status
    error = answer["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    assert (error["param"], error["code"]) == (param, code)


async def test_the_key_is_asked_for_only_when_one_is_configured(
    serve_web: WebFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"model": "m", "messages": HELLO}
    async with serve_web(WebSettings(pacing="instant")) as running:
        assert (await post(running, body))[0] == 200  # none configured: no key needed
    monkeypatch.setenv(HTTP_KEY_ENV, "sk-local-key")
    async with serve_web(WebSettings(pacing="instant")) as running:
        none = await post(running, body)
        wrong = await post(running, body, {"Authorization": "Bearer sk-wrong"})
        right = await post(running, body, {"Authorization": "Bearer sk-local-key"})
    assert none[0] == 401 and "didn't provide an API key" in none[1]["error"]["message"]
    assert wrong[0] == 401 and wrong[1]["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in json.dumps(wrong[1]) and "sk-local-key" not in json.dumps(wrong[1])
    assert right[0] == 200


async def test_a_client_that_goes_away_stops_the_answer(serve_web: WebFactory) -> None:
    body = {"model": "m", "messages": HELLO, "stream": True, **SPOKEN}
    async with serve_web(WebSettings(pacing="realtime")) as running:
        web = running.web
        async with httpx2.AsyncClient(timeout=30) as client:
            async with client.stream(
                "POST", running.http + "/v1/chat/completions", json=body
            ) as response:
                async for line in response.aiter_lines():
                    if '"data"' in line:  # the first sound: leave
                        break
                assert len(web.streams) == 1
        await web.idle()  # the server saw the client go, and its stream ended
        assert not web.streams
        sent = web.metrics.registry.get_sample_value(
            "realtime_agent_http_audio_seconds_total", {"route": "chat"}
        )
    assert sent is not None and 0 < sent < 2.0  # of an answer of 7 s at real time: it stopped


async def test_the_drain_ends_a_stream_well_formed_and_marked_partial(
    serve_web: WebFactory,
) -> None:
    body = {"model": "m", "messages": HELLO, "stream": True, **SPOKEN}
    async with serve_web(WebSettings(pacing="realtime")) as running:
        seen: list[dict[str, Any] | str] = []
        closed = None
        async for chunk in events(running, body):
            seen.append(chunk)
            if isinstance(chunk, dict) and "data" in str(chunk) and closed is None:
                closed = await running.web.drain(0)  # the deadline is now: stop it
    assert closed == 1
    assert seen[-1] == "[DONE]"
    last = [c for c in seen if isinstance(c, dict)][-1]
    assert last["choices"][0]["finish_reason"] == "length"
    audio_s = sum(
        len(base64.b64decode(c["choices"][0]["delta"]["audio"]["data"])) / 48000
        for c in seen
        if isinstance(c, dict) and "data" in c["choices"][0]["delta"].get("audio", {})
    )
    assert audio_s < 1.0
