"""Reading a recording back: its lines checked and typed, its turns put together, its
waveforms measured.

The lines are the vocabulary :mod:`realtime_agent.runtime.recording` writes: the header
(``Recording``), the application's events it keeps (by class name: see
:data:`~realtime_agent.runtime.recording.RECORDED`), ``PlaybackCut`` and
``RecordingEnd``. Each line is validated against its dataclass (pydantic, as the wire's
events are): a field of the wrong type, an unknown field or an unknown ``event`` is an
error of that line, never an exception. A ``transcript.jsonl`` written before the header
existed (lines with ``t`` and ``event``, no header) is read as version 0.
"""

from __future__ import annotations

import json
import wave
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from pydantic import TypeAdapter, ValidationError

from realtime_agent.errors import RealtimeAgentError
from realtime_agent.protocol import events as app
from realtime_agent.runtime.recording import (
    FORMAT,
    HEADER,
    RECORDED,
    VERSION,
    PlaybackCut,
    RecordingEnd,
    RecordingStarted,
)

__all__ = [
    "Cut",
    "Line",
    "Recording",
    "RecordingCheck",
    "RecordingError",
    "ToolCallSeen",
    "Turn",
    "check_recording",
    "looks_like_recording",
    "read_recording",
]


class RecordingError(RealtimeAgentError):
    """A directory is not a recording, or its files cannot be read (the message says which)."""


_SAME_MOMENT = 0.05
"""Lines this close (seconds) come from one moment (a cut and the interruptions it made)."""

_LINE_TYPES: dict[str, type] = {
    HEADER: RecordingStarted,
    "PlaybackCut": PlaybackCut,
    "RecordingEnd": RecordingEnd,
    **{kind.__name__: kind for kind in RECORDED},
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(kind) for name, kind in _LINE_TYPES.items()
}
_FIELDS = {name: {f.name for f in fields(kind)} for name, kind in _LINE_TYPES.items()}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a recording, typed."""

    number: int
    t: float
    """Seconds on the recording's timeline."""
    event: Any
    """A :class:`RecordingStarted`, :class:`PlaybackCut`, :class:`RecordingEnd` or one
    of the application's events."""


@dataclass
class RecordingCheck:
    """What ``schema check`` found in a recording's ``transcript.jsonl``."""

    header: RecordingStarted | None = None
    lines: list[Line] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(line number, message) of each line that is not what a recording holds."""
    ended: bool = False
    """The last line is ``RecordingEnd``: the recorder was closed."""

    @property
    def duration(self) -> float:
        """Seconds recorded: ``RecordingEnd``'s, else the last line's time."""
        for line in reversed(self.lines):
            if isinstance(line.event, RecordingEnd):
                return line.event.duration
        return self.lines[-1].t if self.lines else 0.0

    def report(self, out: TextIO) -> None:
        """Print the summary."""
        header = self.header
        what = (
            f"{FORMAT} (version {header.version}, {header.rate} Hz, started {header.started})"
            if header is not None
            else f"{FORMAT} (no header: written before version 1)"
        )
        out.write(
            f"{what}: {sum(self.by_type.values())} lines, {len(self.by_type)} types, "
            f"{len(self.errors)} errors\n"
        )
        for name, count in sorted(self.by_type.items()):
            out.write(f"  {count:6d}  {name}\n")
        turns = self.by_type.get("TurnMetrics", 0)
        ending = "" if self.ended else " (no RecordingEnd: it was not closed)"
        plural = "" if turns == 1 else "s"
        out.write(f"{self.duration:.3f} s recorded, {turns} turn{plural}{ending}\n")
        for number, message in self.errors:
            out.write(f"line {number}: {message}\n")


def looks_like_recording(text: str) -> bool:
    """True if ``text`` (the first line of a JSONL file) opens a recording: the header,
    or a line of an older recording (``t`` and ``event``, no ``type``)."""
    try:
        first = json.loads(text)
    except ValueError:
        return False
    if not isinstance(first, dict):
        return False
    if first.get("event") == HEADER:
        return bool(first.get("format") == FORMAT)
    return "type" not in first and isinstance(first.get("event"), str) and "t" in first


def check_recording(lines: Iterable[str]) -> RecordingCheck:
    """Check every line of a recording's ``transcript.jsonl`` (see the module docstring):
    the header first (unless it is an older recording), ``t`` never going back, each
    line's fields those of its type, nothing after ``RecordingEnd``. Blank lines are
    skipped."""
    check = RecordingCheck()
    last_t = 0.0
    first = True
    for number, text in enumerate(lines, start=1):
        text = text.strip()
        if not text:
            continue
        line = _line(number, text, check)
        if line is None:
            first = False
            continue
        name = type(line.event).__name__ if not isinstance(line.event, RecordingStarted) else HEADER
        if check.ended:
            check.errors.append((number, f"{name} after RecordingEnd"))
        if isinstance(line.event, RecordingStarted):
            if not first:
                check.errors.append((number, "a second header"))
            elif line.event.format != FORMAT:
                check.errors.append((number, f"format {line.event.format!r}, not {FORMAT!r}"))
            elif line.event.version > VERSION:
                check.errors.append(
                    (number, f"version {line.event.version}: newer than this reader ({VERSION})")
                )
            check.header = check.header or line.event
        if line.t < last_t:
            check.errors.append((number, f"t goes back, from {last_t} to {line.t}"))
        last_t = max(last_t, line.t)
        check.ended = isinstance(line.event, RecordingEnd)
        check.by_type[name] += 1
        check.lines.append(line)
        first = False
    return check


def _line(number: int, text: str, check: RecordingCheck) -> Line | None:
    """The line typed, or None (and its error noted)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        check.errors.append((number, f"not JSON: {exc}"))
        return None
    if not isinstance(raw, dict):
        check.errors.append((number, f"not a JSON object: {type(raw).__name__}"))
        return None
    name, t = raw.pop("event", None), raw.pop("t", None)
    if not isinstance(name, str):
        check.errors.append((number, "no 'event' (the line's type)"))
        return None
    if name not in _ADAPTERS:
        check.errors.append((number, f"unknown event {name!r}"))
        return None
    if not isinstance(t, int | float) or isinstance(t, bool) or t < 0:
        check.errors.append((number, f"{name}: 't' is seconds (a number, 0 or more), not {t!r}"))
        return None
    unknown = sorted(set(raw) - _FIELDS[name])
    if unknown:
        check.errors.append((number, f"{name}: unknown fields {', '.join(unknown)}"))
        return None
    try:
        event = _ADAPTERS[name].validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or name}: {error['msg']}"
            for error in exc.errors()
        )
        check.errors.append((number, f"{name}: {problems}"))
        return None
    return Line(number, float(t), event)


@dataclass(frozen=True, slots=True)
class ToolCallSeen:
    """A tool call of a turn: its arguments and result, and when it ran on the timeline."""

    call_id: str
    name: str
    arguments: str
    output: str | None
    error: str | None
    started: float | None
    """``t`` of its ``ToolStart``."""
    ended: float | None
    """``t`` of its ``ToolEnd``."""
    ms: float | None
    """How long its tool ran (the turn's figure)."""


@dataclass(frozen=True, slots=True)
class Cut:
    """A barge-in: where the assistant's audio stopped, and what of the item was heard."""

    at: float
    """Where on the timeline ``assistant.wav`` stops (the ``PlaybackCut``), else when
    the interruption was noted."""
    item_id: str
    played_ms: int
    truncated_ms: int | None
    deleted: bool
    text: str | None
    """The cut item's transcript (what the model had said, heard or not)."""


@dataclass
class Turn:
    """One turn as the recording tells it (a ``TurnMetrics`` line and what goes with it)."""

    metrics: app.TurnMetrics
    start: float
    """Where it began on the timeline: the caller's ``speech_stopped``, or its first
    response's start for a turn that began with text."""
    user_text: str | None = None
    speech: tuple[float, float] | None = None
    """The caller's speech as server VAD heard it (``t`` of speech started and stopped)."""
    assistant_texts: list[str] = field(default_factory=list)
    tools: list[ToolCallSeen] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.metrics.turn

    @property
    def first_heard(self) -> float | None:
        """Where on the timeline its answer was first heard."""
        heard = self.metrics.first_heard_ms
        return None if heard is None else self.start + heard / 1000


@dataclass
class Recording:
    """A recording directory, read: its lines, its turns, and its audio files."""

    directory: Path
    check: RecordingCheck
    rate: int
    duration: float
    """The timeline's length: the longest of the audio and the lines."""
    turns: list[Turn]
    cuts: list[Cut]
    summary: app.SessionSummary | None
    errors: list[app.ErrorRaised]

    @property
    def header(self) -> RecordingStarted | None:
        return self.check.header

    @property
    def tool_calls(self) -> list[ToolCallSeen]:
        return [call for turn in self.turns for call in turn.tools]

    def peaks(self, side: str, columns: int) -> list[float]:
        """``side``'s (``user`` or ``assistant``) loudest sample in each of ``columns``
        equal slices of the timeline, 0 to 1 (read a slice at a time)."""
        return _peaks(self.directory / f"{side}.wav", self.duration, columns)


def read_recording(directory: str | Path) -> Recording:
    """Read a recording directory. Raises RecordingError if it is not one, or cannot be read."""
    directory = Path(directory)
    if not directory.is_dir():
        what = "not a directory" if directory.exists() else "no such directory"
        raise RecordingError(f"{directory}: {what}")
    transcript = directory / "transcript.jsonl"
    if not transcript.is_file():
        raise RecordingError(f"{directory} is not a recording: it has no transcript.jsonl")
    try:
        with transcript.open(encoding="utf-8") as stream:
            first = next((text for text in stream if text.strip()), "")
            if not looks_like_recording(first):
                raise RecordingError(
                    f"{transcript} is not a recording's: it has no {HEADER!r} header line"
                )
            stream.seek(0)
            check = check_recording(stream)
    except OSError as exc:
        raise RecordingError(f"cannot read {transcript}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{transcript} is not UTF-8 text ({exc.reason})") from None
    lengths, rates = [], []
    for side in ("user", "assistant"):
        rate, samples = _wav_length(directory / f"{side}.wav")
        rates.append(rate)
        lengths.append(samples / rate)
    rate = check.header.rate if check.header is not None else rates[0]
    duration = max([check.duration, *lengths])
    turns, cuts = _turns(check.lines)
    summaries = [line.event for line in check.lines if isinstance(line.event, app.SessionSummary)]
    errors = [line.event for line in check.lines if isinstance(line.event, app.ErrorRaised)]
    return Recording(
        directory=directory,
        check=check,
        rate=rate,
        duration=duration,
        turns=turns,
        cuts=cuts,
        summary=summaries[-1] if summaries else None,
        errors=errors,
    )


def _wav_length(path: Path) -> tuple[int, int]:
    """A recording's WAV: (rate, frames). Raises RecordingError."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getnchannels(), wav.getsampwidth()) != (1, 2):
                raise RecordingError(f"{path} is not a recording's WAV (mono pcm16)")
            return wav.getframerate(), wav.getnframes()
    except FileNotFoundError:
        raise RecordingError(f"{path.parent} is not a whole recording: no {path.name}") from None
    except (OSError, EOFError, wave.Error) as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from None


def _peaks(path: Path, duration: float, columns: int) -> list[float]:
    with wave.open(str(path), "rb") as wav:
        rate, total = wav.getframerate(), wav.getnframes()
        peaks: list[float] = []
        done = 0
        for column in range(columns):
            until = min(total, round((column + 1) * duration * rate / columns))
            if until <= done:
                peaks.append(0.0)
                continue
            block = np.frombuffer(wav.readframes(until - done), "<i2")
            done = until
            peaks.append(float(np.abs(block.astype(np.int32)).max()) / 32768 if block.size else 0.0)
    return peaks


def _turns(lines: list[Line]) -> tuple[list[Turn], list[Cut]]:
    """The turns, each with what belongs to it; and every barge-in."""
    first_t: dict[tuple[type, str], float] = {}
    transcripts: dict[str, str] = {}
    for line in lines:
        event = line.event
        if isinstance(event, app.SpeechStarted | app.SpeechStopped):
            first_t.setdefault((type(event), event.item_id), line.t)
        elif isinstance(event, app.AgentStart | app.AgentEnd):
            first_t.setdefault((type(event), event.response_id), line.t)
        elif isinstance(event, app.ToolStart | app.ToolEnd):
            first_t.setdefault((type(event), event.call_id), line.t)
        elif isinstance(event, app.Transcript):
            transcripts[event.item_id] = event.text
    turns: list[Turn] = []
    for line in lines:
        metrics = line.event
        if not isinstance(metrics, app.TurnMetrics):
            continue
        start = first_t.get((app.SpeechStopped, metrics.item_id or ""))
        if start is None and metrics.response_ids:
            start = first_t.get((app.AgentStart, metrics.response_ids[0]))
        turn = Turn(metrics, line.t if start is None else start)
        if metrics.item_id is not None:
            turn.user_text = transcripts.get(metrics.item_id)
            began = first_t.get((app.SpeechStarted, metrics.item_id))
            if began is not None:
                turn.speech = (began, turn.start)
        turns.append(turn)
    turns.sort(key=lambda turn: turn.start)
    events = [line.event for line in lines]
    calls = {event.call_id: event for event in events if isinstance(event, app.ToolStart)}
    ends = {event.call_id: event for event in events if isinstance(event, app.ToolEnd)}
    for turn in turns:
        for timing in turn.metrics.tools:
            call, end = calls.get(timing.call_id), ends.get(timing.call_id)
            turn.tools.append(
                ToolCallSeen(
                    call_id=timing.call_id,
                    name=timing.name,
                    arguments=call.arguments if call is not None else "",
                    output=end.output if end is not None else None,
                    error=end.error if end is not None else None,
                    started=first_t.get((app.ToolStart, timing.call_id)),
                    ended=first_t.get((app.ToolEnd, timing.call_id)),
                    ms=timing.ms,
                )
            )
        windows = [  # its responses, from start to end: the assistant's words come in them
            (began, first_t.get((app.AgentEnd, rid), began))
            for rid in turn.metrics.response_ids
            if (began := first_t.get((app.AgentStart, rid))) is not None
        ]
        turn.assistant_texts = [
            line.event.text
            for line in lines
            if isinstance(line.event, app.Transcript)
            and line.event.role == "assistant"
            and any(began <= line.t <= ended for began, ended in windows)
        ]
    cuts: list[Cut] = []
    last_cut: Line | None = None  # a PlaybackCut: the interruptions it made follow it at once
    for line in lines:
        event = line.event
        if isinstance(event, PlaybackCut):
            last_cut = line
        elif isinstance(event, app.AudioInterrupted):
            made = last_cut is not None and line.t - last_cut.t <= _SAME_MOMENT
            cut = Cut(
                at=last_cut.event.at if made and last_cut is not None else line.t,
                item_id=event.item_id,
                played_ms=event.played_ms,
                truncated_ms=event.truncated_ms,
                deleted=event.deleted,
                text=transcripts.get(event.item_id),
            )
            cuts.append(cut)
            earlier = [turn for turn in turns if turn.start <= line.t]  # the one it cut
            if earlier:
                earlier[-1].cuts.append(cut)
    return turns, cuts
