"""The session core, table by table: server events in, actions out (no I/O at all)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest

from realtime_agent.protocol import (
    CallTool,
    Emit,
    EndAudio,
    PlayAudio,
    SendEvent,
    SessionCore,
    StopPlayout,
)
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import Action, HistoryChanged
from realtime_agent.protocol.core import MAX_UNACKNOWLEDGED
from realtime_agent.schema import codec
from realtime_agent.schema.client import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    ResponseCancel,
    ResponseCreate,
)
from realtime_agent.schema.items import FunctionCallOutputItem, InputTextPart, MessageItem

_ids = itertools.count()


def ev(event_type: str, **fields: Any) -> Any:
    """A server event, decoded from JSON as the runtime gets it."""
    return codec.decode(
        json.dumps({"type": event_type, "event_id": f"event_{next(_ids)}", **fields})
    )


def audio(ms: int) -> str:
    return base64.b64encode(bytes(48 * ms)).decode()


def where(response: str = "r1", item: str = "i1") -> dict[str, Any]:
    return {"response_id": response, "item_id": item, "output_index": 0, "content_index": 0}


def emitted(actions: list[Action]) -> list[Any]:
    return [a.event for a in actions if isinstance(a, Emit)]


def sent(actions: list[Action]) -> list[Any]:
    return [a.event for a in actions if isinstance(a, SendEvent)]


def kinds(actions: list[Action]) -> list[str]:
    return [
        type(a).__name__ if not isinstance(a, Emit) else type(a.event).__name__ for a in actions
    ]


def created(core: SessionCore, response: str = "r1") -> None:
    core.receive(
        ev(
            "response.created",
            response={"id": response, "status": "in_progress", "conversation_id": "conv_1"},
        )
    )


def done(
    core: SessionCore, response: str = "r1", status: str = "completed", reason: str | None = None
) -> list[Action]:
    details = {"type": status, "reason": reason} if reason else None
    return core.receive(
        ev("response.done", response={"id": response, "status": status, "status_details": details})
    )


def speak(core: SessionCore, ms: int, response: str = "r1", item: str = "i1") -> list[Action]:
    actions: list[Action] = []
    for _ in range(ms // 40):
        actions += core.receive(
            ev("response.output_audio.delta", delta=audio(40), **where(response, item))
        )
    return actions


# --- audio ------------------------------------------------------------------------------------


def test_audio_is_played_counted_and_flushed_at_the_end() -> None:
    core = SessionCore()
    created(core)
    actions = speak(core, 80)
    assert kinds(actions) == ["PlayAudio", "AudioDelta", "PlayAudio", "AudioDelta"]
    play = actions[0]
    assert isinstance(play, PlayAudio) and play.item_id == "i1" and len(play.audio) == 48 * 40
    assert core.conversation.tracks[("i1", 0)].received_bytes == 48 * 80
    end = core.receive(ev("response.output_audio.done", **where()))
    assert end[0] == EndAudio("i1", 0)
    assert emitted(end) == [app.AudioEnd("i1", 0)]
    assert core.audio_spoken


def test_audio_that_is_not_base64_is_an_error_event_and_the_session_goes_on() -> None:
    core = SessionCore()
    actions = core.receive(ev("response.output_audio.delta", delta="@@@", **where()))
    (error,) = emitted(actions)
    assert isinstance(error, app.ErrorRaised) and "not valid base64" in error.message
    assert speak(core, 40)  # still playing what comes next


# --- barge-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_ms", "played_ms", "finished", "expected"),
    [
        (2000, 1234.9, False, ("truncate", 1234)),  # floor of what was heard
        (2000, 0.0, False, ("delete", None)),  # nothing heard: delete, never truncate at 0
        (2000, 0.6, False, ("delete", None)),  # under 1 ms heard
        (1000, 1500.0, False, ("truncate", 1000)),  # never beyond what was received
        (2000, 2000.0, True, (None, None)),  # it had finished playing: leave it alone
    ],
)
def test_barge_in_cuts_at_what_was_heard(
    received_ms: int, played_ms: float, finished: bool, expected: tuple[str | None, int | None]
) -> None:
    core = SessionCore()
    created(core)
    speak(core, received_ms)
    actions = core.receive(
        ev("input_audio_buffer.speech_started", audio_start_ms=5000, item_id="u1")
    )
    assert emitted(actions)[0] == app.SpeechStarted("u1", 5000)
    assert actions[-1] == StopPlayout((("i1", 0),))
    assert speak(core, 80) == []  # the rest of the cut response is dropped
    if finished:
        core.receive(ev("response.output_audio.done", **where()))
    actions = core.playout_stopped([("i1", 0, played_ms, finished)])
    kind, end_ms = expected
    events = sent(actions)
    if kind is None:  # heard in full: nothing was cut, and no event says it was
        assert actions == []
        return
    interrupted = emitted(actions)[0]
    assert isinstance(interrupted, app.AudioInterrupted) and interrupted.played_ms == int(played_ms)
    if kind == "delete":
        assert isinstance(events[0], ConversationItemDelete) and events[0].item_id == "i1"
        assert interrupted.deleted
    else:
        assert isinstance(events[0], ConversationItemTruncate)
        assert (events[0].item_id, events[0].content_index, events[0].audio_end_ms) == (
            "i1",
            0,
            end_ms,
        )
        assert interrupted.truncated_ms == end_ms


def test_no_interruption_when_interrupt_response_is_off() -> None:
    core = SessionCore()
    session = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "interrupt_response": False}}},
    }
    core.receive(ev("session.updated", session=session))
    created(core)
    speak(core, 200)
    actions = core.receive(ev("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"))
    assert kinds(actions) == ["SpeechStarted"]
    assert kinds(speak(core, 40)) == ["PlayAudio", "AudioDelta"]  # still playing


def test_interrupt_cancels_the_active_response_and_stops_it() -> None:
    core = SessionCore()
    created(core)
    speak(core, 400)
    actions = core.interrupt()
    cancel = sent(actions)[0]
    assert isinstance(cancel, ResponseCancel) and cancel.response_id == "r1"
    assert actions[-1] == StopPlayout((("i1", 0),))
    # The response ended on its own first: the cancel's error is nobody's business.
    error = {
        "type": "invalid_request_error",
        "code": "response_cancel_not_active",
        "message": "x",
        "event_id": cancel.event_id,
    }
    assert core.receive(ev("error", error=error)) == []


def test_only_the_newest_audio_is_cut() -> None:
    core = SessionCore()
    created(core, "r1")
    speak(core, 80, "r1", "i1")
    core.receive(ev("response.output_audio.done", **where("r1", "i1")))
    done(core, "r1")
    core.receive_playback("i1", 0, 80.0, finished=True)
    created(core, "r2")
    speak(core, 80, "r2", "i2")
    actions = core.receive(ev("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"))
    assert actions[-1] == StopPlayout((("i2", 0),))
    assert core.receive(ev("input_audio_buffer.speech_started", audio_start_ms=9, item_id="u2"))[
        -1
    ] == Emit(app.SpeechStarted("u2", 9))


# --- tools ------------------------------------------------------------------------------------


def call(
    core: SessionCore,
    call_id: str,
    name: str = "get_weather",
    response: str = "r1",
    arguments: str = '{"city": "Paris"}',
    with_name: bool = True,
) -> list[Action]:
    item = {
        "id": f"item_{call_id}",
        "type": "function_call",
        "name": name,
        "call_id": call_id,
        "arguments": "",
    }
    core.receive(ev("response.output_item.added", response_id=response, output_index=0, item=item))
    fields = {
        "response_id": response,
        "item_id": f"item_{call_id}",
        "output_index": 0,
        "call_id": call_id,
        "arguments": arguments,
    }
    if with_name:
        fields["name"] = name
    return core.receive(ev("response.function_call_arguments.done", **fields))


def test_a_call_runs_its_tool_and_the_answer_is_followed_by_one_response_create() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    actions = call(core, "c1")
    assert kinds(actions) == ["ToolStart", "CallTool"]
    run = actions[1]
    assert (
        isinstance(run, CallTool)
        and run.call.name == "get_weather"
        and run.call.arguments == '{"city": "Paris"}'
    )
    assert done(core) == [Emit(app.AgentEnd("r1", "completed", None))]  # still waiting for the tool
    actions = core.receive_tool_result("c1", '{"sky": "clear"}')
    output, create = sent(actions)
    assert isinstance(output, ConversationItemCreate) and output.item == FunctionCallOutputItem(
        call_id="c1", output='{"sky": "clear"}'
    )
    assert isinstance(create, ResponseCreate)
    assert emitted(actions) == [app.ToolEnd("c1", "get_weather", '{"sky": "clear"}', None)]
    assert core.receive_tool_result("c1", "again") == []  # answered exactly once


def test_two_calls_get_one_response_create_after_both_answers_and_the_done() -> None:
    core = SessionCore(tool_names={"a", "b"})
    created(core)
    call(core, "c1", "a")
    call(core, "c2", "b")
    assert [type(e).__name__ for e in sent(core.receive_tool_result("c2", "2"))] == [
        "ConversationItemCreate"
    ]
    assert [type(e).__name__ for e in sent(core.receive_tool_result("c1", "1"))] == [
        "ConversationItemCreate"
    ]
    assert [type(e).__name__ for e in sent(done(core))] == ["ResponseCreate"]


def test_unknown_tool_is_answered_at_once_with_an_error_the_model_can_read() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    actions = call(core, "c1", "launch_rockets")
    assert kinds(actions) == ["ToolStart", "SendEvent", "ToolEnd"]
    output = sent(actions)[0]
    assert "no tool named 'launch_rockets'" in json.loads(output.item.output)["error"]
    assert emitted(actions)[1].error is not None
    assert [type(e).__name__ for e in sent(done(core))] == ["ResponseCreate"]


def test_beta_calls_take_their_name_from_the_output_item() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    actions = call(core, "c1", with_name=False)
    assert isinstance(actions[1], CallTool) and actions[1].call.name == "get_weather"


def test_calls_of_a_cancelled_response_are_answered_without_a_new_response() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    call(core, "c1")
    done(core, status="cancelled", reason="turn_detected")
    actions = core.receive_tool_result("c1", "sunny")
    assert [type(e).__name__ for e in sent(actions)] == ["ConversationItemCreate"]


def test_a_duplicate_arguments_done_runs_nothing_twice() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    call(core, "c1")
    assert call(core, "c1") == []


# --- response.create sequencing ---------------------------------------------------------------


def test_response_create_waits_for_the_active_response() -> None:
    core = SessionCore()
    created(core)
    assert core.create_response() == []  # queued: never two at once
    actions = done(core)
    assert [type(e).__name__ for e in sent(actions)] == ["ResponseCreate"]
    assert core.create_response() == []  # ours is in flight
    created(core, "r2")
    assert [type(e).__name__ for e in sent(done(core, "r2"))] == ["ResponseCreate"]


def test_a_queued_request_and_answered_calls_share_one_response_create() -> None:
    core = SessionCore(tool_names={"t"})
    created(core)
    call(core, "c1", "t")
    assert core.create_response() == []  # queued behind r1
    assert [type(e).__name__ for e in sent(core.receive_tool_result("c1", "x"))] == [
        "ConversationItemCreate"
    ]
    (create,) = sent(done(core))  # the application's request goes first...
    assert isinstance(create, ResponseCreate)
    core.receive(
        ev(
            "conversation.item.added",
            previous_item_id=None,
            item={"id": "out1", "type": "function_call_output", "call_id": "c1", "output": "x"},
        )
    )
    created(core, "r2")  # ...and its response, begun after the answer was in, answers it
    assert sent(done(core, "r2")) == []
    assert not core.sequencer.busy and not core.sequencer.wanted


def test_active_response_race_is_absorbed_and_the_request_retried() -> None:
    core = SessionCore(tool_names={"t"})
    created(core)
    call(core, "c1", "t")
    done(core)
    create = sent(core.receive_tool_result("c1", "x"))[-1]
    assert isinstance(create, ResponseCreate)
    created(core, "r2")  # the server's own response (user speech) started before ours arrived...
    core.receive(
        ev(
            "conversation.item.added",
            previous_item_id=None,
            item={"id": "out1", "type": "function_call_output", "call_id": "c1", "output": "x"},
        )
    )
    error = {
        "type": "invalid_request_error",
        "code": "conversation_already_has_active_response",
        "message": "busy",
        "event_id": create.event_id,
    }
    assert core.receive(ev("error", error=error)) == []  # ...and is not a failure
    # r2 began before our output was in: it did not answer it, so ask again after it.
    assert [type(e).__name__ for e in sent(done(core, "r2"))] == ["ResponseCreate"]


def test_race_with_a_response_that_already_saw_the_outputs_asks_for_nothing_more() -> None:
    core = SessionCore(tool_names={"t"})
    created(core)
    call(core, "c1", "t")
    done(core)
    create = sent(core.receive_tool_result("c1", "x"))[-1]
    core.receive(
        ev(
            "conversation.item.added",
            previous_item_id=None,
            item={"id": "out1", "type": "function_call_output", "call_id": "c1", "output": "x"},
        )
    )
    created(core, "r2")  # started after the output was in: it answers it
    error = {
        "type": "invalid_request_error",
        "code": "conversation_already_has_active_response",
        "message": "busy",
        "event_id": create.event_id,
    }
    assert core.receive(ev("error", error=error)) == []
    assert sent(done(core, "r2")) == []


def test_other_errors_reach_the_application() -> None:
    core = SessionCore()
    error = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Audio content of 10ms is already shorter than 20ms",
        "event_id": "evt_9",
    }
    (raised,) = emitted(core.receive(ev("error", error=error)))
    assert isinstance(raised, app.ErrorRaised) and raised.code == "invalid_value"


# --- history and the rest ---------------------------------------------------------------------


def test_history_follows_the_server() -> None:
    core = SessionCore()
    first = {"id": "a", "type": "message", "role": "user", "content": []}
    second = {"id": "b", "type": "message", "role": "assistant", "content": []}
    (added,) = emitted(
        core.receive(ev("conversation.item.added", previous_item_id=None, item=first))
    )
    assert isinstance(added, app.HistoryAdded) and added.item.id == "a"
    core.receive(ev("conversation.item.added", previous_item_id="a", item=second))
    zero = {"id": "z", "type": "message", "role": "system", "content": []}
    core.receive(ev("conversation.item.created", previous_item_id=None, item=zero))
    changed = core.receive(
        ev("conversation.item.done", previous_item_id="a", item={**second, "status": "completed"})
    )
    assert changed == [HistoryChanged()]  # the runtime takes the snapshot when it is read
    assert [i.id for i in core.conversation.items()] == ["z", "a", "b"]
    assert core.conversation.get("b").status == "completed"  # type: ignore[union-attr]
    assert core.receive(ev("conversation.item.deleted", item_id="a")) == [HistoryChanged()]
    assert [i.id for i in core.conversation.items()] == ["z", "b"]


def test_unknown_events_reach_the_application_raw() -> None:
    core = SessionCore()
    (raw,) = emitted(core.receive(ev("response.output_audio.timing", ms=40)))
    assert isinstance(raw, app.RawServerEvent) and raw.event.type == "response.output_audio.timing"
    everything = SessionCore(raw_events=True)
    assert isinstance(
        emitted(everything.receive(ev("input_audio_buffer.cleared")))[0], app.RawServerEvent
    )


def test_send_stamps_an_event_id() -> None:
    core = SessionCore()
    (action,) = core.send(ResponseCancel())
    assert isinstance(action, SendEvent) and action.event.event_id == "evt_1"


def test_memory_stays_bounded_over_a_long_session() -> None:
    core = SessionCore(tool_names={"t"})
    for n in range(200):
        response = f"r{n}"
        created(core, response)
        speak(core, 40, response, f"i{n}")
        call(core, f"c{n}", "t", response=response)
        core.receive_tool_result(f"c{n}", "ok")
        done(core, response)
    assert len(core.conversation.responses) <= 33
    assert len(core.conversation.tracks) <= 33
    assert len(core.calls._answered) <= 33


def test_an_item_not_yet_reported_outlives_the_replay_of_a_long_conversation() -> None:
    # The soak's lost turn: a question still on its way when the connection rolled over,
    # then a replay of more items than are remembered unreported, then a drop.
    core = SessionCore()
    known = [
        MessageItem(id=f"item_{n}", role="user", content=[InputTextPart(text=f"q{n}")])
        for n in range(MAX_UNACKNOWLEDGED + 10)
    ]
    for item in known:
        core.receive(ev("conversation.item.added", previous_item_id=None, item=item.model_dump()))
    question = MessageItem(id="item_new", role="user", content=[InputTextPart(text="Prague?")])
    core.send(ConversationItemCreate(item=question))
    for item in known:  # the replay on the next connection: all of it known already
        core.send(ConversationItemCreate(item=item))
    assert list(core.unacknowledged) == ["item_new"]
