"""``realtime-agent report DIR`` and ``schema check`` on a recording: a real recorded
conversation (spoken to the local server in real time, with a tool call and a barge-in:
``tests/recorded.py``) drawn as one HTML page, rendered in Debian's Chromium (Playwright's
Python package, nothing downloaded) and checked for what it draws; the recording's own
lines checked by ``schema check``; and the mistakes, each one line.

The page's screenshot goes to ``REALTIME_AGENT_ARTIFACTS`` (CI keeps it), else the
test's ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from realtime_agent.cli import main
from realtime_agent.report import check_recording, looks_like_recording, read_recording
from realtime_agent.runtime.recording import FORMAT
from tests.recorded import BARGE_IN, LONG_ANSWER, QUESTION, Recorded, record_conversation

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """One conversation for the module's tests (about eight seconds, in real time)."""
    directory = tmp_path_factory.mktemp("recording")
    return asyncio.run(record_conversation(directory))


@pytest.fixture
def recording(recorded: Recorded, tmp_path: Path) -> Path:
    """A copy of the recording for one test to write into."""
    return Path(shutil.copytree(recorded.directory, tmp_path / "recording"))


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where the screenshot goes: ``REALTIME_AGENT_ARTIFACTS`` (CI keeps it), else ``tmp_path``."""
    folder = Path(os.environ.get("REALTIME_AGENT_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lines(directory: Path) -> list[dict[str, Any]]:
    text = (directory / "transcript.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def of(found: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in found if line["event"] == event]


# schema check on a recording.


def test_schema_check_knows_a_recording_by_its_header(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "check", str(recording / "transcript.jsonl")]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"{FORMAT} (version 1, 24000 Hz, started ")
    assert first.endswith(" 0 errors")
    counts = {line.split()[1]: int(line.split()[0]) for line in out.splitlines()[1:-1]}
    found = lines(recording)
    assert sum(counts.values()) == len(found)
    assert counts["TurnMetrics"] == 2 and counts["PlaybackCut"] == 1
    assert counts["Recording"] == counts["RecordingEnd"] == 1
    assert out.splitlines()[-1] == f"{found[-1]['duration']:.3f} s recorded, 2 turns"


def test_schema_check_finds_what_is_wrong_in_a_recording(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = (recording / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
    bad = [
        found[0],
        "not json",
        '{"t": 0.1, "event": "Nonsense"}',
        '{"t": 0.2, "event": "Transcript", "item_id": "i", "role": "bot", "text": 3}',
        '{"t": 0.3, "event": "SpeechStarted", "item_id": "i", "audio_start_ms": 0, "x": 1}',
        '{"t": 0.4, "event": "PlaybackCut", "at": 1.0}',
        '{"t": 0.4, "event": "AgentStart", "response_id": "r"}',
        '{"t": 0.2, "event": "AgentStart", "response_id": "r"}',
        '{"t": "soon", "event": "AgentStart", "response_id": "r"}',
        '{"t": 0.5, "event": "RecordingEnd", "duration": 0.5}',
        '{"t": 0.6, "event": "AgentStart", "response_id": "r"}',
    ]
    (recording / "transcript.jsonl").write_text("\n".join(bad) + "\n", encoding="utf-8")
    assert main(["schema", "check", str(recording / "transcript.jsonl")]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("line ")]
    assert errors == [
        "line 2: not JSON: Expecting value: line 1 column 1 (char 0)",
        "line 3: unknown event 'Nonsense'",
        "line 4: Transcript: role: Input should be 'user' or 'assistant'; "
        "text: Input should be a valid string",
        "line 5: SpeechStarted: unknown fields x",
        "line 6: PlaybackCut: dropped_ms: Field required",
        "line 8: t goes back, from 0.4 to 0.2",
        "line 9: AgentStart: 't' is seconds (a number, 0 or more), not 'soon'",
        "line 11: AgentStart after RecordingEnd",
    ]


def test_an_older_recording_without_a_header_is_still_a_recording() -> None:
    older = [
        '{"t": 0.019, "event": "SpeechStarted", "item_id": "i", "audio_start_ms": 20}',
        '{"t": 0.046, "event": "SpeechStopped", "item_id": "i", "audio_end_ms": 2728}',
    ]
    assert looks_like_recording(older[0])
    assert not looks_like_recording('{"type": "session.created", "event_id": "e"}')
    assert not looks_like_recording('{"event": "Recording", "format": "something else"}')
    check = check_recording(older)
    assert check.errors == [] and check.header is None and not check.ended
    assert check.duration == 0.046


# The report.


def test_the_report_reads_the_conversation_as_it_was(recorded: Recorded) -> None:
    recording = read_recording(recorded.directory)
    assert [turn.number for turn in recording.turns] == [1, 2]
    first, second = recording.turns
    assert (first.user_text, second.user_text) == (QUESTION, BARGE_IN)
    assert first.metrics.interrupted and not second.metrics.interrupted
    [call] = first.tools
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert json.loads(call.output or "") == {"city": "Paris", "sky": "clear", "celsius": 21}
    [cut] = first.cuts
    assert recording.cuts == [cut] and second.cuts == []
    [playback_cut] = of(lines(recorded.directory), "PlaybackCut")
    assert cut.at == playback_cut["at"] and cut.truncated_ms == cut.played_ms > 0
    assert cut.text is not None and LONG_ANSWER.startswith(cut.text.strip())
    assert first.assistant_texts == [cut.text] and second.assistant_texts == ["Yes?"]
    assert first.speech is not None and first.speech[0] < first.start
    for turn in recording.turns:  # its latency as the turn's figure, on the timeline
        assert turn.metrics.first_heard_ms is not None and turn.first_heard is not None
        assert turn.first_heard == turn.start + turn.metrics.first_heard_ms / 1000


def test_report_errors_are_one_line(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event_log = tmp_path / "event-log"
    event_log.mkdir()
    (event_log / "transcript.jsonl").write_text('{"type": "session.created"}\n')
    half = tmp_path / "half"
    shutil.copytree(recording, half)
    (half / "assistant.wav").unlink()
    cases = {
        str(tmp_path / "nowhere"): f"{tmp_path / 'nowhere'}: no such directory",
        str(recording / "user.wav"): f"{recording / 'user.wav'}: not a directory",
        str(tmp_path): f"{tmp_path} is not a recording: it has no transcript.jsonl",
        str(event_log): f"{event_log / 'transcript.jsonl'} is not a recording's: it has no "
        "'Recording' header line",
        str(half): f"{half} is not a whole recording: no assistant.wav",
    }
    for directory, message in cases.items():
        assert main(["report", directory]) == 2, directory
        captured = capsys.readouterr()
        assert captured.err == f"realtime-agent report: {message}\n"
        assert captured.out == ""
    out = tmp_path / "no-such-folder" / "report.html"
    assert main(["report", str(recording), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"realtime-agent report: cannot write {out}: No such file or directory\n"
    )


async_api = pytest.importorskip(
    "playwright.async_api", reason="the page test needs Playwright's Python package"
)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium ({CHROMIUM})")
@pytest.mark.loop_block_limit(0.3, reason="Playwright's first start in a process")
async def test_the_page_draws_the_conversation_in_chromium(
    recording: Path, artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(recording)]) == 0
    page_path = recording / "report.html"
    assert capsys.readouterr().out == f"wrote {page_path}: " + (
        f"{read_recording(recording).duration:.1f} s, 2 turns, 1 tool call, 1 barge-in\n"
    )
    found = lines(recording)
    metrics = of(found, "TurnMetrics")
    [tool_start] = of(found, "ToolStart")
    [tool_end] = of(found, "ToolEnd")
    [playback_cut] = of(found, "PlaybackCut")

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1320, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            failures: list[str] = []
            page.on("pageerror", lambda error: failures.append(str(error)))
            await page.goto(page_path.as_uri())
            data: dict[str, Any] = await page.evaluate("window.recordingReport")
            drawn: dict[str, Any] = await page.evaluate(DRAWN)
            await page.screenshot(path=str(artifacts / "report.png"), full_page=True)
            # A click on the timeline moves the playhead there.
            await page.click("#timeline-svg", position={"x": data["left"] + 100, "y": 60})
            playhead = float(await page.get_attribute("#playhead", "x1") or 0)
        finally:
            await browser.close()

    # Self-contained: the page asked for nothing but itself and the recording's audio.
    assert failures == []
    assert requests == [page_path.as_uri(), (recording / "conversation.wav").as_uri()]
    assert abs(playhead - (data["left"] + 100)) < 1

    def seconds(x: float) -> float:
        return (x - float(data["left"])) / float(data["pixels_per_second"])

    half_pixel = 0.5 / data["pixels_per_second"]
    # The turns, each where it began, its latency as its TurnMetrics says.
    assert [t["turn"] for t in data["turns"]] == [m["turn"] for m in metrics] == [1, 2]
    assert [t["turn"] for t in drawn["turns"]] == [1, 2]
    for mark, turn in zip(drawn["turns"], data["turns"], strict=True):
        assert abs(seconds(mark["x"]) - turn["start"]) <= half_pixel
    assert [(t["turn"], t["ms"]) for t in drawn["latencies"]] == [
        (m["turn"], m["first_heard_ms"]) for m in metrics
    ]
    # The tool call, with its arguments and result, where it ran.
    [tool] = drawn["tools"]
    assert tool["name"] == "get_weather"
    assert abs(seconds(tool["x"]) - tool_start["t"]) <= half_pixel
    assert data["tool_calls"][0]["arguments"] == tool_start["arguments"]
    assert data["tool_calls"][0]["output"] == tool_end["output"]
    assert drawn["tool_lines"] == [
        f"Tool get_weather({tool_start['arguments']}) → {tool_end['output']} ran "
        f"{metrics[0]['tools'][0]['ms']:.1f} ms"
    ]
    # The barge-in, where the assistant's audio was cut.
    [barge_in] = drawn["barge_ins"]
    assert abs(seconds(barge_in["x"]) - playback_cut["at"]) <= half_pixel
    assert barge_in["height"] > 150  # across both lanes
    # Both waveforms drawn, across the lanes where someone spoke.
    for side in ("user", "assistant"):
        wave = drawn["waves"][side]
        assert wave["columns"] > 500 and wave["height"] > 60 and wave["width"] > 800
    # The turns' words, as the recording has them.
    assert drawn["said"] == [
        ["You", QUESTION],
        ["Assistant", of(found, "Transcript")[1]["text"].strip()],
        ["You", BARGE_IN],
        ["Assistant", "Yes?"],
    ]
    assert len(drawn["cuts"]) == 1 and drawn["cuts"][0].startswith("Cut by your barge-in at ")


DRAWN = """() => {
  const box = (el) => el.getBBox();
  const svg = document.getElementById("timeline-svg");
  const wave = (side) => {
    const path = svg.querySelector(`path.wave.${side}`);
    const b = box(path);
    return {columns: Number(path.dataset.columns), width: b.width, height: b.height};
  };
  return {
    turns: [...svg.querySelectorAll("g.turn")].map((g) => ({
      turn: Number(g.dataset.turn), x: box(g.querySelector("line")).x})),
    latencies: [...svg.querySelectorAll("g.latency")].map((g) => ({
      turn: Number(g.dataset.turn), ms: Number(g.dataset.ms)})),
    tools: [...svg.querySelectorAll("g.tool")].map((g) => ({
      name: g.dataset.name, x: box(g.querySelector("rect")).x})),
    barge_ins: [...svg.querySelectorAll("g.barge-in")].map((g) => {
      const b = box(g.querySelector("line"));
      return {x: b.x, height: b.height};
    }),
    waves: {user: wave("user"), assistant: wave("assistant")},
    tool_lines: [...document.querySelectorAll("li.turn .tool-call")].map((d) => d.innerText),
    said: [...document.querySelectorAll("li.turn .said")].map((p) => [
      p.querySelector("b").innerText, p.innerText.slice(p.querySelector("b").innerText.length)
        .trim()]),
    cuts: [...document.querySelectorAll("li.turn .cut")].map((p) => p.innerText),
  };
}"""
