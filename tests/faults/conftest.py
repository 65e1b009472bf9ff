"""Every hostile case also checks that the session left no task behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio


@pytest_asyncio.fixture(autouse=True)
async def no_task_left() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    left = {t for t in asyncio.all_tasks() - before if not t.done() and t is not current}
    assert left == set(), f"tasks left behind: {sorted(t.get_name() for t in left)}"
