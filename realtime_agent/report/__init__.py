"""``realtime-agent report DIR``: a recording as one self-contained HTML page.

:func:`write_report` reads a recording directory (:func:`read_recording`: the lines of
its ``transcript.jsonl`` checked and typed, its turns put together) and draws it
(:mod:`realtime_agent.report.page`): both waveforms on one time axis, the turns with
their transcripts, the tool calls with their arguments and results, the barge-ins where
they cut, and each turn's latency. :func:`check_recording` is what ``realtime-agent
schema check`` runs on a recording's ``transcript.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

from realtime_agent.report.page import player_source, render
from realtime_agent.report.reading import (
    Cut,
    Recording,
    RecordingCheck,
    RecordingError,
    ToolCallSeen,
    Turn,
    check_recording,
    looks_like_recording,
    read_recording,
)

__all__ = [
    "Cut",
    "Recording",
    "RecordingCheck",
    "RecordingError",
    "ToolCallSeen",
    "Turn",
    "check_recording",
    "looks_like_recording",
    "read_recording",
    "write_report",
]


def write_report(recording: Recording | str | Path, out: str | Path | None = None) -> Path:
    """Draw a recording (read, or its directory) into ``out`` (default
    ``DIRECTORY/report.html``); the path written.

    Raises RecordingError if the directory is not a recording or cannot be read, and
    OSError if the page cannot be written.
    """
    if not isinstance(recording, Recording):
        recording = read_recording(recording)
    page = Path(out) if out is not None else recording.directory / "report.html"
    text = render(recording, audio_src=player_source(page, recording.directory))
    page.write_text(text, encoding="utf-8")
    return page
