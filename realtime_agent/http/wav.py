"""A streamed spoken answer into a WAV file, as it arrives: :func:`write_chat_audio`."""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

from realtime_agent.http.chunks import (
    AudioPiece,
    ChatAudioPiece,
    Finished,
    ToolCall,
    TranscriptPiece,
)

__all__ = ["ChatAudioResult", "write_chat_audio"]


@dataclass(frozen=True, slots=True)
class ChatAudioResult:
    """What :func:`write_chat_audio` wrote and heard.

    Attributes:
        path: the WAV file (pcm16 mono).
        audio_bytes: the pcm16 bytes received (the file holds ``audio_bytes // 2``
            frames).
        duration_s: how long the audio lasts.
        transcript: the transcript pieces, joined.
        tool_calls: the functions the model called.
        finish_reason: the stream's (None when it gave none, or did not finish).
    """

    path: Path
    audio_bytes: int
    duration_s: float
    transcript: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None


async def write_chat_audio(
    pieces: AsyncIterable[ChatAudioPiece],
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 24000,
    on_transcript: Callable[[str], object] | None = None,
) -> ChatAudioResult:
    """Write the audio of ``pieces`` (:func:`~realtime_agent.http.stream_chat_audio`'s) to
    a WAV file at ``path``, chunk by chunk as it arrives, calling ``on_transcript`` with
    each transcript piece as it arrives.

    The header is brought up to date after every chunk, and the file is closed however
    the stream ends: if it fails midway (the error propagates), the WAV is still valid
    and holds every whole sample received. ``sample_rate``: the rate of the pcm16
    (OpenAI's is 24 kHz; Agora's endpoint says 16 kHz). A ``path`` that cannot be written
    raises its ``OSError`` before anything is read.
    """
    target = Path(path)
    audio_bytes = 0
    transcript: list[str] = []
    tool_calls: list[ToolCall] = []
    finish_reason: str | None = None
    odd = b""  # a sample split between two chunks: its first byte
    # Opened here, not by wave.open(path): a path that cannot be written then raises its
    # OSError alone, without a half-made Wave_write complaining as it is collected.
    file = target.open("wb")  # noqa: ASYNC230 (once, a local file: as wave.open did)
    wav = wave.open(file, "wb")
    try:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        async for piece in pieces:
            if isinstance(piece, AudioPiece):
                audio_bytes += len(piece.pcm)
                pcm = odd + piece.pcm
                whole = len(pcm) - len(pcm) % 2
                odd = pcm[whole:]
                if whole:
                    # A few kilobytes each: written in the loop's thread, as a socket
                    # write would be; writeframes also patches the header's sizes.
                    wav.writeframes(pcm[:whole])
            elif isinstance(piece, TranscriptPiece):
                transcript.append(piece.text)
                if on_transcript is not None:
                    on_transcript(piece.text)
            elif isinstance(piece, ToolCall):
                tool_calls.append(piece)
            elif isinstance(piece, Finished):
                finish_reason = piece.finish_reason
            else:
                assert_never(piece)
    finally:
        try:
            wav.close()  # the header's final sizes
        finally:
            file.close()  # wave closes only the files it opened itself
    return ChatAudioResult(
        path=target,
        audio_bytes=audio_bytes,
        duration_s=audio_bytes // 2 / sample_rate,
        transcript="".join(transcript),
        tool_calls=tuple(tool_calls),
        finish_reason=finish_reason,
    )
