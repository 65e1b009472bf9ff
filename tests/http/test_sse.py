"""The Server-Sent Events parser, by the WHATWG rules: tables of streams, and a property:
however the bytes are split, the events are the same, and those of a plain reading of
the rules."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.http.errors import EventStreamTooLarge
from realtime_agent.http.sse import EventStreamParser, ServerSentEvent

E = ServerSentEvent


def parse(*pieces: bytes) -> list[ServerSentEvent]:
    parser = EventStreamParser()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events += parser.feed(piece)
    parser.close()
    return events


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: hello\n\n", [E(data="hello")]),
        (b"data:hello\n\n", [E(data="hello")]),
        (b"data:  two spaces\n\n", [E(data=" two spaces")]),
        (b"data: a:b: c\n\n", [E(data="a:b: c")]),
        (b"data: a\ndata: b\n\n", [E(data="a\nb")]),
        (b"data: a\r\ndata: b\r\n\r\n", [E(data="a\nb")]),
        (b"data: a\rdata: b\r\r", [E(data="a\nb")]),
        (b"data: a\rdata: b\r\n\n", [E(data="a\nb")]),
        (b"data: a\n\n\n\ndata: b\n\n", [E(data="a"), E(data="b")]),
        (b"data\n\n", [E(data="")]),
        (b"data:\n\n", [E(data="")]),
        (b"data\ndata\n\n", [E(data="\n")]),
        (b"\xef\xbb\xbfdata: x\n\n", [E(data="x")]),
        # Only one byte order mark is dropped: a second one starts the field's name.
        (b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n", []),
        (b": a comment\n\n", []),
        (b":\ndata: a\n: another\n\n", [E(data="a")]),
        (b"event: add\ndata: 1\n\ndata: 2\n\n", [E("add", "1"), E(data="2")]),
        # An event without data is not dispatched, and its type is forgotten.
        (b"event: add\n\ndata: 2\n\n", [E(data="2")]),
        (b"id: 7\ndata: a\n\ndata: b\n\n", [E(data="a", id="7"), E(data="b", id="7")]),
        (b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", [E(data="a", id="1"), E(data="b", id="1")]),
        (b"id: 1\n\nid\ndata: a\n\n", [E(data="a", id="")]),
        (b"id: 1\n\ndata: a\n\n", [E(data="a", id="1")]),
        (
            b"retry: 1500\ndata: a\n\ndata: b\n\n",
            [E(data="a", retry=1500), E(data="b", retry=1500)],
        ),
        (b"retry: 1.5\ndata: a\n\n", [E(data="a")]),
        (b"retry: -1\ndata: a\n\n", [E(data="a")]),
        (b"retry:\ndata: a\n\n", [E(data="a")]),
        (b"retry: 12a\ndata: a\n\n", [E(data="a")]),
        ("retry: \u0661\u0662\ndata: a\n\n".encode(), [E(data="a")]),  # Arabic-Indic digits
        (b"Data: a\n\n", []),  # field names are case-sensitive
        (b"foo: bar\ndata: a\n\n", [E(data="a")]),
        (b"data: caf\xc3\xa9\n\n", [E(data="caf\u00e9")]),
        (b"data: \xff\xfe\n\n", [E(data="\ufffd\ufffd")]),
        # The end of the stream discards what a blank line did not dispatch.
        (b"data: a\n", []),
        (b"data: a\n\ndata: b", [E(data="a")]),
        (b"data: [DONE]\n\n", [E(data="[DONE]")]),
    ],
)
def test_streams_give_the_events_the_rules_say(
    stream: bytes, expected: list[ServerSentEvent]
) -> None:
    assert parse(stream) == expected


def test_a_cr_at_the_end_of_a_piece_and_an_lf_at_the_start_of_the_next_are_one_line_end() -> None:
    assert parse(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [E(data="a\nb")]
    assert parse(b"data: a\r", b"\r") == [E(data="a")]  # CR CR: a blank line


def test_a_byte_order_mark_split_over_pieces_is_still_dropped() -> None:
    assert parse(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [E(data="x")]
    assert parse(b"\xef\xbb", b"data: x\n\n") == []  # not a mark: garbage before "data"
    assert parse(b"", b"data: x\n\n") == [E(data="x")]


def test_the_parser_says_what_the_end_would_discard() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"data: a\n") == [] and parser.pending
    assert parser.feed(b"\n") == [E(data="a")] and not parser.pending
    parser.feed(b"data: b")
    assert parser.pending
    parser.close()
    assert not parser.pending
    assert parser.feed(b"\n") == []  # the line cut by the close is gone


def test_the_last_event_id_and_retry_are_the_parsers_state() -> None:
    parser = EventStreamParser()
    parser.feed(b"id: 42\nretry: 3000\n\n")  # no data: nothing dispatched, state kept
    assert (parser.last_event_id, parser.retry) == ("42", 3000)
    assert parser.feed(b"data: x\n\n") == [E(data="x", id="42", retry=3000)]


def test_a_line_past_the_limit_raises_whether_it_comes_whole_or_in_pieces() -> None:
    with pytest.raises(EventStreamTooLarge) as whole:
        EventStreamParser(max_line_bytes=10).feed(b"data: 0123456789\n\n")
    assert whole.value.limit == 10 and "10 bytes" in str(whole.value)
    assert isinstance(whole.value, RemoteProtocolError)
    parser = EventStreamParser(max_line_bytes=10)
    parser.feed(b"data: 0123")
    with pytest.raises(EventStreamTooLarge):
        parser.feed(b"45")
    # At the limit exactly, it is taken.
    assert EventStreamParser(max_line_bytes=10).feed(b"data: 0123\n\n") == [E(data="0123")]


def test_an_event_past_the_limit_raises_though_each_line_is_short() -> None:
    parser = EventStreamParser(max_event_chars=8)
    assert parser.feed(b"data: 123\n") == []
    with pytest.raises(EventStreamTooLarge) as raised:
        parser.feed(b"data: 4567\n")  # 4 + 1 + 4 + 1 chars (with the line feeds)
    assert raised.value.limit == 8


def test_a_long_line_in_many_pieces_is_one_line() -> None:
    # 4 MiB in 4 KiB pieces, as an audio chunk comes off a slow socket.
    parser = EventStreamParser()
    piece = b"x" * 4096
    parser.feed(b"data: ")
    for _ in range(1024):
        assert parser.feed(piece) == []
    [event] = parser.feed(b"\n\n")
    assert len(event.data) == 4 * 1024 * 1024


# The property: any split, the same events as a plain reading of the rules.


def reference(stream: bytes) -> list[ServerSentEvent]:
    """The rules read plainly, on the whole stream at once."""
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # what follows the last line end is discarded
    events: list[ServerSentEvent] = []
    data: list[str] = []
    kind, last_id, retry = "", "", None
    for line in lines:
        if not line:
            if data:
                events.append(E(kind or "message", "\n".join(data), last_id, retry))
            data, kind = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and re.fullmatch(r"[0-9]+", value):
            retry = int(value)
    return events


FIELDS = st.sampled_from(["data", "event", "id", "retry", "", ":", "Data", "x", "data:"])
VALUES = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8),
    st.sampled_from(["", " ", "  lead", "12", "[DONE]", "a\0b", "caf\u00e9", "\ufeff"]),
)
ENDS = st.sampled_from(["\n", "\r", "\r\n"])
LINES = st.lists(
    st.one_of(
        st.tuples(FIELDS, st.sampled_from([":", ": ", ""]), VALUES, ENDS).map("".join),
        ENDS,  # blank lines dispatch
    ),
    max_size=30,
)


@given(
    bom=st.booleans(),
    lines=LINES,
    tail=st.sampled_from(["", "data: cut"]),
    junk=st.binary(max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_split_of_the_bytes_gives_the_same_events(
    bom: bool, lines: list[str], tail: str, junk: bytes, cuts: list[int]
) -> None:
    stream = (b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode() + junk + tail.encode()
    expected = reference(stream)
    assert parse(stream) == expected
    bounds = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert parse(*pieces) == expected
    assert parse(*(stream[i : i + 1] for i in range(len(stream)))) == expected
