"""The report's page: one self-contained HTML file drawn from a :class:`Recording`.

Everything is in the file: the CSS, a little JavaScript (the playhead, seeking by a
click), and the drawing, an inline SVG made here: both waveforms on one time axis (the
caller above, the assistant below, each lane scaled to its loudest), the caller's speech
as server VAD heard it, each turn where it began, its latency (from the end of the
caller's speech to the first sound of the answer: ``TurnMetrics.first_heard_ms``), its
tool calls where they ran, and each barge-in where it cut the assistant's audio. The
page fetches nothing; only its player refers to ``conversation.wav``, by a relative
path, so it plays when the page sits beside the recording (or in it).

Every drawn element carries its data (``data-turn``, ``data-t``, ``data-name``), and
``<script id="report-data">`` holds what was drawn as JSON (``window.recordingReport``):
for people who want the numbers, and for the tests.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from realtime_agent.report.reading import Cut, Recording, ToolCallSeen, Turn

__all__ = ["render"]

LEFT = 96
"""Pixels left of the timeline's zero (the lanes' names)."""
RIGHT = 24
AXIS = 26
LANE = 92
"""A waveform lane's height."""
LANES = {"user": AXIS + 10, "assistant": AXIS + 10 + LANE + 10}
EVENTS = AXIS + 10 + 2 * (LANE + 10)
"""The top of the lane of turns, latencies and tool calls."""
HEIGHT = EVENTS + 70
MIN_WIDTH, PIXELS_PER_SECOND, MAX_WIDTH = 1100, 110, 24000
_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


def _asset(name: str) -> str:
    return (importlib.resources.files("realtime_agent.report") / name).read_text("utf-8")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _seconds(t: float) -> str:
    return f"{t:.2f} s"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


class _Axis:
    """Seconds to pixels."""

    def __init__(self, duration: float) -> None:
        self.duration = max(duration, 0.5)
        self.width = max(MIN_WIDTH, min(MAX_WIDTH, round(self.duration * PIXELS_PER_SECOND)))
        self.pps = self.width / self.duration

    def x(self, t: float) -> float:
        return round(LEFT + min(max(t, 0.0), self.duration) * self.pps, 2)


def render(recording: Recording, *, audio_src: str | None = None) -> str:
    """The page (see the module docstring); ``audio_src`` is the player's path to
    ``conversation.wav`` (None: no player)."""
    axis = _Axis(recording.duration)
    data = _data(recording, axis)
    header = recording.header
    when = header.started.replace("T", " ")[:19] + " UTC" if header is not None else ""
    counts = " · ".join(
        [
            _seconds(recording.duration),
            _count(len(recording.turns), "turn"),
            _count(len(recording.tool_calls), "tool call"),
            _count(len(recording.cuts), "barge-in"),
        ]
    )
    player = (
        f'<audio id="audio" controls preload="metadata" src="{_e(audio_src)}"></audio>'
        if audio_src is not None
        else ""
    )
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Conversation {_e(recording.directory.name)}</title>",
        f"<style>{_asset('page.css')}</style></head><body>",
        f"<header><h1>Conversation <span>{_e(recording.directory.name)}</span></h1>",
        f'<p class="meta">{_e(when)}{" · " if when else ""}{_e(counts)}</p>{player}</header>',
        '<section id="timeline"><h2>Timeline</h2>',
        '<p class="legend"><span class="key user"></span>you <span class="key assistant"></span>'
        'assistant (each lane scaled to its loudest) <span class="key speech"></span>your '
        'speech, as the server heard it <span class="key latency"></span>latency to the first '
        'sound <span class="key tool"></span>tool call <span class="key barge-in"></span>'
        "barge-in: the assistant cut</p>",
        f'<div class="scroll">{_svg(recording, axis)}</div></section>',
        f'<section id="turns"><h2>Turns</h2><ol class="turns">{_turn_list(recording)}</ol>',
        "</section>",
        _session(recording),
        '<script type="application/json" id="report-data">',
        json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
        "</script>",
        f"<script>{_asset('page.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(page) + "\n"


def _data(recording: Recording, axis: _Axis) -> dict[str, Any]:
    """What the page draws, as JSON."""

    def cut(c: Cut) -> dict[str, Any]:
        return {
            "at": c.at,
            "item_id": c.item_id,
            "played_ms": c.played_ms,
            "truncated_ms": c.truncated_ms,
            "deleted": c.deleted,
        }

    def call(c: ToolCallSeen) -> dict[str, Any]:
        return {
            "call_id": c.call_id,
            "name": c.name,
            "arguments": c.arguments,
            "output": c.output,
            "error": c.error,
            "started": c.started,
            "ms": c.ms,
        }

    return {
        "duration": axis.duration,
        "left": LEFT,
        "pixels_per_second": axis.pps,
        "turns": [
            {
                "turn": turn.number,
                "began": turn.metrics.began,
                "start": turn.start,
                "first_heard": turn.first_heard,
                "first_heard_ms": turn.metrics.first_heard_ms,
                "first_audio_ms": turn.metrics.first_audio_ms,
                "barge_in_ms": turn.metrics.barge_in_ms,
                "interrupted": turn.metrics.interrupted,
                "user_text": turn.user_text,
                "assistant_texts": turn.assistant_texts,
                "tools": [call(c) for c in turn.tools],
                "cuts": [cut(c) for c in turn.cuts],
            }
            for turn in recording.turns
        ],
        "tool_calls": [call(c) for c in recording.tool_calls],
        "barge_ins": [cut(c) for c in recording.cuts],
        "errors": [line for line in recording.check.errors],
    }


def _svg(recording: Recording, axis: _Axis) -> str:
    width = LEFT + axis.width + RIGHT
    parts = [
        f'<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'aria-label="both sides of the conversation on one time axis">'
    ]
    parts += _ticks(axis)
    columns = max(1, axis.width // 2)
    for side, label in (("user", "you"), ("assistant", "assistant")):
        top = LANES[side]
        parts.append(
            f'<rect class="lane {side}" x="{LEFT}" y="{top}" width="{axis.width}" '
            f'height="{LANE}"/><text class="lane-name" x="{LEFT - 10}" '
            f'y="{top + LANE / 2 + 4}">{label}</text>'
        )
        if side == "user":
            parts += _speech(recording, axis)
        parts.append(_wave(recording.peaks(side, columns), side, axis, top))
    parts.append(
        f'<rect class="lane events" x="{LEFT}" y="{EVENTS}" width="{axis.width}" '
        f'height="{HEIGHT - EVENTS - 6}"/><text class="lane-name" x="{LEFT - 10}" '
        f'y="{EVENTS + 22}">turns</text><text class="lane-name" x="{LEFT - 10}" '
        f'y="{EVENTS + 52}">tools</text>'
    )
    for turn in recording.turns:
        parts += _turn_marks(turn, axis)
    for cut in recording.cuts:
        x = axis.x(cut.at)
        heard = f"{cut.played_ms / 1000:.2f} s of the answer heard"
        truncated = "deleted" if cut.truncated_ms is None else f"truncated at {cut.truncated_ms} ms"
        parts.append(
            f'<g class="barge-in" data-t="{cut.at}" data-item="{_e(cut.item_id)}" '
            f'data-played-ms="{cut.played_ms}"><title>barge-in at {_seconds(cut.at)}: {heard}, '
            f'{truncated}</title><line x1="{x}" x2="{x}" y1="{LANES["user"]}" '
            f'y2="{LANES["assistant"] + LANE}"/><path d="M{x - 6} {LANES["assistant"]} '
            f'L{x + 6} {LANES["assistant"]} L{x} {LANES["assistant"] + 9}Z"/>'
            f'<text x="{x + 5}" y="{LANES["assistant"] + LANE - 6}">cut</text></g>'
        )
    parts.append(
        f'<line id="playhead" x1="{LEFT}" x2="{LEFT}" y1="{AXIS}" y2="{HEIGHT - 6}"/></svg>'
    )
    return "".join(parts)


def _ticks(axis: _Axis) -> list[str]:
    step = next((s for s in _TICKS if s * axis.pps >= 64), _TICKS[-1])
    parts = ['<g class="axis">']
    for n in range(math.floor(axis.duration / step) + 1):
        t = n * step
        x = axis.x(t)
        label = f"{t:g} s" if step < 60 else f"{int(t // 60)}:{int(t % 60):02d}"
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{AXIS - 6}" y2="{HEIGHT - 6}"/>'
            f'<text x="{x}" y="{AXIS - 10}">{label}</text>'
        )
    parts.append("</g>")
    return parts


def _wave(peaks: list[float], side: str, axis: _Axis, top: int) -> str:
    """The lane's waveform: a stroke per column, from its peak above the middle to below."""
    loudest = max(peaks, default=0.0)
    middle, half = top + LANE / 2, LANE / 2 - 4
    step = axis.width / max(1, len(peaks))
    strokes = []
    for column, peak in enumerate(peaks):
        height = max(0.5, half * peak / loudest) if loudest > 0 else 0.5
        x = round(LEFT + (column + 0.5) * step, 1)
        strokes.append(f"M{x} {round(middle - height, 1)}V{round(middle + height, 1)}")
    return (
        f'<path class="wave {side}" data-side="{side}" data-columns="{len(peaks)}" '
        f'data-loudest="{round(loudest, 4)}" stroke-width="{round(step * 0.8, 2)}" '
        f'd="{"".join(strokes)}"/>'
    )


def _speech(recording: Recording, axis: _Axis) -> list[str]:
    parts = []
    for turn in recording.turns:
        if turn.speech is None:
            continue
        began, stopped = turn.speech
        parts.append(
            f'<rect class="speech" data-turn="{turn.number}" x="{axis.x(began)}" '
            f'y="{LANES["user"]}" width="{max(1.0, axis.x(stopped) - axis.x(began)):.2f}" '
            f'height="{LANE}"><title>turn {turn.number}: your speech, '
            f"{_seconds(began)} to {_seconds(stopped)}</title></rect>"
        )
    return parts


def _turn_marks(turn: Turn, axis: _Axis) -> list[str]:
    x = axis.x(turn.start)
    parts = [
        f'<g class="turn" data-turn="{turn.number}" data-t="{turn.start}">'
        f"<title>turn {turn.number} began at {_seconds(turn.start)} "
        f"({'your speech ended' if turn.metrics.began == 'speech' else 'asked by text'})"
        f'</title><line x1="{x}" x2="{x}" y1="{LANES["user"]}" y2="{EVENTS + 34}"/>'
        f'<circle cx="{x}" cy="{EVENTS + 17}" r="9"/>'
        f'<text x="{x}" y="{EVENTS + 21}">{turn.number}</text></g>'
    ]
    heard = turn.first_heard
    if heard is not None and turn.metrics.first_heard_ms is not None:
        end = axis.x(heard)
        ms = turn.metrics.first_heard_ms
        parts.append(
            f'<g class="latency" data-turn="{turn.number}" data-ms="{ms}" data-t="{heard}">'
            f"<title>turn {turn.number}: first sound {_ms(ms)} after it began</title>"
            f'<path d="M{x + 9} {EVENTS + 17}H{end}M{end} {EVENTS + 11}V{EVENTS + 23}"/>'
            f'<text x="{max(end, x + 12) + 4}" y="{EVENTS + 21}">{_ms(ms)}</text></g>'
        )
    for call in turn.tools:
        began = call.started if call.started is not None else turn.start
        ended = call.ended if call.ended is not None else began
        x0 = axis.x(began)
        wide = max(4.0, axis.x(ended) - x0)
        parts.append(
            f'<g class="tool" data-turn="{turn.number}" data-name="{_e(call.name)}" '
            f'data-t="{began}"><title>{_e(call.name)}({_e(call.arguments)}) → '
            f"{_e(call.error or call.output)}</title>"
            f'<rect x="{x0}" y="{EVENTS + 42}" width="{wide:.2f}" height="14" rx="3"/>'
            f'<text x="{x0 + wide + 4}" y="{EVENTS + 53}">{_e(call.name)}</text></g>'
        )
    return parts


def _turn_list(recording: Recording) -> str:
    items = []
    for turn in recording.turns:
        m = turn.metrics
        began = "began when you stopped speaking" if m.began == "speech" else "asked by text"
        status = [m.status or "?"] + (["interrupted by you"] if m.interrupted else [])
        rows = [
            f'<li class="turn" id="turn-{turn.number}" data-turn="{turn.number}" '
            f'data-start="{turn.start}"><div class="turn-head"><a class="seek" href="#turn-'
            f'{turn.number}" data-t="{turn.start}">Turn {turn.number}</a> '
            f'<span class="when">at {_seconds(turn.start)}</span> <span>{began}</span> '
            f'<span class="status">{_e(" · ".join(status))}</span></div>'
        ]
        if turn.user_text is not None:
            rows.append(f'<p class="said user"><b>You</b> {_e(turn.user_text)}</p>')
        for call in turn.tools:
            result = call.error if call.error is not None else call.output
            took = f' <span class="ms">ran {_ms(call.ms)}</span>' if call.ms is not None else ""
            rows.append(
                f'<div class="tool-call{" failed" if call.error else ""}" data-name='
                f'"{_e(call.name)}"><b>Tool</b> <code>{_e(call.name)}({_e(call.arguments)})'
                f"</code> → <code>{_e(result)}</code>{took}</div>"
            )
        for text in turn.assistant_texts:
            rows.append(f'<p class="said assistant"><b>Assistant</b> {_e(text)}</p>')
        for cut in turn.cuts:
            where = (
                "deleted: none of it was heard"
                if cut.truncated_ms is None
                else f"truncated at {cut.truncated_ms} ms"
            )
            rows.append(
                f'<p class="cut" data-t="{cut.at}">Cut by your barge-in at '
                f"{_seconds(cut.at)}: {cut.played_ms / 1000:.2f} s of the answer heard, "
                f"{where}</p>"
            )
        rows.append(f'<dl class="latency">{_latency(turn)}</dl></li>')
        items.append("".join(rows))
    return "".join(items) or '<li class="none">No turn was completed.</li>'


def _latency(turn: Turn) -> str:
    m = turn.metrics
    since = "you stopped speaking" if m.began == "speech" else "the request"
    rows = []
    if m.first_heard_ms is not None:
        rows.append(("first sound", f"{_ms(m.first_heard_ms)} after {since}"))
    else:
        rows.append(("first sound", "nothing was played"))
    if m.first_audio_ms is not None:
        rows.append(("server's first audio", _ms(m.first_audio_ms)))
    for tool in m.tools:
        rows.append((f"{tool.name}", f"ran {_ms(tool.ms)}{' (failed)' if tool.error else ''}"))
    if m.barge_in_ms is not None:
        rows.append(("barge-in", f"silenced and cut {_ms(m.barge_in_ms)} after you spoke"))
    return "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in rows)


def _session(recording: Recording) -> str:
    parts = ['<section id="session"><h2>Session</h2>']
    summary = recording.summary
    if summary is not None:
        figures = [
            ("length", _seconds(summary.seconds)),
            ("turns", summary.turns),
            ("barge-ins", summary.barge_ins),
            ("tool calls", summary.tool_calls),
            ("reconnects", summary.reconnects),
            ("rollovers", summary.rollovers),
            ("underruns", summary.underruns),
            ("events dropped", summary.dropped_events),
            ("input frames dropped", summary.dropped_audio),
            ("loop lag, worst", _ms(summary.loop_lag_max_ms)),
        ]
        cells = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in figures)
        parts.append(f'<dl class="summary">{cells}</dl>')
    else:
        parts.append("<p>No session summary: the session did not end normally.</p>")
    if not recording.check.ended:
        parts.append("<p>The recording was not closed (no RecordingEnd line).</p>")
    for error in recording.errors:
        parts.append(f'<p class="error">Error: {_e(error.message)}</p>')
    for number, message in recording.check.errors:
        parts.append(f'<p class="error">transcript.jsonl line {number}: {_e(message)}</p>')
    parts.append("</section>")
    return "".join(parts)


def player_source(page: Path, directory: Path) -> str | None:
    """The player's relative path from ``page`` to the recording's ``conversation.wav``
    (None if there is none, or no relative path: another drive)."""
    wav = directory / "conversation.wav"
    if not wav.is_file():
        return None
    try:
        relative = os.path.relpath(wav.resolve(), page.resolve().parent)
    except ValueError:
        return None
    return quote(Path(relative).as_posix())
