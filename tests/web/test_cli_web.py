"""``realtime-agent web`` as a user runs it: the URL it prints works; SIGTERM drains."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from tests.web.page_client import page


async def test_web_prints_a_url_that_works_and_drains_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        "web",
        "--port",
        "0",
        "--drain-timeout",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},  # no key, no secret
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line.startswith("realtime-agent web: open http://127.0.0.1:"), line
        url = line.split(" open ", 1)[1].strip()
        base, _, fragment = url.partition("#token=")
        assert fragment, "without --insecure the printed URL carries a token"
        async with page(base.replace("http://", "ws://") + "relay") as client:
            await client.hello(token=fragment)
            ready = await client.wait_for("ready", timeout=60)
            assert "local Realtime server" in ready["upstream"]
            process.send_signal(signal.SIGTERM)
            closed = await client.wait_for("closed", timeout=30)
            assert closed["reason"] == "the server is shutting down"
            assert await client.wait_closed() == 1001
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert b"Traceback" not in err and b"stopped" in err


async def test_web_insecure_says_so_loudly_and_needs_no_token() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        "web",
        "--port",
        "0",
        "--insecure",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        warning = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        assert "WARNING: --insecure" in warning
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        url = line.split(" open ", 1)[1].strip()
        assert "#token=" not in url
        async with page(url.replace("http://", "ws://") + "relay") as client:
            await client.hello()
            await client.wait_for("ready", timeout=60)
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0


async def test_web_with_two_workers_serves_on_one_port_and_drains_both() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_agent.cli",
        "web",
        "--port",
        "0",
        "--insecure",
        "--workers",
        "2",
        "-v",  # each worker logs its calls: the level reaches the spawned processes
        "--drain-timeout",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        url = line.split(" open ", 1)[1].strip().replace("http://", "ws://") + "relay"
        async with page(url) as first, page(url) as second:
            for client in (first, second):
                await client.hello()
                await client.wait_for("ready", timeout=60)
            process.send_signal(signal.SIGTERM)
            for client in (first, second):
                closed = await client.wait_for("closed", timeout=30)
                assert closed["reason"] == "the server is shutting down"
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert b"Traceback" not in err
    log = err.decode()
    assert log.count(": a browser call, subject ") == 2, log
    assert log.count("): the server is shutting down") == 2, log  # each call's end


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--audio-rate", "5"], "--audio-rate"),
        (["--audio-chunk-ms", "0"], "--audio-chunk-ms"),
        (["--audio-dir", "/nonexistent-audio-dir"], "--audio-dir"),
    ],
)
def test_web_with_bad_audio_options_is_one_clear_line(
    option: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from realtime_agent.cli import main

    assert main(["web", *option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err
