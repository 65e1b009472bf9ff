"""The Recorder streams both sides' audio to WAV as it arrives: bounded memory, the same
files at close, readable WAVs before it."""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc
import wave
from pathlib import Path

from realtime_agent.protocol import events as app
from realtime_agent.runtime.recording import Recorder

RATE = 24000
CHUNK = RATE // 50 * 2  # 20 ms of mono pcm16
PATTERN = bytes(range(256)) * 8


def chunk(i: int) -> bytes:
    """A distinct 20 ms chunk for each i (so a chunk lost, doubled or moved shows)."""
    return PATTERN[i % 997 : i % 997 + CHUNK]


def frames(path: Path, rate: int = RATE) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        return wav.readframes(wav.getnframes())


def digest(path: Path) -> tuple[int, str]:
    """The frame count and hash of a WAV's audio, read in blocks."""
    hashed = hashlib.sha256()
    with wave.open(str(path), "rb") as wav:
        while block := wav.readframes(RATE):
            hashed.update(block)
        return wav.getnframes(), hashed.hexdigest()


def test_ten_minutes_of_audio_stream_to_disk_in_bounded_memory(tmp_path: Path) -> None:
    chunks = 10 * 60 * 50  # ten minutes of 20 ms chunks, each side
    user, assistant = hashlib.sha256(), hashlib.sha256()
    tracemalloc.start()
    try:
        recorder = Recorder(tmp_path, rate=RATE)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(chunks):
            audio = chunk(i)
            recorder.user_audio(audio)
            user.update(audio)
            audio = chunk(i + 500)
            recorder.assistant_audio(audio)
            assistant.update(audio)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 57.6 MB of audio went through; the recorder kept none of it.
    assert current - held < 64 * 1024
    assert peak - held < 256 * 1024
    paths = recorder.close()
    assert paths == [tmp_path / name for name in ("user.wav", "assistant.wav", "transcript.jsonl")]
    assert digest(paths[0]) == (chunks * CHUNK // 2, user.hexdigest())
    assert digest(paths[1]) == (chunks * CHUNK // 2, assistant.hexdigest())


def test_odd_chunks_keep_every_whole_sample_and_drop_only_a_last_odd_byte(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path, rate=16000)
    sent = b""
    for size in (1, 3, 2, 5, 0, 7, 1, 4):  # 23 bytes: 11 samples and a byte left over
        audio = PATTERN[len(sent) : len(sent) + size]
        recorder.user_audio(audio)
        sent += audio
    recorder.assistant_audio(b"\x01")  # never a whole sample
    recorder.close()
    assert frames(tmp_path / "user.wav", 16000) == sent[:22]
    assert frames(tmp_path / "assistant.wav", 16000) == b""


def test_close_is_idempotent_and_audio_after_it_is_ignored(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.user_audio(chunk(1))
    recorder.event(app.SpeechStarted(item_id="item_1", audio_start_ms=0))
    assert not recorder.closed
    assert len(recorder.close()) == 3
    assert recorder.closed and recorder.close() == []
    recorder.user_audio(chunk(2))
    recorder.assistant_audio(chunk(3))
    recorder.event(app.SpeechStarted(item_id="item_2", audio_start_ms=0))
    assert frames(tmp_path / "user.wav") == chunk(1)
    assert frames(tmp_path / "assistant.wav") == b""
    lines = (tmp_path / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["SpeechStarted"]


def test_the_files_are_readable_wavs_before_the_recorder_is_closed(tmp_path: Path) -> None:
    """A session that dies without closing leaves WAVs holding all but the last second."""
    recorder = Recorder(tmp_path)
    assert frames(tmp_path / "user.wav") == b""  # a WAV from the start
    sent = b"".join(chunk(i) for i in range(5 * 50 + 7))  # 5.14 s
    for i in range(0, len(sent), 1001):  # odd-sized pieces, across the flushes
        recorder.user_audio(sent[i : i + 1001])
    readable = frames(tmp_path / "user.wav")
    assert len(sent) - RATE * 2 <= len(readable) <= len(sent)
    assert readable == sent[: len(readable)]
    recorder.close()
    assert frames(tmp_path / "user.wav") == sent


def test_a_recorder_dropped_without_close_finishes_its_files(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.user_audio(chunk(1) + b"\x07")
    recorder.event(app.SpeechStarted(item_id="item_1", audio_start_ms=0))
    assert frames(tmp_path / "user.wav") == b""  # less than a second: not flushed yet
    del recorder
    gc.collect()
    assert frames(tmp_path / "user.wav") == chunk(1)
    assert (tmp_path / "transcript.jsonl").read_text(encoding="utf-8").count("\n") == 1
