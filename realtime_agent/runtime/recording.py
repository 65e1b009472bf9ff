"""Recording a session: both sides' audio on one timeline, and what happened as JSON lines.

Switch it on with ``connect(agent, record="some/dir")`` (or a :class:`Recorder`). The
directory gets:

* ``user.wav``: the audio the session was given to send, mono pcm16;
* ``assistant.wav``: the assistant's audio where it **played**, mono pcm16: what the
  playout wrote to the sink, placed where the sink played it, and cut where a barge-in
  silenced it (what the listener never heard is not in it);
* ``conversation.wav``: both together, stereo: the user left, the assistant right;
* ``transcript.jsonl``: one JSON object per line, each with ``t`` (seconds on the
  recording's timeline) and ``event`` (its type). The first line is the header
  (``"event": "Recording"``, ``"format": "realtime-agent recording"``, a version, the
  rate); then the application's events (transcripts, tool calls, interruptions, turns
  and their :class:`~realtime_agent.protocol.events.TurnMetrics`, errors), the
  recorder's own ``PlaybackCut`` (where a barge-in stopped the assistant's audio) and,
  once closed, ``RecordingEnd``. ``realtime-agent schema check`` knows it for a
  recording by its header; ``realtime-agent report DIR`` draws it.

**The timeline.** Sample 0 of every WAV and ``t = 0`` are the moment the recording
starts: when the session has connected (:meth:`Recorder.start`). Each side is placed by
the monotonic clock (``clock``, the event loop's). A user frame goes where the session
took it: the first frame at its time; then frames that follow each other without a
pause longer than 100 ms are laid end to end (a sender's jitter is no gap); after a
longer pause, the next frame is placed at its time and the pause is silence. An
assistant chunk goes where the sink says it starts to play: at the clock's time when
the sink had nothing queued, else right after what the sink had queued (the sink's own
timeline, so a stream that plays without a gap is written without one). A barge-in's
``sink.clear()`` cuts the track at what the sink still plays. The two sides are
therefore aligned to within the sender's jitter and one frame.

Everything is written as the session goes (``conversation.wav`` about a second behind),
so an hour-long session costs no more memory than a minute, and a process that dies
leaves readable files. Nothing in the directory is touched until the recording starts:
a session that never connects leaves an earlier recording as it was. A recording that
cannot be written (a full disk) logs one warning and stops; the session goes on.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import struct
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import soxr

from realtime_agent.audio.format import AudioFormat
from realtime_agent.audio.g711 import alaw_to_pcm16, ulaw_to_pcm16
from realtime_agent.audio.sinks import AudioSink
from realtime_agent.protocol import events as app

__all__ = [
    "FILES",
    "FORMAT",
    "HEADER",
    "RECORDED",
    "VERSION",
    "PlaybackCut",
    "Recorder",
    "RecordingEnd",
    "RecordingStarted",
]

logger = logging.getLogger("realtime_agent.recording")

FORMAT = "realtime-agent recording"
"""The header's ``format``: what tells a recording's ``transcript.jsonl`` from an event log."""
VERSION = 1
"""The version of the lines' vocabulary this module writes."""
FILES = ("user.wav", "assistant.wav", "conversation.wav", "transcript.jsonl")
"""The files of a recording, as :meth:`Recorder.close` returns them."""

RECORDED: tuple[type, ...] = (
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
"""The application events a recording keeps (deltas and history are not)."""


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """The header, the first line (``"event": "Recording"``, at ``t = 0``)."""

    format: str
    """Always :data:`FORMAT`."""
    version: int
    rate: int
    """The WAV files' sample rate."""
    started: str
    """When, by the wall clock (ISO 8601, UTC): for people, not for the timeline."""
    input_format: str
    """The encoding the user's audio came in (converted to pcm16 for the file)."""
    output_format: str
    """The encoding the assistant's audio came in."""


@dataclass(frozen=True, slots=True)
class PlaybackCut:
    """A barge-in stopped the assistant's audio (the sink was cleared)."""

    at: float
    """Where on the timeline (seconds) ``assistant.wav`` stops: what the listener heard."""
    dropped_ms: float
    """The audio the sink had queued and never played."""


@dataclass(frozen=True, slots=True)
class RecordingEnd:
    """The recorder was closed: the last line (its absence means the process died)."""

    duration: float
    """The length of ``conversation.wav``, in seconds."""


HEADER = "Recording"
"""The header's ``event`` (the other lines' is their class's name)."""

_GAP = 0.1
"""A pause in a side's audio longer than this (seconds) is silence on its track."""
_SETTLED_BEHIND = 0.25
"""``conversation.wav`` is written up to this far (seconds) behind the clock: what is
older cannot change any more (a later cut or frame rewrites it all the same)."""
_HEADER = 44


class _Track:
    """A pcm16 WAV of ``channels``, written at sample positions: silence fills a gap,
    :meth:`cut` shortens it. Every ``flush_every`` frames of growth its header is
    rewritten to the length so far and the file flushed (a readable WAV at all times,
    missing at most that much)."""

    def __init__(self, path: Path, rate: int, channels: int = 1) -> None:
        self.path = path
        self.rate = rate
        self.channels = channels
        self.frame_bytes = 2 * channels
        self.end = 0
        """Frames in the file."""
        self.written = False
        """Some audio was written (not only silence)."""
        self._flush_every = rate
        self._flushed_at = 0
        self._file: IO[bytes] = open(path, "w+b")  # closed by close()
        self._header()

    def write_at(self, position: int, audio: bytes) -> None:
        """Write whole frames of ``audio`` from ``position`` (at or after the end)."""
        if position > self.end:
            gap = (position - self.end) * self.frame_bytes
            for offset in range(0, gap, self.rate * self.frame_bytes):
                self._file.write(bytes(min(gap - offset, self.rate * self.frame_bytes)))
            self.end = position
        self._file.write(audio)
        self.end += len(audio) // self.frame_bytes
        self.written = self.written or bool(audio)
        if self.end - self._flushed_at >= self._flush_every:
            self.flush()

    def cut(self, position: int) -> bool:
        """Shorten the file to ``position`` frames; False if it was not longer."""
        if position >= self.end:
            return False
        self._file.truncate(_HEADER + position * self.frame_bytes)
        self._file.seek(0, os.SEEK_END)
        self.end = position
        self._flushed_at = min(self._flushed_at, position)
        return True

    def read(self, position: int, frames: int) -> bytes:
        """``frames`` frames from ``position``, silence past the end."""
        data = b""
        if position < self.end:
            self._file.seek(_HEADER + position * self.frame_bytes)
            data = self._file.read(min(frames, self.end - position) * self.frame_bytes)
            self._file.seek(0, os.SEEK_END)
        return data + bytes(frames * self.frame_bytes - len(data))

    def flush(self) -> None:
        self._header()
        self._file.flush()
        self._flushed_at = self.end

    def _header(self) -> None:
        size = self.end * self.frame_bytes
        self._file.seek(0)
        self._file.write(
            struct.pack(
                "<4sI4s4sIHHIIHH4sI",
                b"RIFF",
                36 + size,
                b"WAVE",
                b"fmt ",
                16,
                1,  # PCM
                self.channels,
                self.rate,
                self.rate * self.frame_bytes,
                self.frame_bytes,
                16,
                b"data",
                size,
            )
        )
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        try:
            self._header()
        finally:
            self._file.close()


class _Files:
    """An open recording: the three WAVs and the transcript, and how the stereo file
    follows the mono ones. It holds no reference to its :class:`Recorder`, so that a
    Recorder dropped without ``close()`` has its files finished by a finaliser."""

    def __init__(self, directory: Path, rate: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.clock = clock
        self.started = clock()
        with contextlib.ExitStack() as opening:  # closes what was opened if one fails
            self.lines = opening.enter_context(
                open(directory / "transcript.jsonl", "w", encoding="utf-8")
            )
            self.user = _Track(directory / "user.wav", rate)
            opening.callback(self.user.close)
            self.assistant = _Track(directory / "assistant.wav", rate)
            opening.callback(self.assistant.close)
            self.conversation = _Track(directory / "conversation.wav", rate, channels=2)
            opening.pop_all()
        self.finished = False

    def position(self) -> int:
        """Now, in samples on the timeline."""
        return round((self.clock() - self.started) * self.rate)

    def line(self, name: str, fields: dict[str, Any], *, at: float | None = None) -> None:
        """Write one line, at ``at`` (seconds on the timeline) or now."""
        t = max(0.0, self.clock() - self.started) if at is None else at
        record = {"t": round(t, 3), "event": name, **fields}
        self.lines.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.lines.flush()

    def changed(self, track: _Track, position: int) -> None:
        """``track`` changed from ``position`` on: the stereo file follows."""
        if position < self.conversation.end:  # an old part changed: write it again
            self.conversation.cut(position)
        settled = self.position() - round(_SETTLED_BEHIND * self.rate)
        if settled - self.conversation.end >= self.rate:
            self.settle(settled)

    def settle(self, upto: int) -> None:
        """Write ``conversation.wav`` up to ``upto`` from the mono files, a second at a time."""
        conversation = self.conversation
        while conversation.end < upto:
            frames = min(upto - conversation.end, self.rate)
            stereo = np.empty((frames, 2), dtype="<i2")
            stereo[:, 0] = np.frombuffer(self.user.read(conversation.end, frames), "<i2")
            stereo[:, 1] = np.frombuffer(self.assistant.read(conversation.end, frames), "<i2")
            conversation.write_at(conversation.end, stereo.tobytes())

    def finish(self) -> None:
        """Write the rest, the last line and the headers; close the files (once)."""
        if self.finished:
            return
        self.finished = True
        with contextlib.ExitStack() as closing:  # each is closed, even if another fails
            closing.callback(self.lines.close)
            for track in (self.user, self.assistant, self.conversation):
                closing.callback(track.close)
            self.settle(max(self.user.end, self.assistant.end))
            duration = self.conversation.end / self.rate
            self.line("RecordingEnd", {"duration": round(duration, 3)})

    def abandon(self) -> None:
        """Close without writing more (after a write failed)."""
        self.finished = True
        for closing in (self.lines.close, self.user.close, self.assistant.close):
            with contextlib.suppress(OSError):
                closing()
        with contextlib.suppress(OSError):
            self.conversation.close()


def _converter(fmt: AudioFormat, rate: int) -> Callable[[bytes], bytes]:
    """What turns a side's audio (``fmt``) into pcm16 at ``rate``: G.711 decoded, another
    rate resampled chunk by chunk (soxr, high quality), an odd last byte of pcm16 kept for
    the next chunk."""
    decode = {"ulaw": ulaw_to_pcm16, "alaw": alaw_to_pcm16}.get(fmt.encoding)
    odd = b""

    def convert(audio: bytes) -> bytes:
        nonlocal odd
        if decode is not None:
            pcm = decode(bytes(audio))
        else:
            audio = odd + audio if odd else audio
            whole = len(audio) - len(audio) % 2
            odd = bytes(audio[whole:])  # a copy: the caller may reuse its buffer
            pcm = bytes(audio[:whole]) if whole != len(audio) else bytes(audio)
        if fmt.rate != rate and pcm:
            samples = np.frombuffer(pcm, "<i2")
            pcm = np.asarray(soxr.resample(samples, fmt.rate, rate), dtype="<i2").tobytes()
        return pcm

    return convert


class Recorder:
    """Writes a session's audio and events under ``directory`` (see the module docstring).

    ``rate`` is the WAV files' sample rate (default: the session's output rate, 24 kHz for
    pcm16). ``clock`` is the timeline's clock: ``time.monotonic`` (the event loop's), or
    the :class:`~realtime_agent.audio.sinks.ManualClock` of a test's ``ClockSink``.

    The directory is made at once (OSError if it cannot be); its files are replaced only
    when the recording starts: :meth:`start`, which the session calls once connected
    (the first audio or event starts it too, for a Recorder used on its own). It holds
    no audio: each chunk goes to its file when it comes, from the event loop's thread.
    :meth:`close` writes the rest and closes the files; audio and events after it are
    ignored. A Recorder garbage-collected or still open when the interpreter exits is
    closed then.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        rate: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rate = rate or 24000
        """The WAV files' sample rate (set when the recording starts, if not given)."""
        self.clock = clock
        self.closed = False
        self.error: OSError | None = None
        """Why the recording stopped early, if a write failed."""
        self._rate_given = rate is not None
        self._files: _Files | None = None
        self._finish: weakref.finalize[Any, Any] | None = None
        pcm16 = AudioFormat("pcm16", self.rate, 2)
        self._user, self._assistant = _converter(pcm16, self.rate), _converter(pcm16, self.rate)
        self._run: tuple[int, int] | None = None
        """The assistant's stretch that plays without a gap: (sink sample, track sample)
        of its start."""

    @property
    def started(self) -> bool:
        """True once the files are open (the recording has started)."""
        return self._files is not None

    @property
    def started_at(self) -> float | None:
        """The clock's time at ``t = 0`` (sample 0 of the WAVs), once started."""
        return None if self._files is None else self._files.started

    def start(
        self,
        *,
        input_format: AudioFormat | None = None,
        output_format: AudioFormat | None = None,
    ) -> None:
        """Start the recording now: the files are (re)written from here, ``t = 0``.

        ``input_format`` and ``output_format`` are the session's (pcm16 at the rate by
        default); the files are pcm16. Does nothing once started or closed.
        """
        if self._files is not None or self.closed:
            return
        output_format = output_format or AudioFormat("pcm16", self.rate, 2)
        input_format = input_format or AudioFormat("pcm16", self.rate, 2)
        if not self._rate_given:
            self.rate = output_format.rate
        try:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / "report.html").unlink()  # it drew the recording replaced
            self._files = files = _Files(self.directory, self.rate, self.clock)
        except OSError as exc:
            self._fail(exc)
            return
        self._user = _converter(input_format, self.rate)
        self._assistant = _converter(output_format, self.rate)
        self._finish = weakref.finalize(self, files.finish)
        header = RecordingStarted(
            format=FORMAT,
            version=VERSION,
            rate=self.rate,
            started=datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            input_format=input_format.encoding,
            output_format=output_format.encoding,
        )
        try:
            files.line(HEADER, asdict(header), at=0.0)
        except OSError as exc:
            self._fail(exc)

    def tap(self, sink: AudioSink) -> AudioSink:
        """``sink``, seen by the recording: what the playout writes to it goes to
        ``assistant.wav`` where it plays, and a ``clear()`` cuts it there. The session
        gives its playout this instead of the sink."""
        return _Tap(sink, self)

    def user_audio(self, audio: bytes) -> None:
        """Audio the user sent, taken now."""
        self._side(audio, user=True)

    def assistant_audio(self, audio: bytes) -> None:
        """Assistant audio heard from now (a session records its playout through
        :meth:`tap` instead)."""
        self._side(audio, user=False)

    def _side(self, audio: bytes, *, user: bool) -> None:
        files = self._open()  # starts the recording, with its converters, if need be
        if files is None:
            return
        pcm = (self._user if user else self._assistant)(audio)
        track = files.user if user else files.assistant
        now = files.position()
        # The first frame, or one after a pause, where it was taken; else end to end.
        pause = not track.written or now - track.end > _GAP * self.rate
        at = max(now, track.end) if pause else track.end
        try:
            track.write_at(at, pcm)
            files.changed(track, at)
        except OSError as exc:
            self._fail(exc)

    def _played(self, sink: AudioSink, audio: bytes) -> None:
        """The playout is about to write ``audio`` to ``sink``."""
        files = self._open()
        if files is None:
            return

        written = sink.written_samples
        track = files.assistant
        if self._run is None or written <= sink.played_samples:  # it plays now
            self._run = (written, max(track.end, files.position()))
        since, start = self._run
        at = max(track.end, start + round((written - since) * self.rate / sink.rate))
        try:
            track.write_at(at, self._assistant(audio))
            files.changed(track, at)
        except OSError as exc:
            self._fail(exc)

    def _cleared(self, sink: AudioSink, dropped: int) -> None:
        """The sink was cleared: the assistant's track ends where the sink still plays."""
        files = self._files
        if files is None or self.closed or self._run is None:
            return
        since, start = self._run
        stop = start + round((sink.written_samples - since) * self.rate / sink.rate)
        cut = PlaybackCut(round(stop / self.rate, 3), round(dropped * 1000 / sink.rate, 1))
        try:
            if files.assistant.cut(stop) or dropped:
                files.changed(files.assistant, stop)
                files.line("PlaybackCut", asdict(cut))
        except OSError as exc:
            self._fail(exc)

    def event(self, event: app.AppEvent) -> None:
        """Note an application event, if it is one worth keeping (:data:`RECORDED`)."""
        if self.closed or not isinstance(event, RECORDED):
            return
        files = self._open()
        if files is None:
            return
        fields: dict[str, Any] = {}
        if is_dataclass(event):
            found = asdict(event)
            found.pop("detail", None)
            fields = {k: v for k, v in found.items() if _plain(v)}
        try:
            files.line(type(event).__name__, fields)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> list[Path]:
        """Finish the files; the paths written (``[]`` if the recording never started, or
        on a second call)."""
        if self.closed:
            return []
        self.closed = True
        if self._files is None or self._finish is None:
            return []
        try:
            self._finish()
        except OSError as exc:
            self._fail(exc)
            return []
        return [self.directory / name for name in FILES]

    def _open(self) -> _Files | None:
        if self.closed:
            return None
        if self._files is None:
            self.start()
        return self._files

    def _fail(self, error: OSError) -> None:
        """A write failed: say so once, stop recording, keep what was written."""
        if self.error is None:
            logger.warning("the recording in %s stops: %s", self.directory, error)
        self.error = error
        self.closed = True
        if self._finish is not None:
            self._finish.detach()
        if self._files is not None:
            self._files.abandon()


class _Tap:
    """A sink that tells its :class:`Recorder` what is written to it and when it is cleared."""

    def __init__(self, sink: AudioSink, recorder: Recorder) -> None:
        self.sink = sink
        self._recorder = recorder

    def __repr__(self) -> str:
        return f"<recording {self.sink!r}>"

    @property
    def rate(self) -> int:
        return self.sink.rate

    @property
    def sample_width(self) -> int:
        return self.sink.sample_width

    @property
    def played_samples(self) -> int:
        return self.sink.played_samples

    @property
    def written_samples(self) -> int:
        return self.sink.written_samples

    def write(self, audio: bytes) -> None:
        self._recorder._played(self.sink, audio)
        self.sink.write(audio)

    def clear(self) -> int:
        dropped = self.sink.clear()
        self._recorder._cleared(self.sink, dropped)
        return dropped


def _plain(value: Any) -> bool:
    """JSON as it is: scalars, and lists or dicts of them (a turn's tool timings)."""
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, str | int | float | bool)
