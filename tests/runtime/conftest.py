"""Helpers for the runtime tests: sessions against the local server over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from realtime_agent.protocol import events as app
from realtime_agent.runtime import RealtimeSession, ReconnectPolicy

E = TypeVar("E")

# A safety net so that a broken session fails a test instead of hanging it; never a
# way to wait for something to happen.
TIMEOUT = 20.0


async def next_of(
    session: RealtimeSession, kind: type[E], where: Callable[[E], bool] = lambda _: True
) -> E:
    """The next application event of ``kind`` (and matching ``where``); others are skipped."""

    async def find() -> E:
        async for event in session:
            if isinstance(event, kind) and where(event):
                return event
            if isinstance(event, app.Closed):
                raise AssertionError(f"the session ended first: {event}")
        raise AssertionError("the session ended")

    return await asyncio.wait_for(find(), TIMEOUT)


async def collect_until(
    session: RealtimeSession, kind: type[E], where: Callable[[E], bool] = lambda _: True
) -> list[app.AppEvent]:
    """Every application event up to and including the first ``kind`` matching ``where``."""

    async def gather() -> list[app.AppEvent]:
        seen: list[app.AppEvent] = []
        async for event in session:
            seen.append(event)
            if isinstance(event, kind) and where(event):
                return seen
            if isinstance(event, app.Closed):
                raise AssertionError(f"the session ended first: {event}")
        raise AssertionError("the session ended")

    return await asyncio.wait_for(gather(), TIMEOUT)


FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
"""Reconnects at once (the backoff itself is tested in test_continuity.py)."""


@pytest.fixture
async def no_task_left() -> AsyncIterator[None]:
    """The test ends with no task of its sessions or servers left running."""
    before = asyncio.all_tasks()
    yield
    left = {t for t in asyncio.all_tasks() - before - {asyncio.current_task()} if not t.done()}
    assert left == set(), sorted(t.get_name() for t in left)
