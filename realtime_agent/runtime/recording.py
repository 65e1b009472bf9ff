"""Recording a session: both sides' audio to WAV, and what happened to JSON lines.

Switch it on with ``connect(agent, record="some/dir")`` (or a :class:`Recorder`). When the
session closes, the directory holds ``user.wav`` (the audio sent), ``assistant.wav``
(the assistant's audio as received; cuts are noted in the transcript) and
``transcript.jsonl``: one JSON object per line with ``t`` (seconds since the session
started) and ``event`` (transcripts, tool calls, interruptions, turns, errors).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import IO, Any

from realtime_agent.audio.sinks import write_wav
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
    app.ErrorRaised,
)


class Recorder:
    """Writes a session's audio and events under ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | Path, *, rate: int = 24000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rate = rate
        self._user = bytearray()
        self._assistant = bytearray()
        self._start = time.monotonic()
        self._lines: IO[str] | None = open(
            self.directory / "transcript.jsonl", "w", encoding="utf-8"
        )
        self.closed = False

    def user_audio(self, audio: bytes) -> None:
        """Audio the user sent."""
        self._user += audio

    def assistant_audio(self, audio: bytes) -> None:
        """Audio the assistant sent."""
        self._assistant += audio

    def event(self, event: app.AppEvent) -> None:
        """Note an application event, if it is one worth keeping."""
        if self._lines is None or not isinstance(event, _RECORDED):
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
        """Write the WAV files and close the transcript; the paths written. Idempotent."""
        if self.closed:
            return []
        self.closed = True
        paths = [
            write_wav(self.directory / name, bytes(audio), self.rate)
            for name, audio in (("user.wav", self._user), ("assistant.wav", self._assistant))
        ]
        if self._lines is not None:
            self._lines.close()
            self._lines = None
        paths.append(self.directory / "transcript.jsonl")
        return paths


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
