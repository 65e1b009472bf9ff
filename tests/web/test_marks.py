"""MarkBook, the phone bridge's mark bookkeeping, with tables (no I/O, no clock)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from realtime_agent.web.marks import FRAME_BYTES, MarkBook


@dataclass(frozen=True)
class Send:
    nbytes: int


@dataclass(frozen=True)
class Echo:
    name: object


@dataclass(frozen=True)
class Clear:
    pass


Step = Send | Echo | Clear


def run(book: MarkBook, steps: list[Step]) -> list[object]:
    """What each step answers: the marks of a send, the position of an echo, a clear's."""
    answers: list[object] = []
    for step in steps:
        match step:
            case Send(nbytes):
                answers.append([(len(f.payload), f.mark) for f in book.send(bytes(nbytes))])
            case Echo(name):
                answers.append(book.echoed(name))
            case Clear():
                answers.append(book.clear())
    return answers


# (name, steps, answers, then (sent, acknowledged, pending, ignored))
CASES: list[tuple[str, list[Step], list[object], tuple[int, int, int, int]]] = [
    (
        "frames of 20 ms, a mark after each; a short last frame",
        [Send(400)],
        [[(160, "m0"), (160, "m1"), (80, "m2")]],
        (400, 0, 3, 0),
    ),
    (
        "an echo acknowledges the end of its frame",
        [Send(320), Echo("m0"), Echo("m1")],
        [[(160, "m0"), (160, "m1")], 160, 320],
        (320, 320, 0, 0),
    ),
    (
        "an echo that skips some acknowledges those too",
        [Send(480), Echo("m1")],
        [[(160, "m0"), (160, "m1"), (160, "m2")], 320],
        (480, 320, 1, 0),
    ),
    (
        "a repeated or older echo means nothing",
        [Send(320), Echo("m1"), Echo("m1"), Echo("m0")],
        [[(160, "m0"), (160, "m1")], 320, None, None],
        (320, 320, 0, 2),
    ),
    (
        "echoes of marks never sent, or not ours, mean nothing",
        [Send(160), Echo("m5"), Echo("x0"), Echo("m"), Echo("m-1"), Echo(3), Echo(None)],
        [[(160, "m0")], None, None, None, None, None, None],
        (160, 0, 1, 6),
    ),
    (
        "a clear goes back to the acknowledged position and forgets the pending marks",
        [Send(480), Echo("m0"), Clear()],
        [[(160, "m0"), (160, "m1"), (160, "m2")], 160, 160],
        (160, 160, 0, 0),
    ),
    (
        "marks echoed after a clear (Twilio sends the pending back) mean nothing",
        [Send(480), Echo("m0"), Clear(), Echo("m1"), Echo("m2")],
        [[(160, "m0"), (160, "m1"), (160, "m2")], 160, 160, None, None],
        (160, 160, 0, 2),
    ),
    (
        "after a clear the timeline goes on from there; names are never reused",
        [Send(320), Clear(), Send(160), Echo("m1"), Echo("m2")],
        [[(160, "m0"), (160, "m1")], 0, [(160, "m2")], None, 160],
        (160, 160, 0, 1),
    ),
    (
        "a clear with nothing echoed goes back to 0",
        [Send(800), Clear()],
        [[(160, f"m{i}") for i in range(5)], 0],
        (0, 0, 0, 0),
    ),
    (
        "an empty write sends nothing",
        [Send(0)],
        [[]],
        (0, 0, 0, 0),
    ),
]


@pytest.mark.parametrize(
    ("steps", "answers", "state"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_marks(steps: list[Step], answers: list[object], state: tuple[int, int, int, int]) -> None:
    book = MarkBook()
    assert run(book, steps) == answers
    assert (book.sent, book.acknowledged, book.pending, book.ignored) == state
    assert book.ahead == book.sent - book.acknowledged


def test_the_cap_sends_on_without_marks_until_echoes_make_room() -> None:
    book = MarkBook(max_pending=3)
    frames = book.send(bytes(5 * FRAME_BYTES))
    assert [f.mark for f in frames] == ["m0", "m1", "m2", None, None]
    assert sum(len(f.payload) for f in frames) == 5 * FRAME_BYTES  # nothing held back
    assert (book.pending, book.unmarked, book.sent) == (3, 320, 800)
    assert book.echoed("m1") == 320
    assert [f.mark for f in book.send(bytes(3 * FRAME_BYTES))] == ["m3", "m4", None]
    # The truncate falls where the last echo was: early, never late.
    assert book.echoed("m4") == 1120  # m4 stands for the end of 7 frames
    assert book.acknowledged <= book.sent


def test_a_caller_who_never_echoes_costs_bounded_memory() -> None:
    book = MarkBook(max_pending=100)
    for _ in range(10_000):  # 200 s of audio, no echo
        book.send(bytes(FRAME_BYTES))
    assert book.pending == 100
    assert len(book._positions) == 100
    assert book.unmarked == (10_000 - 100) * FRAME_BYTES
    assert book.clear() == 0 and book.pending == 0
    assert [f.mark for f in book.send(bytes(FRAME_BYTES))] == ["m100"]


def test_the_positions_are_compacted_as_echoes_come() -> None:
    book = MarkBook()
    for i in range(20_000):
        (frame,) = book.send(bytes(FRAME_BYTES))
        assert book.echoed(frame.mark) == (i + 1) * FRAME_BYTES
    assert len(book._positions) <= 2048
    assert book.pending == 0 and book.ignored == 0


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="positive"):
        MarkBook(max_pending=0)
    with pytest.raises(ValueError, match="positive"):
        MarkBook(frame_bytes=0)
