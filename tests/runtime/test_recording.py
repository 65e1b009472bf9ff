"""The Recorder: both sides on one timeline (the user where the session took their audio,
the assistant where its audio played, cut at a barge-in), a stereo ``conversation.wav``,
bounded memory, readable files before close, and an earlier recording left alone until
the new one starts."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import tracemalloc
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime_agent.audio.format import PCM16_24K, ULAW_8K
from realtime_agent.audio.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from realtime_agent.audio.sinks import ClockSink, ManualClock
from realtime_agent.errors import ConnectError
from realtime_agent.protocol import events as app
from realtime_agent.runtime import Agent, connect
from realtime_agent.runtime.recording import FILES, FORMAT, VERSION, Recorder
from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.recorded import record_conversation
from tests.runtime.conftest import collect_until, next_of

RATE = 24000
CHUNK = RATE // 50 * 2  # 20 ms of mono pcm16
FRAME = RATE // 50  # 20 ms, in samples: the tolerance of the real-time alignment
PATTERN = bytes(range(256)) * 8


def chunk(i: int) -> bytes:
    """A distinct 20 ms chunk for each i (so a chunk lost, doubled or moved shows)."""
    return PATTERN[i % 997 : i % 997 + CHUNK]


def tone(seconds: float, hz: float = 440.0, level: int = 8000) -> bytes:
    t = np.arange(round(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * level).astype("<i2").tobytes()


def frames(path: Path, rate: int = RATE) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        return wav.readframes(wav.getnframes())


def stereo(path: Path) -> tuple[bytes, bytes]:
    """conversation.wav's left and right channels."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        both = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    return both[:, 0].tobytes(), both[:, 1].tobytes()


def padded(pcm: bytes, samples: int) -> bytes:
    return pcm + bytes(samples * 2 - len(pcm))


def digest(path: Path, channel: int | None = None) -> tuple[int, str]:
    """The frame count and hash of a WAV's audio (or of one channel), read in blocks."""
    hashed = hashlib.sha256()
    with wave.open(str(path), "rb") as wav:
        channels = wav.getnchannels()
        while block := wav.readframes(RATE):
            if channel is not None:
                block = np.frombuffer(block, "<i2")[channel::channels].tobytes()
            hashed.update(block)
        return wav.getnframes(), hashed.hexdigest()


def lines(directory: Path) -> list[dict[str, Any]]:
    text = (directory / "transcript.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def position_of(audio: bytes, track: bytes) -> int:
    """Where ``audio`` begins in ``track`` (in samples), found by its first sound."""
    sound = int(np.flatnonzero(np.frombuffer(audio, "<i2"))[0])  # past any silence
    found = track.find(audio[sound * 2 : sound * 2 + CHUNK])
    assert found >= 0 and found % 2 == 0
    return found // 2 - sound


def at(seconds: float) -> int:
    """A position on the timeline, in bytes of mono pcm16."""
    return round(seconds * RATE) * 2


def test_ten_minutes_of_audio_stream_to_disk_in_bounded_memory(tmp_path: Path) -> None:
    chunks = 10 * 60 * 50  # ten minutes of 20 ms chunks, each side
    user, assistant = hashlib.sha256(), hashlib.sha256()
    clock = ManualClock()
    tracemalloc.start()
    try:
        recorder = Recorder(tmp_path, rate=RATE, clock=clock)
        recorder.start()
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(chunks):
            audio = chunk(i)
            recorder.user_audio(audio)
            user.update(audio)
            audio = chunk(i + 500)
            recorder.assistant_audio(audio)
            assistant.update(audio)
            clock.advance(0.02)  # conversation.wav follows, a second at a time
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 57.6 MB of audio went through (and 57.6 MB into conversation.wav); none kept.
    assert current - held < 64 * 1024
    assert peak - held < 512 * 1024
    paths = recorder.close()
    assert paths == [tmp_path / name for name in FILES]
    assert paths == [tmp_path / n for n in ("user.wav", "assistant.wav", "conversation.wav")] + [
        tmp_path / "transcript.jsonl"
    ]
    assert digest(paths[0]) == (chunks * CHUNK // 2, user.hexdigest())
    assert digest(paths[1]) == (chunks * CHUNK // 2, assistant.hexdigest())
    assert digest(paths[2], channel=0) == (chunks * CHUNK // 2, user.hexdigest())
    assert digest(paths[2], channel=1) == (chunks * CHUNK // 2, assistant.hexdigest())


def test_odd_chunks_keep_every_whole_sample_and_drop_only_a_last_odd_byte(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path, rate=16000, clock=ManualClock())
    sent = b""
    for size in (1, 3, 2, 5, 0, 7, 1, 4):  # 23 bytes: 11 samples and a byte left over
        audio = PATTERN[len(sent) : len(sent) + size]
        recorder.user_audio(audio)
        sent += audio
    recorder.assistant_audio(b"\x01")  # never a whole sample
    recorder.close()
    assert frames(tmp_path / "user.wav", 16000) == sent[:22]
    assert frames(tmp_path / "assistant.wav", 16000) == b""
    assert lines(tmp_path)[0]["rate"] == 16000


def test_close_is_idempotent_and_audio_after_it_is_ignored(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, clock=ManualClock())
    recorder.user_audio(chunk(1))
    recorder.event(app.SpeechStarted(item_id="item_1", audio_start_ms=0))
    assert not recorder.closed
    assert len(recorder.close()) == 4
    assert recorder.closed and recorder.close() == []
    recorder.user_audio(chunk(2))
    recorder.assistant_audio(chunk(3))
    recorder.event(app.SpeechStarted(item_id="item_2", audio_start_ms=0))
    assert frames(tmp_path / "user.wav") == chunk(1)
    assert frames(tmp_path / "assistant.wav") == b""
    assert [line["event"] for line in lines(tmp_path)] == [
        "Recording",
        "SpeechStarted",
        "RecordingEnd",
    ]


def test_the_header_says_what_the_file_is(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, clock=ManualClock())
    recorder.start()
    recorder.close()
    header, end = lines(tmp_path)
    assert header["t"] == 0.0 and header["event"] == "Recording"
    assert (header["format"], header["version"], header["rate"]) == (FORMAT, VERSION, RATE)
    assert (header["input_format"], header["output_format"]) == ("pcm16", "pcm16")
    assert end == {"t": 0.0, "event": "RecordingEnd", "duration": 0.0}


def test_the_files_are_readable_wavs_before_the_recorder_is_closed(tmp_path: Path) -> None:
    """A session that dies without closing leaves WAVs holding all but the last second."""
    clock = ManualClock()
    recorder = Recorder(tmp_path, clock=clock)
    recorder.start()
    assert frames(tmp_path / "user.wav") == b""  # a WAV from the start
    assert stereo(tmp_path / "conversation.wav") == (b"", b"")
    sent = b"".join(chunk(i) for i in range(5 * 50 + 7))  # 5.14 s
    for i in range(0, len(sent), 1000):  # pieces of 1000 bytes (20.8 ms), in real time
        recorder.user_audio(sent[i : i + 1000])
        clock.advance(500 / RATE)
    readable = frames(tmp_path / "user.wav")
    assert len(sent) - RATE * 2 <= len(readable) <= len(sent)
    assert readable == sent[: len(readable)]
    left, right = stereo(tmp_path / "conversation.wav")  # a second or two behind
    assert len(sent) - 3 * RATE * 2 <= len(left) <= len(sent)
    assert left == sent[: len(left)] and right == bytes(len(left))
    recorder.close()
    assert frames(tmp_path / "user.wav") == sent
    assert stereo(tmp_path / "conversation.wav") == (sent, bytes(len(sent)))


def test_a_recorder_dropped_without_close_finishes_its_files(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, clock=ManualClock())
    recorder.user_audio(chunk(1) + b"\x07")
    recorder.event(app.SpeechStarted(item_id="item_1", audio_start_ms=0))
    assert frames(tmp_path / "user.wav") == b""  # less than a second: not flushed yet
    del recorder
    gc.collect()
    assert frames(tmp_path / "user.wav") == chunk(1)
    assert stereo(tmp_path / "conversation.wav") == (chunk(1), bytes(CHUNK))
    assert [line["event"] for line in lines(tmp_path)][-1] == "RecordingEnd"


def snapshot(directory: Path) -> dict[str, bytes]:
    """The directory's files, as they are on disk."""
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def _old_recording(directory: Path) -> dict[str, bytes]:
    """An earlier recording's files, as they are on disk."""
    recorder = Recorder(directory, clock=ManualClock())
    recorder.user_audio(tone(0.5))
    recorder.event(app.Transcript(item_id="item_1", role="user", text="the old one"))
    recorder.close()
    (directory / "notes.txt").write_text("mine")
    return snapshot(directory)


def test_nothing_is_replaced_before_the_recording_starts(tmp_path: Path) -> None:
    before = _old_recording(tmp_path)
    assert set(before) == {*FILES, "notes.txt"}
    recorder = Recorder(tmp_path)
    assert not recorder.started and recorder.started_at is None
    assert recorder.close() == []  # never started: nothing written
    assert snapshot(tmp_path) == before
    (tmp_path / "report.html").write_text("<p>the old recording's report</p>")
    recorder = Recorder(tmp_path, clock=ManualClock())
    recorder.start()  # now the files are the new recording's; a report of the old one goes
    assert not (tmp_path / "report.html").exists()
    assert frames(tmp_path / "user.wav") == b""
    recorder.close()
    assert (tmp_path / "notes.txt").read_text() == "mine"


async def test_a_session_that_cannot_connect_leaves_the_earlier_recording(
    tmp_path: Path,
) -> None:
    before = _old_recording(tmp_path)
    session = connect(Agent(), url="ws://127.0.0.1:9/v1/realtime", record=tmp_path)
    with pytest.raises(ConnectError):
        async with session:
            pass
    assert session.recorder is not None and not session.recorder.started
    assert snapshot(tmp_path) == before


def test_each_side_is_placed_on_one_timeline(tmp_path: Path) -> None:
    """The user where their audio was taken; the assistant where the sink played it, end
    to end while the sink had audio queued, cut where a barge-in cleared it."""
    clock = ManualClock()
    recorder = Recorder(tmp_path, clock=clock)
    sink = recorder.tap(ClockSink(clock=clock))
    recorder.start()
    question = tone(0.2, 300)
    clock.advance(0.5)  # a pause: the user's track is silent until 0.5 s
    for i in range(0, len(question), CHUNK):
        recorder.user_audio(question[i : i + CHUNK])
        clock.advance(0.02)
    clock.advance(0.3)  # 1.0 s: the answer comes; the sink plays it now
    first, second = tone(0.5, 500), tone(0.5, 700)
    sink.write(first)
    clock.advance(0.1)
    sink.write(second)  # queued behind the first: it plays from 1.5 s
    clock.advance(0.2)  # 1.3 s: the caller speaks over it
    assert sink.clear() == round(0.7 * RATE)
    clock.advance(0.7)  # 2.0 s: another answer, the sink idle
    third = tone(0.2, 900)
    sink.write(third)
    clock.advance(0.2)
    recorder.close()

    user, assistant = frames(tmp_path / "user.wav"), frames(tmp_path / "assistant.wav")
    assert user == bytes(at(0.5)) + question
    assert assistant == bytes(at(1.0)) + first[: at(0.3)] + bytes(at(0.7)) + third
    left, right = stereo(tmp_path / "conversation.wav")
    assert (left, right) == (padded(user, len(assistant) // 2), assistant)
    recorded = lines(tmp_path)
    [cut] = [line for line in recorded if line["event"] == "PlaybackCut"]
    assert cut == {"t": 1.3, "event": "PlaybackCut", "at": 1.3, "dropped_ms": 700.0}
    assert recorded[-1] == {"t": 2.2, "event": "RecordingEnd", "duration": 2.2}


def test_a_senders_jitter_is_no_gap_but_a_pause_is_silence(tmp_path: Path) -> None:
    clock = ManualClock()
    recorder = Recorder(tmp_path, clock=clock)
    recorder.start()
    late_ms = (0, 5, 60, 45, 90, 75, 55, 35, 15, 0)  # frame k at 20 k ms, this late
    for k, late in enumerate(late_ms):
        clock.advance(max(0.0, k * 0.02 + late / 1000 - clock.now))
        recorder.user_audio(chunk(k))
    # The sender stops for half a second: the next frame is placed at its time.
    clock.advance(max(0.0, len(late_ms) * 0.02 + 0.5 - clock.now))
    recorder.user_audio(chunk(99))
    recorder.close()
    laid = b"".join(chunk(k) for k in range(len(late_ms)))
    assert frames(tmp_path / "user.wav") == laid + bytes(at(0.5)) + chunk(99)


def test_g711_sides_are_recorded_as_pcm16_on_the_same_timeline(tmp_path: Path) -> None:
    clock = ManualClock()
    recorder = Recorder(tmp_path, clock=clock)
    sink = recorder.tap(ClockSink(rate=8000, sample_width=1, clock=clock))
    recorder.start(input_format=PCM16_24K, output_format=ULAW_8K)  # a phone line out
    assert recorder.rate == 8000  # the session's output rate
    said = tone(0.5)  # 24 kHz: resampled to the recording's 8 kHz
    recorder.user_audio(said)
    clock.advance(1.0)
    answer = pcm16_to_ulaw(np.asarray(np.frombuffer(tone(0.25), "<i2")[::3]).tobytes())
    sink.write(answer)  # 0.25 s of μ-law at 8 kHz, playing from 1.0 s
    clock.advance(0.25)
    recorder.close()
    assert lines(tmp_path)[0]["input_format"] == "pcm16"
    assert lines(tmp_path)[0]["output_format"] == "ulaw"
    user = frames(tmp_path / "user.wav", 8000)
    assert abs(len(user) // 2 - 4000) <= 1  # half a second at 8 kHz
    assert frames(tmp_path / "assistant.wav", 8000) == bytes(8000 * 2) + ulaw_to_pcm16(answer)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a full disk)")
def test_a_recording_that_cannot_be_written_stops_and_the_caller_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "user.wav").symlink_to("/dev/full")
    recorder = Recorder(tmp_path, clock=ManualClock())
    with caplog.at_level(logging.WARNING, logger="realtime_agent.recording"):
        for i in range(3 * 50):  # past the first flush, every write fails
            recorder.user_audio(chunk(i))
            recorder.event(app.SpeechStarted(item_id=f"item_{i}", audio_start_ms=0))
    assert isinstance(recorder.error, OSError) and recorder.closed
    assert recorder.close() == []
    [warning] = caplog.records
    assert warning.getMessage().startswith(f"the recording in {tmp_path} stops: ")


async def test_a_session_records_where_it_played_and_cut_on_a_manual_clock(
    tmp_path: Path, no_task_left: None
) -> None:
    clock = ManualClock()
    sink = ClockSink(clock=clock)
    recorder = Recorder(tmp_path, clock=clock)
    answer = "the quick brown fox jumps over the lazy dog while the cat sleeps in the sun"
    async with LocalRealtimeServer(responder=ScriptedResponder([answer])) as server:
        agent = Agent(turn_detection=None)  # push-to-talk: only the test interrupts
        async with connect(agent, url=server.url, audio_out=sink, record=recorder) as session:
            assert recorder.started_at == 0.0  # the clock's time when it connected
            clock.advance(0.5)
            said = tone(0.3)
            await session.send_audio(said)
            clock.advance(0.5)  # 1.0 s
            await session.send_text("go")
            seen = await collect_until(session, app.AudioEnd)
            received = b"".join(e.audio for e in seen if isinstance(e, app.AudioDelta))
            clock.advance(0.4)  # 400 ms of it heard
            await session.interrupt()
            cut = await next_of(session, app.AudioInterrupted)
    assert cut.played_ms == 400
    user, assistant = frames(tmp_path / "user.wav"), frames(tmp_path / "assistant.wav")
    assert user == bytes(at(0.5)) + said
    assert assistant == bytes(at(1.0)) + received[: at(0.4)]
    left, right = stereo(tmp_path / "conversation.wav")
    assert (left, right) == (padded(user, len(assistant) // 2), assistant)
    [line] = [line for line in lines(tmp_path) if line["event"] == "PlaybackCut"]
    assert line["at"] == 1.4 and line["dropped_ms"] > 0


@pytest.mark.loop_block_limit(0.3, reason="one-time costs of the first local-server test")
async def test_a_real_time_conversation_is_aligned_within_a_frame(tmp_path: Path) -> None:
    run = await record_conversation(tmp_path)
    user, assistant = frames(tmp_path / "user.wav"), frames(tmp_path / "assistant.wav")
    recorded = lines(tmp_path)
    turns = {line["turn"]: line for line in recorded if line["event"] == "TurnMetrics"}
    stopped = {line["item_id"]: line["t"] for line in recorded if line["event"] == "SpeechStopped"}
    [cut] = [line for line in recorded if line["event"] == "PlaybackCut"]
    [interrupted] = [line for line in recorded if line["event"] == "AudioInterrupted"]
    [summary] = [line for line in recorded if line["event"] == "SessionSummary"]
    assert set(run.audio) == set(run.first_heard_at) and len(run.audio) == 2
    for item_id, audio in run.audio.items():
        # Each answer is in assistant.wav where the playout says its first sample played,
        start = position_of(audio, assistant)
        heard = (run.first_heard_at[item_id] - run.started_at) * RATE
        assert abs(start - heard) <= FRAME
        # and where its turn's figure puts it: first_heard_ms after the caller stopped.
        turn = max(
            (t for t in turns.values() if stopped[t["item_id"]] < start / RATE),
            key=lambda t: stopped[t["item_id"]],
        )
        expected = (stopped[turn["item_id"]] + turn["first_heard_ms"] / 1000) * RATE
        assert abs(start - expected) <= FRAME
        if item_id == interrupted["item_id"]:  # cut where it was heard, and no later
            end = start + interrupted["played_ms"] * RATE // 1000
            assert abs(cut["at"] * RATE - end) <= FRAME
            if summary["underruns"] == 0:  # else the sink's pauses are in the file too
                # Both in whole milliseconds: played_ms rounded down, the cut's ``at`` rounded.
                assert -RATE // 2000 - 1 <= cut["at"] * RATE - end <= RATE * 3 // 2000 + 1
                assert assistant[start * 2 : end * 2] == audio[: (end - start) * 2]
            end = round(cut["at"] * RATE)
            after = end + RATE // 1000  # t and played_ms are whole milliseconds
            assert not any(assistant[after * 2 : after * 2 + at(0.2)])
        else:
            if summary["underruns"] == 0:
                assert assistant[start * 2 :] == audio  # the last answer, all of it heard
    # The caller's barge-in is in user.wav where it was due: their audio did not drift.
    assert run.caller.barge_in_due_at is not None
    due = (run.caller.barge_in_due_at - run.started_at) * RATE
    assert abs(position_of(run.caller.barge_in, user) - due) <= FRAME
    left, right = stereo(tmp_path / "conversation.wav")
    length = max(len(user), len(assistant)) // 2
    assert (left, right) == (padded(user, length), padded(assistant, length))
