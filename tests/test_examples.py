"""The examples run, offline, as a new user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_agent.demo import sample_wav

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str, *args: str) -> str:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.parametrize("spoken", [False, True], ids=["typed", "spoken"])
def test_custom_tools(spoken: bool) -> None:
    out = run("custom_tools.py", *(["--in", str(sample_wav())] if spoken else []))
    assert "tool call: get_weather" in out and "tool call: book_table" in out
    assert "tool done: book_table -> Booked Chez Nous for 2 at 20:00." in out
    assert "assistant: It is clear and 21 degrees in Paris" in out


def test_backend_embed() -> None:
    out = run("backend_embed.py")
    assert "server VAD: the caller is speaking" in out
    assert "assistant cut off after" in out and "truncated at" in out
    assert "assistant said: 'Sure, what else would you like to know?'" in out


def test_hang_up() -> None:
    out = run("hang_up.py")
    assert "assistant: Thanks for calling, goodbye!" in out
    assert "tool call: hang_up" in out and "(hanging up: goodbye said)" in out
    assert out.rstrip().endswith("call ended: closed by the application")


def test_mic_demo_with_a_wav_source(tmp_path: Path) -> None:
    sample = sample_wav()  # the installed package's data (the wheel's, in CI's wheel run)
    out = run("mic_demo.py", "--in", str(sample), "--out", str(tmp_path))
    assert "[tool call]  get_weather" in out
    assert "[assistant]  Here is what I found: city Paris" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "assistant.wav",
        "transcript.jsonl",
        "user.wav",
    ]
