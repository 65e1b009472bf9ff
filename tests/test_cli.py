"""The realtime-agent command line."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from realtime_agent.cli import check_stream, main
from realtime_agent.schema import jsonschema

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-session.jsonl"


def test_schema_check_summarises_the_sample_session(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "check", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("53 events: 24 known types, 1 of unknown types, 0 errors")
    assert "10  response.output_audio.delta" in out
    assert "response.output_audio.timing  (unknown type" in out
    assert "400 ms in, 400 ms out" in out


def test_schema_check_reports_bad_lines_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = tmp_path / "events.jsonl"
    stream.write_text(
        "\n".join(
            [
                '{"type": "session.update", "session": {"type": "realtime"}}',
                '{"type": "response.done", "event_id": "e1", "response": {"status": "paused"}}',
                '{"type": "input_audio_buffer.append", "audio": "AAAA"}',
                '{"type": "conversation.item.truncate", "item_id": "i"',
                "",
                "# a comment",
                '{"type": "response.output_audio.delta", "event_id": "e2", "response_id": "r",'
                ' "item_id": "i", "output_index": 0, "content_index": 0, "delta": "!!"}',
            ]
        )
    )
    assert main(["schema", "check", str(stream)]) == 1
    out = capsys.readouterr().out
    assert "5 events: 2 known types, 0 of unknown types, 3 errors" in out
    assert "line 2: invalid response.done server event: field 'response.status'" in out
    assert "line 4: malformed client frame (type 'conversation.item.truncate'): invalid JSON" in out
    assert "line 7: response.output_audio.delta: field 'delta' is not valid base64" in out


def test_schema_check_reads_the_beta_dialect() -> None:
    lines = [
        '{"type": "response.audio.delta", "event_id": "e", "response_id": "r", "item_id": "i",'
        ' "output_index": 0, "content_index": 0, "delta": "AAAA"}',
        '{"type": "session.update", "session": {"modalities": ["text"], "temperature": 0.7}}',
    ]
    beta = check_stream(lines, dialect="beta")
    assert beta.by_type == {"response.audio.delta": 1, "session.update": 1}
    assert beta.errors == []
    assert beta.output_audio_bytes == 3
    ga = check_stream(lines, dialect="ga")
    assert ga.unknown == {"response.audio.delta": 1}


def test_schema_check_of_a_missing_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "check", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err and "nope.jsonl" in err


def test_schema_check_of_a_binary_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "audio.wav"
    binary.write_bytes(b"RIFF\xff\xfe\x00\x00WAVE")
    assert main(["schema", "check", str(binary)]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_schema_export_writes_what_the_models_generate(tmp_path: Path) -> None:
    assert main(["schema", "export", str(tmp_path)]) == 0
    for name, schema in jsonschema.generate().items():
        assert json.loads((tmp_path / name).read_text()) == schema


def test_console_script_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "realtime_agent.cli", "schema", "check", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "0 errors" in result.stdout


@contextlib.asynccontextmanager
async def serving(*argv: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``realtime-agent ARGV`` (a ``serve`` on port 0) in its own process: it and its URL,
    read from its first line. Killed at the end if it still runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("local Realtime server at ws://127.0.0.1:"), line
        yield process, line.split(" at ", 1)[1].strip()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def interrupted(process: asyncio.subprocess.Process) -> bytes:
    """Ctrl-C to ``process``; its stderr, once it ended."""
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    return err


async def test_serve_runs_the_local_server_until_interrupted() -> None:
    from tests.server.client import client

    async with serving("serve", "--port", "0", "--pacing", "instant") as (process, url):
        async with client(url) as peer:
            assert peer.received[0]["type"] == "session.created"
        err = await interrupted(process)
    assert process.returncode == 0
    assert b"Traceback" not in err


def test_serve_with_a_bad_pacing_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--pacing", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "realtime-agent:" in err


def test_serve_limits_default_to_the_servers() -> None:
    from realtime_agent.cli import _local_server, _parser
    from realtime_agent.server import LocalRealtimeServer

    served, default = _local_server(_parser().parse_args(["serve"])), LocalRealtimeServer()
    assert served.max_message_bytes == default.max_message_bytes == 32 * 1024 * 1024
    assert served.max_connections == default.max_connections == 1000
    assert served.allowed_origins is default.allowed_origins is None
    assert served.max_outbound_bytes == default.max_outbound_bytes == 16 * 1024 * 1024


def test_serve_limit_options_reach_the_server() -> None:
    from realtime_agent.cli import _local_server, _parser

    args = _parser().parse_args(
        [
            "serve",
            "--max-message-bytes",
            "64K",
            "--max-connections",
            "none",
            "--allowed-origin",
            "http://localhost:3000",
            "--allowed-origin",
            "https://app.example",
            "--max-outbound-bytes",
            "1.5MiB",
        ]
    )
    server = _local_server(args)
    assert server.max_message_bytes == 64 * 1024
    assert server.max_connections is None
    assert server.allowed_origins == frozenset({"http://localhost:3000", "https://app.example"})
    assert server.max_outbound_bytes == 1024 * 1024 * 3 // 2
    unlimited = _parser().parse_args(["serve", "--max-message-bytes", "none"])
    assert _local_server(unlimited).max_message_bytes is None


@pytest.mark.parametrize(
    "option",
    [
        ["--max-message-bytes", "lots"],
        ["--max-message-bytes", "0"],
        ["--max-outbound-bytes", "inf"],
        ["--max-connections", "0"],
        ["--max-connections", "many"],
    ],
)
def test_serve_with_a_bad_limit_is_one_clear_line(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"realtime-agent: {option[0]}")


async def test_serve_enforces_its_connection_cap_and_origins() -> None:
    from websockets.exceptions import InvalidStatus

    from tests.server.client import client

    argv = ("serve", "--port", "0", "--max-connections", "1")
    async with serving(*argv, "--allowed-origin", "http://localhost:3000") as (process, url):
        async with client(url, [("Origin", "http://localhost:3000")]) as peer:
            assert peer.received[0]["type"] == "session.created"
            for headers, status in (([("Origin", "https://evil.example")], 403), ([], 503)):
                with pytest.raises(InvalidStatus) as refused:
                    async with client(url, headers):
                        pass
                assert refused.value.response.status_code == status
        err = await interrupted(process)
    assert process.returncode == 0
    assert b"Traceback" not in err


# --- mistakes: one line on stderr, a non-zero exit, never a traceback ----------------------

_WEB = ("starlette", "uvicorn")
_HTTP = ("httpx2",)


@dataclass(frozen=True)
class Mistake:
    """A bad invocation: ``argv`` (``{tmp}`` a fresh folder, ``{busy}`` a port in use), what
    its one line of stderr must say, and the extras it needs to get that far."""

    argv: tuple[str, ...]
    says: str
    needs: tuple[str, ...] = ()
    status: int = 2

    def args(self, tmp: Path, busy: int) -> list[str]:
        return [arg.format(tmp=tmp, busy=busy) for arg in self.argv]


MISTAKES = [
    # serve
    Mistake(("serve", "--port", "99999"), "argument --port: a port is 0-65535"),
    Mistake(("serve", "--port", "-1"), "a port is 0-65535 (0: any free one), not '-1'"),
    Mistake(("serve", "--port", "http"), "a port is 0-65535"),
    Mistake(("serve", "--port", "{busy}"), "cannot listen on 127.0.0.1:{busy}"),
    Mistake(("serve", "--pacing", "fast"), "--pacing is 'instant' or how many times real time"),
    Mistake(("serve", "--pacing", "0"), "(a number above 0: 1 is real time"),
    Mistake(("serve", "--pacing", "nan"), "--pacing is 'instant' or"),
    Mistake(("serve", "--pacing", "inf"), "--pacing is 'instant' or"),
    Mistake(("serve", "--vad", "loud"), "argument --vad: invalid choice: 'loud'"),
    Mistake(("serve", "--max-connections", "many"), "--max-connections: not a number"),
    Mistake(("serve", "--max-message-bytes", "lots"), "--max-message-bytes: not a size"),
    Mistake(("serve", "--script", "{tmp}/missing.toml"), "missing.toml: cannot read it"),
    Mistake(("serve", "--script", "{tmp}/bad.toml"), "bad.toml:2: turn 1: unknown key 'sya'"),
    Mistake(("serve", "--api-key"), "argument --api-key: expected one argument"),
    # web
    Mistake(("web", "--port", "65536"), "argument --port: a port is 0-65535", _WEB),
    Mistake(("web", "--workers", "0"), "--workers must be at least 1, not 0", _WEB),
    Mistake(("web", "--workers", "two"), "argument --workers: invalid int value", _WEB),
    Mistake(("web", "--upstream", "http://x"), "--upstream is a ws:// or wss:// URL", _WEB),
    Mistake(("web", "--agent", "nocolon"), "--agent takes module:attribute", _WEB),
    Mistake(("web", "--agent", "no_such_module_x:agent"), "cannot import no_such_module_x", _WEB),
    Mistake(("web", "--drain-timeout", "-1"), "(--drain-timeout) is 0 or more seconds", _WEB),
    Mistake(("web", "--public-url", "voice.example.com"), "(--public-url) is the base URL", _WEB),
    Mistake(("web", "--audio-dir", "{tmp}/none"), "--audio-dir {tmp}/none: no such dir", _WEB),
    Mistake(("web", "--audio-rate", "5"), "(--audio-rate) is 8000-48000 Hz", _WEB),
    Mistake(("web", "--port", "{busy}"), "cannot listen on 127.0.0.1:{busy}", _WEB),
    # schema
    Mistake(("schema",), "the following arguments are required: COMMAND"),
    Mistake(("schema", "lint"), "argument COMMAND: invalid choice: 'lint'"),
    Mistake(("schema", "check"), "the following arguments are required: file"),
    Mistake(("schema", "check", "{tmp}/missing.jsonl"), "missing.jsonl: No such file"),
    Mistake(("schema", "check", "{tmp}"), "cannot read {tmp}: Is a directory"),
    Mistake(("schema", "check", "{tmp}/audio.wav"), "audio.wav is not UTF-8 text"),
    Mistake(("schema", "check", "--dialect", "v2", "x"), "argument --dialect: invalid choice"),
    Mistake(("schema", "export", "{tmp}/file.txt"), "cannot write {tmp}/file.txt/ga: Not a dir"),
    # devices
    Mistake(("devices", "--all"), "unrecognized arguments: --all"),
    # chat-audio
    Mistake(("chat-audio",), "the following arguments are required: prompt"),
    Mistake(("chat-audio", " "), "the prompt is empty", _HTTP),
    Mistake(("chat-audio", "hi", "--out", "{tmp}"), "--out {tmp} is a directory", _HTTP),
    Mistake(("chat-audio", "hi", "--out", "{tmp}/no/a.wav"), "no such directory", _HTTP),
    Mistake(("chat-audio", "hi", "--url", "ftp://x"), "--url is an http:// or https://", _HTTP),
    Mistake(("chat-audio", "hi", "--timeout", "soon"), "argument --timeout: invalid float"),
    Mistake(("chat-audio", "hi", "--sample-rate", "0"), "--sample-rate is 1000-384000", _HTTP),
    # demo: its argparse-level mistakes (the rest are tests/test_demo.py's)
    Mistake(("demo", "--timeout", "abc"), "argument --timeout: "),
    Mistake(("demo", "--half-duplex", "loud"), "argument --half-duplex: "),
    Mistake(("demo", "--bogus"), "unrecognized arguments: --bogus"),
    # sample
    Mistake(("sample", "{tmp}/file.txt"), "{tmp}/file.txt exists: not overwritten"),
    Mistake(("sample", "{tmp}/no/q.wav"), "cannot write {tmp}/no/q.wav: No such file"),
    # the command itself, and the logging options
    Mistake((), "the following arguments are required: COMMAND"),
    Mistake(("serv",), "argument COMMAND: invalid choice: 'serv'"),
    Mistake(("--log-level", "LOUD", "devices"), "argument --log-level: invalid choice: 'LOUD'"),
    Mistake(("devices", "--log-level"), "argument --log-level: expected one argument"),
]

# Run as the user runs them, each in a process of its own: one of each kind at least.
IN_PROCESSES = [
    ("serve", "--port", "99999"),
    ("serve", "--pacing", "fast"),
    ("serve", "--port", "{busy}"),
    ("web", "--port", "65536"),
    ("web", "--drain-timeout", "-1"),
    ("schema", "export", "{tmp}/file.txt"),
    ("schema", "check", "{tmp}"),
    ("devices", "--all"),
    ("chat-audio", "hi", "--out", "{tmp}"),
    ("demo", "--timeout", "abc"),
    ("sample", "{tmp}/file.txt"),
    ("--log-level", "LOUD", "devices"),
    (),
]


@pytest.fixture
def workbench(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """The files the mistakes name, and a port that is taken."""
    (tmp_path / "bad.toml").write_text('[[turn]]\nsya = "It is sunny."\n')
    (tmp_path / "audio.wav").write_bytes(b"RIFF\xff\xfe\x00\x00WAVE")
    (tmp_path / "file.txt").write_text("a file\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield tmp_path, busy.getsockname()[1]


def _missing(needs: tuple[str, ...]) -> list[str]:
    return [name for name in needs if importlib.util.find_spec(name) is None]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: " ".join(m.argv) or "(nothing)")
def test_a_mistake_is_one_line_and_a_non_zero_exit(
    mistake: Mistake,
    workbench: tuple[Path, int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if _missing(mistake.needs):
        pytest.skip(f"needs {', '.join(_missing(mistake.needs))}")
    monkeypatch.delenv("REALTIME_AGENT_WEB_SECRET", raising=False)  # web sets one
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    tmp, busy = workbench
    assert main(mistake.args(tmp, busy)) == mistake.status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert mistake.says.format(tmp=tmp, busy=busy) in err, err
    assert err.startswith("realtime-agent"), err


def test_mistakes_in_their_own_processes_are_one_line(workbench: tuple[Path, int]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tmp, busy = workbench
    by_argv = {m.argv: m for m in MISTAKES}
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "PYTHONWARNINGS")}

    def run(mistake: Mistake) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "realtime_agent.cli", *mistake.args(tmp, busy)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    chosen = [by_argv[argv] for argv in IN_PROCESSES if not _missing(by_argv[argv].needs)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # a second each, mostly imports
        results = list(pool.map(run, chosen))
    for mistake, result in zip(chosen, results, strict=True):
        err = result.stderr
        assert result.returncode == mistake.status, (mistake.argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (mistake.argv, err)
        assert mistake.says.format(tmp=tmp, busy=busy) in err, (mistake.argv, err)


def test_pacing_is_instant_or_a_finite_speed_above_zero() -> None:
    from realtime_agent.cli import _local_server, _parser
    from realtime_agent.server import Pacing

    for text, speed in (("instant", None), ("Instant", None), ("1", 1.0), ("2.5", 2.5)):
        assert _local_server(_parser().parse_args(["serve", "--pacing", text])).pacing == (
            Pacing(speed)
        )
    for text in ("fast", "0", "-1", "nan", "inf", ""):
        with pytest.raises(ValueError, match="--pacing is 'instant' or"):
            _local_server(_parser().parse_args(["serve", "--pacing", text]))
        if text not in ("fast", ""):
            with pytest.raises(ValueError, match="finite number above 0"):
                Pacing.times(float(text))


# --- visibility: -v logs each connection of serve ------------------------------------------

_SERVE_KEY = "sk-local-Zq9Xv4Lm2Rt7Wb1Nc8"


async def test_serve_with_v_logs_each_connection_its_dialect_refusals_and_ends() -> None:
    from websockets.exceptions import InvalidStatus

    from tests.server.client import client

    argv = (
        "-v",
        "serve",
        "--port",
        "0",
        "--api-key",
        _SERVE_KEY,
        "--max-connections",
        "2",
        "--allowed-origin",
        "http://localhost:3000",
    )
    async with serving(*argv) as (process, url):
        assert process.stderr is not None
        stderr = process.stderr
        seen: list[str] = []

        async def logged(text: str) -> str:
            """The next line of the server's log that says ``text`` (read as it comes)."""
            while True:
                line = (await asyncio.wait_for(stderr.readline(), 30)).decode()
                assert line, f"serve ended before it logged {text!r}: {seen}"
                seen.append(line)
                if text in line:
                    return line

        bearer = [("Authorization", f"Bearer {_SERVE_KEY}")]
        base = url.split("/v1/", 1)[0]
        for where, headers, dialect in [
            (url, bearer, "GA, model 'gpt-realtime', sess_"),
            (url, [*bearer, ("OpenAI-Beta", "realtime=v1")], "beta, model 'gpt-realtime'"),
            (
                base + "/openai/realtime?api-version=2024-10-01-preview&deployment=voice",
                [("api-key", _SERVE_KEY)],
                "Azure preview (beta), model 'voice'",
            ),
            (
                base + "/openai/v1/realtime?model=gpt-realtime",
                [("api-key", _SERVE_KEY)],
                "Azure GA",
            ),
        ]:
            async with client(where, headers):
                connected = await logged(" connected: ")
            assert dialect in connected, connected
            assert "INFO realtime_agent.server: 127.0.0.1:" in connected
            peer = connected.split("realtime_agent.server: ", 1)[1].split(" ", 1)[0]
            ended = await logged(" ended after ")
            assert f"{peer} ended after " in ended and "the client closed it (1000)" in ended
        for headers, status, why in [
            ([("Authorization", "Bearer sk-wrong-Hd5Jf3Kg6Ps0Ty")], 401, "a wrong key was sent"),
            ([], 401, "no key was sent"),
            (
                [*bearer, ("Origin", "https://evil.example")],
                403,
                "the Origin 'https://evil.example' is not",
            ),
        ]:
            with pytest.raises(InvalidStatus) as refused:
                async with client(url, headers):
                    pass
            assert refused.value.response.status_code == status
            assert f"refused (HTTP {status}): {why}" in await logged(" refused ")
        async with client(url, bearer), client(url, bearer):
            with pytest.raises(InvalidStatus):
                async with client(url, bearer):
                    pass
            assert "2 connections are open, its max_connections" in await logged("(HTTP 503)")
            process.send_signal(signal.SIGINT)  # the server closes these two
            _, rest = await asyncio.wait_for(process.communicate(), 30)
    log = "".join(seen) + rest.decode()
    assert log.count("the server closed it (1001") == 2, log
    assert process.returncode == 0 and "Traceback" not in log
    for secret in (_SERVE_KEY, "sk-wrong-Hd5Jf3Kg6Ps0Ty"):  # no key, nor a piece of one
        assert not any(secret[i : i + 8] in log for i in range(len(secret) - 7)), log


async def test_serve_without_v_logs_no_connection() -> None:
    from tests.server.client import client

    async with serving("serve", "--port", "0") as (process, url):
        async with client(url):
            pass
        err = (await interrupted(process)).decode()
    assert "connected" not in err and "INFO" not in err, err


def test_sample_prints_the_bundled_question_or_copies_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from realtime_agent.demo import sample_wav

    assert main(["sample"]) == 0
    assert capsys.readouterr().out == f"{sample_wav()}\n"
    assert main(["sample", str(tmp_path / "question.wav")]) == 0  # as the README says
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'question.wav'}: ")
    assert (tmp_path / "question.wav").read_bytes() == sample_wav().read_bytes()
    folder = tmp_path / "rec"
    folder.mkdir()
    assert main(["sample", str(folder)]) == 0
    assert (folder / "question.wav").read_bytes() == sample_wav().read_bytes()


def test_the_logging_options_go_before_or_after_any_command() -> None:
    import logging

    from realtime_agent import _logs
    from realtime_agent.cli import _parser

    def level(*argv: str) -> int:
        args = _parser().parse_args(argv)
        return _logs.level_for(args.verbose, args.log_level)

    assert level("devices") == logging.WARNING
    assert level("-v", "devices") == level("devices", "-v") == logging.INFO
    assert level("-vv", "serve") == level("serve", "-vv") == level("serve", "-vvv") == logging.DEBUG
    assert level("schema", "check", "x.jsonl", "--log-level", "error") == logging.ERROR
    assert level("-vv", "--log-level", "warning", "sample") == logging.WARNING  # it wins
    assert level("chat-audio", "hi", "--log-level", "INFO") == logging.INFO


def test_main_leaves_the_process_s_logging_as_it_found_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    package = logging.getLogger("realtime_agent")
    before = package.level
    assert main(["-vv", "sample"]) == 0
    assert package.level == before
    assert capsys.readouterr().out.endswith(".wav\n")
