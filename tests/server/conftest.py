"""Fixtures for the server tests: a local server on a loopback port, and test speech."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime_agent.server import LocalRealtimeServer, SyntheticVoice

VOICE = SyntheticVoice(pitch_hz=190.0, seed=7)


def silence(ms: int) -> bytes:
    """pcm16 24 kHz silence."""
    return bytes(48 * ms)


def utterance(text: str = "hello there how are you doing today") -> bytes:
    """Speech-like pcm16 24 kHz with no pause long enough to end a turn."""
    return VOICE.synthesize(text).pcm


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(seed=1) as running:
        yield running
