"""What the property test of the session core found (test_core_properties.py), each case at
its shortest, now fixed: a regression fails here first, plainly."""

from __future__ import annotations

import pytest

from realtime_agent.protocol import SessionCore
from realtime_agent.protocol.actions import Action, SendEvent
from realtime_agent.protocol.calls import MAX_ANNOUNCED
from realtime_agent.protocol.core import KEEP_RESPONSES
from realtime_agent.schema.client import ResponseCreate
from tests.protocol.test_core import audio, call, created, done, ev, speak, where


def creates(actions: list[Action]) -> list[ResponseCreate]:
    return [
        a.event for a in actions if isinstance(a, SendEvent) and isinstance(a.event, ResponseCreate)
    ]


def test_a_repeated_response_created_does_not_wedge() -> None:
    core = SessionCore()
    created(core, "r1")
    done(core, "r1")
    created(core, "r1")  # the same frame again: the response had ended
    assert len(creates(core.create_response())) == 1


def test_audio_after_its_end_is_dropped() -> None:
    core = SessionCore()
    created(core)
    speak(core, 40)
    core.receive(ev("response.output_audio.done", **where()))
    done(core)
    core.receive_playback("i1", 0, 40.0, finished=True)
    assert speak(core, 40) == []  # the same delta again


def test_the_late_echo_of_an_answer_is_not_kept() -> None:
    core = SessionCore(tool_names={"t"})
    created(core, "r0")
    call(core, "c0", "t", response="r0")  # a tool that runs while many responses go by
    done(core, "r0")
    for n in range(1, KEEP_RESPONSES + 1):
        created(core, f"r{n}")
        done(core, f"r{n}")
    created(core, "r_last")
    core.receive_tool_result("c0", "ok")  # answered while a response is in progress...
    done(core, "r_last")  # ...whose end forgets r0, before the server echoes the answer
    output = {"id": "out0", "type": "function_call_output", "call_id": "c0", "output": "ok"}
    core.receive(ev("conversation.item.added", previous_item_id=None, item=output))
    assert "c0" not in core._output_seq


@pytest.mark.parametrize("kind", ["audio", "call", "named"])
def test_what_a_hostile_server_sends_of_responses_that_never_began_is_bounded(kind: str) -> None:
    core = SessionCore(tool_names={"t"})
    for n in range(MAX_ANNOUNCED + KEEP_RESPONSES):  # more than either bound
        stray, call_id = f"r_stray{n}", f"c_stray{n}"
        if kind == "audio":
            core.receive(
                ev("response.output_audio.delta", delta=audio(40), **where(stray, f"i{n}"))
            )
        elif kind == "call":
            call(core, call_id, "t", response=stray)
            core.receive_tool_result(call_id, "ok")
        else:
            item = {"id": f"fc{n}", "type": "function_call", "name": "t", "call_id": call_id}
            core.receive(
                ev("response.output_item.added", response_id=stray, output_index=0, item=item)
            )
        created(core, f"r{n}")  # and a real turn each time, so that the core forgets
        done(core, f"r{n}")
    conversation = core.conversation
    assert len(conversation.responses) + len(conversation.tracks) <= 2 * KEEP_RESPONSES
    assert len(core.calls._names) <= MAX_ANNOUNCED


def test_a_barge_in_after_its_audio_was_forgotten_remembers_nothing() -> None:
    core = SessionCore()
    created(core, "r0")
    speak(core, 40, "r0", "i0")
    core.receive(ev("response.output_audio.done", **where("r0", "i0")))
    done(core, "r0")
    for n in range(1, KEEP_RESPONSES + 1):  # replies without audio: r0 is forgotten
        created(core, f"r{n}")
        done(core, f"r{n}")
    assert core.interrupt() == []  # nothing left to stop or cancel
    assert core._cut_responses <= set(core.conversation.responses)


def test_a_repeated_start_of_the_active_response_does_not_drop_a_follow_up() -> None:
    core = SessionCore(tool_names={"t"})
    created(core, "r1")
    call(core, "c1", "t", response="r1")
    done(core, "r1")
    created(core, "r2")  # the server's own response (the user spoke), before the answer
    assert creates(core.receive_tool_result("c1", "ok")) == []  # the follow-up waits for r2
    output = {"id": "out1", "type": "function_call_output", "call_id": "c1", "output": "ok"}
    core.receive(ev("conversation.item.added", previous_item_id=None, item=output))
    created(core, "r2")  # the same frame again: r2 began before the answer was in
    assert len(creates(done(core, "r2"))) == 1
