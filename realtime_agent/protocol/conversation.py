"""The client's view of the conversation: items in order, responses, audio per item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    stale: bool = False
    """Of a connection that was lost: the server of the new one has it as text only, so
    a barge-in over what still plays of it is not truncated there."""


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
    """Items in conversation order as the server reported them, and the audio tracks.

    Items are kept as a doubly linked list over a dict (id -> [previous, next, item]):
    adding after any item, updating and removing are O(1) however long the
    conversation; only :meth:`items` walks it.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, list[Any]] = {}  # id -> [previous id, next id, item]
        self._first: str | None = None
        self._last: str | None = None
        self.tracks: dict[tuple[str, int], AudioTrack] = {}
        self.responses: dict[str, ResponseState] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def items(self) -> tuple[Item, ...]:
        """Every item, oldest first."""
        out: list[Item] = []
        nodes, key = self._nodes, self._first
        while key is not None:
            node = nodes[key]
            out.append(node[2])
            key = node[1]
        return tuple(out)

    def get(self, item_id: str) -> Item | None:
        """The item with this id, if the conversation holds it."""
        node = self._nodes.get(item_id)
        return None if node is None else node[2]

    def put(self, item: Item, previous_item_id: str | None = None) -> bool:
        """Add an item after ``previous_item_id`` (None: first), or update it. True if new.

        An item placed after one never seen goes at the end.
        """
        item_id = item.id
        if item_id is None:
            return False
        nodes = self._nodes
        node = nodes.get(item_id)
        if node is not None:
            node[2] = item
            return False
        if previous_item_id is None:
            before, after = None, self._first
        elif previous_item_id in nodes:
            before, after = previous_item_id, nodes[previous_item_id][1]
        else:
            before, after = self._last, None
        nodes[item_id] = [before, after, item]
        if before is None:
            self._first = item_id
        else:
            nodes[before][1] = item_id
        if after is None:
            self._last = item_id
        else:
            nodes[after][0] = item_id
        return True

    def remove(self, item_id: str) -> None:
        """Forget an item (``conversation.item.deleted``)."""
        node = self._nodes.pop(item_id, None)
        if node is None:
            return
        before, after, _ = node
        if before is None:
            self._first = after
        else:
            self._nodes[before][1] = after
        if after is None:
            self._last = before
        else:
            self._nodes[after][0] = before

    def track(self, item_id: str, content_index: int, response_id: str) -> AudioTrack:
        """The audio track of an item part, created on first use."""
        key = (item_id, content_index)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = AudioTrack(item_id, content_index, response_id)
            self.response(response_id).tracks.append(key)  # forgotten with its response
        return track

    def response(self, response_id: str) -> ResponseState:
        """The state of a response, created on first use."""
        state = self.responses.get(response_id)
        if state is None:
            state = self.responses[response_id] = ResponseState(response_id)
        return state
