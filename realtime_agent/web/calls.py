"""What the browser relay and the phone bridge share.

The events a call passes to the application (:class:`DtmfPressed`, :data:`EventHook`),
the rule a far end broke (:class:`Policy`), its JSON messages (:func:`json_object`),
closing its WebSocket without raising (:func:`close_quietly`), the events a session
still holds once it was closed (:func:`remaining_events`), and who is at the far end, for
the log (:func:`peer`). The metrics of a
conversation's events are :meth:`realtime_agent.web.metrics.Metrics.count`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketState

from realtime_agent.protocol import events as app

if TYPE_CHECKING:
    from realtime_agent.runtime.session import RealtimeSession
    from realtime_agent.web.app import Call

__all__ = [
    "DtmfPressed",
    "EventHook",
    "Policy",
    "close_quietly",
    "json_object",
    "peer",
    "remaining_events",
]


@dataclass(frozen=True, slots=True)
class DtmfPressed:
    """The phone caller pressed a key (Twilio's ``dtmf`` message): ``0-9``, ``*`` or ``#``."""

    digit: str


EventHook = Callable[["Call", "app.AppEvent | DtmfPressed"], None]
"""``create_app(on_event=hook)``: ``hook(call, event)`` for every event of every call, in
order: the session's events (``async for event in session``, the same objects, those it
gives as it closes included: the last ``TurnMetrics``, the ``SessionSummary``) and the
phone's :class:`DtmfPressed`; a call's last event is always an ``app.Closed``. ``call``
is the :class:`~realtime_agent.web.relay.BrowserCall` or
:class:`~realtime_agent.web.twilio.PhoneCall` (``call.kind``, ``call.session``).

It runs on the call's loop, between two events: it must not block (start a task for slow
work). An exception it raises is logged on one line and counted (``source="application"``
in ``realtime_agent_errors_total``); the call goes on."""


class Policy(Exception):
    """The far end broke a rule: close its WebSocket with ``code``, telling it ``reason``."""

    def __init__(self, reason: str, code: int = 1008) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def json_object(text: str) -> dict[str, Any]:
    """``text`` as a JSON object, or :class:`Policy`."""
    try:
        value = json.loads(text)
    except ValueError:
        raise Policy("a message is not JSON") from None
    if not isinstance(value, dict):
        raise Policy("a message is not a JSON object")
    return value


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close ``websocket`` with ``code`` unless it is closed already; never raises."""
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code, reason[:120])


async def remaining_events(session: RealtimeSession) -> AsyncIterator[app.AppEvent]:
    """The events a closed session still holds, up to its ``Closed``: what it said while
    it ended (the last turn's ``TurnMetrics``, the ``SessionSummary``) once the call had
    stopped reading. Nothing, when the session has not ended (it never waits)."""
    if not session.ended:
        return
    async for event in session:  # the queue has ended: each one is there already
        yield event


def peer(websocket: WebSocket) -> str:
    """``host:port`` of the far end as the server sees it (a proxy's, behind one)."""
    client = websocket.client
    if client is None:
        return "a client"
    host, port = client
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
