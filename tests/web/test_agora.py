"""``POST /audio/chat/completions`` (realtime_agent/web/agora.py) over a real loopback
socket: Agora's audio-modalities stream, its sources, its refusals, and how a stream ends
when the client goes away or the server drains."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import ssl
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from realtime_agent.audio.sources import read_wav
from realtime_agent.web import WebSettings
from realtime_agent.web.agora import (
    NO_KEY,
    NOT_STREAMING,
    FileSource,
    FixedSource,
    SpokenAnswer,
    resample,
)
from realtime_agent.web.settings import HTTP_KEY_ENV
from tests.web.conftest import RunningWeb, get, running_web

httpx2 = pytest.importorskip("httpx2")
TLS = ssl.create_default_context()
"""The clients' TLS context, made once: each client would read the CA store (~30 ms) in the
test's loop otherwise (the suite's loop watch counts it)."""
httpx2.AsyncHTTPTransport(verify=TLS)  # its lazy imports, at collection rather than in a test

PATH = "/audio/chat/completions"
TRANSCRIPT = "Hello, I am Agora AI Assistant. How can I help you?"
KEY = {"Authorization": "Bearer any-api-key"}
BODY: dict[str, Any] = {
    "messages": [{"role": "user", "content": "Please generate an audio response"}],
    "stream": True,
    "modalities": ["text", "audio"],
}
HEX32 = re.compile(r"[0-9a-f]{32}")


def noise(seconds: float, rate: int, seed: int = 1) -> bytes:
    """Deterministic pcm16 that no resampler or framing could leave unchanged by chance."""
    n = round(seconds * rate)
    return np.random.default_rng(seed).integers(-3000, 3000, n, dtype=np.int16).tobytes()


def settings(**options: Any) -> WebSettings:
    return WebSettings(**{"pacing": "instant", **options})


async def post(
    running: RunningWeb,
    body: object = BODY,
    headers: Mapping[str, str] = KEY,
    *,
    content: bytes | None = None,
) -> tuple[int, Mapping[str, str], str]:
    """POST, read the whole answer: status, headers, body."""
    async with httpx2.AsyncClient(timeout=30, verify=TLS) as client:
        response = await client.post(
            running.http + PATH,
            content=content if content is not None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )
        return response.status_code, response.headers, response.text


def events(text: str) -> list[Any]:
    """The SSE body's events: each ``data:`` line's JSON, or the string ``"[DONE]"``."""
    found: list[Any] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: ") and "\n" not in block, block
        data = block.removeprefix("data: ")
        found.append(data if data == "[DONE]" else json.loads(data))
    return found


def audio_of(chunks: Sequence[Any]) -> list[bytes]:
    return [base64.b64decode(c["choices"][0]["delta"]["audio"]["data"]) for c in chunks]


async def series(running: RunningWeb) -> dict[str, float]:
    """``GET /metrics`` over the socket: every sample, by its name and labels."""
    status, _, body = await get(running.http + "/metrics")
    assert status == 200
    found = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def requests(found: Mapping[str, float], status: int) -> float:
    return found.get(f'realtime_agent_http_requests_total{{route="audio",status="{status}"}}', 0)


ACTIVE = 'realtime_agent_active_http_streams{route="audio"}'
AUDIO_S = 'realtime_agent_http_audio_seconds_total{route="audio"}'
CLIENT_GONE = 'realtime_agent_http_client_gone_total{route="audio"}'


# -- the stream ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "chunk_ms", "size"), [(16000, 40, 1280), (24000, 20, 960), (8000, 30, 480)]
)
async def test_the_transcript_then_the_sources_audio_in_chunks_then_done(
    rate: int, chunk_ms: int, size: int
) -> None:
    pcm = noise(1.01, rate)
    source = FixedSource(TRANSCRIPT, pcm, rate)
    options = settings(audio_sample_rate=rate, audio_chunk_ms=chunk_ms)
    async with running_web(options, audio_source=source) as running:
        status, headers, text = await post(running)
        await running.web.idle()
        found = await series(running)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    first, *chunks, last = events(text)
    assert last == "[DONE]"
    message_id = first["id"]
    audio_id = first["choices"][0]["delta"]["audio"]["id"]
    assert HEX32.fullmatch(message_id) and HEX32.fullmatch(audio_id) and message_id != audio_id
    assert first == {
        "id": message_id,
        "choices": [
            {
                "index": 0,
                "delta": {"audio": {"id": audio_id, "transcript": TRANSCRIPT}},
                "finish_reason": None,
            }
        ],
    }
    for chunk in chunks:
        assert chunk["id"] == message_id and set(chunk) == {"id", "choices"}
        [choice] = chunk["choices"]
        assert set(choice) == {"index", "delta", "finish_reason"}
        assert choice["index"] == 0 and choice["finish_reason"] is None
        assert set(choice["delta"]["audio"]) == {"id", "data"}
        assert choice["delta"]["audio"]["id"] == audio_id
    pieces = audio_of(chunks)
    assert [len(p) for p in pieces[:-1]] == [size] * (len(pieces) - 1)
    assert 0 < len(pieces[-1]) < size  # 1.01 s is not a whole number of chunks
    assert b"".join(pieces) == pcm
    assert requests(found, 200) == 1
    assert found[AUDIO_S] == pytest.approx(len(pcm) / 2 / rate)
    assert found[ACTIVE] == 0


async def test_a_clip_at_another_rate_is_resampled() -> None:
    pcm = noise(1.0, 24000)
    async with running_web(settings(), audio_source=FixedSource("hi", pcm, 24000)) as running:
        status, _, text = await post(running)
    assert status == 200
    _, *chunks, _ = events(text)
    sent = b"".join(audio_of(chunks))
    assert len(sent) == 2 * 16000
    assert sent == resample(pcm, 24000, 16000)


async def test_without_stream_the_original_streams_anyway() -> None:
    body = {"messages": BODY["messages"]}  # "stream" defaults to true, as in Agora's server
    async with running_web(settings(), audio_source=FixedSource("hi", noise(0.1, 16000))) as run:
        status, _, text = await post(run, body)
    assert status == 200 and events(text)[-1] == "[DONE]"


async def test_the_stand_in_model_speaks_by_default() -> None:
    ask = {**BODY, "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}
    async with running_web(settings()) as running:
        status, _, text = await post(running, ask)
        first, *chunks, last = events(text)
        # The same stand-in, asked the same: its words, and its 24 kHz speech at 16 kHz.
        chat = running.web.chat
        said = chat.answer(
            chat.parse(
                {
                    "model": "m",
                    "messages": ask["messages"],
                    "modalities": ["text", "audio"],
                    "audio": {"voice": "marin", "format": "pcm16"},
                }
            )
        )
        # Agora sends the spoken answer back in the history by its audio id: understood.
        audio = first["choices"][0]["delta"]["audio"]
        history = [*ask["messages"], {"role": "assistant", "audio": {"id": audio["id"]}}]
        again, _, _ = await post(running, {**ask, "messages": history})
    assert status == 200 and last == "[DONE]"
    assert said.speech is not None and said.text
    assert audio["transcript"] == said.text
    assert audio["id"].startswith("audio_")
    assert b"".join(audio_of(chunks)) == resample(said.speech.pcm, 24000, 16000)
    assert again == 200


async def test_messages_the_stand_in_cannot_read_are_400() -> None:
    body = {**BODY, "messages": [{"role": "wizard", "content": "abracadabra"}]}
    async with running_web(settings()) as running:
        status, _, text = await post(running, body)
        found = await series(running)
    assert status == 400
    assert "wizard" in json.loads(text)["detail"]
    assert requests(found, 400) == 1


# -- files --------------------------------------------------------------------------------


async def test_the_files_of_audio_dir(tmp_path: Path) -> None:
    pcm = noise(0.5, 16000)
    (tmp_path / "file.txt").write_text(TRANSCRIPT + "\n", encoding="utf-8")  # echo > file.txt
    (tmp_path / "file.pcm").write_bytes(pcm)
    async with running_web(settings(audio_dir=str(tmp_path))) as running:
        status, _, text = await post(running)
    assert status == 200
    first, *chunks, last = events(text)
    assert first["choices"][0]["delta"]["audio"]["transcript"] == TRANSCRIPT
    assert b"".join(audio_of(chunks)) == pcm and last == "[DONE]"


async def test_a_wav_file_is_read_at_the_endpoints_rate(tmp_path: Path) -> None:
    samples = np.random.default_rng(2).uniform(-0.3, 0.3, (48000 // 2, 2))
    (tmp_path / "file.txt").write_text("stereo", encoding="utf-8")
    soundfile.write(tmp_path / "file.wav", samples, 48000, subtype="PCM_16")
    async with running_web(settings(), audio_source=FileSource(tmp_path)) as running:
        status, _, text = await post(running)
    assert status == 200
    _, *chunks, _ = events(text)
    sent = b"".join(audio_of(chunks))
    assert len(sent) == 2 * 8000  # half a second at 16 kHz, mono
    assert sent == read_wav(tmp_path / "file.wav", rate=16000)


async def test_raw_pcm_at_its_own_rate(tmp_path: Path) -> None:
    pcm = noise(0.5, 8000)
    (tmp_path / "file.txt").write_text("eight", encoding="utf-8")
    (tmp_path / "file.pcm").write_bytes(pcm)
    source = FileSource(tmp_path, pcm_rate=8000)
    async with running_web(settings(), audio_source=source) as running:
        _, _, text = await post(running)
    _, *chunks, _ = events(text)
    assert b"".join(audio_of(chunks)) == resample(pcm, 8000, 16000)


@pytest.mark.parametrize(
    ("files", "detail"),
    [
        ({"file.pcm": b"\0\0"}, "Text file not found: file.txt. Please ensure the file exists."),
        ({"file.txt": b"hi"}, "Audio file not found: file.pcm (or file.wav)."),
    ],
    ids=["no-transcript", "no-audio"],
)
async def test_a_missing_file_is_404(tmp_path: Path, files: dict[str, bytes], detail: str) -> None:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    async with running_web(settings(audio_dir=str(tmp_path))) as running:
        status, headers, text = await post(running)
        found = await series(running)
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(text)["detail"].startswith(detail)
    assert requests(found, 404) == 1 and found[ACTIVE] == 0


@pytest.mark.parametrize(
    ("files", "detail"),
    [
        ({"file.txt": b"hi", "file.wav": b"RIFF, but not really a wave"}, "file.wav"),
        ({"file.txt": b"\xff\xfe\xfa", "file.pcm": b"\0\0"}, "not UTF-8"),
        ({"file.txt": b"hi", "file.pcm": b"\0\0\0"}, "not pcm16"),
        ({"file.txt": b"hi", "file.pcm/": b""}, "file.pcm"),
    ],
    ids=["corrupt-wav", "not-utf8", "odd-pcm", "pcm-is-a-directory"],
)
async def test_an_unreadable_file_is_500(
    tmp_path: Path, files: dict[str, bytes], detail: str
) -> None:
    for name, data in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(data)
    async with running_web(settings(), audio_source=FileSource(tmp_path)) as running:
        status, _, text = await post(running)
        found = await series(running)
    assert status == 500
    said = json.loads(text)["detail"]
    assert detail in said and str(tmp_path) not in said  # no server path to the client
    assert requests(found, 500) == 1


class Failing:
    """A source with a bug in it."""

    async def answer(self, messages: Sequence[Mapping[str, Any]], rate: int) -> SpokenAnswer:
        raise ZeroDivisionError("oops")


async def test_a_failing_source_is_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="realtime_agent.web")
    async with running_web(settings(), audio_source=Failing()) as running:
        status, _, text = await post(running)
    assert status == 500
    assert json.loads(text) == {"detail": "the audio source (Failing) failed"}
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


# -- refusals -----------------------------------------------------------------------------


async def test_no_authorization_is_401_even_when_insecure() -> None:
    source = FixedSource("hi", noise(0.1, 16000))
    async with running_web(settings(insecure=True), audio_source=source) as running:
        status, headers, text = await post(running, headers={})
        found = await series(running)
    assert status == 401
    assert json.loads(text) == {"detail": NO_KEY}
    assert headers["www-authenticate"] == "Bearer"
    assert requests(found, 401) == 1


async def test_any_key_is_taken_when_none_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HTTP_KEY_ENV, raising=False)
    source = FixedSource("hi", noise(0.1, 16000))
    async with running_web(settings(), audio_source=source) as running:
        statuses = [
            (await post(running, headers={"Authorization": value}))[0]
            for value in ("Bearer whatever", "sk-bare-value")
        ]
    assert statuses == [200, 200]


async def test_the_configured_key_is_required(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="realtime_agent.web")
    monkeypatch.setenv(HTTP_KEY_ENV, "the-right-key")
    source = FixedSource("hi", noise(0.1, 16000))
    async with running_web(settings(), audio_source=source) as running:
        wrong, _, text = await post(running, headers={"Authorization": "Bearer the-wrong-key"})
        right, _, _ = await post(running, headers={"Authorization": "Bearer the-right-key"})
        bare, _, _ = await post(running, headers={"Authorization": "the-right-key"})
        found = await series(running)
    assert (wrong, right, bare) == (401, 200, 200)
    assert json.loads(text) == {"detail": "Invalid API key."}
    assert requests(found, 401) == 1 and requests(found, 200) == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused (401)" in logged and "answered" in logged
    assert "the-right-key" not in logged and "the-wrong-key" not in logged


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{not json", "the request body is not JSON"),
        (b"[1, 2]", "the request body must be a JSON object"),
        (b'{"stream": true}', "'messages' is required"),
        (b'{"messages": "hello"}', "'messages' must be a list"),
        (b'{"messages": ["hello"]}', "'messages' must be a list of message objects"),
        (b'{"messages": []}', "'messages' is empty"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "stream": false}', NOT_STREAMING),
        (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "'stream'"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-messages",
        "messages-not-a-list",
        "message-not-an-object",
        "empty",
        "not-streaming",
        "stream-not-a-boolean",
    ],
)
async def test_a_bad_body_is_400(content: bytes, detail: str) -> None:
    source = FixedSource("hi", noise(0.1, 16000))
    async with running_web(settings(), audio_source=source) as running:
        status, headers, text = await post(running, content=content)
        found = await series(running)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(text)["detail"].startswith(detail)
    assert requests(found, 400) == 1 and requests(found, 200) == 0


async def test_a_body_over_the_limit_is_413() -> None:
    from realtime_agent.web.agora import MAX_BODY_BYTES

    body = {**BODY, "padding": "x" * MAX_BODY_BYTES}
    async with running_web(settings(), audio_source=FixedSource("hi", b"")) as running:
        status, _, text = await post(running, body)
    assert status == 413 and "limit" in json.loads(text)["detail"]


# -- how a stream ends --------------------------------------------------------------------


async def opened(client: Any, running: RunningWeb) -> AsyncGenerator[Any, None]:
    """A streamed POST's events, as they come."""
    async with client.stream("POST", running.http + PATH, json=BODY, headers=KEY) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line:
                data = line.removeprefix("data: ")
                yield data if data == "[DONE]" else json.loads(data)


async def test_a_client_that_goes_away_stops_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="realtime_agent.web")
    whole_s = 30.0
    source = FixedSource(TRANSCRIPT, noise(whole_s, 16000))
    async with running_web(settings(pacing="realtime"), audio_source=source) as running:
        await series(running)  # serving: its lifespan's task is running
        before = asyncio.all_tasks()
        async with httpx2.AsyncClient(timeout=30, verify=TLS) as client:
            stream = opened(client, running)
            got = [await anext(stream), await anext(stream)]  # the transcript, one chunk
            assert running.web.streams  # it is live, and paced: 30 s to go
            await stream.aclose()  # the response is closed unread: the connection drops
        async with asyncio.timeout(10):
            await running.web.idle()
            # The request's own task ends too: nothing is left running for the stream.
            tasks = set(running.server.server_state.tasks)
            if tasks:
                await asyncio.wait(tasks)
        left = asyncio.all_tasks() - before
        found = await series(running)
    assert "transcript" in got[0]["choices"][0]["delta"]["audio"]
    assert "data" in got[1]["choices"][0]["delta"]["audio"]
    assert not left
    assert 0 < found[AUDIO_S] < whole_s / 2
    assert found[CLIENT_GONE] == 1
    assert found[ACTIVE] == 0
    assert requests(found, 200) == 1
    gone = [r for r in caplog.records if "the client went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO


async def test_the_drain_stops_a_stream_in_progress() -> None:
    whole_s = 30.0
    source = FixedSource(TRANSCRIPT, noise(whole_s, 16000))
    async with running_web(settings(pacing="realtime"), audio_source=source) as running:
        async with httpx2.AsyncClient(timeout=30, verify=TLS) as client:
            stream = opened(client, running)
            got = [await anext(stream), await anext(stream)]
            assert await running.web.drain(0) == 1  # the deadline has passed at once
            async with asyncio.timeout(10):
                got += [e async for e in stream]
                await running.web.idle()
            status, _, text = await post(running)  # and no new one starts
        found = await series(running)
    *_, last = got
    assert "[DONE]" not in got
    assert last == {
        "error": {
            "message": "the server is shutting down: the answer was cut off",
            "type": "server_error",
        }
    }
    assert len(got) - 2 < whole_s * 1000 / 40
    assert 0 < found[AUDIO_S] < whole_s / 2
    assert found[ACTIVE] == 0
    assert status == 503 and json.loads(text)["detail"].startswith("the server is shutting down")
    assert requests(found, 503) == 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"audio_chunk_ms": 0}, "audio_chunk_ms"),
        ({"audio_chunk_ms": 5000}, "audio_chunk_ms"),
        ({"audio_sample_rate": 100}, "audio_sample_rate"),
    ],
)
def test_settings_that_cannot_make_chunks_are_refused_at_once(
    options: dict[str, int], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        WebSettings(**options)  # type: ignore[arg-type]
