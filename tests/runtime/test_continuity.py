"""Reconnect decisions, the input tape and the replay plan of runtime.continuity, as tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pytest

from realtime_agent.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionLost,
    LocalProtocolError,
)
from realtime_agent.runtime.continuity import (
    RETRYABLE_CLOSE_CODES,
    Heard,
    InputTape,
    ReconnectPolicy,
    Replay,
    TurnAudio,
    plan_replay,
)
from realtime_agent.schema.client import ConversationItemCreate
from realtime_agent.schema.items import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
    OutputAudioPart,
    OutputTextPart,
)

TRANSCRIPT = "Hello there, how are you today"

# --- ReconnectPolicy.retryable ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionLost("lost", code=1001), True),
        (ConnectionLost("lost", code=1006), True),
        (ConnectionLost("lost", code=1011), True),
        (ConnectionLost("lost", code=1012), True),
        (ConnectionLost("lost", code=1013), True),
        (ConnectionLost("lost", code=1014), True),
        (ConnectionLost("lost", code=None), True),
        (ConnectionLost("closed", code=1000), False),
        (ConnectionLost("closed", code=1002), False),
        (ConnectionLost("closed", code=1003), False),
        (ConnectionLost("closed", code=1007), False),
        (ConnectionLost("closed", code=1008), False),
        (ConnectionLost("closed", code=1009), False),
        (AuthenticationError("x", status=401), False),
        (AuthenticationError("x", status=403), False),
        (AuthenticationError("x", status=None), False),  # a ConnectError, but final
        (ConnectError("unreachable", status=None), True),
        (ConnectError("server error", status=500), True),
        (ConnectError("unavailable", status=503), True),
        (ConnectError("too many requests", status=429), True),
        (ConnectError("bad request", status=400), False),
        (ConnectError("not found", status=404), False),
        (ValueError("not a transport error"), False),
        (LocalProtocolError("misuse"), False),
    ],
    ids=repr,
)
def test_retryable(error: BaseException, expected: bool) -> None:
    assert ReconnectPolicy.retryable(error) is expected


def test_retryable_close_codes_are_the_documented_ones() -> None:
    assert frozenset({1001, 1006, 1011, 1012, 1013, 1014}) == RETRYABLE_CLOSE_CODES


# --- ReconnectPolicy.delay -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.6), (6, 3.2), (7, 5.0), (8, 5.0)],
)
def test_delay_backs_off_exponentially_up_to_max_delay(attempt: int, expected: float) -> None:
    assert ReconnectPolicy().delay(attempt, rng=lambda: 0.5) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "attempts", "expected"),
    [
        (
            ReconnectPolicy(initial_delay=1.0, multiplier=3.0, max_delay=20.0),
            range(1, 5),
            [1.0, 3.0, 9.0, 20.0],
        ),
        (ReconnectPolicy(initial_delay=0.5, multiplier=1.0), range(1, 4), [0.5, 0.5, 0.5]),
        (ReconnectPolicy(initial_delay=0.0), range(1, 4), [0.0, 0.0, 0.0]),
    ],
)
def test_delay_with_other_settings(
    policy: ReconnectPolicy, attempts: Iterable[int], expected: list[float]
) -> None:
    delays = [policy.delay(n, rng=lambda: 0.5) for n in attempts]
    assert delays == pytest.approx(expected)


@pytest.mark.parametrize("attempt", range(1, 9))
@pytest.mark.parametrize("jitter", [0.0, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("draw", [0.0, 0.25, 0.75, 0.999999])
def test_delay_stays_within_jitter_of_base(attempt: int, jitter: float, draw: float) -> None:
    policy = ReconnectPolicy(jitter=jitter)
    base = min(policy.max_delay, policy.initial_delay * policy.multiplier ** (attempt - 1))
    delay = policy.delay(attempt, rng=lambda: draw)
    assert base * (1 - jitter) - 1e-12 <= delay <= base * (1 + jitter) + 1e-12
    assert delay >= 0.0


@pytest.mark.parametrize(
    ("draw", "factor"), [(0.0, 0.8), (0.25, 0.9), (0.5, 1.0), (0.75, 1.1), (0.999999, 1.2)]
)
def test_delay_jitter_is_linear_in_the_draw(draw: float, factor: float) -> None:
    # attempt 3 with the defaults: base 0.4, jitter 0.2.
    assert ReconnectPolicy().delay(3, rng=lambda: draw) == pytest.approx(0.4 * factor, rel=1e-5)


def test_delay_default_rng_is_random_but_bounded() -> None:
    policy = ReconnectPolicy()
    for _ in range(200):
        assert 0.4 * 0.8 <= policy.delay(3) <= 0.4 * 1.2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"jitter": 2},
        {"jitter": -0.1},
        {"multiplier": 0.5},
        {"deadline": -1},
        {"initial_delay": -0.1},
        {"max_delay": -1},
        {"reappend_seconds": -1},
    ],
    ids=repr,
)
def test_invalid_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 1},
        {"jitter": 0},
        {"jitter": 1},
        {"multiplier": 1},
        {"deadline": 0},
        {"initial_delay": 0, "max_delay": 0, "reappend_seconds": 0},
    ],
    ids=repr,
)
def test_boundary_policy_is_accepted(kwargs: dict[str, float]) -> None:
    ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


# --- InputTape -------------------------------------------------------------------------------


def test_tape_records_frames_and_their_size() -> None:
    tape = InputTape(limit=100, idle_limit=100)
    assert tape.size == 0
    assert tape.speaking is False
    tape.record(b"abc")
    tape.record(b"de")
    assert tape.size == 5
    assert tape.take() == b"abcde"


@pytest.mark.parametrize(
    ("limit", "frames", "kept"),
    [
        (10, [b"abcd", b"efgh", b"ij"], b"abcdefghij"),  # exactly the limit: all kept
        (10, [b"abcd", b"efgh", b"ij", b"k"], b"efghijk"),  # the oldest whole frame goes
        (10, [b"abcd", b"efgh", b"ijklmnop"], b"ijklmnop"),  # as many as needed go
        (5, [b"ab", b"cd", b"ef", b"gh"], b"efgh"),
        (3, [b"a", b"bcdef"], b""),  # a frame bigger than the limit is not kept either
    ],
)
def test_tape_limit_drops_the_oldest_whole_frames(
    limit: int, frames: list[bytes], kept: bytes
) -> None:
    tape = InputTape(limit=limit, idle_limit=limit)
    for frame in frames:
        tape.record(frame)
        assert tape.size <= limit
    assert tape.size == len(kept)
    assert tape.take() == kept


def test_tape_committed_empties_and_resets_speaking() -> None:
    tape = InputTape(limit=100, idle_limit=100)
    tape.speaking = True
    tape.record(b"abc")
    tape.committed()
    assert tape.size == 0
    assert tape.speaking is False
    assert tape.take() == b""
    tape.record(b"xy")  # still usable afterwards
    assert tape.take() == b"xy"


def test_tape_take_returns_the_bytes_in_order_and_empties() -> None:
    tape = InputTape(limit=1000, idle_limit=1000)
    tape.speaking = True
    frames = [bytes([n]) * (n + 1) for n in range(10)]
    for frame in frames:
        tape.record(frame)
    assert tape.take() == b"".join(frames)
    assert tape.size == 0
    assert tape.speaking is False
    assert tape.take() == b""


# --- plan_replay -----------------------------------------------------------------------------


def replay(
    items: Sequence[Item],
    *,
    heard: Mapping[tuple[str, int], Heard] | None = None,
    answers: Mapping[str, str] | None = None,
    running: Iterable[str] = (),
    transcripts: Mapping[str, str] | None = None,
    partial: Mapping[tuple[str, int], str] | None = None,
) -> Replay:
    return plan_replay(
        items,
        heard=heard or {},
        answers=answers or {},
        running=running,
        transcripts=transcripts or {},
        partial=partial,
    )


def created(plan: Replay) -> list[ConversationItemCreate]:
    """The events of a plan, each checked to be a conversation.item.create."""
    events = []
    for event in plan.events:
        assert isinstance(event, ConversationItemCreate)
        events.append(event)
    return events


def assert_chained(events: list[ConversationItemCreate]) -> None:
    """The first goes after "root", each next one after the one before."""
    previous: str | None = "root"
    for event in events:
        assert event.previous_item_id == previous
        previous = event.item.id


def message_text(item: Item) -> str | None:
    """The text of a replayed message, checked to be one part of the right kind."""
    assert isinstance(item, MessageItem)
    assert len(item.content) == 1
    part = item.content[0]
    if item.role == "assistant":
        assert isinstance(part, OutputTextPart)
    else:
        assert isinstance(part, InputTextPart)
    return part.text


def user_text(item_id: str = "item_u1", text: str = "Hi, a question") -> MessageItem:
    return MessageItem(id=item_id, role="user", content=[InputTextPart(text=text)])


def assistant_audio(item_id: str = "item_a1", transcript: str | None = TRANSCRIPT) -> MessageItem:
    return MessageItem(
        id=item_id,
        role="assistant",
        content=[OutputAudioPart(audio="AAAA", transcript=transcript)],
    )


def weather_call(status: str = "completed") -> FunctionCallItem:
    return FunctionCallItem(
        id="item_c1",
        call_id="c1",
        name="get_weather",
        arguments='{"city":"Paris"}',
        status=status,  # type: ignore[arg-type]
    )


def assert_is_weather_call(item: Item) -> None:
    assert isinstance(item, FunctionCallItem)
    assert (item.id, item.call_id, item.name, item.arguments) == (
        "item_c1",
        "c1",
        "get_weather",
        '{"city":"Paris"}',
    )


def test_empty_conversation_replays_nothing() -> None:
    plan = replay([])
    assert plan.events == []
    assert plan.lost == []
    assert plan.last_role is None


def test_user_text_then_heard_assistant_audio() -> None:
    user, assistant = user_text(), assistant_audio()
    plan = replay(
        [user, assistant],
        heard={("item_a1", 0): Heard(played_ms=1000, received_ms=1000, cut=False)},
    )
    events = created(plan)
    assert len(events) == 2
    assert events[0].previous_item_id == "root"
    assert events[1].previous_item_id == events[0].item.id == "item_u1"
    first, second = events[0].item, events[1].item
    assert isinstance(first, MessageItem)
    assert (first.id, first.role) == ("item_u1", "user")
    assert message_text(first) == "Hi, a question"
    assert isinstance(second, MessageItem)
    assert (second.id, second.role) == ("item_a1", "assistant")
    assert message_text(second) == TRANSCRIPT
    assert plan.last_role == "assistant"
    assert plan.lost == []


def test_replay_does_not_alter_the_conversation() -> None:
    assistant = assistant_audio()
    before = assistant.model_dump()
    replay([assistant], heard={("item_a1", 0): Heard(500, 1000, cut=True)})
    assert assistant.model_dump() == before


@pytest.mark.parametrize(
    ("played_ms", "received_ms", "expected"),
    [
        (500, 1000, "Hello there..."),  # mid-word ("ho|w"): back to the word before
        (300, 1000, "Hello..."),
        (700, 1000, "Hello there, how are..."),
        (900, 1000, "Hello there, how are you..."),
        (1600, 3000, "Hello there, how..."),  # exactly at a space
    ],
)
def test_cut_assistant_audio_is_replayed_as_far_as_heard(
    played_ms: float, received_ms: float, expected: str
) -> None:
    plan = replay(
        [user_text(), assistant_audio()],
        heard={("item_a1", 0): Heard(played_ms, received_ms, cut=True)},
    )
    events = created(plan)
    assert len(events) == 2
    text = message_text(events[1].item)
    assert text == expected
    # The properties, whatever the exact rule: a prefix of whole words, marked as cut,
    # about as long as the share of the audio heard.
    assert text.endswith("...")
    said = text.removesuffix("...")
    assert TRANSCRIPT.startswith(said)
    assert TRANSCRIPT[len(said)] in " ,"  # never a partial word
    share = len(TRANSCRIPT) * played_ms / received_ms
    assert share - 8 <= len(said) <= share
    assert plan.last_role == "assistant"
    assert plan.lost == []


@pytest.mark.parametrize("played_ms", [0, 10, 1000, 1500])
def test_cut_at_the_extremes(played_ms: float) -> None:
    plan = replay([assistant_audio()], heard={("item_a1", 0): Heard(played_ms, 1000, cut=True)})
    if played_ms >= 1000:  # all of it was heard before the cut
        assert message_text(created(plan)[0].item) == TRANSCRIPT
        assert plan.lost == []
    else:  # nothing of a word was heard: nothing to replay
        assert plan.events == []
        assert len(plan.lost) == 1
        assert "item_a1" in plan.lost[0]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([], id="no-part-yet"),
        pytest.param([OutputAudioPart(transcript=None)], id="part-without-transcript"),
    ],
)
def test_assistant_audio_still_arriving_is_replayed_from_its_deltas(
    content: list[ContentPart],
) -> None:
    assistant = MessageItem(id="item_a1", role="assistant", content=content)
    plan = replay(
        [user_text(), assistant],
        heard={("item_a1", 0): Heard(played_ms=800, received_ms=800, cut=False)},
        partial={("item_a1", 0): "Partial words"},
    )
    events = created(plan)
    assert len(events) == 2
    assert_chained(events)
    assert events[1].item.id == "item_a1"
    assert message_text(events[1].item) == "Partial words..."  # cut short: it says so
    assert plan.last_role == "assistant"
    assert plan.lost == []


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([], id="no-part"),
        pytest.param([OutputAudioPart(transcript=None)], id="audio-without-transcript"),
        pytest.param([OutputAudioPart(transcript="")], id="audio-with-empty-transcript"),
    ],
)
def test_assistant_message_with_nothing_is_lost(content: list[ContentPart]) -> None:
    assistant = MessageItem(id="item_a1", role="assistant", content=content)
    plan = replay([assistant])
    assert plan.events == []
    assert len(plan.lost) == 1
    assert "item_a1" in plan.lost[0]
    assert plan.last_role is None


def test_lost_assistant_message_keeps_the_chain_of_the_others() -> None:
    plan = replay([user_text("item_u1"), assistant_audio(transcript=None), user_text("item_u2")])
    events = created(plan)
    assert [e.item.id for e in events] == ["item_u1", "item_u2"]
    assert_chained(events)
    assert len(plan.lost) == 1
    assert plan.last_role == "user"


def test_user_audio_is_replayed_as_its_transcript() -> None:
    spoken = MessageItem(id="item_u", role="user", content=[InputAudioPart(transcript=None)])
    plan = replay([spoken], transcripts={"item_u": "what time is it"})
    events = created(plan)
    assert len(events) == 1
    assert events[0].previous_item_id == "root"
    item = events[0].item
    assert isinstance(item, MessageItem)
    assert (item.id, item.role) == ("item_u", "user")
    assert message_text(item) == "what time is it"
    assert plan.last_role == "user_audio"
    assert plan.lost == []


def test_user_audio_with_its_own_transcript_needs_no_lookup() -> None:
    spoken = MessageItem(
        id="item_u", role="user", content=[InputAudioPart(transcript="what time is it")]
    )
    plan = replay([spoken])
    assert message_text(created(plan)[0].item) == "what time is it"
    assert plan.last_role == "user_audio"


def test_user_audio_without_a_transcript_is_lost() -> None:
    spoken = MessageItem(id="item_u", role="user", content=[InputAudioPart(transcript=None)])
    plan = replay([spoken], transcripts={"item_other": "something else"})
    assert plan.events == []
    assert len(plan.lost) == 1
    assert "item_u" in plan.lost[0]
    assert plan.last_role is None


@pytest.mark.parametrize(
    ("items", "last_role"),
    [
        ([user_text()], "user"),
        ([MessageItem(id="s", role="system", content=[InputTextPart(text="Be brief")])], "system"),
        ([user_text(), assistant_audio()], "assistant"),
        ([assistant_audio(), user_text()], "user"),
    ],
)
def test_last_role_is_the_role_of_the_last_message(items: list[Item], last_role: str) -> None:
    assert replay(items).last_role == last_role


def test_function_call_and_its_output_are_replayed_in_order() -> None:
    output = FunctionCallOutputItem(id="item_o1", call_id="c1", output="sunny")
    for answers in ({}, {"c1": "sunny"}):  # an answer also in the conversation goes once
        plan = replay([user_text(), weather_call(), output], answers=answers)
        events = created(plan)
        assert len(events) == 3
        assert_chained(events)
        assert_is_weather_call(events[1].item)
        sent = events[2].item
        assert isinstance(sent, FunctionCallOutputItem)
        assert (sent.id, sent.call_id, sent.output) == ("item_o1", "c1", "sunny")
        assert plan.last_role == "tool"
        assert plan.lost == []


def test_answered_call_without_output_gets_its_answer_again() -> None:
    plan = replay([user_text(), weather_call()], answers={"c1": "sunny"})
    events = created(plan)
    assert len(events) == 3
    assert_chained(events[:2])
    assert_is_weather_call(events[1].item)
    output = events[2].item
    assert isinstance(output, FunctionCallOutputItem)
    assert (output.call_id, output.output) == ("c1", "sunny")
    assert events[2].previous_item_id == "item_c1"
    assert plan.last_role == "tool"
    assert plan.lost == []


def test_running_call_is_replayed_alone() -> None:
    plan = replay([user_text(), weather_call()], running=["c1"])
    events = created(plan)
    assert len(events) == 2
    assert_chained(events)
    assert_is_weather_call(events[1].item)
    assert plan.last_role == "call"
    assert plan.lost == []


def test_call_whose_arguments_never_came_is_lost() -> None:
    plan = replay([user_text(), weather_call(status="in_progress")])
    events = created(plan)
    assert [e.item.id for e in events] == ["item_u1"]
    assert len(plan.lost) == 1
    assert "c1" in plan.lost[0]
    assert plan.last_role == "user"


@pytest.mark.parametrize(
    ("answers", "running", "count", "last_role"),
    [
        ({"c1": "sunny"}, [], 2, "tool"),  # answered: the tool ran, so it was complete
        ({}, ["c1"], 1, "call"),  # running: likewise
        ({"c2": "other"}, ["c2"], 0, None),  # another call's answer does not save it
    ],
)
def test_in_progress_call_kept_when_its_tool_ran(
    answers: dict[str, str], running: list[str], count: int, last_role: str | None
) -> None:
    plan = replay([weather_call(status="in_progress")], answers=answers, running=running)
    assert len(plan.events) == count
    assert plan.last_role == last_role
    assert len(plan.lost) == (0 if count else 1)


def test_a_whole_conversation() -> None:
    spoken = MessageItem(id="item_u2", role="user", content=[InputAudioPart(transcript=None)])
    items: list[Item] = [
        user_text("item_u1", "What's the weather in Paris?"),
        weather_call(),
        FunctionCallOutputItem(id="item_o1", call_id="c1", output="sunny"),
        assistant_audio("item_a1", "It is sunny in Paris today"),
        spoken,
    ]
    plan = replay(
        items,
        heard={("item_a1", 0): Heard(1200, 1200, cut=False)},
        transcripts={"item_u2": "thanks"},
    )
    events = created(plan)
    assert [e.item.id for e in events] == ["item_u1", "item_c1", "item_o1", "item_a1", "item_u2"]
    assert_chained(events)
    assert message_text(events[3].item) == "It is sunny in Paris today"
    assert message_text(events[4].item) == "thanks"
    assert plan.last_role == "user_audio"
    assert plan.lost == []


@pytest.mark.parametrize(
    ("text", "played_ms", "expected"),
    [
        (": hello", 300, ""),  # no word heard: nothing, not "..."
        ("Hello\nthere you", 500, "Hello..."),  # a word ends at any whitespace
        ("Hello there, how are you today", 500, "Hello there..."),
    ],
)
def test_a_cut_ends_at_a_heard_word(text: str, played_ms: float, expected: str) -> None:
    assistant = MessageItem(
        id="item_a1", role="assistant", content=[OutputAudioPart(transcript=text)]
    )
    plan = replay([assistant], heard={("item_a1", 0): Heard(played_ms, 1000, cut=True)})
    said = [message_text(e.item) for e in created(plan)]
    assert said == ([expected] if expected else [])


def test_the_tape_keeps_only_the_onset_while_nobody_speaks() -> None:
    tape = InputTape(limit=100, idle_limit=20)
    for k in range(10):
        tape.record(bytes([k]) * 10)
    assert tape.take() == bytes([8]) * 10 + bytes([9]) * 10  # the last 20 bytes
    tape.speaking = True
    for k in range(10):
        tape.record(bytes([k]) * 10)
    assert tape.size == 100  # speech: up to the limit


def test_turn_audio_forgets_the_oldest_turns_past_its_limit() -> None:
    turns = TurnAudio(limit=25)
    turns.keep("a", b"1" * 10)
    turns.keep("b", b"2" * 10)
    turns.keep("c", b"3" * 10)  # 30 > 25: "a" goes
    assert "a" not in turns and turns.get("b") == b"2" * 10 and turns.size == 20
    turns.keep("d", b"4" * 30)  # bigger than the limit on its own: not kept
    assert "d" not in turns and turns.size == 20


def test_a_caller_turn_kept_as_audio_is_replayed_as_audio_with_its_transcript() -> None:
    turns = TurnAudio(limit=1000)
    turns.keep("item_u", b"\x01\x02" * 100)
    spoken = MessageItem(id="item_u", role="user", content=[InputAudioPart(transcript=None)])
    plan = plan_replay(
        [spoken], heard={}, answers={}, running=(), transcripts={"item_u": "hi"}, audio=turns
    )
    part = created(plan)[0].item.content[0]  # type: ignore[union-attr]
    assert isinstance(part, InputAudioPart)
    assert part.audio_bytes == b"\x01\x02" * 100 and part.transcript == "hi"
    assert plan.last_role == "user_audio" and plan.lost == []
