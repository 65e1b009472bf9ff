"""The Chat Completions twin's core, without I/O: requests read as OpenAI reads them, and
the stand-in's answers (spoken, written, or a tool call)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
import soundfile

from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    MessageItem,
)
from realtime_agent.server.chat import REMEMBERED_AUDIO, ChatRequestError, ChatStandIn
from realtime_agent.server.speech import SyntheticVoice

SPOKEN = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "pcm16"}}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": CITY}}


def stand_in() -> ChatStandIn:
    return ChatStandIn(synthesizer=SyntheticVoice())  # fast, and the same everywhere


def body(*messages: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **options}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def wav(seconds: float) -> str:
    out = io.BytesIO()
    soundfile.write(out, np.zeros(int(24000 * seconds), "<i2"), 24000, format="WAV")
    return base64.b64encode(out.getvalue()).decode()


def test_the_messages_become_the_conversation_and_the_instructions() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather",
            "arguments": '{"city": "Oslo"}'}}  # fmt: skip
    request = stand_in().parse(
        body(
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
            user("Weather in Oslo?"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
            tools=[TOOL],
            tool_choice="auto",
        )
    )
    assert request.instructions == "Be brief.\nBe kind."
    kinds = [type(item) for item in request.conversation]
    assert kinds == [MessageItem, FunctionCallItem, FunctionCallOutputItem]
    assert [t.name for t in request.tools] == ["get_weather"] and request.tool_choice is None
    assert not request.audio and not request.stream


def test_spoken_input_is_read_as_a_placeholder_of_its_duration() -> None:
    part = {"type": "input_audio", "input_audio": {"data": wav(1.5), "format": "wav"}}
    request = stand_in().parse(body(user([{"type": "text", "text": "Listen:"}, part])))
    content = request.conversation[0].content  # type: ignore[union-attr]
    assert isinstance(content[1], InputAudioPart) and content[1].transcript


REFUSED = [
    (body(user("hi"), n=2), "n", "unsupported_value"),
    (body(user("hi"), modalities=["video"]), "modalities[0]", "invalid_value"),
    (body(user("hi"), modalities=["audio"], audio={"format": "wav"}), "audio.voice",
     "missing_required_parameter"),
    (body(user("hi"), modalities=["audio"], audio={"voice": "alloy", "format": "ogg"}),
     "audio.format", "invalid_value"),
    (body(user("hi"), modalities=["audio"], audio={"voice": "alloy", "format": "aac"}),
     "audio.format", "unsupported_value"),
    (body(user("hi"), stream="yes"), "stream", "invalid_type"),
    (body(user([{"type": "video"}])), "messages[0].content[0].type", "invalid_value"),
    (body(user([{"type": "input_audio", "input_audio": {"data": "!!", "format": "wav"}}])),
     "messages[0].content[0].input_audio.data", "invalid_value"),
    (body(user([{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}])),
     "messages[0].content[0].input_audio.data", "invalid_value"),
    (body({"role": "tool", "tool_call_id": "call_x", "content": "?"}), "messages[0].role", None),
    (body(user("hi"), tools=[{"type": "function", "function": {}}]),
     "tools[0].function.name", "missing_required_parameter"),
    (body(user("hi"), tools=[TOOL], tool_choice={"type": "function",
                                                 "function": {"name": "nope"}}),
     "tool_choice", None),
    (body({"role": "function", "content": "x"}), "messages[0].role", "unsupported_value"),
]  # fmt: skip


@pytest.mark.parametrize(("request_body", "param", "code"), REFUSED)
def test_a_bad_request_names_its_parameter(
    request_body: dict[str, Any], param: str, code: str | None
) -> None:
    with pytest.raises(ChatRequestError) as raised:
        stand_in().parse(request_body)
    error = raised.value
    assert (error.param, error.code, error.status) == (param, code, 400)
    assert error.body() == {
        "error": {"message": error.message, "type": "invalid_request_error",
                  "param": param, "code": code}
    }  # fmt: skip


def test_a_spoken_answer_is_remembered_by_its_audio_id_for_a_while() -> None:
    chat = stand_in()
    first = chat.answer(chat.parse(body(user("Hello"), **SPOKEN)))
    assert first.speech is not None and first.audio_id is not None and first.text
    assert first.speech.words and "".join(w for _, w in first.speech.words) == first.text
    later = chat.parse(
        body(user("Hello"), {"role": "assistant", "audio": {"id": first.audio_id}},
             user("Again?"), **SPOKEN)
    )  # fmt: skip
    said = later.conversation[1]
    assert isinstance(said, MessageItem) and said.role == "assistant"
    assert said.content[0].text == first.text  # type: ignore[union-attr]
    for _ in range(REMEMBERED_AUDIO):  # the memory is bounded: the oldest goes
        chat.answer(chat.parse(body(user("Hi"), **SPOKEN)))
    with pytest.raises(ChatRequestError) as raised:
        chat.parse(body({"role": "assistant", "audio": {"id": first.audio_id}}))
    assert raised.value.param == "messages[0].audio.id"


def test_a_named_tool_choice_calls_that_tool_even_unasked() -> None:
    chat = stand_in()
    forced = {"type": "function", "function": {"name": "get_weather"}}
    answer = chat.answer(chat.parse(body(user("Hello"), tools=[TOOL], tool_choice=forced)))
    assert [c.name for c in answer.tool_calls] == ["get_weather"]
    assert answer.finish_reason == "tool_calls" and answer.speech is None
    unasked = chat.answer(chat.parse(body(user("Weather in Oslo?"), tools=[TOOL],
                                          tool_choice="none")))  # fmt: skip
    assert not unasked.tool_calls and unasked.finish_reason == "stop" and unasked.text


def test_the_usage_counts_the_words_and_the_seconds_of_speech() -> None:
    chat = stand_in()
    answer = chat.answer(chat.parse(body(user("Hello there"), **SPOKEN)))
    usage = answer.usage()
    assert usage["prompt_tokens"] == 2
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert answer.speech is not None
    audio = usage["completion_tokens_details"]["audio_tokens"]
    assert audio == round(answer.speech.duration_ms / 1000 * 12)
