"""The client's view of the conversation: items in order, responses, audio per item."""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime_agent.schema.items import Item

__all__ = ["AudioTrack", "Conversation", "ResponseState"]


@dataclass
class AudioTrack:
    """One assistant audio part: how much arrived, how much was heard."""

    item_id: str
    content_index: int
    response_id: str
    received_bytes: int = 0
    complete: bool = False
    """``response.output_audio.done`` arrived: no more audio will come."""
    played_ms: float = 0.0
    """Audio the listener has heard, as the playout last reported it."""
    finished: bool = False
    """Playback played all of it (and it was complete)."""
    cut: bool = False
    """Interrupted: any more audio for it is dropped."""


@dataclass
class ResponseState:
    """One response, from ``response.created`` to ``response.done``."""

    response_id: str
    done: bool = False
    status: str | None = None
    reason: str | None = None
    calls: set[str] = field(default_factory=set)
    """Call ids of the function calls it made."""
    tracks: list[tuple[str, int]] = field(default_factory=list)
    """(item_id, content_index) of its audio, in order."""
    follow_up: bool = False
    """A ``response.create`` was asked for once its calls are answered."""


class Conversation:
    """Items in conversation order as the server reported them, and the audio tracks."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self.tracks: dict[tuple[str, int], AudioTrack] = {}
        self.responses: dict[str, ResponseState] = {}

    def items(self) -> tuple[Item, ...]:
        """Every item, oldest first."""
        return tuple(self._items.values())

    def get(self, item_id: str) -> Item | None:
        """The item with this id, if the conversation holds it."""
        return self._items.get(item_id)

    def put(self, item: Item, previous_item_id: str | None = None) -> bool:
        """Add an item after ``previous_item_id`` (None: first), or update it. True if new."""
        item_id = item.id
        if item_id is None:
            return False
        if item_id in self._items:
            self._items[item_id] = item
            return False
        if previous_item_id is not None and previous_item_id == next(reversed(self._items), None):
            self._items[item_id] = item  # the usual case: after the newest item
            return True
        order = list(self._items.items())
        if previous_item_id is None:
            index = 0
        elif previous_item_id in self._items:
            index = 1 + next(i for i, (key, _) in enumerate(order) if key == previous_item_id)
        else:
            index = len(order)  # after an item we never saw: at the end
        order.insert(index, (item_id, item))
        self._items = dict(order)
        return True

    def remove(self, item_id: str) -> None:
        """Forget an item (``conversation.item.deleted``)."""
        self._items.pop(item_id, None)

    def track(self, item_id: str, content_index: int, response_id: str) -> AudioTrack:
        """The audio track of an item part, created on first use."""
        key = (item_id, content_index)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = AudioTrack(item_id, content_index, response_id)
            response = self.responses.get(response_id)
            if response is not None:
                response.tracks.append(key)
        return track

    def response(self, response_id: str) -> ResponseState:
        """The state of a response, created on first use."""
        state = self.responses.get(response_id)
        if state is None:
            state = self.responses[response_id] = ResponseState(response_id)
        return state
