"""stream_chat_audio over a real socket, against a canned server: the request it sends,
the pieces of a stream split anywhere, and every way the answer can go wrong."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from realtime_agent.errors import AuthenticationError, LocalProtocolError, TransportError
from realtime_agent.http import (
    DEFAULT_MODEL,
    AudioPiece,
    ChatAudioAPIError,
    ChatAudioAuthenticationError,
    ChatAudioConnectionError,
    ChatAudioError,
    ChatAudioIncomplete,
    ChatAudioPiece,
    ChatAudioStreamError,
    ChatAudioTimeout,
    Finished,
    ToolCall,
    TranscriptPiece,
    stream_chat_audio,
)
from tests.http.canned import Canned, canned_server, split, sse

KEY = "sk-canned-0123456789abcdefXYZ"
PCM = bytes(range(200)) * 6


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": DEFAULT_MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


SPOKEN = sse(
    chunk({"role": "assistant", "content": None, "refusal": None}),
    chunk({"audio": {"id": "audio_9", "transcript": "Hi"}}),
    chunk({"audio": {"data": base64.b64encode(PCM[:600]).decode()}}),
    chunk({"audio": {"transcript": " you"}}),
    chunk({"audio": {"data": base64.b64encode(PCM[600:]).decode()}}),
    chunk({"audio": {"id": "audio_9", "expires_at": 99}}),
    chunk({}, "stop"),
    {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 1}},
    "[DONE]",
)
EXPECTED = [
    TranscriptPiece("Hi", "audio_9"),
    AudioPiece(PCM[:600], "audio_9"),
    TranscriptPiece(" you", "audio_9"),
    AudioPiece(PCM[600:], "audio_9"),
]


async def collect(pieces: AsyncIterator[ChatAudioPiece]) -> list[ChatAudioPiece]:
    return [piece async for piece in pieces]


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_the_request_is_a_streamed_spoken_chat_completion() -> None:
    answer = Canned(split(SPOKEN, 7))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    async with canned_server(answer) as url:
        pieces = await collect(
            stream_chat_audio(
                [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                voice="marin",
                tools=tools,
                tool_choice="auto",
                url=url,
                api_key=KEY,
                extra_body={"temperature": 0.6},
            )
        )
    assert pieces[:-1] == EXPECTED
    finished = pieces[-1]
    assert isinstance(finished, Finished)
    assert (finished.finish_reason, finished.audio_id, finished.expires_at) == (
        "stop",
        "audio_9",
        99,
    )
    assert finished.usage is not None and finished.usage.prompt_tokens == 1
    [request] = answer.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": DEFAULT_MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "modalities": ["text", "audio"],
        "audio": {"voice": "marin", "format": "pcm16"},
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": tools,
        "tool_choice": "auto",
        "temperature": 0.6,
    }


async def test_a_prompt_is_one_user_message_and_the_environments_key_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    answer = Canned([SPOKEN])
    async with canned_server(answer) as url:
        await collect(stream_chat_audio("Hello", url=url, model="gpt-audio"))
    [request] = answer.requests
    assert request.body["messages"] == [{"role": "user", "content": "Hello"}]
    assert request.body["model"] == "gpt-audio" and "tools" not in request.body
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_without_a_key_none_is_sent_to_a_url() -> None:
    answer = Canned([SPOKEN])
    async with canned_server(answer) as url:
        await collect(stream_chat_audio("Hello", url=url))
    assert "authorization" not in answer.requests[0].headers


async def test_a_given_client_is_used_and_left_open() -> None:
    answer = Canned([SPOKEN])
    async with canned_server(answer) as url, httpx2.AsyncClient() as client:
        pieces = await collect(stream_chat_audio("Hi", url=url, client=client))
        assert not client.is_closed
    assert pieces[:-1] == EXPECTED and answer.requests


async def test_tool_calls_stream_whole_before_the_finish() -> None:
    call = {"index": 0, "id": "call_7", "type": "function"}
    body = sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{**call, "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
        "[DONE]",
    )
    async with canned_server(Canned(split(body, 5))) as url:
        pieces = await collect(stream_chat_audio("Weather?", url=url))
    assert pieces == [
        ToolCall("call_7", "get_weather", '{"city":"Paris"}'),
        Finished("tool_calls", None, None, None),
    ]


async def test_stopping_early_closes_the_connection() -> None:
    first = SPOKEN.index(b"\n\n", SPOKEN.index(b"audio_9")) + 2  # up to the first piece's end
    answer = Canned([SPOKEN[:first]], end="stall")
    async with canned_server(answer) as url:
        async with contextlib.aclosing(stream_chat_audio("Hi", url=url)) as pieces:
            async for piece in pieces:
                assert piece == EXPECTED[0]
                break
        async with asyncio.timeout(5):
            await answer.client_closed.wait()


def assert_one_line_without_key(error: BaseException) -> None:
    shown = f"{error} {error!r} {error.args} {vars(error)}"
    assert KEY not in shown and "0123456789abcdef" not in shown
    assert "\n" not in str(error)
    # No httpx2 exception behind it: its request holds the Authorization header.
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize(
    ("status", "body", "kind", "says", "fields"),
    [
        (
            401,
            {"error": {"message": f"Incorrect API key provided: {KEY}.\nSee the docs.",
                       "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
            ChatAudioAuthenticationError,
            "refused the key: HTTP 401: Incorrect API key provided: ***. See the docs. "
            "(invalid_request_error, code invalid_api_key)",
            ("invalid_request_error", None, "invalid_api_key"),
        ),
        (
            403,
            {"detail": "Forbidden"},
            ChatAudioAuthenticationError,
            "refused the key: HTTP 403: Forbidden",
            (None, None, None),
        ),
        (
            400,
            {"error": {"message": "Invalid value: 'x'.", "type": "invalid_request_error",
                       "param": "audio.voice", "code": "invalid_value"}},
            ChatAudioAPIError,
            "answered: HTTP 400: Invalid value: 'x'. (invalid_request_error, code "
            "invalid_value, param audio.voice)",
            ("invalid_request_error", "audio.voice", "invalid_value"),
        ),
        (
            422,
            {"detail": [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]},
            ChatAudioAPIError,
            "answered: HTTP 422: body.messages: Field required (param body.messages)",
            (None, "body.messages", None),
        ),
        (
            502,
            "<html>\n<body>Bad gateway</body>\n</html>",
            ChatAudioAPIError,
            "answered: HTTP 502: <html> <body>Bad gateway</body> </html>",
            (None, None, None),
        ),
        (429, "", ChatAudioAPIError, "answered: HTTP 429: Canned", (None, None, None)),
    ],
)  # fmt: skip
async def test_an_error_answer_is_a_typed_error_with_openais_fields(
    status: int,
    body: object,
    kind: type[ChatAudioAPIError],
    says: str,
    fields: tuple[str | None, str | None, str | None],
) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"content-type": "text/html" if isinstance(body, str) else "application/json"}
    async with canned_server(Canned([raw] if raw else [], status, headers)) as url:
        with pytest.raises(kind) as raised:
            await collect(stream_chat_audio("Hi", url=url, api_key=KEY))
    error = raised.value
    assert str(error) == f"{url} {says}"
    assert error.status == status
    assert (error.type, error.param, error.code) == fields
    assert isinstance(error, AuthenticationError) == (status in (401, 403))
    assert_one_line_without_key(error)


async def test_a_json_answer_instead_of_a_stream() -> None:
    answer = Canned(
        [b'{"object": "chat.completion"}'], headers={"content-type": "application/json"}
    )
    async with canned_server(answer) as url:
        with pytest.raises(ChatAudioStreamError, match="answered JSON, not a stream"):
            await collect(stream_chat_audio("Hi", url=url))


async def test_a_stream_that_ends_without_done_keeps_what_came() -> None:
    got: list[ChatAudioPiece] = []
    async with canned_server(Canned([SPOKEN[: SPOKEN.index(b"data: [DONE]")]])) as url:
        with pytest.raises(ChatAudioIncomplete, match=r"ended before data: \[DONE\]") as raised:
            async for piece in stream_chat_audio("Hi", url=url, api_key=KEY):
                got.append(piece)
    assert got == EXPECTED  # the tool calls and Finished never came
    assert_one_line_without_key(raised.value)


async def test_a_chunk_that_is_not_json() -> None:
    async with canned_server(Canned([sse(chunk({"content": "a"})), b"data: {oops\n\n"])) as url:
        with pytest.raises(ChatAudioStreamError, match="not JSON") as raised:
            await collect(stream_chat_audio("Hi", url=url, api_key=KEY))
    assert raised.value.raw == "{oops"
    assert_one_line_without_key(raised.value)


async def test_a_connection_that_drops_mid_stream() -> None:
    async with canned_server(Canned([SPOKEN[:300]], end="drop")) as url:
        with pytest.raises(
            ChatAudioConnectionError, match=r"the connection to .* failed"
        ) as raised:
            await collect(stream_chat_audio("Hi", url=url, api_key=KEY))
    assert isinstance(raised.value, TransportError)
    assert not isinstance(raised.value, ChatAudioTimeout)
    assert_one_line_without_key(raised.value)


async def test_a_stream_that_stalls_times_out() -> None:
    async with canned_server(Canned([SPOKEN[:300]], end="stall")) as url:
        with pytest.raises(ChatAudioTimeout, match=r"sent nothing for 0.3 s") as raised:
            await collect(stream_chat_audio("Hi", url=url, api_key=KEY, timeout=0.3))
    assert_one_line_without_key(raised.value)


async def test_a_refused_connection() -> None:
    with socket.socket() as sock:  # a port that was free, and is closed again
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:{KEY}@127.0.0.1:{port}/v1/chat/completions?key={KEY}"
    with pytest.raises(ChatAudioConnectionError) as raised:
        await collect(stream_chat_audio("Hi", url=url, api_key=KEY))
    assert str(raised.value).startswith(
        f"cannot connect to http://127.0.0.1:{port}/v1/chat/completions: "
    )
    assert_one_line_without_key(raised.value)


async def test_misuse_is_a_local_error_and_a_missing_key_says_what_to_do() -> None:
    with pytest.raises(LocalProtocolError, match="set OPENAI_API_KEY"):
        await collect(stream_chat_audio("Hi"))
    with pytest.raises(LocalProtocolError, match="not an http"):
        await collect(stream_chat_audio("Hi", url="ftp://127.0.0.1/chat"))


def test_every_error_is_a_chat_audio_error() -> None:
    for kind in (
        ChatAudioAPIError,
        ChatAudioAuthenticationError,
        ChatAudioConnectionError,
        ChatAudioIncomplete,
        ChatAudioStreamError,
        ChatAudioTimeout,
    ):
        assert issubclass(kind, ChatAudioError)


async def test_a_long_error_message_is_cut_to_an_excerpt() -> None:
    body = json.dumps({"error": {"message": "why " * 2000, "type": "server_error"}}).encode()
    headers = {"content-type": "application/json"}
    async with canned_server(Canned([body], 500, headers)) as url:
        with pytest.raises(ChatAudioAPIError) as raised:
            await collect(stream_chat_audio("Hi", url=url))
    assert len(str(raised.value)) < 500
    assert "why why" in str(raised.value) and "... (7999 chars)" in str(raised.value)
