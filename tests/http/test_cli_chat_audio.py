"""``realtime-agent chat-audio``: end to end offline (the local stack in the process), against
a URL, its bad invocations (one line, exit 2), its failures (one line, exit 1), and its
progress line on a terminal."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from realtime_agent.cli import main
from realtime_agent.http.command import ChatAudioOptions, Progress, run_chat_audio
from realtime_agent.web import WebSettings
from realtime_agent.web.settings import HTTP_KEY_ENV
from tests.http.canned import Canned, canned_server, sse
from tests.web.conftest import running_web

PREFIX = "realtime-agent chat-audio: "
GREETING = "Hello! This is the local Realtime server, a stand-in for the model."


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv(HTTP_KEY_ENV, raising=False)


def offline_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", HTTP_KEY_ENV)}


def wav_frames(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        return wav.getnframes()


def test_it_writes_a_wav_offline_printing_the_transcript(tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    result = subprocess.run(
        [sys.executable, "-m", "realtime_agent.cli", "chat-audio", "Hello", "--out", str(out),
         "--fast"],
        capture_output=True,
        text=True,
        timeout=120,
        env=offline_env(),
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    transcript, final = result.stdout.splitlines()
    assert transcript.startswith(GREETING)
    frames = wav_frames(out)
    assert frames > 24000  # over a second
    assert final == f"{out}: {frames / 24000:.2f} s of audio, {out.stat().st_size} bytes"
    err = result.stderr.splitlines()
    assert err[0].startswith("asking the local stack")
    # Not a terminal: the progress is one line, at the end; nothing drawn in place.
    assert err[1:] == [f"{frames / 24000:.1f} s of audio received"]
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


def test_main_takes_the_options_and_the_http_key_of_the_local_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HTTP_KEY_ENV, "a-local-key")  # the stack asks for it; the CLI sends it
    out = tmp_path / "r.wav"
    argv = ["chat-audio", "hi", "--out", str(out), "--fast", "--voice", "marin",
            "--system", "Be brief.", "--model", "gpt-audio"]  # fmt: skip
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith(GREETING)
    assert stdout.rstrip().endswith(f"{out.stat().st_size} bytes")
    assert wav_frames(out) > 0


async def test_a_url_is_asked_with_its_key_and_agoras_endpoint_is_16_khz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HTTP_KEY_ENV, "a-local-key")  # asked for by the stack, sent by the CLI
    out, err = io.StringIO(), io.StringIO()
    async with running_web(WebSettings(pacing="instant")) as running:
        url = running.http + "/audio/chat/completions"
        options = ChatAudioOptions("Hello", tmp_path / "a.wav", url=url)
        assert options.rate == 16000
        status = await run_chat_audio(options, out=out, err=err)
    assert status == 0, err.getvalue()
    assert err.getvalue().startswith(f"asking 127.0.0.1:{running.port}\n")
    with wave.open(str(tmp_path / "a.wav"), "rb") as wav:
        assert wav.getframerate() == 16000 and wav.getnframes() > 8000
    assert out.getvalue().startswith(GREETING)


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/chat/completions"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["   "], "the prompt is empty"),
        (["hi", "--url", "ftp://127.0.0.1/x"], "--url is an http:// or https:// URL"),
        (["hi", "--url", "127.0.0.1:8000/v1/chat/completions"], "--url is an http:// or"),
        (["hi", "--out", "{tmp}"], "is a directory"),
        (["hi", "--out", "{tmp}/missing/r.wav"], "no such directory"),
        (["hi", "--sample-rate", "5"], "--sample-rate is 1000-384000 Hz"),
        (["hi", "--timeout", "0"], "--timeout is a positive number"),
    ],
)
def test_a_bad_invocation_is_one_line_and_exit_2(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "r.wav")]
    assert main(["chat-audio", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(PREFIX)
    assert says in captured.err
    assert captured.out == ""
    assert not (tmp_path / "r.wav").exists()


def test_an_unreachable_url_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = refused_url()
    assert main(["chat-audio", "hi", "--url", url, "--out", str(tmp_path / "r.wav")]) == 1
    asking, failure = capsys.readouterr().err.splitlines()
    assert asking == f"asking {url.split('/')[2]}"
    assert failure.startswith(f"{PREFIX}cannot connect to {url}: ")


async def test_a_refused_key_and_a_cut_stream_are_one_line_and_exit_1(tmp_path: Path) -> None:
    refusal = Canned(
        [b'{"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",'
         b' "param": null, "code": "invalid_api_key"}}'],
        status=401,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    audio = {"choices": [{"index": 0, "delta": {"audio": {"id": "a", "data": "AAAA" * 16000}}}]}
    cut = Canned([sse({"choices": [{"delta": {"content": "Hel"}}]}, audio)], end="drop")
    for canned, says in [
        (refusal, "asks for a key (none was sent): HTTP 401: Incorrect API key provided."),
        (cut, "failed: RemoteProtocolError"),
    ]:
        out, err = io.StringIO(), io.StringIO()
        async with canned_server(canned) as url:
            options = ChatAudioOptions("hi", tmp_path / "r.wav", url=url)
            assert await run_chat_audio(options, out=out, err=err) == 1
        *_, last = err.getvalue().splitlines()
        assert last.startswith(PREFIX) and says in last
        assert err.getvalue().count(PREFIX) == 1
    # The cut stream: what came is kept, and said so.
    assert "r.wav has the 1.0 s received" in last
    assert out.getvalue() == "Hel\n"
    with wave.open(str(tmp_path / "r.wav"), "rb") as wav:
        assert wav.getnframes() == 24000  # the second of audio that came before the drop


@pytest.mark.parametrize(
    ("hidden", "extra"), [("starlette", "realtime-agent[web]"), ("httpx2", "realtime-agent[http]")]
)
def test_a_missing_extra_is_one_line_naming_it(hidden: str, extra: str, tmp_path: Path) -> None:
    # The package is made unimportable in a fresh interpreter, as if not installed.
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "from realtime_agent.cli import main\n"
        f"sys.exit(main(['chat-audio', 'hi', '--out', {str(tmp_path / 'r.wav')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=offline_env(),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(PREFIX)
    assert f"pip install '{extra}'" in result.stderr


async def test_ctrl_c_stops_it_with_one_line_and_exit_130(tmp_path: Path) -> None:
    out = tmp_path / "r.wav"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realtime_agent.cli", "chat-audio", "Hello", "--out", str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=offline_env(),
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        assert line.startswith(b"asking the local stack")  # real-time pacing: seconds to go
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert err.decode().splitlines()[-1] == f"{PREFIX}interrupted ({out} has what came)"
    assert b"Traceback" not in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_shared_with_the_transcript() -> None:
    screen = Terminal()
    progress = Progress(screen, screen)
    progress.text("Hi")
    progress.audio(0.5)
    progress.text(" there")
    progress.audio(0.25)
    progress.finish()
    assert screen.getvalue() == (
        "Hi"
        "\x1b7  [0.5 s of audio]\x1b[K\x1b8"  # after the words, the cursor kept where they go on
        "\x1b[K there"
        "\x1b7  [0.8 s of audio]\x1b[K\x1b8"
        "\x1b[K\n"
        "0.8 s of audio received\n"
    )


def test_progress_on_a_terminal_with_the_transcript_elsewhere() -> None:
    out, err = io.StringIO(), Terminal()
    progress = Progress(out, err)
    progress.text("Hi")
    progress.audio(1.0)
    progress.audio(1.5)
    progress.finish()
    assert out.getvalue() == "Hi\n"
    assert err.getvalue() == (
        "\r1.0 s of audio received\x1b[K\r2.5 s of audio received\x1b[K"
        "\r2.5 s of audio received\x1b[K\n"
    )


def test_progress_off_a_terminal_is_one_final_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    progress = Progress(out, err)
    progress.audio(1.0)
    progress.audio(1.0)
    progress.finish()
    assert (out.getvalue(), err.getvalue()) == ("", "2.0 s of audio received\n")
    failed = Progress(out, err := io.StringIO())
    failed.failed = True
    failed.finish()
    assert err.getvalue() == ""  # no audio before a failure: no figure to give
