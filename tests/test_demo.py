"""`realtime-agent demo`: offline, WAV in, recording out, a tool call, one-line errors; a key
for a server that asks for one; what it shows (listening, heard, the words as they are
heard); a WAV with no speech in it."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from realtime_agent.audio.sinks import ClockSink
from realtime_agent.cli import main
from realtime_agent.demo import (
    SAMPLE_QUESTION,
    TAIL_MS,
    DemoOptions,
    SpokenWords,
    run_demo,
    sample_wav,
)
from realtime_agent.server import LocalRealtimeServer, RuleResponder
from realtime_agent.testing import ServerThread
from tests.speech import REAL, VOICE

ANSWER = "Here is what I found: city Paris, sky clear, celsius 21."
"""What the local server answers the bundled question with."""

KEY = "sk-local-demo-key"


async def test_offline_demo_with_the_bundled_question(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = await run_demo(DemoOptions(out=tmp_path / "rec", fast=True), out, err)
    text = out.getvalue()
    assert status == 0, text + err.getvalue()
    assert err.getvalue() == ""
    lines = text.splitlines()
    assert "talking to the local Realtime server" in lines[0]

    def index(start: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(start))

    # In the order they happen: listening, speech begins and ends, the transcripts, the
    # tool, the answer, its figures.
    order = [
        "[listening]  to the bundled question",
        "  (hearing you...)",
        "  (heard you: ",
        f"[you]        {SAMPLE_QUESTION}",
        '[tool call]  get_weather({"city": "Paris"})',
        "[tool done]  ",
        f"[assistant]  {ANSWER}",
        "  (turn 1: first sound ",
        "wrote ",
    ]
    assert [index(start) for start in order] == sorted(index(start) for start in order), text
    turn = lines[index("  (turn 1: ")]
    assert " ms after you stopped speaking; " in turn and "; get_weather ran " in turn
    assert lines[index(f"[assistant]  {ANSWER}")] == f"[assistant]  {ANSWER}"
    wrote = lines[-1]
    assert wrote.startswith("wrote ")
    assert all(name in wrote for name in ("assistant.wav", "transcript.jsonl", "user.wav"))
    with wave.open(str(tmp_path / "rec" / "user.wav")) as user:
        with wave.open(str(sample_wav())) as sample:  # then the silence that ends a turn
            assert user.getnframes() >= sample.getnframes() + 24 * TAIL_MS
    with wave.open(str(tmp_path / "rec" / "assistant.wav")) as assistant:
        assert assistant.getnframes() > 24000  # more than a second of reply
    recorded = [
        json.loads(line)
        for line in (tmp_path / "rec" / "transcript.jsonl").read_text().splitlines()
    ]
    events = [line["event"] for line in recorded]
    assert events.index("SpeechStopped") < events.index("ToolStart") < events.index("ToolEnd")
    assert any(line.get("text") == SAMPLE_QUESTION for line in recorded)


async def test_demo_with_a_wav_of_your_own(tmp_path: Path) -> None:
    audio, rate = soundfile.read(str(sample_wav()), dtype="float32")
    resampled = soxr.resample(audio, rate, 44100)
    stereo = tmp_path / "question-44k-stereo.wav"
    soundfile.write(str(stereo), np.column_stack([resampled, resampled]), 44100, subtype="FLOAT")
    out = io.StringIO()
    status = await run_demo(DemoOptions(wav_in=stereo, out=None, fast=True), out)
    assert status == 0, out.getvalue()
    assert f"  input: {stereo} (3.2 s)\n" in out.getvalue()
    assert f"[listening]  to {stereo}\n" in out.getvalue()
    if REAL:  # recognized, resampled from 44.1 kHz stereo
        assert f"[you]        {SAMPLE_QUESTION}" in out.getvalue()
        assert '[tool call]  get_weather({"city": "Paris"})' in out.getvalue()
    else:  # no recognition: the placeholder
        assert "[you]        (speech," in out.getvalue()
        assert "[tool call]  get_weather" in out.getvalue()


# --- a key for a server that asks for one --------------------------------------------------


@pytest.fixture
def keyed_server() -> Iterator[ServerThread]:
    with ServerThread(LocalRealtimeServer(api_key=KEY)) as server:
        yield server


@pytest.mark.parametrize(
    ("environment", "option", "status", "says"),
    [
        (None, None, 2, "asks for a key (none was sent): HTTP 401 (set OPENAI_API_KEY"),
        ("sk-wrong", None, 2, "refused the key: HTTP 401"),
        (None, "sk-wrong", 2, "refused the key: HTTP 401"),
        (KEY, None, 0, ""),  # --url sends OPENAI_API_KEY
        ("sk-wrong", KEY, 0, ""),  # --api-key wins over the variable
    ],
)
def test_demo_sends_a_key_to_a_url(
    keyed_server: ServerThread,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: str | None,
    option: str | None,
    status: int,
    says: str,
) -> None:
    if environment is None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", environment)
    argv = ["demo", "--url", keyed_server.url, "--fast", "--no-record", "--no-mic"]
    assert main(argv + (["--api-key", option] if option else [])) == status
    captured = capsys.readouterr()
    if status:
        assert captured.err.count("\n") == 1 and says in captured.err, captured.err
    else:
        assert captured.err == "" and f"[assistant]  {ANSWER}" in captured.out
        named = "(with the --api-key key)" if option else "(with OPENAI_API_KEY)"
        assert named in captured.out.splitlines()[0]
    for secret in (KEY, "sk-wrong"):
        assert secret not in captured.out and secret not in captured.err


# --- mistakes: one line on stderr, no traceback -------------------------------------------


def _bad_invocations(tmp: Path) -> list[tuple[list[str], str]]:
    a_file = tmp / "a-file"
    a_file.write_text("not a folder")
    text = tmp / "notes.wav"
    text.write_text("not audio at all")
    cases = [
        (["--out", str(a_file)], "a file is there, not a folder"),
        (["--out", str(a_file / "rec")], "is not a folder"),
        (["--out", str(tmp / "no" / "such" / "rec")], "does not exist"),
        (["--in", str(tmp / "missing.wav"), "--no-record"], "no such file"),
        (["--in", str(tmp), "--no-record"], "directory"),
        (["--in", str(text), "--no-record"], "not a WAV"),
        (["--timeout", "soon", "--no-record"], "--timeout"),
        (["--timeout", "-5", "--no-record"], "--timeout"),
        (["--timeout", "nan", "--no-record"], "--timeout"),
        (["--half-duplex", "loud", "--no-record"], "--half-duplex"),
        (["--half-duplex", "6", "--no-record"], "--half-duplex"),
    ]
    if sys.platform == "linux":  # a place no one may write, not even root
        cases.append((["--out", "/proc/realtime-agent-demo"], "cannot write there"))
    return cases


def test_a_bad_invocation_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for options, says in _bad_invocations(tmp_path):
        status = main(["demo", "--fast", "--no-mic", *options])
        captured = capsys.readouterr()
        assert status == 2, (options, captured)
        assert captured.err.count("\n") == 1, (options, captured.err)
        assert captured.err.startswith("realtime-agent demo: ") and says in captured.err, (
            options,
            captured.err,
        )
        assert "Traceback" not in captured.err + captured.out
        assert captured.out == "", (options, captured.out)  # nothing began
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a-file", tmp_path / "notes.wav"]


def test_a_bad_device_or_a_bad_url_is_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = asyncio.run(run_demo(DemoOptions(mic=True, device="no-such-device"), out, err))
    assert status == 2
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("realtime-agent demo: ")
    out, err = io.StringIO(), io.StringIO()
    options = DemoOptions(url="ws://127.0.0.1:9/v1/realtime", fast=True, out=None)
    assert asyncio.run(run_demo(options, out, err)) == 2
    assert "cannot connect" in err.getvalue() and "Traceback" not in err.getvalue()


# --- no speech -----------------------------------------------------------------------------


def test_a_silent_wav_ends_at_once_saying_no_speech_was_heard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros(2 * 24000, dtype="float32"), 24000)
    began = time.monotonic()
    status = main(["demo", "--in", str(silent), "--fast", "--no-record", "--no-mic"])
    took = time.monotonic() - began
    captured = capsys.readouterr()
    assert status == 1, captured
    assert captured.err == (
        f"realtime-agent demo: no speech was detected in {silent} (is it silent? "
        "every sample is 0)\n"
    )
    assert f"[listening]  to {silent}\n" in captured.out
    assert "hearing you" not in captured.out
    assert took < 30  # not the 60 s of --timeout: once sent, and a second for the server


async def test_a_quiet_wav_says_how_loud_it_is(tmp_path: Path) -> None:
    quiet = tmp_path / "hum.wav"
    hum = 0.002 * np.sin(np.arange(24000) * 2 * np.pi * 50 / 24000)  # -54 dBFS
    soundfile.write(str(quiet), hum.astype("float32"), 24000)
    out, err = io.StringIO(), io.StringIO()
    assert await run_demo(DemoOptions(wav_in=quiet, fast=True, out=None), out, err) == 1
    assert err.getvalue() == (
        f"realtime-agent demo: no speech was detected in {quiet} (is it silent? its loudest "
        "sample is -54 dBFS; speech is usually louder than -30 dBFS)\n"
    )


# --- the words, as they are heard ------------------------------------------------------


class _Timed(io.StringIO):
    """The demo's output, each write with how much the sink had played when it came."""

    def __init__(self, sink: ClockSink) -> None:
        super().__init__()
        self.sink = sink
        self.writes: list[tuple[str, int]] = []

    def write(self, text: str) -> int:
        self.writes.append((text, self.sink.played_samples))
        return super().write(text)


async def test_the_words_come_as_their_audio_plays() -> None:
    """Against the local server (sending as fast as it can: all of the answer arrives in
    a moment) and a sink playing in real time: all the words of the answer, in order,
    each written once the sink has played past the point of the audio where it arrived
    (the server sends a word just before the audio delta its sound begins in)."""
    sink = ClockSink()
    out = _Timed(sink)
    server = LocalRealtimeServer(
        responder=lambda: RuleResponder(transcripts=[SAMPLE_QUESTION]),
        synthesizer=VOICE,
        recognizer="off",
    )
    async with server:
        options = DemoOptions(url=server.url, fast=True, out=None, audio_out=sink)
        assert await run_demo(options, out, io.StringIO()) == 0, out.getvalue()
    starts = [i for i, (text, _) in enumerate(out.writes) if text == "[assistant]  "]
    assert len(starts) == 1, out.getvalue()  # one line, nothing printed across it
    end = next(i for i in range(starts[0], len(out.writes)) if out.writes[i][0] == "\n")
    pieces = out.writes[starts[0] + 1 : end]
    assert "".join(text for text, _ in pieces) == ANSWER  # every word, in order
    assert len(pieces) > 3  # not all at once

    # Where each word arrived in the answer's audio: at the start of the delta its sound
    # begins in (the answer is the only audio: the sink's position is the answer's).
    chunk = server.delta_ms * 24  # samples of each audio delta (24 kHz)
    spoken = VOICE.synthesize(ANSWER, "marin").words
    assert "".join(word for _, word in spoken) == ANSWER
    played_at: list[int] = []  # what the sink had played when each character was written
    for text, played in pieces:
        played_at += [played] * len(text)
    first = 0  # the word's first character
    for offset, word in spoken:
        arrived = offset // chunk * chunk
        assert played_at[first] > arrived, (word, played_at[first], arrived)
        first += len(word)
    assert pieces[-1][1] > spoken[-1][0] // chunk * chunk > 0  # the last well after the first


# --- SpokenWords, without I/O ----------------------------------------------------------


def test_spoken_words_wait_for_their_audio() -> None:
    words = SpokenWords()
    heard: dict[str, tuple[int, bool]] = {}
    words.word("a", "Hello ")  # ahead of any audio: at 0
    words.audio("a", 0, "ra", 960)
    words.word("a", "there ")  # at 960
    words.audio("a", 0, "ra", 960)
    words.word("a", "friend.")  # at 1920
    assert words.due(lambda item, index: heard.get(item)) == []  # no audio in the playout
    heard["a"] = (0, False)
    assert words.due(lambda item, index: heard[item]) == []  # nothing played
    heard["a"] = (1, False)
    assert words.due(lambda item, index: heard[item]) == [("a", "Hello ", False)]
    heard["a"] = (1921, False)
    assert words.due(lambda item, index: heard[item]) == [("a", "there friend.", False)]
    words.final("a", "Hello there friend.")
    assert words.waiting
    assert words.due(lambda item, index: heard[item]) == [("a", "", True)]
    assert not words.waiting

    words.word("b", "No final ")
    words.audio("b", 0, "rb", 960)
    words.word("b", "transcript.")
    heard["b"] = (960, True)
    assert words.due(lambda item, index: heard[item]) == [("b", "No final transcript.", False)]
    words.response_done("rb")  # its response ended: the line ends all the same
    assert words.due(lambda item, index: heard[item]) == [("b", "", True)]
    assert not words.waiting


def test_spoken_words_fill_in_what_no_delta_brought_and_drop_what_was_cut() -> None:
    words = SpokenWords()
    played = {"a": (0, False), "b": (0, False)}
    words.word("a", "One ")
    words.audio("a", 0, "ra", 4800)
    words.final("a", "One two three.")  # "two three." came in no delta: after the audio
    played["a"] = (100, False)
    assert words.due(lambda item, index: played[item]) == [("a", "One ", False)]
    played["a"] = (4800, True)  # all of it heard
    assert words.due(lambda item, index: played[item]) == [("a", "two three.", True)]

    words.word("b", "Never ")
    words.audio("b", 0, "rb", 960)
    words.word("b", "heard.")
    played["b"] = (10, False)
    assert words.due(lambda item, index: played[item]) == [("b", "Never ", False)]
    words.cut("b")  # interrupted at 10 samples: the rest was never said
    words.final("b", "Never heard.")
    played["b"] = (960, True)
    assert words.due(lambda item, index: played[item]) == []
    assert not words.waiting


def test_spoken_words_of_a_text_answer_come_when_it_is_final() -> None:
    words = SpokenWords()
    words.word("t", "Just ")
    words.word("t", "text.")
    assert words.due(lambda item, index: None) == []
    words.final("t", "Just text.")
    assert words.due(lambda item, index: None) == [("t", "Just text.", True)]
