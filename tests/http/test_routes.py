"""The client against the local stack's real endpoints, served on loopback by create_app:
``POST /v1/chat/completions`` (OpenAI's shape) and ``POST /audio/chat/completions``
(Agora's), into WAV files."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import pytest

from realtime_agent.http import (
    AudioPiece,
    ChatAudioAPIError,
    ChatAudioAuthenticationError,
    Finished,
    ToolCall,
    TranscriptPiece,
    stream_chat_audio,
    write_chat_audio,
)
from realtime_agent.web import WebSettings
from realtime_agent.web.settings import HTTP_KEY_ENV
from tests.web.conftest import WEATHER_TOOL as WEATHER
from tests.web.conftest import RunningWeb, running_web

KEY = "local-http-key-5f1c2a"


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv(HTTP_KEY_ENV, raising=False)


def chat(running: RunningWeb) -> str:
    return running.http + "/v1/chat/completions"


def wav_frames(path: Path) -> tuple[int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes(), wav.getframerate()


async def test_a_spoken_answer_streams_into_a_wav(tmp_path: Path) -> None:
    heard: list[str] = []
    async with running_web(WebSettings(pacing="instant")) as running:
        pieces = [p async for p in stream_chat_audio("Hello, who are you?", url=chat(running))]
        result = await write_chat_audio(
            stream_chat_audio("Hello, who are you?", url=chat(running)),
            tmp_path / "reply.wav",
            on_transcript=heard.append,
        )
    transcript = [p for p in pieces if isinstance(p, TranscriptPiece)]
    audio = [p for p in pieces if isinstance(p, AudioPiece)]
    *_, finished = pieces
    assert transcript and audio
    assert pieces.index(transcript[0]) < pieces.index(audio[0])  # words before their sound
    assert "".join(p.text for p in transcript).startswith("Hello! This is the local")
    assert isinstance(finished, Finished) and finished.finish_reason == "stop"
    assert finished.audio_id is not None and finished.audio_id.startswith("audio_")
    assert {p.audio_id for p in transcript} | {p.audio_id for p in audio} == {finished.audio_id}
    assert isinstance(finished.expires_at, int)
    assert finished.usage is not None and finished.usage.completion_audio_tokens
    # The WAV: every byte received, as long as they last at 24 kHz.
    assert result.audio_bytes > 24000  # over half a second
    assert result.duration_s == result.audio_bytes / 2 / 24000
    assert wav_frames(result.path) == (result.audio_bytes // 2, 24000)
    assert result.transcript == "".join(p.text for p in transcript)
    assert heard == [p.text for p in transcript]
    assert result.finish_reason == "stop" and result.tool_calls == ()


async def test_every_transcript_piece_comes_before_the_audio_it_speaks() -> None:
    async with running_web(WebSettings(pacing="instant")) as running:
        pieces = [p async for p in stream_chat_audio("Hello there", url=chat(running))]
    kinds = [type(p).__name__ for p in pieces]
    assert kinds[0] == "TranscriptPiece" and kinds[-1] == "Finished"
    assert "AudioPiece" in kinds and kinds.count("TranscriptPiece") > 1


async def test_a_tool_call_comes_whole_and_the_answer_to_it_is_spoken() -> None:
    question: dict[str, Any] = {"role": "user", "content": "What's the weather in Paris?"}
    async with running_web(WebSettings(pacing="instant")) as running:
        pieces = [
            p async for p in stream_chat_audio([question], tools=[WEATHER], url=chat(running))
        ]
        [call] = [p for p in pieces if isinstance(p, ToolCall)]
        assert call.name == "get_weather" and call.id.startswith("call_")
        assert json.loads(call.arguments) == {"city": "Paris"}
        finished = pieces[-1]
        assert isinstance(finished, Finished) and finished.finish_reason == "tool_calls"
        assert finished.audio_id is None  # nothing was said
        follow_up = [
            question,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 degrees"},
        ]
        answer = [p async for p in stream_chat_audio(follow_up, tools=[WEATHER], url=chat(running))]
    said = "".join(p.text for p in answer if isinstance(p, TranscriptPiece))
    assert said.startswith("Here is what I found: sunny, 21 degrees")
    assert any(isinstance(p, AudioPiece) for p in answer)


async def test_a_refused_request_carries_openais_error_fields() -> None:
    async with running_web(WebSettings(pacing="instant")) as running:
        with pytest.raises(ChatAudioAPIError) as raised:
            async for _ in stream_chat_audio([], url=chat(running)):
                pass
    error = raised.value
    assert error.status == 400 and not isinstance(error, ChatAudioAuthenticationError)
    assert (error.type, error.param, error.code) == (
        "invalid_request_error",
        "messages",
        "empty_array",
    )
    assert "HTTP 400: Invalid 'messages': empty array" in str(error)


async def test_the_configured_key_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HTTP_KEY_ENV, KEY)
    async with running_web(WebSettings(pacing="instant")) as running:
        with pytest.raises(ChatAudioAuthenticationError) as missing:
            async for _ in stream_chat_audio("Hi", url=chat(running)):
                pass
        with pytest.raises(ChatAudioAuthenticationError) as wrong:
            async for _ in stream_chat_audio("Hi", url=chat(running), api_key="sk-wrong-key"):
                pass
        pieces = [p async for p in stream_chat_audio("Hi", url=chat(running), api_key=KEY)]
    assert missing.value.status == wrong.value.status == 401
    assert "You didn't provide an API key" in str(missing.value)
    assert wrong.value.code == "invalid_api_key" and "sk-wrong-key" not in str(wrong.value)
    assert isinstance(pieces[-1], Finished) and pieces[-1].finish_reason == "stop"


async def test_agoras_audio_endpoint_streams_into_a_16_khz_wav(tmp_path: Path) -> None:
    async with running_web(WebSettings(pacing="instant")) as running:
        url = running.http + "/audio/chat/completions"
        pieces = [p async for p in stream_chat_audio("Hello", url=url, api_key="agora-key")]
        result = await write_chat_audio(
            stream_chat_audio("Hello", url=url, api_key="agora-key"),
            tmp_path / "agora.wav",
            sample_rate=16000,
        )
    first, *rest = pieces
    assert isinstance(first, TranscriptPiece) and first.text.startswith("Hello! This is")
    assert first.audio_id is not None
    audio = [p for p in rest if isinstance(p, AudioPiece)]
    assert audio and {p.audio_id for p in audio} == {first.audio_id}
    assert {len(p.pcm) for p in audio[:-1]} == {1280}  # 40 ms at 16 kHz
    assert rest[-1] == Finished(None, first.audio_id, None, None)  # no finish_reason: Agora's
    assert wav_frames(result.path) == (result.audio_bytes // 2, 16000)
    assert result.duration_s == result.audio_bytes / 2 / 16000 > 0.5


async def test_agoras_endpoint_refuses_a_request_without_a_key_in_fastapis_shape() -> None:
    async with running_web(WebSettings(pacing="instant")) as running:
        url = running.http + "/audio/chat/completions"
        with pytest.raises(ChatAudioAuthenticationError) as raised:
            async for _ in stream_chat_audio("Hello", url=url):
                pass
    assert raised.value.status == 401
    assert str(raised.value).endswith(
        "asks for a key (none was sent): HTTP 401: API key is required. Provide it via "
        "Authorization header (Bearer <key>)."
    )
