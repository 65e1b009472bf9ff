"""The realtime-agent command line."""

from __future__ import annotations

import json
import subprocess
import sys
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


async def test_serve_runs_the_local_server_until_interrupted() -> None:
    import asyncio
    import signal

    from tests.server.client import client

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        "serve",
        "--port",
        "0",
        "--pacing",
        "instant",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("local Realtime server at ws://127.0.0.1:")
        url = line.split(" at ", 1)[1].strip()
        async with client(url) as peer:
            assert peer.received[0]["type"] == "session.created"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
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
    import asyncio
    import signal

    from websockets.exceptions import InvalidStatus

    from tests.server.client import client

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        "serve",
        "--port",
        "0",
        "--max-connections",
        "1",
        "--allowed-origin",
        "http://localhost:3000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = line.split(" at ", 1)[1].strip()
        async with client(url, [("Origin", "http://localhost:3000")]) as peer:
            assert peer.received[0]["type"] == "session.created"
            for headers, status in (([("Origin", "https://evil.example")], 403), ([], 503)):
                with pytest.raises(InvalidStatus) as refused:
                    async with client(url, headers):
                        pass
                assert refused.value.response.status_code == status
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert b"Traceback" not in err
