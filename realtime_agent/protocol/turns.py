"""Turn-taking: when to send ``response.create``, and where to cut what was interrupted.

Only one response may be active in the default conversation. :class:`ResponseSequencer`
sends a ``response.create`` only when none is active or in flight, queues one asked for
meanwhile, and treats the server's ``conversation_already_has_active_response`` as the
race it is (the server started a response of its own, say for the user's speech): it
waits for that response to end rather than failing.

:func:`plan_cut` decides what to tell the server about an interrupted assistant item,
from what was played of it and what was received of it.
"""

from __future__ import annotations

import math

from realtime_agent.audio.format import AudioFormat
from realtime_agent.protocol.conversation import AudioTrack
from realtime_agent.schema.client import ConversationItemDelete, ConversationItemTruncate

__all__ = ["ResponseSequencer", "plan_cut"]


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


class ResponseSequencer:
    """Never two responses at once in the default conversation (see the module docstring)."""

    def __init__(self) -> None:
        self.active: str | None = None
        """The response in progress in the default conversation, if any."""
        self.in_flight: str | None = None
        """The event_id of our ``response.create`` not yet answered, if any."""
        self.wanted = False
        """A response was asked for while another was active: send it after that one."""
        self.unconfirmed: str | None = None
        """Our last ``response.create``, until the response it seemed to start is done.

        A ``response.created`` after we sent one may be the server's own (for the user's
        speech, say): ours is then refused a moment later, and the error names it.
        """

    @property
    def busy(self) -> bool:
        """True while a response is active or ours is on its way."""
        return self.active is not None or self.in_flight is not None

    def request(self, event_id: str) -> bool:
        """Ask for a response; True if ``response.create`` should go now (with this id)."""
        if self.busy:
            self.wanted = True
            return False
        self.in_flight = self.unconfirmed = event_id
        return True

    def created(self, response_id: str, in_conversation: bool) -> None:
        """``response.created``: a response is active (ours or the server's own)."""
        if in_conversation:
            self.active = response_id
            self.in_flight = None

    def done(self, response_id: str) -> bool:
        """``response.done``: True if a queued ``response.create`` should go now."""
        if self.active == response_id:
            self.active = None
            self.unconfirmed = None
        if self.wanted and not self.busy:
            self.wanted = False
            return True
        return False

    def rejected(self, event_id: str | None) -> bool:
        """An error answered a ``response.create``; True if it was ours (the race, absorbed)."""
        if event_id is None or event_id not in (self.in_flight, self.unconfirmed):
            return False
        self.in_flight = self.unconfirmed = None
        self.wanted = True  # ask again once the active response is done
        return True

    def withdraw(self) -> None:
        """Forget a queued request (its reason went away)."""
        self.wanted = False
