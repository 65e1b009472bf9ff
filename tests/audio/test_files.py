"""WAV in and out: any WAV becomes 24 kHz mono pcm16; WavSink keeps what was heard."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from realtime_agent.audio.sinks import ManualClock, WavSink
from realtime_agent.audio.sources import WavSource, read_wav
from realtime_agent.errors import AudioError


def write(path: Path, rate: int, subtype: str, channels: int = 1, seconds: float = 0.5) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.25 * np.sin(2 * np.pi * 300 * t)
    data = np.column_stack([mono] * channels) if channels > 1 else mono
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path


@pytest.fixture(
    params=[
        (24000, "PCM_16", 1),
        (48000, "PCM_24", 2),  # sox's default for 24-bit stereo: WAVE_FORMAT_EXTENSIBLE
        (44100, "FLOAT", 2),
        (16000, "PCM_U8", 1),
        (8000, "PCM_32", 1),
    ],
    ids=lambda param: "-".join(map(str, param)),
)
def any_wav(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A test's input file, written before its loop runs (a cold disk is not the test's)."""
    rate, subtype, channels = request.param
    return write(tmp_path / "in.wav", rate, subtype, channels)


async def test_any_wav_becomes_24k_mono_pcm16_frames(any_wav: Path) -> None:
    path = any_wav
    frames = [frame async for frame in WavSource(path)]
    assert {len(f) for f in frames[:-1]} == {960}
    audio = np.frombuffer(b"".join(frames), "<i2")
    assert abs(audio.size - 12000) <= 1  # 0.5 s at 24 kHz
    level = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert 0.25 * 32768 / np.sqrt(2) * 0.9 < level < 0.25 * 32768 / np.sqrt(2) * 1.1


def test_unreadable_files_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError, match="cannot read audio file") as caught:
        read_wav(bad)
    assert "\n" not in str(caught.value)
    with pytest.raises(AudioError, match="cannot read audio file"):
        WavSource(tmp_path / "missing.wav")


def test_an_unreadable_file_says_what_is_wrong(tmp_path: Path) -> None:
    # libsndfile says "System error." for all of the first three.
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "text.wav").write_text("not audio\n")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "cut.wav").write_bytes(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")
    cases = {
        "missing.wav": "no such file",
        "folder.wav": "it is a directory, not an audio file",
        "text.wav": "not a WAV (or other audio file) that libsndfile reads",
        "empty.wav": "not a WAV (or other audio file) that libsndfile reads",
        "cut.wav": "not an audio file libsndfile reads: Error in WAV file",
    }
    for name, reason in cases.items():
        with pytest.raises(AudioError) as caught:
            read_wav(tmp_path / name)
        message = str(caught.value)
        assert message.startswith(f"cannot read audio file {tmp_path / name}: {reason}"), message
        assert "System error" not in message and "\n" not in message


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_says_so(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.wav", 24000, "PCM_16")
    locked.chmod(0)
    with pytest.raises(AudioError, match=r"locked\.wav: permission denied$"):
        read_wav(locked)


def test_wav_sink_writes_what_was_heard(tmp_path: Path) -> None:
    clock = ManualClock()
    sink = WavSink(tmp_path / "out" / "assistant.wav", clock=clock)
    sink.write(bytes(48 * 100))  # 100 ms
    clock.advance(0.060)
    sink.clear()  # barge-in: the last 40 ms were never heard
    sink.write(b"\x01\x00" * 24 * 20)  # 20 ms more, heard
    clock.advance(1.0)
    path = sink.close()
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        assert wav.getnframes() == 24 * 80
