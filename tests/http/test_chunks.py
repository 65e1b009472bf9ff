"""The streamed answer's chunks read into pieces: OpenAI's shape as its stream sends it,
Agora's, and what breaks the protocol."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.http.chunks import (
    AudioPiece,
    ChatAudioPiece,
    ChatStreamDecoder,
    Finished,
    ToolCall,
    TranscriptPiece,
    Usage,
    api_error_fields,
)
from realtime_agent.http.errors import ChatAudioAPIError, ChatAudioIncomplete, ChatAudioStreamError
from realtime_agent.redact import Secret

PCM = bytes(range(256)) * 4


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """A chunk as OpenAI's stream sends it (with include_usage: ``usage`` null)."""
    return {
        "id": "chatcmpl-AbC",
        "object": "chat.completion.chunk",
        "created": 1730000000,
        "model": "gpt-audio-1.5",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 40,
    "total_tokens": 52,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 31},
}


def read(*chunks: dict[str, Any] | str) -> list[ChatAudioPiece]:
    decoder = ChatStreamDecoder()
    pieces: list[ChatAudioPiece] = []
    for chunk in chunks:
        pieces += decoder.receive(chunk if isinstance(chunk, str) else json.dumps(chunk))
    pieces += decoder.end()
    return pieces


def test_a_spoken_answer_in_openais_shape() -> None:
    pieces = read(
        openai_chunk({"role": "assistant", "content": None, "refusal": None}),
        openai_chunk({"audio": {"id": "audio_1", "transcript": "Hi"}}),
        openai_chunk({"audio": {"transcript": " there"}}),
        openai_chunk({"audio": {"data": b64(PCM[:512])}}),
        openai_chunk({"audio": {"data": b64(PCM[512:])}}),
        openai_chunk({"audio": {"id": "audio_1", "expires_at": 1730003600}}),
        openai_chunk({}, "stop"),
        {**openai_chunk({}), "choices": [], "usage": USAGE},
        "[DONE]",
    )
    assert pieces == [
        TranscriptPiece("Hi", "audio_1"),
        TranscriptPiece(" there", "audio_1"),
        AudioPiece(PCM[:512], "audio_1"),
        AudioPiece(PCM[512:], "audio_1"),
        Finished("stop", "audio_1", 1730003600, Usage(12, 40, 52, 0, 31)),
    ]


def test_tool_calls_come_whole_at_the_finish_in_index_order() -> None:
    decoder = ChatStreamDecoder()
    fn = {"type": "function"}
    first = decoder.receive(
        json.dumps(
            openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            **fn,
                            "function": {"name": "b", "arguments": ""},
                        },
                        {
                            "index": 0,
                            "id": "call_a",
                            **fn,
                            "function": {"name": "a", "arguments": ""},
                        },
                    ]
                }
            )
        )
    )
    for index, piece in [(0, '{"city"'), (1, "{}"), (0, ': "Paris"}')]:
        delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
        assert decoder.receive(json.dumps(openai_chunk(delta))) == []
    finish = decoder.receive(json.dumps(openai_chunk({}, "tool_calls")))
    done = decoder.receive("[DONE]")
    assert first == []
    assert finish == [ToolCall("call_a", "a", '{"city": "Paris"}'), ToolCall("call_b", "b", "{}")]
    assert done == [Finished("tool_calls", None, None, None)]


def test_tool_call_deltas_without_an_index_follow_their_id() -> None:
    pieces = read(
        openai_chunk(
            {"tool_calls": [{"id": "call_a", "function": {"name": "a", "arguments": "{"}}]}
        ),
        openai_chunk({"tool_calls": [{"function": {"arguments": "}"}}]}),
        openai_chunk({"tool_calls": [{"id": "call_b", "function": {"name": "b"}}]}),
        openai_chunk({}, "tool_calls"),
        "[DONE]",
    )
    assert pieces[:2] == [ToolCall("call_a", "a", "{}"), ToolCall("call_b", "b", "")]


def test_a_text_answer_is_transcript_without_an_audio_id() -> None:
    pieces = read(
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hello"}),
        openai_chunk({"content": " world"}),
        openai_chunk({}, "length"),
        "[DONE]",
    )
    assert pieces == [
        TranscriptPiece("Hello", None),
        TranscriptPiece(" world", None),
        Finished("length", None, None, None),
    ]


def test_agoras_audio_modalities_shape() -> None:
    pieces = read(
        {
            "id": "m1",
            "choices": [{"index": 0, "delta": {"audio": {"id": "a1", "transcript": "Hi"}}}],
        },
        {"audio": {"id": "a1", "data": b64(PCM[:640])}},  # at the top level
        {
            "id": "m1",
            "choices": [{"index": 0, "delta": {"audio": {"id": "a1", "data": b64(PCM[640:])}}}],
        },
        "[DONE]",
    )
    assert pieces == [
        TranscriptPiece("Hi", "a1"),
        AudioPiece(PCM[:640], "a1"),
        AudioPiece(PCM[640:], "a1"),
        Finished(None, "a1", None, None),
    ]


def test_another_choice_is_not_read_and_nothing_follows_done() -> None:
    decoder = ChatStreamDecoder()
    other = {"choices": [{"index": 1, "delta": {"content": "not ours"}}]}
    assert decoder.receive(json.dumps(other)) == []
    assert decoder.receive(" [DONE] ") == [Finished(None, None, None, None)]
    assert decoder.done
    assert decoder.receive(json.dumps(openai_chunk({"content": "late"}))) == []
    assert decoder.end() == []


def test_a_stream_that_ends_before_done_is_incomplete() -> None:
    decoder = ChatStreamDecoder()
    decoder.receive(json.dumps(openai_chunk({"content": "Hel"})))
    with pytest.raises(ChatAudioIncomplete, match=r"before data: \[DONE\] \(after 1 chunks\)"):
        decoder.end()


def delta(**fields: object) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": fields}]})


AT = "choices[0].delta"


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ("{not json", None, "is not JSON"),
        ("[1, 2]", None, "not a JSON object"),
        ('{"choices": {}}', "choices", "not an array"),
        ('{"choices": [3]}', "choices[0]", "not an object"),
        ('{"choices": [{"delta": []}]}', AT, "not an object"),
        ('{"choices": [{"finish_reason": 1}]}', "choices[0].finish_reason", "a string"),
        (delta(content=5), f"{AT}.content", "not a string"),
        (delta(audio="x"), f"{AT}.audio", "not an object"),
        (delta(audio={"data": 1}), f"{AT}.audio.data", "a string"),
        (delta(audio={"data": "!!"}), f"{AT}.audio.data", "base64"),
        (delta(audio={"id": 7}), f"{AT}.audio.id", "a string"),
        (delta(audio={"expires_at": "x"}), f"{AT}.audio.expires_at", "an integer"),
        (delta(audio={"expires_at": True}), f"{AT}.audio.expires_at", "an integer"),
        (delta(audio={"transcript": []}), f"{AT}.audio.transcript", "a string"),
        (delta(tool_calls={}), f"{AT}.tool_calls", "an array"),
        (delta(tool_calls=[1]), f"{AT}.tool_calls[0]", "an object"),
        (delta(tool_calls=[{"index": "0"}]), f"{AT}.tool_calls[0].index", "an integer"),
        (delta(tool_calls=[{"id": 1}]), f"{AT}.tool_calls[0].id", "a string"),
        (delta(tool_calls=[{"function": 1}]), f"{AT}.tool_calls[0].function", "an object"),
        (
            delta(tool_calls=[{"function": {"name": 1}}]),
            f"{AT}.tool_calls[0].function.name",
            "a string",
        ),
        (
            delta(tool_calls=[{"function": {"arguments": 1}}]),
            f"{AT}.tool_calls[0].function.arguments",
            "a string",
        ),
        ('{"audio": {"data": "AA=A"}}', "audio.data", "base64"),
    ],
)
def test_a_chunk_that_breaks_the_protocol_raises_naming_its_field(
    data: str, field: str | None, says: str
) -> None:
    with pytest.raises(ChatAudioStreamError, match=says) as raised:
        ChatStreamDecoder().receive(data)
    assert raised.value.field == field
    assert isinstance(raised.value, RemoteProtocolError)
    assert "\n" not in str(raised.value)


def test_a_tool_call_without_a_name_or_an_id_cannot_be_answered() -> None:
    decoder = ChatStreamDecoder()
    decoder.receive(json.dumps(openai_chunk({"tool_calls": [{"index": 0, "id": "call_a"}]})))
    with pytest.raises(ChatAudioStreamError, match=r"tool call 0 has no function\.name"):
        decoder.receive(json.dumps(openai_chunk({}, "tool_calls")))
    decoder = ChatStreamDecoder()
    decoder.receive(json.dumps(openai_chunk({"tool_calls": [{"function": {"name": "a"}}]})))
    with pytest.raises(ChatAudioStreamError, match="tool call 0 has no id"):
        decoder.receive("[DONE]")


def test_an_error_sent_mid_stream_is_the_apis() -> None:
    decoder = ChatStreamDecoder()
    decoder.receive(json.dumps(openai_chunk({"content": "Hel"})))
    error = {"error": {"message": "The server had an error", "type": "server_error", "code": None}}
    with pytest.raises(ChatAudioAPIError) as raised:
        decoder.receive(json.dumps(error))
    assert str(raised.value) == "the server failed the answer mid-stream: The server had an error"
    assert (raised.value.status, raised.value.type, raised.value.code) == (
        None,
        "server_error",
        None,
    )


def test_the_key_never_shows_in_an_error_from_the_stream() -> None:
    key = "sk-test-1234567890abcdef"
    decoder = ChatStreamDecoder(secret=Secret(key))
    with pytest.raises(ChatAudioAPIError) as api:
        decoder.receive(json.dumps({"error": {"message": f"bad key Bearer {key} and {key}"}}))
    with pytest.raises(ChatAudioStreamError) as stream:
        decoder.receive(f'{{"choices": 1, "echo": "{key}"}}')
    with pytest.raises(ChatAudioStreamError) as not_json:
        decoder.receive(f"oops {key}")
    for error in (api.value, stream.value, not_json.value):
        shown = f"{error} {error!r} {error.args} {vars(error)}"
        assert key not in shown and "1234567890" not in shown
    assert "***" in str(api.value) and "***" in stream.value.raw


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"error": {"message": "Bad", "type": "invalid_request", "param": "m", "code": "x"}},
            ("Bad", "invalid_request", "m", "x"),
        ),
        ({"error": {"message": None, "type": "t"}}, ("", "t", None, None)),
        ({"error": "plain"}, ("plain", None, None, None)),
        ({"detail": "API key is required."}, ("API key is required.", None, None, None)),
        (
            {"detail": [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]},
            ("body.messages: Field required", None, "body.messages", None),
        ),
        (
            {"detail": [{"msg": f"m{i}"} for i in range(5)]},
            ("m0; m1; m2 (and 2 more)", None, None, None),
        ),
        ({"detail": {"why": 1}}, ('{"why": 1}', None, None, None)),
        ({"other": 1}, ("", None, None, None)),
        ("text", ("", None, None, None)),
        (None, ("", None, None, None)),
    ],
)  # fmt: skip
def test_error_bodies_openais_and_fastapis(
    body: object, fields: tuple[str, str | None, str | None, str | None]
) -> None:
    assert api_error_fields(body) == fields
