"""The session core's promises, against a simulated Realtime server (issue 10).

:class:`CoreMachine` is a hypothesis state machine: a simulated server
(:class:`~tests.protocol.strategies.SimServer`) drives one :class:`SessionCore` the way a real,
and a misbehaving, Realtime server could (its own responses for the user's speech, answers to
the core's requests, refusals, broken frames, repeated and delayed frames), while an
application and a playout use the core as the runtime does. Every frame goes through the real
codec. Where the core's bounded memory relies on it, the server is no worse than a real one: it
handles the core's events within :data:`MAX_LAG` of them, and a delayed frame is overtaken by
at most :data:`MAX_DELAY` others (:func:`in_time`). After every step, and once the session has
gone quiet, it checks:

* no exception escapes a core method (``create_response`` raises LocalProtocolError only when
  MAX_WAITING_REQUESTS wait, and says so);
* no ``response.create`` in the default conversation while, by what the core has been told, a
  response is active or its previous one is unanswered (:class:`Told`); the server never has
  to refuse one for a response the core knew of, and the race never reaches the application;
* every function call is answered exactly once, at once when it cannot run;
* every truncate is above 0 and within what was heard and received, a delete only for an item
  of which under 1 ms was heard, an ``AudioInterrupted`` only for an item so cut, no item heard
  only in part left uncut, and no audio played for an item once it was cut or had ended;
* once the server has answered everything and the tools have returned: nothing is busy or
  wanted, every request the application made got one response or a surfaced error, the answers
  of every finished response's calls (those that came before its end) were followed by a
  response; and after one more turn, at most KEEP_RESPONSES responses are remembered and
  nothing of one the core forgot.

The failures it found in the core are pinned, each at its shortest, in
``tests/protocol/test_core_regressions.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from realtime_agent.errors import LocalProtocolError, RemoteProtocolError
from realtime_agent.protocol import (
    CallTool,
    Emit,
    EndAudio,
    PlayAudio,
    SendEvent,
    SessionCore,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import Action, HistoryChanged
from realtime_agent.protocol.calls import MAX_ANNOUNCED
from realtime_agent.protocol.core import KEEP_RESPONSES, MAX_WAITING_REQUESTS
from realtime_agent.schema import codec
from realtime_agent.schema import server as s
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    ResponseCreate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.schema.response import ResponseCreateParams
from tests.protocol.strategies import (
    AUDIO_BYTES,
    BROKEN_FRAMES,
    BYTES_PER_MS,
    CALLED,
    REQUEST_OPTIONS,
    STATUSES,
    TOOLS,
    Draw,
    Out,
    SimPlayout,
    SimServer,
    Told,
    played_between,
)

LIFECYCLE = frozenset({"response.created", "response.done", "error"})
"""Frames a delay never reorders (see ``server_delays_frames``)."""
REPEATED = 8  # how far back a repeated frame may come from
MAX_LAG = 8
"""Client events the server may leave unhandled: a real one handles each as it arrives, so
while the core's words are on their way, only a few of its frames cross them (the core
recognises the answers to its recent requests and cancels only, not to ones of long ago)."""
MAX_DELAY = 16
"""Frames that may overtake a delayed one: a real server's frames come in order, and the core
forgets long-finished responses (a frame late by KEEP_RESPONSES responses is a stray's)."""
QUIET_STEPS = 100  # settling takes at most this many steps, and a few per thing still to do


def emitted(actions: list[Action]) -> list[app.AppEvent]:
    return [a.event for a in actions if isinstance(a, Emit)]


def errors_raised(actions: list[Action]) -> list[app.ErrorRaised]:
    return [e for e in emitted(actions) if isinstance(e, app.ErrorRaised)]


def in_time(machine: CoreMachine) -> bool:
    """The server keeps up (:data:`MAX_LAG`, :data:`MAX_DELAY`); when it does not, it catches
    up (handles a client event, or the delayed frames arrive) before anything else happens."""
    late = machine.held and machine.delivered - machine.held_at > MAX_DELAY
    return len(machine.server.inbound) <= MAX_LAG and not late


class CoreMachine(RuleBasedStateMachine):
    """A session: the simulated server, the core, an application and a playout (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.core = SessionCore(tool_names=TOOLS)
        self.server = SimServer()
        self.told = Told()
        self.playout = SimPlayout()
        self.delivered = 0
        self.history: list[str] = []
        self.holding = 0
        self.held: list[Out] = []
        self.held_at = 0  # when the oldest of the held frames would have been delivered
        self.outputs: Counter[str] = Counter()  # call_id -> function_call_output items sent
        self.running: dict[str, ToolCall] = {}
        self.tools_run: set[str] = set()
        self.requests: list[str] = []  # the application's request tags, in order
        self.asked: dict[str, ResponseCreateParams] = {}
        self.in_order: list[str] = []  # ... of those in the default conversation
        self.first_sent: list[str] = []
        self.plain_requests = 0
        self.cutting = False
        self.heard: dict[str, int] = {}  # call_id or response_id -> when its call or end came

    # --- moving frames -----------------------------------------------------------------------

    def send(self, frames: list[Out], draw: Draw) -> None:
        """The server sends these frames (some held back while a delay is on)."""
        for out in frames:
            if self.holding and codec.sniff_type(out.text) not in LIFECYCLE:
                self.holding -= 1
                if not self.held:
                    self.held_at = self.delivered
                self.held.append(out)
            else:
                self.deliver(out, draw)

    def deliver(self, out: Out, draw: Draw) -> None:
        """The core receives one frame through the codec, as the runtime hands it over."""
        self.delivered += 1
        self.history.append(out.text)
        try:
            event = codec.decode(out.text)
        except RemoteProtocolError as error:
            actions = self.core.receive_error(error)
            assert [e.code for e in errors_raised(actions)][:1] == ["remote_protocol_error"]
        else:
            self.told.hear(event)
            if isinstance(event, s.ResponseCreated):
                response = self.server.responses.get(event.response.id or "")
                if response is not None and response.created_seq is None:
                    response.created_seq = self.delivered
            elif isinstance(event, s.ResponseDone):
                self.heard.setdefault(event.response.id or "", self.delivered)
            actions = self.core.receive(event)
            if isinstance(event, UnknownServerEvent):
                assert any(isinstance(e, app.RawServerEvent) for e in emitted(actions))
        self.run(actions, draw)
        raised = [e.code for e in errors_raised(actions)]
        match out.note:
            case "race" | "cancel_not_active":
                assert raised == [], f"{out.ref} reached the application"
            case "refusal" | "broken":
                assert raised, f"the application never heard of {out.text}"
            case "bad_audio":  # unless its item was cut or had ended: that audio is dropped unread
                track = self.core.conversation.tracks.get((out.ref or "", 0))
                dropped = track is not None and (track.cut or track.complete)
                assert raised or dropped, f"{out.text} unheard of"
            case "call":
                call_id = out.ref or ""
                self.heard.setdefault(call_id, self.delivered)
                assert self.outputs[call_id] == 1 or call_id in self.running, f"{call_id} ignored"
                if self.server.calls[call_id]:
                    assert self.outputs[call_id] == 1, f"{call_id} could not be read: not answered"

    def run(self, actions: list[Action], draw: Draw) -> None:
        """Carry out the core's actions, as the runtime does, checking each."""
        for action in actions:
            match action:
                case SendEvent(event=event):
                    self.sent(event)
                case PlayAudio(item_id=item_id, content_index=index, audio=audio):
                    self.playout.play((item_id, index), len(audio))
                case EndAudio(item_id=item_id, content_index=index):
                    self.playout.item((item_id, index)).ended = True
                case StopPlayout(items=keys):
                    self.stop(keys, draw)
                case CallTool(call=call):
                    assert call.call_id not in self.tools_run, f"{call.call_id} ran twice"
                    assert call.name in TOOLS
                    self.tools_run.add(call.call_id)
                    self.running[call.call_id] = call
                case Emit(event=app.AudioInterrupted() as interrupted):
                    assert self.cutting, f"{interrupted} outside playout_stopped"
                case Emit() | HistoryChanged():
                    pass

    def sent(self, event: ClientEvent) -> None:
        if isinstance(event, ResponseCreate) and event.response is not None:
            tag = (event.response.metadata or {}).get("request")
            assert event.response == self.asked[str(tag)], "a request's parameters changed"
        match event:
            case ResponseCreate(response=params) if params is None or params.conversation != "none":
                assert self.told.active is None, (
                    f"response.create while {self.told.active} is active"
                )
                assert self.told.unanswered is None, (
                    f"response.create while {self.told.unanswered} is unanswered"
                )
                self.told.unanswered = event.event_id
                tag = (params.metadata or {}).get("request") if params is not None else None
                if isinstance(tag, str) and tag not in self.first_sent:
                    assert tag == self.in_order[len(self.first_sent)], "requests out of order"
                    self.first_sent.append(tag)
            case ConversationItemCreate(item=FunctionCallOutputItem(call_id=call_id)):
                assert call_id in self.server.calls, f"answered {call_id}, never called"
                self.outputs[call_id] += 1
                assert self.outputs[call_id] == 1, f"{call_id} answered twice"
            case ConversationItemTruncate() | ConversationItemDelete():
                assert self.cutting, f"{event} outside playout_stopped"
        self.server.inbound.append((event, self.delivered))

    def stop(self, keys: tuple[tuple[str, int], ...], draw: Draw) -> None:
        """Barge-in: the playout freezes, the core cuts what was not heard in full."""
        positions = self.playout.stop(keys, draw)
        actions = self.core.playout_stopped(positions)
        self.playout.check_cuts(positions, actions, self.core.conversation.tracks)
        self.cutting = True
        try:
            self.run(actions, draw)
        finally:
            self.cutting = False

    # --- the server ----------------------------------------------------------------------------

    @precondition(in_time)
    @rule(data=st.data())
    def user_starts_speaking(self, data: st.DataObject) -> None:
        self.send(self.server.speech_started(), data.draw)

    @precondition(in_time)
    @rule(data=st.data())
    def user_stops_speaking(self, data: st.DataObject) -> None:
        self.send(self.server.speech_stopped(), data.draw)

    @precondition(lambda self: self.server.inbound)
    @rule(
        data=st.data(),
        answer=st.sampled_from(["start", "start", "start", "invalid_value", "bare_done"]),
    )
    def server_handles_a_client_event(self, data: st.DataObject, answer: str) -> None:
        self.send(self.server.handle(answer), data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.server.live())
    @rule(data=st.data(), size=AUDIO_BYTES, bad=st.sampled_from([False] * 9 + [True]))
    def response_speaks(self, data: st.DataObject, size: int, bad: bool) -> None:
        response = data.draw(st.sampled_from(self.server.live()))
        frames = self.server.speak(response, size, bad=bad)
        if bad:
            frames[-2].note, frames[-2].ref = "bad_audio", response.item  # not base64
        self.send(frames, data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.server.live())
    @rule(data=st.data())
    def response_audio_ends(self, data: st.DataObject) -> None:
        response = data.draw(st.sampled_from(self.server.live()))
        self.send(self.server.end_audio(response), data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.server.active is not None)
    @rule(
        data=st.data(),
        name=st.sampled_from(CALLED),
        broken=st.sampled_from([False, False, False, True]),
        named=st.booleans(),
    )
    def response_calls_a_function(
        self, data: st.DataObject, name: str, broken: bool, named: bool
    ) -> None:
        assert self.server.active is not None
        self.send(self.server.call(self.server.active, name, broken=broken, named=named), data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.server.live())
    @rule(data=st.data(), status=st.sampled_from(STATUSES), flush=st.booleans())
    def response_ends(self, data: st.DataObject, status: str, flush: bool) -> None:
        response = data.draw(st.sampled_from(self.server.live()))
        self.send(self.server.finish(response, status, "turn_detected", flush=flush), data.draw)

    @precondition(in_time)
    @rule(data=st.data(), turns=st.integers(1, 4), calls=st.booleans())
    def whole_turns(self, data: st.DataObject, turns: int, calls: bool) -> None:
        """Whole turns of the user and of the server's own responses (long sessions)."""
        for _ in range(turns):
            frames = self.server.speech_stopped()
            response = self.server.active
            if response is None:
                self.send(frames, data.draw)
                continue
            frames += self.server.speak(response, 960)
            key = (response.item or "", 0)
            if calls:
                frames += self.server.call(response, "get_weather", broken=False, named=True)
            self.send(frames + self.server.finish(response, "completed"), data.draw)
            playing = self.playout.items.get(key)
            if playing is not None and not playing.stopped:  # the user heard all of it
                playing.played = playing.received
                ms = playing.played / BYTES_PER_MS
                assert self.core.receive_playback(*key, ms, finished=True) == []

    @precondition(in_time)
    @rule(data=st.data(), interrupt=st.booleans())
    def session_updated(self, data: st.DataObject, interrupt: bool) -> None:
        self.server.interrupt_response = interrupt
        detection = {"type": "server_vad", "interrupt_response": interrupt}
        session = {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}
        self.send([self.server.frame("session.updated", session=session)], data.draw)

    @precondition(in_time)
    @rule(data=st.data(), kind=st.sampled_from(["added", "created", "done", "deleted"]))
    def history_changes(self, data: st.DataObject, kind: str) -> None:
        """Items added, updated or deleted anywhere, after any item (known or not)."""
        known = self.server.items
        item_id = data.draw(st.sampled_from([*known, self.server.new_id("item")]))
        previous = data.draw(st.sampled_from([None, "item_unknown", *known]))
        if kind == "deleted":
            if item_id in known:
                known.remove(item_id)
            self.send([self.server.frame("conversation.item.deleted", item_id=item_id)], data.draw)
            return
        item = {"id": item_id, "type": "message", "role": "user", "content": []}
        if item_id not in known:
            known.append(item_id)
        frame = self.server.frame(f"conversation.item.{kind}", previous_item_id=previous, item=item)
        self.send([frame], data.draw)

    @precondition(in_time)
    @rule(
        data=st.data(),
        event_type=st.sampled_from(
            ["response.output_audio.timing", "rate_limits.updated", "input_audio_buffer.cleared"]
        ),
    )
    def other_events(self, data: st.DataObject, event_type: str) -> None:
        fields: dict[str, Any] = {"rate_limits": []} if event_type == "rate_limits.updated" else {}
        self.send([self.server.frame(event_type, **fields)], data.draw)

    @precondition(in_time)
    @rule(data=st.data(), text=st.sampled_from(BROKEN_FRAMES))
    def broken_frame(self, data: st.DataObject, text: str) -> None:
        self.send([Out(text, "broken")], data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def server_repeats_a_frame(self, data: st.DataObject) -> None:
        """One of the last frames again (one of long ago: the core cannot remember them all)."""
        frames = self.history[-REPEATED:]
        if frames:
            self.send([Out(data.draw(st.sampled_from(frames)))], data.draw)

    @precondition(in_time)
    @rule(data=st.data(), kind=st.sampled_from(["audio", "call", "named", "output"]))
    def stray_frames(self, data: st.DataObject, kind: str) -> None:
        """Content of a response that never began, a call that never completes, the answer
        of a call never made."""
        self.send(self.server.stray(kind), data.draw)

    @precondition(in_time)
    @rule(frames=st.integers(1, 4))
    def server_delays_frames(self, frames: int) -> None:
        """The next frames (all but responses' starts and ends, and errors) come late."""
        self.holding = frames

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def delayed_frames_arrive(self, data: st.DataObject) -> None:
        held, self.held, self.holding = self.held, [], 0
        for out in data.draw(st.permutations(held)):
            self.deliver(out, data.draw)

    # --- the application -----------------------------------------------------------------------

    @precondition(in_time)
    @rule(data=st.data(), options=REQUEST_OPTIONS)
    def app_asks_for_a_response(self, data: st.DataObject, options: dict[str, Any]) -> None:
        tag = f"request_{len(self.requests) + 1}"
        params = ResponseCreateParams(metadata={"request": tag}, **options)
        out_of_band = params.conversation == "none"
        waiting = len(self.core.sequencer.waiting)
        try:
            actions = self.core.create_response(params)
        except LocalProtocolError as error:
            assert not out_of_band and waiting >= MAX_WAITING_REQUESTS, error
            assert "already waiting" in str(error)
            return
        assert out_of_band or waiting < MAX_WAITING_REQUESTS, "more requests wait than allowed"
        self.requests.append(tag)
        self.asked[tag] = params
        if not out_of_band:
            self.in_order.append(tag)
        self.run(actions, data.draw)
        if out_of_band:
            assert [type(a).__name__ for a in actions] == ["SendEvent"], "out of band: at once"

    @precondition(in_time)
    @precondition(lambda self: len(self.core.sequencer.waiting) < MAX_WAITING_REQUESTS)
    @rule(data=st.data())
    def app_asks_plainly(self, data: st.DataObject) -> None:
        self.plain_requests += 1
        self.run(self.core.create_response(), data.draw)

    @precondition(in_time)
    @rule(data=st.data())
    def app_interrupts(self, data: st.DataObject) -> None:
        self.run(self.core.interrupt(), data.draw)

    @precondition(in_time)
    @precondition(lambda self: self.running)
    @rule(data=st.data(), failed=st.booleans(), twice=st.booleans())
    def tool_returns(self, data: st.DataObject, failed: bool, twice: bool) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.running)))
        self.answer(call_id, data.draw, error="it broke" if failed else None)
        if twice:
            assert self.core.receive_tool_result(call_id, '"again"') == []

    @precondition(in_time)
    @rule(data=st.data())
    def stray_tool_result(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(["call_never_made", *sorted(self.outputs)]))
        assert self.core.receive_tool_result(call_id, '"late"') == []

    @precondition(in_time)
    @precondition(lambda self: self.playout.playing())
    @rule(data=st.data())
    def playback_progresses(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.playout.playing()))
        playing = self.playout.items[key]
        playing.played = data.draw(played_between(playing.played, playing.received))
        ms = playing.played / BYTES_PER_MS
        assert self.core.receive_playback(*key, ms, finished=playing.finished) == []

    def answer(self, call_id: str, draw: Draw, error: str | None = None) -> None:
        call = self.running.pop(call_id)
        self.run(self.core.receive_tool_result(call_id, f'"{call.name} done"', error=error), draw)
        assert self.outputs[call_id] == 1, f"{call_id} returned and was not answered"

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def nothing_waits_while_nothing_is_busy(self) -> None:
        sequencer = self.core.sequencer
        assert sequencer.busy or not sequencer.wanted, "a request waits for nothing"

    @invariant()
    def the_server_never_refused_a_request_for_a_response_the_core_knew_of(self) -> None:
        assert self.server.unjustified_races == 0

    @invariant()
    def the_history_is_one_list(self) -> None:
        ids = [item.id for item in self.core.conversation.items()]
        assert len(ids) == len(set(ids)) == len(self.core.conversation)

    # --- once it goes quiet --------------------------------------------------------------------

    def teardown(self) -> None:
        if sys.exc_info()[0] is not None:
            return  # a step failed: that is the failure to report, not what follows from it
        self.holding = 0
        self.settle()
        self.check_quiet()
        # One more turn of the server's own, so that the core forgets what it may.
        self.send(self.server.speech_stopped(), None)
        assert self.server.active is not None
        self.send(self.server.finish(self.server.active, "completed"), None)
        self.settle()
        self.check_memory()

    def settle(self) -> None:
        """Everything is answered: delayed frames arrive, tools return, the server finishes
        its responses and answers every client event (starting a response for a request)."""
        to_do = [self.held, self.running, self.server.live(), self.server.inbound]
        bound = QUIET_STEPS + 8 * sum(map(len, to_do)) + 8 * len(self.core.sequencer.waiting)
        for _ in range(bound):
            live = self.server.live()
            if self.held:
                held, self.held = self.held, []
                for out in held:
                    self.deliver(out, None)
            elif self.running:
                self.answer(next(iter(self.running)), None)
            elif live:
                self.send(self.server.finish(live[0], "completed"), None)
            elif self.server.inbound:
                self.send(self.server.handle("start"), None)
            else:
                break
        else:
            raise AssertionError(f"the session did not go quiet in {bound} steps")

    def check_quiet(self) -> None:
        sequencer, server = self.core.sequencer, self.server
        assert not sequencer.busy and not sequencer.wanted, (
            f"quiet, yet busy={sequencer.busy} ({sequencer.active}, {sequencer.in_flight}), "
            f"waiting={list(sequencer.waiting)}"
        )
        lost = [t for t in self.requests if not server.served[t] and t not in server.refused]
        assert not lost, f"requests lost: {lost}"
        assert all(n == 1 for n in server.served.values()), f"served twice: {server.served}"
        assert server.untagged_answered >= self.plain_requests, "plain requests lost"
        unanswered = {c: self.outputs[c] for c in server.calls if self.outputs[c] != 1}
        assert not unanswered, f"calls not answered exactly once: {unanswered}"
        for response_id, made in server.follow_ups_due.items():
            # The calls the core heard of before the response's end (a delay may carry one past
            # it, which no real server does: the core answers it, and promises no follow-up).
            calls = [c for c in made if self.heard[c] < self.heard[response_id]]
            if not calls:
                continue
            answered = max(server.output_at[c] for c in calls)
            assert any(t > answered for t in server.default_started + server.untagged_refused), (
                f"the answers of {sorted(calls)} were never followed by a response"
            )

    def check_memory(self) -> None:
        """What is remembered is bounded, and nothing of a forgotten response is (the newest
        KEEP_RESPONSES responses are kept, strays that never began among them)."""
        core = self.core
        responses = core.conversation.responses
        assert len(responses) <= KEEP_RESPONSES, f"{len(responses)} responses remembered"
        live = [r for r, state in responses.items() if not state.done and r in core._created_seq]
        assert not live, f"quiet, yet {live} never ended: never forgotten"
        calls = {c for r in responses for c in core.calls.calls_of(r)}
        for track in core.conversation.tracks.values():
            assert track.response_id in responses, f"the track of {track.item_id} is orphaned"
        assert core.calls._answered <= calls
        assert len(core.calls._names) <= MAX_ANNOUNCED
        assert set(core.calls._by_response) <= set(responses)
        assert set(core._created_seq) <= set(responses)
        stale = core._cut_responses - set(responses)
        assert not stale, f"{sorted(stale)} forgotten, yet remembered as cut"
        assert set(core._output_seq) <= calls


FAST = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    # No explain phase: its tracer makes a failing run several times slower (pytest-timeout).
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
FIRST_FAILURE = settings(FAST, phases=[Phase.explicit, Phase.generate])
"""For long sessions: report the first failure as found (shrinking one takes longer than
hypothesis's five minutes)."""


# A failure is shrunk for up to hypothesis's five minutes (a pass takes seconds). Past the
# global limit, pytest-timeout's Failed, raised in the middle of the shrinking, is taken by
# hypothesis for a failure of the test that does not reproduce: a Flaky error is reported.
@pytest.mark.timeout(420)
def test_the_core_keeps_its_promises_whatever_the_server_sends() -> None:
    run_state_machine_as_test(CoreMachine, settings=FAST)


def test_the_core_keeps_its_promises_over_long_sessions() -> None:
    """Sessions long enough that the core forgets (many more than KEEP_RESPONSES responses)."""
    run_state_machine_as_test(
        CoreMachine, settings=settings(FIRST_FAILURE, max_examples=15, stateful_step_count=400)
    )


def test_nothing_is_remembered_of_what_the_core_forgot() -> None:
    """More sessions of middling length, each ending with the memory check."""
    run_state_machine_as_test(
        CoreMachine, settings=settings(FIRST_FAILURE, max_examples=30, stateful_step_count=200)
    )
