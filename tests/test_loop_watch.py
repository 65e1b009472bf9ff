"""The loop watch fails an async test that blocks its event loop, and only such a test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import HEARTBEAT, LOOP_BLOCK_LIMIT, Stall

INNER = """
import asyncio
import time

import pytest


async def test_blocks():
    time.sleep(0.3)


async def test_awaits():
    await asyncio.sleep(0.15)


@pytest.mark.loop_block_limit(0.5, reason="blocks for 0.15 s on purpose")
async def test_blocks_within_its_own_limit():
    time.sleep(0.15)


@pytest.mark.loop_block_limit(0.5)
async def test_a_limit_without_a_reason():
    pass


def test_sync_tests_are_not_watched():
    time.sleep(0.15)
"""

INNER_OPTIONS = (
    *("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio"),
    *("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"),
)


def inner_suite(pytester: pytest.Pytester, *options: str) -> pytest.RunResult:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER)
    return pytester.runpytest(*INNER_OPTIONS, *options)


def test_a_blocking_sleep_fails_and_an_await_passes(pytester: pytest.Pytester) -> None:
    result = inner_suite(pytester)
    result.assert_outcomes(passed=4, errors=2)
    errors = {line.split(" - ")[0] for line in result.outlines if line.startswith("ERROR ")}
    assert errors == {
        "ERROR test_inner.py::test_blocks",
        "ERROR test_inner.py::test_a_limit_without_a_reason",
    }
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_blocks*"])
    (blocked,) = (
        int(match[1])
        for line in result.outlines
        # The report's own line; the summary line repeats it when the terminal is wide.
        if (match := re.match(r"the test blocked its event loop for (\d+) ms", line))
    )
    assert blocked >= 300 - HEARTBEAT * 1000  # the sleep, seen within one heartbeat
    result.stdout.fnmatch_lines([f"*(limit {LOOP_BLOCK_LIMIT * 1000:.0f} ms)*"])
    result.stdout.fnmatch_lines(["*use loop_block_limit(seconds, reason=...)*"])


def test_the_report_lists_the_blocking_test_and_fails_nothing(pytester: pytest.Pytester) -> None:
    result = inner_suite(pytester, "--loop-watch-report")
    result.assert_outcomes(passed=4, errors=1)  # only the limit without a reason
    listed = {line.split()[-1] for line in result.outlines if re.match(r" +\d+ ms  \(", line)}
    assert listed == {
        "test_inner.py::test_blocks",
        "test_inner.py::test_blocks_within_its_own_limit",
    }
    result.stdout.fnmatch_lines(["(3 async tests watched;*"])


def test_time_the_machine_or_the_collector_took_is_not_the_tests() -> None:
    assert Stall(late=0.3, cpu=0.0, waiting=0.0, collecting=0.0).blocked == 0.3
    assert Stall(late=0.3, cpu=0.1, waiting=0.15, collecting=0.05).blocked == pytest.approx(0.1)
    assert Stall(late=0.1, cpu=0.1, waiting=0.2, collecting=0.0).blocked == 0.0
