"""Every null the openai SDK's client-event types refuse, the server refuses, and only those.

Needs the ``openai`` package (the ``bench`` extra; CI installs it); skipped without it.
The cases come from the SDK's param types (``tests/server/sdk_nulls.py``): a new
non-nullable field in a later SDK fails here until ``realtime_agent/server/nulls.py``
knows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, get_args

import pytest

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from tests.server.client import Client, client

pytest.importorskip("openai")

from openai.types.beta.realtime import (
    realtime_client_event_param as beta_events,
)
from openai.types.realtime import (
    realtime_client_event_param as ga_events,
)
from openai.types.realtime.response_create_event_param import (
    ResponseCreateEventParam,
)
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)

from tests.server.sdk_nulls import NullCase, cases

BETA = [("OpenAI-Beta", "realtime=v1")]

# response.create as the API takes it: its input may hold references to earlier items.
GA_EVENTS = [
    ResponseCreateEventWithReferencesParam if event is ResponseCreateEventParam else event
    for event in get_args(ga_events.RealtimeClientEventParam)
]
BETA_EVENTS = list(get_args(beta_events.RealtimeClientEventParam))
# Walked at import: reading the SDK's types and sources would block a test's loop.
GA_CASES = list(cases(GA_EVENTS))
BETA_CASES = list(cases(BETA_EVENTS))


def numbered(found: list[NullCase]) -> list[tuple[str | None, dict[str, Any], NullCase]]:
    """Each case's frame with an event_id of its own (unless the case is that event_id)."""
    out = []
    for index, case in enumerate(found):
        frame = dict(case.frame)
        event_id = None if "event_id" in frame else f"case-{index}"
        if event_id is not None:
            frame["event_id"] = event_id
        out.append((event_id, frame, case))
    return out


async def check_refused(peer: Client, found: list[NullCase]) -> int:
    """Each non-nullable case is answered at once with the real server's error."""
    checked = 0
    for event_id, frame, case in numbered([c for c in found if not c.nullable]):
        await peer.send(frame)
        reply = await peer.recv()
        assert reply["type"] == "error", (frame, reply)
        assert reply["error"] == {
            "type": "invalid_request_error",
            "code": "invalid_type",
            "message": case.message,
            "param": case.param,
            "event_id": event_id,
        }, frame
        checked += 1
    return checked


async def check_accepted(peer: Client, found: list[NullCase]) -> int:
    """No nullable case is refused for its null (other errors may answer it)."""
    sent: dict[str, NullCase] = {}
    for event_id, frame, case in numbered([c for c in found if c.nullable]):
        assert event_id is not None
        sent[event_id] = case
        await peer.send(frame)
    await peer.send({"type": "conversation.item.delete", "event_id": "end", "item_id": "none"})
    while True:
        event = await peer.recv()
        if event["type"] != "error":
            continue
        error = event["error"]
        if error["event_id"] == "end":
            return len(sent)
        refused = sent.get(error["event_id"])
        assert refused is None or error["param"] != refused.param, (refused, error)


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    """A server whose responses say nothing (some accepted cases start one)."""
    async with LocalRealtimeServer(responder=ScriptedResponder([], exhausted=None)) as running:
        yield running


async def test_every_null_the_ga_types_refuse_is_refused(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        assert await check_refused(peer, GA_CASES) > 200
    async with client(server.url) as peer:
        assert await check_accepted(peer, GA_CASES) >= 10


async def test_every_null_the_beta_types_refuse_is_refused(server: LocalRealtimeServer) -> None:
    async with client(server.url, BETA) as peer:
        assert await check_refused(peer, BETA_CASES) > 100
    async with client(server.url, BETA) as peer:
        assert await check_accepted(peer, BETA_CASES) >= 5
