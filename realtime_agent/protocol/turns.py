"""Turn-taking: when to send ``response.create``, and where to cut what was interrupted.

Only one response may be active in the default conversation. :class:`ResponseSequencer`
sends a ``response.create`` only when none is active or in flight, keeps each request
asked for meanwhile, in order, and treats the server's
``conversation_already_has_active_response`` as the race it is (the server started a
response of its own, say for the user's speech): the request waits for that response
to end and goes again. Any other error that answers a request releases it.

:func:`plan_cut` decides what to tell the server about an interrupted assistant item,
from what was played of it and what was received of it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from realtime_agent.audio.format import AudioFormat
from realtime_agent.protocol.conversation import AudioTrack
from realtime_agent.schema.client import ConversationItemDelete, ConversationItemTruncate
from realtime_agent.schema.response import ResponseCreateParams

__all__ = ["ResponseRequest", "ResponseSequencer", "plan_cut"]

#: Requests remembered after they were sent, to recognise the errors that answer them.
REMEMBERED_REQUESTS = 64


def plan_cut(
    track: AudioTrack, played_ms: float, fmt: AudioFormat, event_id: str
) -> ConversationItemTruncate | ConversationItemDelete | None:
    """What to send about an item cut off after ``played_ms`` of it was heard.

    * it had finished playing: nothing (a needless truncate changes the model's behaviour);
    * nothing of it was heard: delete it (a truncate at 0 ms is refused in some states);
    * else: truncate at ``floor(played_ms)``, never beyond the audio received for it
      (the server refuses that: "Audio content of X ms is already shorter than Y ms").
    """
    if track.finished:
        return None
    received_ms = math.floor(fmt.ms(track.received_bytes))
    end_ms = min(math.floor(played_ms), received_ms)
    if track.complete and end_ms >= received_ms and received_ms > 0:
        return None  # everything that exists of it was heard
    if end_ms <= 0:
        return ConversationItemDelete(event_id=event_id, item_id=track.item_id)
    return ConversationItemTruncate(
        event_id=event_id,
        item_id=track.item_id,
        content_index=track.content_index,
        audio_end_ms=end_ms,
    )


@dataclass(slots=True, eq=False)
class ResponseRequest:
    """One ``response.create`` asked for: by the application, or to answer function calls."""

    params: ResponseCreateParams | None = None
    follow_up: frozenset[str] = frozenset()
    """The call ids whose answers it is for (a follow-up), or empty (asked for as such)."""
    event_id: str | None = None
    """The ``event_id`` it was last sent with (a retry gets a new one)."""


class ResponseSequencer:
    """Never two responses at once in the default conversation (see the module docstring).

    The core calls :meth:`request` when a response is wanted, the event handlers as the
    server reports, and :meth:`next` to learn what to send now; the sequencer names each
    ``response.create`` with a fresh ``event_id`` from ``new_id``.
    """

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self.active: str | None = None
        """The response in progress in the default conversation, if any."""
        self.in_flight: ResponseRequest | None = None
        """Our ``response.create`` sent and not yet answered (by a response or an error)."""
        self.waiting: deque[ResponseRequest] = deque()
        """Requests to send, in order, once no response is active."""
        self._sent: OrderedDict[str, ResponseRequest] = OrderedDict()
        # Requests already sent, by event_id. A ``response.created`` after we sent one may
        # be the server's own (for the user's speech): ours is then refused a moment
        # later, or after that response, naming its event_id. Kept until refused, or
        # until REMEMBERED_REQUESTS later requests pushed it out.

    @property
    def busy(self) -> bool:
        """True while a response is active or ours is on its way."""
        return self.active is not None or self.in_flight is not None

    @property
    def wanted(self) -> bool:
        """True while a request waits for the active response to end."""
        return bool(self.waiting)

    def request(self, request: ResponseRequest) -> None:
        """Keep a request; :meth:`next` says when it goes."""
        self.waiting.append(request)

    def next(
        self, served: Callable[[ResponseRequest], bool] = lambda _: False
    ) -> ResponseRequest | None:
        """The request to send now, with its fresh ``event_id``; None while busy or idle.

        Requests for which ``served`` is true are dropped on the way (a follow-up that a
        response started since has answered already).
        """
        while self.waiting and not self.busy:
            request = self.waiting.popleft()
            if served(request):
                continue
            request.event_id = self._new_id()
            self.in_flight = request
            self._sent[request.event_id] = request
            while len(self._sent) > REMEMBERED_REQUESTS:
                self._sent.popitem(last=False)
            return request
        return None

    def created(self, response_id: str, in_conversation: bool) -> None:
        """``response.created``: a response is active (ours, or the server's own)."""
        if in_conversation:
            self.active = response_id
            self.in_flight = None

    def done(self, response_id: str, *, seen_created: bool, in_conversation: bool) -> None:
        """``response.done``. One that came without a ``response.created`` answers ours."""
        if self.active == response_id:
            self.active = None
        elif not seen_created and in_conversation and self.active is None:
            self.in_flight = None

    def connection_lost(self, unsent: Collection[str] = ()) -> bool:
        """The connection is gone: no response is active on the next one, and a request
        sent and not answered goes again first, unless its ``response.create`` never
        left (its event_id in ``unsent``: it goes on the next connection as it is). True
        if a response was under way."""
        in_flight = self.in_flight
        if in_flight is not None and in_flight.event_id in unsent:
            under_way = self.active is not None
            self.active = None
            return under_way
        under_way = self.active is not None or in_flight is not None
        if in_flight is not None:
            self.waiting.appendleft(in_flight)
        self.active = None
        self.in_flight = None
        self._sent.clear()
        return under_way

    def refused(self, event_id: str | None, *, retry: bool) -> bool:
        """An error answered a ``response.create``; True if it was ours.

        With ``retry`` (the race: another response was active) the request goes again
        first once no response is active; without, it is released for good.
        """
        request = self._sent.pop(event_id, None) if event_id is not None else None
        if request is None:
            return False
        if self.in_flight is request:
            self.in_flight = None
        if retry:
            self.waiting.appendleft(request)
        return True
