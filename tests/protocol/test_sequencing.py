"""response.create sequencing and answers, table by table: every request kept, in order,
released by whatever answers it; never two at once; the race always absorbed."""

from __future__ import annotations

import json

import pytest

from realtime_agent.errors import LocalProtocolError, RemoteProtocolError
from realtime_agent.protocol import SessionCore
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import Action
from realtime_agent.protocol.core import MAX_WAITING_REQUESTS
from realtime_agent.schema import codec
from realtime_agent.schema.client import ConversationItemCreate, ResponseCancel, ResponseCreate
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.schema.response import ResponseCreateParams
from tests.protocol.test_core import call, created, done, emitted, ev, sent, speak


def refuse(core: SessionCore, event_id: str | None, code: str) -> list[Action]:
    error = {"type": "invalid_request_error", "code": code, "message": code, "event_id": event_id}
    return core.receive(ev("error", error=error))


def creates(actions: list[Action]) -> list[ResponseCreate]:
    return [e for e in sent(actions) if isinstance(e, ResponseCreate)]


def test_a_request_goes_without_a_null_response() -> None:
    core = SessionCore()
    (create,) = creates(core.create_response())
    assert json.loads(codec.encode(create)) == {"type": "response.create", "event_id": "evt_1"}
    core = SessionCore()
    (create,) = creates(core.create_response(ResponseCreateParams(instructions="Hi")))
    assert json.loads(codec.encode(create)) == {
        "type": "response.create",
        "event_id": "evt_1",
        "response": {"instructions": "Hi"},
    }


def test_any_other_error_answering_a_request_releases_it_and_reaches_the_application() -> None:
    core = SessionCore()
    (create,) = creates(core.create_response())
    actions = refuse(core, create.event_id, "invalid_value")
    (raised,) = emitted(actions)
    assert isinstance(raised, app.ErrorRaised) and raised.code == "invalid_value"
    assert not core.sequencer.busy
    assert len(creates(core.create_response())) == 1  # not wedged


def test_a_refused_request_lets_the_next_one_go() -> None:
    core = SessionCore()
    created(core, "r1")
    core.create_response(ResponseCreateParams(instructions="A"))
    core.create_response(ResponseCreateParams(instructions="B"))
    (first,) = creates(done(core, "r1"))
    actions = refuse(core, first.event_id, "invalid_value")
    (second,) = creates(actions)
    assert second.response is not None and second.response.instructions == "B"


def test_a_done_without_created_releases_the_request() -> None:
    core = SessionCore()
    assert len(creates(core.create_response())) == 1
    done(core, "r_failed", status="failed")  # answered straight away, never created
    assert not core.sequencer.busy
    assert len(creates(core.create_response())) == 1


def test_an_out_of_band_done_without_created_does_not_release_ours() -> None:
    core = SessionCore()
    core.create_response()
    core.receive(
        ev("response.done", response={"id": "oob", "status": "completed", "conversation_id": None})
    )
    assert core.sequencer.busy
    assert core.create_response() == []


def test_each_waiting_request_keeps_its_parameters_in_order() -> None:
    core = SessionCore()
    created(core, "r1")
    assert core.create_response(ResponseCreateParams(instructions="A")) == []
    assert core.create_response(ResponseCreateParams(instructions="B")) == []
    (first,) = creates(done(core, "r1"))
    assert first.response is not None and first.response.instructions == "A"
    created(core, "r2")
    (second,) = creates(done(core, "r2"))
    assert second.response is not None and second.response.instructions == "B"
    assert first.event_id != second.event_id


def test_the_waiting_requests_are_bounded() -> None:
    core = SessionCore()
    created(core, "r1")
    for _ in range(MAX_WAITING_REQUESTS):
        core.create_response()
    with pytest.raises(LocalProtocolError, match="already waiting"):
        core.create_response()


def test_the_race_is_absorbed_when_server_responses_end_back_to_back() -> None:
    core = SessionCore()
    (create,) = creates(core.create_response(ResponseCreateParams(instructions="A")))
    created(core, "r_vad1")  # the server's own, taken for ours...
    done(core, "r_vad1")
    created(core, "r_vad2")  # ...and another of its own, during which ours arrives
    assert refuse(core, create.event_id, "conversation_already_has_active_response") == []
    (again,) = creates(done(core, "r_vad2"))
    assert again.response is not None and again.response.instructions == "A"
    assert again.event_id != create.event_id


def test_the_race_after_the_active_response_ended_goes_again_at_once() -> None:
    core = SessionCore()
    (create,) = creates(core.create_response())
    created(core, "r_vad")
    done(core, "r_vad")
    actions = refuse(core, create.event_id, "conversation_already_has_active_response")
    assert emitted(actions) == [] and len(creates(actions)) == 1


def test_someone_elses_race_error_reaches_the_application() -> None:
    core = SessionCore()
    actions = refuse(core, "evt_not_ours", "conversation_already_has_active_response")
    assert [type(e).__name__ for e in emitted(actions)] == ["ErrorRaised"]


def test_a_broken_arguments_done_is_still_answered() -> None:
    core = SessionCore(tool_names={"get_weather"})
    created(core)
    frame = (
        '{"type":"response.function_call_arguments.done","event_id":"e1","response_id":"r1",'
        '"item_id":"fc1","output_index":0,"call_id":"c1","arguments":{"city":"Paris"}}'
    )
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(frame)
    actions = core.receive_error(caught.value)
    kinds = [type(e).__name__ for e in emitted(actions)]
    assert kinds == ["ErrorRaised", "ToolStart", "ToolEnd"]
    (output,) = [e for e in sent(actions) if isinstance(e, ConversationItemCreate)]
    assert isinstance(output.item, FunctionCallOutputItem) and output.item.call_id == "c1"
    assert "could not be read" in output.item.output
    assert creates(done(core))  # and the model hears of it
    assert call(core, "c1") == []  # a late good copy runs nothing: it was answered


def test_an_interrupt_before_the_requested_response_began_cancels_it_when_it_begins() -> None:
    core = SessionCore()
    assert len(creates(core.create_response())) == 1
    assert core.interrupt() == []  # nothing to cancel yet: the response has not begun
    actions = core.receive(
        ev(
            "response.created",
            response={"id": "r1", "status": "in_progress", "conversation_id": "conv_1"},
        )
    )
    (cancel,) = [e for e in sent(actions) if isinstance(e, ResponseCancel)]
    assert cancel.response_id == "r1"
    assert speak(core, 80, "r1") == []  # and none of its audio plays
    created(core, "r2")  # the next one is left alone
    assert len(speak(core, 40, "r2", "i2")) == 2
