"""Playout: assistant audio to the sink, item by item, and what of each item was heard.

A :class:`PlayoutHandle` exists per assistant audio item ``(item_id, content_index)``.
It counts the samples received, the samples pushed to the sink, and the samples the
sink reports as played, placed on the sink's timeline where the item's first sample
plays. :meth:`Playout.stop` (barge-in) silences the sink within one frame and freezes
``played_samples`` of the items it stops: what the listener heard, exactly, which is
where the item is truncated.

A small jitter buffer holds the start of playback (``jitter_ms``), and playback after
an underrun, until enough audio is there to play without gaps; the end of an item
flushes whatever is held, so no audio is cut off at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from realtime_agent.audio.sinks import AudioSink

__all__ = ["Playout", "PlayoutHandle"]


@dataclass
class PlayoutHandle:
    """One assistant audio item on its way to the listener."""

    item_id: str
    content_index: int
    sink: AudioSink = field(repr=False)
    received_samples: int = 0
    pushed_samples: int = 0
    start: int | None = None
    """Where the item's first sample sits on the sink's timeline (once pushed)."""
    first_heard_at: float | None = None
    """When its first sample plays (``time.monotonic()``): written then, behind what the
    sink had queued, on the sink's clock."""
    ended: bool = False
    """All of the item's audio has arrived."""
    interrupted: bool = False
    _frozen: int | None = field(default=None, repr=False)
    _held: list[bytes] = field(default_factory=list, repr=False)
    _held_samples: int = field(default=0, repr=False)
    _fed: bool = field(default=False, repr=False)  # its last write left audio queued

    @property
    def played_samples(self) -> int:
        """Samples of this item the listener has heard (frozen once interrupted)."""
        if self._frozen is not None:
            return self._frozen
        if self.start is None:
            return 0
        return max(0, min(self.sink.played_samples - self.start, self.pushed_samples))

    @property
    def played_ms(self) -> float:
        """Milliseconds of this item the listener has heard."""
        return self.played_samples * 1000 / self.sink.rate

    def done(self) -> bool:
        """True once interrupted, or once all of the item was heard."""
        if self.interrupted:
            return True
        return self.ended and self.played_samples >= self.received_samples

    async def wait(self) -> None:
        """Return once :meth:`done` (checks as often as the audio left needs)."""
        while not self.done():
            left = self.received_samples - self.played_samples
            await asyncio.sleep(max(0.005, left / self.sink.rate))

    def _interrupt(self) -> None:
        """Freeze at what the listener hears: after ``sink.clear()`` the sink's written
        position is what it will still play (a speaker's device holds up to its latency
        of audio that nothing can recall; a ClockSink or RemoteSink holds none)."""
        if self.start is None:
            self._frozen = 0
        else:
            heard = self.sink.written_samples - self.start
            self._frozen = max(0, min(heard, self.pushed_samples))
        self.interrupted = True
        self._held.clear()
        self._held_samples = 0


class Playout:
    """Feeds a sink item by item (see the module docstring)."""

    def __init__(self, sink: AudioSink, *, jitter_ms: float = 60.0) -> None:
        self.sink = sink
        self.jitter_samples = int(jitter_ms * sink.rate / 1000)
        self.handles: dict[tuple[str, int], PlayoutHandle] = {}
        self.underruns = 0
        """Times an item's audio ran out on the sink before the rest of it came (its
        playback stopped mid-item, then went on). Silence between items is none; a sink
        that plays at once (nothing ever queued) never has one."""

    def handle(self, item_id: str, content_index: int = 0) -> PlayoutHandle:
        """The handle of an item (created on first use)."""
        key = (item_id, content_index)
        found = self.handles.get(key)
        if found is None:
            found = self.handles[key] = PlayoutHandle(item_id, content_index, self.sink)
            if len(self.handles) > 256:  # keep memory bounded over long sessions
                for old in list(self.handles)[:64]:
                    if self.handles[old].done():
                        del self.handles[old]
        return found

    @property
    def audible(self) -> bool:
        """True while some assistant audio is queued or playing (not cut, not finished)."""
        recent = itertools.islice(reversed(self.handles.values()), 4)  # per input frame: cheap
        return any(not handle.done() for handle in recent)

    def push(self, item_id: str, content_index: int, audio: bytes) -> None:
        """Audio of an item arrived; it plays after what is queued (dropped if interrupted)."""
        handle = self.handle(item_id, content_index)
        if handle.interrupted:
            return
        samples = len(audio) // self.sink.sample_width
        handle.received_samples += samples
        if handle._held or self._stopped():
            handle._held.append(audio)
            handle._held_samples += samples
            if handle._held_samples >= self.jitter_samples:
                self._flush(handle)
            return
        self._write(handle, audio, samples)

    def end(self, item_id: str, content_index: int = 0) -> None:
        """All of an item's audio has arrived: play what is held."""
        handle = self.handle(item_id, content_index)
        handle.ended = True
        if not handle.interrupted:
            self._flush(handle)

    def stop(
        self, keys: list[tuple[str, int]] | tuple[tuple[str, int], ...]
    ) -> list[tuple[str, int, float, bool]]:
        """Barge-in: silence the sink now and freeze these items, and any other still audible.

        Silencing the sink cuts whatever it had queued, so an older item still playing
        (the reply before a tool call, say) is frozen too, at what was heard of it.
        Returns (item_id, content_index, played_ms, finished) for each; ``finished`` when
        all of the item had been heard.
        """
        audible = [key for key, handle in self.handles.items() if not handle.done()]
        self.sink.clear()  # before freezing: see PlayoutHandle._interrupt
        positions = []
        for item_id, content_index in dict.fromkeys([*keys, *audible]):
            handle = self.handle(item_id, content_index)
            finished = handle.ended and handle.played_samples >= handle.received_samples
            handle._interrupt()
            positions.append((item_id, content_index, handle.played_ms, finished))
        return positions

    def _stopped(self) -> bool:
        """Nothing is playing (the start, or an underrun): hold audio for the jitter buffer.

        A low queue that still plays is fed at once: holding it would cause the gap the
        buffer is there to prevent.
        """
        return self.sink.written_samples <= self.sink.played_samples

    def _flush(self, handle: PlayoutHandle) -> None:
        if handle._held:
            audio = b"".join(handle._held)
            handle._held.clear()
            handle._held_samples = 0
            self._write(handle, audio, len(audio) // self.sink.sample_width)

    def _write(self, handle: PlayoutHandle, audio: bytes, samples: int) -> None:
        sink = self.sink
        if handle.start is None:
            handle.start = sink.written_samples
            ahead = max(0, handle.start - sink.played_samples)
            handle.first_heard_at = time.monotonic() + ahead / sink.rate
        elif handle._fed and sink.written_samples <= sink.played_samples:
            self.underruns += 1  # what it had queued ran out before this came
        sink.write(audio)
        handle.pushed_samples += samples
        handle._fed = sink.written_samples > sink.played_samples
