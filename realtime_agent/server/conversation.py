"""The server side of one conversation: its items in order, with their audio, and ids."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from realtime_agent.audio.format import AudioFormat
from realtime_agent.schema.items import Item

__all__ = ["Conversation", "Entry", "Ids"]

_ALPHABET = string.ascii_letters + string.digits
# Maps each random byte to a letter or digit (a slight bias, harmless for ids): one
# translate instead of 21 random choices, on every event the server sends.
_TO_ALPHABET = bytes(ord(_ALPHABET[i % len(_ALPHABET)]) for i in range(256))


class Ids:
    """Ids shaped like the real server's (``event_C9G8pjSJCfRNEhMEnYAVy``), seeded: repeatable."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def new(self, prefix: str) -> str:
        """A fresh id: ``prefix`` + ``_`` + 21 letters and digits."""
        return prefix + "_" + self._random.randbytes(21).translate(_TO_ALPHABET).decode()


@dataclass
class Entry:
    """One item of the conversation, with the audio its content carries."""

    item: Item
    """The item as events report it (no audio bytes in its content)."""
    audio: bytearray = field(default_factory=bytearray)
    """User input audio or assistant output audio, in ``audio_format``."""
    audio_format: AudioFormat | None = None
    heard: str | None = None
    """What the stand-in model understood of a user audio turn (its transcript)."""
    recognizing: bool = False
    """True while the server recognizes this user audio turn (``heard`` is not known yet)."""

    @property
    def audio_ms(self) -> int:
        """Whole milliseconds of audio this item holds."""
        if self.audio_format is None:
            return 0
        return int(self.audio_format.ms(len(self.audio)))


class Conversation:
    """Items in conversation order; insertion after any item, or at the root."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self._order: list[str] = []
        self._entries: dict[str, Entry] = {}

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._entries

    def __len__(self) -> int:
        return len(self._order)

    def get(self, item_id: str) -> Entry | None:
        """The entry of ``item_id``, if it is in the conversation."""
        return self._entries.get(item_id)

    def entries(self) -> list[Entry]:
        """Every entry, oldest first."""
        return [self._entries[item_id] for item_id in self._order]

    def items(self) -> list[Item]:
        """Every item, oldest first."""
        return [entry.item for entry in self.entries()]

    def previous_id(self, item_id: str) -> str | None:
        """The id of the item before ``item_id`` (None at the root)."""
        index = self._order.index(item_id)
        return self._order[index - 1] if index else None

    def insert(self, entry: Entry, item_id: str, after: str | None = None) -> str | None:
        """Add ``entry`` after ``after`` (the end if None, the start if ``"root"``).

        Returns the id of the item now before it. ``after`` must be in the conversation.
        """
        if after is None:
            self._order.append(item_id)
        elif after == "root":
            self._order.insert(0, item_id)
        else:
            self._order.insert(self._order.index(after) + 1, item_id)
        self._entries[item_id] = entry
        return self.previous_id(item_id)

    def delete(self, item_id: str) -> None:
        """Remove an item."""
        self._order.remove(item_id)
        del self._entries[item_id]
