"""The examples run, offline, as a new user would run them."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
import wave
from pathlib import Path

import pytest

from realtime_agent.demo import sample_wav

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def launch(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def run(name: str, *args: str) -> str:
    result = launch(name, *args)
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
        "conversation.wav",
        "transcript.jsonl",
        "user.wav",
    ]


@pytest.mark.parametrize("from_files", [False, True], ids=["echo", "files"])
def test_audio_modalities_server(tmp_path: Path, from_files: bool) -> None:
    """The server answers the docstring's curl request once, then exits by itself."""
    pytest.importorskip("uvicorn")
    args = ["--port", "0", "--once", "--pacing", "instant"]
    if from_files:
        (tmp_path / "file.txt").write_text("Hello, I am Agora AI Assistant.\n", encoding="utf-8")
        (tmp_path / "file.pcm").write_bytes(bytes(16000 * 2))  # one second of silence
        args += ["--dir", str(tmp_path)]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "REALTIME_AGENT_HTTP_KEY")
    }
    body = {
        "messages": [{"role": "user", "content": "Please generate an audio response"}],
        "stream": True,
        "modalities": ["text", "audio"],
    }
    with subprocess.Popen(
        [sys.executable, str(EXAMPLES / "audio_modalities_server.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as server:
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()  # listening already: the request waits
            request = urllib.request.Request(
                url,
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer any-api-key"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                lines = [line for line in response.read().decode().splitlines() if line]
            _, err = server.communicate(timeout=60)
        finally:
            if server.poll() is None:  # it did not end by itself: the test fails
                server.kill()
    assert server.returncode == 0, err
    assert "Traceback" not in err and "audio chat completion answered" in err
    first, *chunks, last = [line.removeprefix("data: ") for line in lines]
    assert last == "[DONE]"
    transcript = json.loads(first)["choices"][0]["delta"]["audio"]["transcript"]
    pieces = [
        base64.b64decode(json.loads(c)["choices"][0]["delta"]["audio"]["data"]) for c in chunks
    ]
    assert {len(piece) for piece in pieces[:-1]} == {1280}  # 40 ms at 16 kHz
    if from_files:
        assert transcript == "Hello, I am Agora AI Assistant."
        assert b"".join(pieces) == bytes(16000 * 2)
    else:
        assert transcript == "You said: Please generate an audio response"
        assert len(b"".join(pieces)) > 16000  # half a second of speech at least


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("httpx2", "starlette", "uvicorn")),
    reason="needs the http and web extras",
)
def test_chat_audio_to_wav(tmp_path: Path) -> None:
    story = tmp_path / "story.wav"
    out = run("chat_audio_to_wav.py", "--out", str(story), "Tell me a 10 second story")
    offline, transcript, wrote = out.splitlines()
    assert offline.startswith("(no OPENAI_API_KEY: asking the local stack at http://127.0.0.1:")
    assert transcript == "You said: Tell me a 10 second story"
    with wave.open(str(story), "rb") as wav:
        duration = wav.getnframes() / wav.getframerate()
    assert duration > 1.0
    assert wrote == f"wrote {story}: {duration:.2f} s of audio (stop)"


_WEB = ("starlette", "uvicorn")
_HTTP = ("httpx2", "starlette", "uvicorn")


@pytest.mark.parametrize(
    ("needs", "name", "args", "says"),
    [
        pytest.param(
            (),
            "custom_tools.py",
            ["--in", "{tmp}/missing.wav"],
            "missing.wav: no such file",
            id="custom_tools-missing",
        ),
        pytest.param(
            (),
            "custom_tools.py",
            ["--in", "{tmp}"],
            "it is a directory, not an audio file",
            id="custom_tools-directory",
        ),
        pytest.param(
            (),
            "custom_tools.py",
            ["--in", "{tmp}/text.wav"],
            "that libsndfile reads",
            id="custom_tools-not-audio",
        ),
        pytest.param(
            (),
            "mic_demo.py",
            ["--in", "{tmp}/missing.wav"],
            "missing.wav: no such file",
            id="mic_demo-missing",
        ),
        pytest.param(
            _WEB,
            "audio_modalities_server.py",
            ["--dir", "{tmp}/none"],
            "none: no such directory",
            id="audio_modalities_server-no-dir",
        ),
        pytest.param(
            _WEB,
            "audio_modalities_server.py",
            ["--port", "99999"],
            "--port is 0-65535",
            id="audio_modalities_server-port",
        ),
        pytest.param(
            _HTTP,
            "chat_audio_to_wav.py",
            ["--out", "{tmp}"],
            "Is a directory",
            id="chat_audio_to_wav-directory",
        ),
        pytest.param(
            _HTTP,
            "chat_audio_to_wav.py",
            ["--out", "{tmp}/no/x.wav"],
            "No such file",
            id="chat_audio_to_wav-no-dir",
        ),
    ],
)
def test_a_bad_file_is_one_line_not_a_traceback(
    tmp_path: Path, needs: tuple[str, ...], name: str, args: list[str], says: str
) -> None:
    if any(importlib.util.find_spec(module) is None for module in needs):
        pytest.skip(f"needs {', '.join(needs)}")
    (tmp_path / "text.wav").write_text("not audio\n")
    result = launch(name, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # mic_demo.py prints the demo's one line (on stdout, as realtime-agent demo does).
    line = result.stderr or result.stdout.splitlines()[-1] + "\n"
    assert line.count("\n") == 1 and says in line, result.stderr
