"""`realtime-agent demo`: offline, WAV in, recording out, a tool call, one-line errors."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import numpy as np
import soundfile
import soxr

from realtime_agent.cli import main
from realtime_agent.demo import SAMPLE_QUESTION, DemoOptions, run_demo, sample_wav
from tests.speech import REAL


async def test_offline_demo_with_the_bundled_question(tmp_path: Path) -> None:
    out = io.StringIO()
    status = await run_demo(DemoOptions(out=tmp_path / "rec", fast=True), out)
    text = out.getvalue()
    assert status == 0, text
    assert "talking to the local Realtime server" in text
    assert f"[you]        {SAMPLE_QUESTION}" in text
    assert '[tool call]  get_weather({"city": "Paris"})' in text
    assert "[assistant]  Here is what I found: city Paris, sky clear, celsius 21." in text
    assert "(turn 1: first sound " in text and " ms after you stopped speaking; " in text
    assert "; get_weather ran " in text
    assert "wrote " in text and "assistant.wav, transcript.jsonl, user.wav" in text
    with wave.open(str(tmp_path / "rec" / "user.wav")) as user:
        with wave.open(str(sample_wav())) as sample:
            assert user.getnframes() == sample.getnframes()
    with wave.open(str(tmp_path / "rec" / "assistant.wav")) as assistant:
        assert assistant.getnframes() > 24000  # more than a second of reply
    lines = [
        json.loads(line)
        for line in (tmp_path / "rec" / "transcript.jsonl").read_text().splitlines()
    ]
    kinds = [line["event"] for line in lines]
    assert kinds.index("SpeechStopped") < kinds.index("ToolStart") < kinds.index("ToolEnd")
    assert any(line.get("text") == SAMPLE_QUESTION for line in lines)


async def test_demo_with_a_wav_of_your_own(tmp_path: Path) -> None:
    audio, rate = soundfile.read(str(sample_wav()), dtype="float32")
    resampled = soxr.resample(audio, rate, 44100)
    stereo = tmp_path / "question-44k-stereo.wav"
    soundfile.write(str(stereo), np.column_stack([resampled, resampled]), 44100, subtype="FLOAT")
    out = io.StringIO()
    status = await run_demo(DemoOptions(wav_in=stereo, out=None, fast=True), out)
    assert status == 0, out.getvalue()
    if REAL:  # recognized, resampled from 44.1 kHz stereo
        assert f"[you]        {SAMPLE_QUESTION}" in out.getvalue()
        assert '[tool call]  get_weather({"city": "Paris"})' in out.getvalue()
    else:  # no recognition: the placeholder
        assert "[you]        (speech," in out.getvalue()
        assert "[tool call]  get_weather" in out.getvalue()


def test_demo_errors_are_one_line(tmp_path: Path) -> None:
    out = io.StringIO()
    status = asyncio.run(run_demo(DemoOptions(wav_in=tmp_path / "nope.wav", fast=True), out))
    assert status == 2
    assert out.getvalue().count("\n") == 1 and "cannot read audio file" in out.getvalue()
    assert main(["demo", "--in", str(tmp_path / "nope.wav"), "--fast", "--no-record"]) == 2


def test_a_bad_device_or_a_bad_url_is_one_line() -> None:
    out = io.StringIO()
    status = asyncio.run(run_demo(DemoOptions(mic=True, device="no-such-device"), out))
    assert status == 2
    assert out.getvalue().count("\n") == 1 and out.getvalue().startswith("realtime-agent demo: ")
    out = io.StringIO()
    options = DemoOptions(url="ws://127.0.0.1:9/v1/realtime", fast=True, out=None)
    assert asyncio.run(run_demo(options, out)) == 2
    assert "cannot connect" in out.getvalue() and "Traceback" not in out.getvalue()
