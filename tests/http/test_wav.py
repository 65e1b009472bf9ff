"""A streamed answer into a WAV: written as it comes, valid however the stream ends."""

from __future__ import annotations

import gc
import itertools
import sys
import wave
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from realtime_agent.http.chunks import (
    AudioPiece,
    ChatAudioPiece,
    Finished,
    ToolCall,
    TranscriptPiece,
)
from realtime_agent.http.errors import ChatAudioConnectionError
from realtime_agent.http.wav import write_chat_audio

PCM = bytes(range(256)) * 40  # 10240 bytes: 5120 samples


async def stream(
    pieces: Sequence[ChatAudioPiece], fail: Exception | None = None
) -> AsyncIterator[ChatAudioPiece]:
    for piece in pieces:
        yield piece
    if fail is not None:
        raise fail


def frames(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getnframes(), wav.getframerate(), wav.readframes(wav.getnframes())


async def test_the_audio_the_transcript_and_the_calls_of_a_stream(tmp_path: Path) -> None:
    heard: list[str] = []
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    result = await write_chat_audio(
        stream(
            [
                TranscriptPiece("Hello", "a"),
                AudioPiece(PCM[:4000], "a"),
                TranscriptPiece(" there", "a"),
                AudioPiece(PCM[4000:], "a"),
                call,
                Finished("tool_calls", "a", None, None),
            ]
        ),
        tmp_path / "reply.wav",
        on_transcript=heard.append,
    )
    assert heard == ["Hello", " there"]
    assert result.transcript == "Hello there"
    assert result.tool_calls == (call,)
    assert result.finish_reason == "tool_calls"
    assert result.path == tmp_path / "reply.wav"
    assert result.audio_bytes == len(PCM)
    assert result.duration_s == len(PCM) / 2 / 24000
    assert frames(result.path) == (len(PCM) // 2, 24000, PCM)


async def test_samples_split_between_chunks_are_written_whole(tmp_path: Path) -> None:
    cuts = [0, 1, 2, 5, 6, 777, 1001, len(PCM)]
    pieces = [AudioPiece(PCM[a:b], None) for a, b in itertools.pairwise(cuts)]
    result = await write_chat_audio(stream(pieces), tmp_path / "r.wav", sample_rate=16000)
    assert frames(result.path) == (len(PCM) // 2, 16000, PCM)
    assert result.duration_s == len(PCM) / 2 / 16000


async def test_each_transcript_piece_is_passed_on_before_the_next_piece_is_read(
    tmp_path: Path,
) -> None:
    heard: list[str] = []

    async def checked() -> AsyncIterator[ChatAudioPiece]:
        yield TranscriptPiece("one", None)
        assert heard == ["one"]  # told as it came, not at the end
        yield AudioPiece(PCM[:2], None)
        yield TranscriptPiece("two", None)
        assert heard == ["one", "two"]

    result = await write_chat_audio(checked(), tmp_path / "r.wav", on_transcript=heard.append)
    assert result.transcript == "onetwo"


async def test_a_stream_that_fails_midway_leaves_a_valid_wav_of_what_came(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    failure = ChatAudioConnectionError("the connection dropped")
    pieces = [AudioPiece(PCM[:3001], "a"), AudioPiece(PCM[3001:5000], "a")]
    with pytest.raises(ChatAudioConnectionError):
        await write_chat_audio(stream(pieces, failure), path)
    assert frames(path) == (2500, 24000, PCM[:5000])


async def test_an_odd_last_byte_is_dropped_and_an_empty_stream_is_an_empty_wav(
    tmp_path: Path,
) -> None:
    odd = await write_chat_audio(stream([AudioPiece(PCM[:7], None)]), tmp_path / "odd.wav")
    assert odd.audio_bytes == 7 and frames(odd.path)[0] == 3
    empty = await write_chat_audio(stream([Finished("stop", None, None, None)]), tmp_path / "e.wav")
    assert (empty.audio_bytes, empty.duration_s, empty.transcript) == (0, 0.0, "")
    assert frames(empty.path) == (0, 24000, b"")


async def test_a_path_that_cannot_be_written_raises_its_oserror_alone(tmp_path: Path) -> None:
    # wave.open(path) failing to open left a Wave_write whose __del__ raised (printed as
    # "Exception ignored in ..." on stderr, after the one-line error of the command).
    unraisable: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        for target in (tmp_path, tmp_path / "no" / "such.wav"):
            with pytest.raises(OSError):
                await write_chat_audio(stream([AudioPiece(PCM, None)]), target)
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
