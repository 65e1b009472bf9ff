"""Recording a session: both sides' audio to WAV, and what happened to JSON lines.

Switch it on with ``connect(agent, record="some/dir")`` (or a :class:`Recorder`). The
directory holds ``user.wav`` (the audio sent), ``assistant.wav`` (the assistant's audio
as received; cuts are noted in the transcript) and ``transcript.jsonl``: one JSON object
per line with ``t`` (seconds since the session started) and ``event`` (transcripts, tool
calls, interruptions, turns, errors). All three are written as the session goes, so an
hour-long session costs no more memory than a minute.
"""

from __future__ import annotations

import contextlib
import json
import time
import wave
import weakref
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import IO, Any

from realtime_agent.protocol import events as app

__all__ = ["Recorder"]

_RECORDED = (
    app.Transcript,
    app.ToolStart,
    app.ToolEnd,
    app.AudioInterrupted,
    app.AgentStart,
    app.AgentEnd,
    app.SpeechStarted,
    app.SpeechStopped,
    app.HandoffDone,
    app.Reconnecting,
    app.Reconnected,
    app.RolledOver,
    app.ErrorRaised,
    app.TurnMetrics,
    app.SessionSummary,
)


class _Track:
    """One side's audio: a mono pcm16 WAV written as the audio arrives.

    Whole samples go to the file at once; an odd last byte waits for the next chunk
    (and is dropped at close if none comes). Every ``flush_every`` bytes the WAV header
    is rewritten to the length so far and the file flushed, so the file is a readable
    WAV missing at most that much if the process dies.
    """

    def __init__(self, path: Path, rate: int, flush_every: int) -> None:
        self._file = open(path, "wb")  # closed by close(), called at last by the finaliser
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._flush_every = flush_every
        self._odd = b""
        self._unflushed = 0
        self._flush()  # a WAV (of no audio) from the start

    def write(self, audio: bytes) -> None:
        if self._odd:
            audio = self._odd + audio
        whole = len(audio) - len(audio) % 2
        self._odd = bytes(audio[whole:])  # a copy: the caller may reuse its buffer
        self._wav.writeframesraw(audio if whole == len(audio) else audio[:whole])
        self._unflushed += whole
        if self._unflushed >= self._flush_every:
            self._flush()

    def _flush(self) -> None:
        self._wav.writeframes(b"")  # rewrites the header's lengths, if they changed
        self._file.flush()
        self._unflushed = 0

    def close(self) -> None:
        try:
            self._wav.close()  # the header's final lengths
        finally:
            self._file.close()


def _close_all(tracks: tuple[_Track, ...], lines: IO[str]) -> None:
    with contextlib.ExitStack() as closing:  # each is closed, even if another fails
        closing.callback(lines.close)
        for track in tracks:
            closing.callback(track.close)


class Recorder:
    """Writes a session's audio and events under ``directory`` as they come (see the
    module docstring); audio is mono pcm16 at ``rate``.

    It holds no audio: each chunk goes to its WAV when it arrives (a buffered write from
    the caller's thread, the event loop's in a session), an odd last byte waiting for
    the next chunk. :meth:`close` fixes the WAV headers and closes the files; audio and
    events after it are ignored.

    If it is never closed: every second of audio on a side, that WAV's header is
    rewritten and the file flushed, so a process that dies leaves readable WAVs missing
    at most the last second of each side (and the transcript up to its last line). A
    Recorder that is garbage-collected, or still open when the interpreter exits, is
    closed then.
    """

    def __init__(self, directory: str | Path, *, rate: int = 24000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rate = rate
        self.closed = False
        self._start = time.monotonic()
        with contextlib.ExitStack() as opening:  # closes what was opened if one fails
            self._lines = opening.enter_context(
                open(self.directory / "transcript.jsonl", "w", encoding="utf-8")
            )
            self._user = _Track(self.directory / "user.wav", rate, flush_every=2 * rate)
            opening.callback(self._user.close)
            self._assistant = _Track(self.directory / "assistant.wav", rate, flush_every=2 * rate)
            opening.pop_all()
        self._finish = weakref.finalize(
            self, _close_all, (self._user, self._assistant), self._lines
        )

    def user_audio(self, audio: bytes) -> None:
        """Audio the user sent."""
        if not self.closed:
            self._user.write(audio)

    def assistant_audio(self, audio: bytes) -> None:
        """Audio the assistant sent."""
        if not self.closed:
            self._assistant.write(audio)

    def event(self, event: app.AppEvent) -> None:
        """Note an application event, if it is one worth keeping."""
        if self.closed or not isinstance(event, _RECORDED):
            return
        record: dict[str, Any] = {
            "t": round(time.monotonic() - self._start, 3),
            "event": type(event).__name__,
        }
        if is_dataclass(event):
            fields = asdict(event)
            fields.pop("detail", None)
            record.update({k: v for k, v in fields.items() if _plain(v)})
        self._lines.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._lines.flush()

    def close(self) -> list[Path]:
        """Finish the WAV files and close the transcript; the paths written. Idempotent
        (a second call returns ``[]``)."""
        if self.closed:
            return []
        self.closed = True
        self._finish()
        return [self.directory / name for name in ("user.wav", "assistant.wav", "transcript.jsonl")]


def _plain(value: Any) -> bool:
    """JSON as it is: scalars, and lists or dicts of them (a turn's tool timings)."""
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, str | int | float | bool)
