"""A simulated Realtime server and playout, and the strategies that drive them, for the
session core's property tests (``test_core_properties.py``).

:class:`SimServer` plays the server's side of one session the way a real one does where the
session core's promises depend on it: it handles the client events the core sends in the
order they were sent; only one response writes to the default conversation at a time, and a
``response.create`` that comes while one does is refused with
``conversation_already_has_active_response`` naming its ``event_id``; out-of-band responses
(``conversation: "none"``) run beside it; a cancel of a response that is not active is refused
with ``response_cancel_not_active``; a truncate beyond the audio it sent is refused. Where the
test asks, it misbehaves: it answers a request with another error, or with a ``response.done``
that had no ``response.created``.

Each method returns the frames to send, as JSON text (:class:`Out`), with a note of what their
delivery must cause; the test delivers them through the real codec.

:class:`Told` is what the core has been told, the model the sequencing property is stated
in; :class:`Playing` one item of the simulated playout.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from realtime_agent.protocol import Emit, SendEvent
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import Action
from realtime_agent.protocol.conversation import AudioTrack
from realtime_agent.schema import server as s
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    ResponseCancel,
    ResponseCreate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import FunctionCallOutputItem
from realtime_agent.schema.response import Response, ResponseCreateParams

Draw = Callable[[st.SearchStrategy[Any]], Any] | None
"""Where a step draws its choices from (None while the session goes quiet: no choices)."""
Key = tuple[str, int]
"""(item_id, content_index) of an audio item."""
BYTES_PER_MS = 48  # pcm16 at 24 kHz, the session's default output format
ACTIVE_RESPONSE = "conversation_already_has_active_response"
STATUSES = ("completed", "cancelled", "failed", "incomplete")
TOOLS = frozenset({"get_weather", "hang_up"})
CALLED = (*sorted(TOOLS), "launch_rockets")  # the model may name a tool that does not exist

#: Audio per delta, in bytes: whole samples, often not a whole millisecond.
AUDIO_BYTES = st.integers(1, 40 * 24).map(lambda samples: 2 * samples)
#: Optional ``response.create`` parameters an application may pass (besides its own tag).
REQUEST_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "instructions": st.sampled_from(["", "Be brief.", "Say it in French."]),
        "output_modalities": st.sampled_from([["audio"], ["text"]]),
        "conversation": st.sampled_from(["auto", "none"]),
    },
)
#: Frames that break the protocol, each as the codec must refuse it.
BROKEN_FRAMES = (
    '{"type": "response.output_audio.delta", "event_id": "e", "response_id"',
    "[1, 2, 3]",
    '{"event_id": "e"}',
    '{"type": "response.output_audio.delta", "event_id": "e", "response_id": "r", '
    '"item_id": "i", "output_index": 0, "content_index": "zero", "delta": ""}',
    '{"type": "conversation.item.added", "event_id": "e", "item": {"type": ["message"]}}',
    '{"type": "rate_limits.updated", "event_id": "e", "rate_limits": NaN}',
    '{"type": 7, "event_id": "e"}',
)


def played_between(low: int, high: int) -> st.SearchStrategy[int]:
    """Bytes heard of an item: at least ``low``, at most all that was received (``high``).

    The edges (nothing more, everything, under 1 ms) are where cuts go wrong, so they come
    often.
    """
    samples = st.one_of(
        st.just(low // 2),
        st.just(high // 2),
        st.integers(low // 2, max(low // 2, min(high // 2, low // 2 + 24))),
        st.integers(low // 2, high // 2),
    )
    return samples.map(lambda n: 2 * n)


@dataclass
class SimResponse:
    """One response as the server runs it."""

    id: str
    default: bool
    """It writes to the default conversation (else: out of band)."""
    tag: str | None = None
    """The application request it answers, if any."""
    created_seq: int | None = None
    """When its ``response.created`` reached the core (the test's delivery count)."""
    item: str | None = None
    """The audio item it is writing, if any."""
    outputs: int = 0
    calls: list[str] = field(default_factory=list)


@dataclass
class Out:
    """A frame to send, and what its delivery must cause (checked by the test)."""

    text: str
    note: str | None = None
    """``race``, ``refusal``, ``cancel_not_active``, ``call``, ``broken`` or ``bad_audio``."""
    ref: str | None = None
    """The call_id of a ``call``, the error code of a refusal, the item of ``bad_audio``."""


class SimServer:
    """The server's side of a session (see the module docstring)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.inbound: deque[tuple[ClientEvent, int]] = deque()
        """Client events not yet handled, with the delivery count when each was sent."""
        self.active: SimResponse | None = None
        self.out_of_band: dict[str, SimResponse] = {}
        self.responses: dict[str, SimResponse] = {}
        self.items: list[str] = []
        self.audio: Counter[str] = Counter()  # item_id -> bytes sent
        self.calls: dict[str, bool] = {}  # call_id -> its arguments.done was broken
        self.clock = 0  # frames made so far
        self.output_at: dict[str, int] = {}  # call_id -> when its answer entered the conversation
        self.default_started: list[int] = []  # when each default-conversation response began
        self.untagged_refused: list[int] = []  # when an untagged request was refused
        self.follow_ups_due: dict[str, frozenset[str]] = {}  # response -> calls, if not cut
        self.served: Counter[str] = Counter()  # request tag -> responses that answered it
        self.refused: set[str] = set()
        self.untagged_answered = 0
        self.unjustified_races = 0
        """Races the server had to refuse although the core had been told of the response."""
        self.interrupt_response = True

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def live(self) -> list[SimResponse]:
        """The responses in progress, the default conversation's first."""
        return [r for r in [self.active, *self.out_of_band.values()] if r is not None]

    def frame(
        self, event_type: str, note: str | None = None, ref: str | None = None, **fields: Any
    ) -> Out:
        self.clock += 1
        text = json.dumps({"type": event_type, "event_id": self.new_id("event"), **fields})
        return Out(text, note, ref)

    def error(self, code: str, event_id: str | None, note: str | None = None) -> Out:
        error = {"type": "invalid_request_error", "code": code, "message": code, "param": None}
        return self.frame("error", note, code, error={**error, "event_id": event_id})

    # --- responses -------------------------------------------------------------------------

    def start(self, *, default: bool, tag: str | None = None) -> list[Out]:
        response = SimResponse(self.new_id("resp"), default, tag)
        self.responses[response.id] = response
        if default:
            self.active = response
            self.default_started.append(self.clock + 1)
        else:
            self.out_of_band[response.id] = response
        if tag is not None:
            self.served[tag] += 1
        body = {"id": response.id, "object": "realtime.response", "status": "in_progress"}
        conversation = "conv_1" if default else None
        metadata = {"request": tag} if tag is not None else None
        return [
            self.frame(
                "response.created",
                response={**body, "conversation_id": conversation, "metadata": metadata},
            )
        ]

    def _where(self, response: SimResponse, item: str) -> dict[str, Any]:
        return {
            "response_id": response.id,
            "item_id": item,
            "output_index": response.outputs - 1,
            "content_index": 0,
        }

    def speak(self, response: SimResponse, size: int, *, bad: bool = False) -> list[Out]:
        """A piece of audio (and of its transcript), in a new assistant item if need be."""
        frames = []
        if response.item is None:
            response.item = self.new_id("item")
            response.outputs += 1
            item = {"id": response.item, "type": "message", "role": "assistant", "content": []}
            frames.append(
                self.frame(
                    "response.output_item.added",
                    response_id=response.id,
                    output_index=response.outputs - 1,
                    item=item,
                )
            )
            if response.default:
                frames.append(self.added(item))
        where = self._where(response, response.item)
        delta = "@@@" if bad else base64.b64encode(bytes(size)).decode()
        if not bad:
            self.audio[response.item] += size
        frames.append(self.frame("response.output_audio.delta", delta=delta, **where))
        frames.append(self.frame("response.output_audio_transcript.delta", delta="la", **where))
        return frames

    def end_audio(self, response: SimResponse) -> list[Out]:
        if response.item is None:
            return []
        where = self._where(response, response.item)
        response.item = None
        return [
            self.frame("response.output_audio.done", **where),
            self.frame("response.output_audio_transcript.done", transcript="la la", **where),
        ]

    def call(self, response: SimResponse, name: str, *, broken: bool, named: bool) -> list[Out]:
        """A function call: its output item, then its complete arguments (broken: not text)."""
        call_id, item_id = self.new_id("call"), self.new_id("item")
        response.outputs += 1
        response.calls.append(call_id)
        self.calls[call_id] = broken
        item = {"id": item_id, "type": "function_call", "name": name, "call_id": call_id}
        done: dict[str, Any] = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": response.outputs - 1,
            "call_id": call_id,
            "arguments": {"city": "Paris"} if broken else '{"city": "Paris"}',
        }
        if named:
            done["name"] = name
        added = self.frame(
            "response.output_item.added",
            response_id=response.id,
            output_index=response.outputs - 1,
            item={**item, "arguments": ""},
        )
        return [added, self.frame("response.function_call_arguments.done", "call", call_id, **done)]

    def finish(
        self, response: SimResponse, status: str, reason: str | None = None, *, flush: bool = True
    ) -> list[Out]:
        """The response ends (``flush``: its audio item is closed first)."""
        frames = self.end_audio(response) if flush else []
        response.item = None
        if response.default:
            self.active = None
            if status != "cancelled" and response.calls:
                self.follow_ups_due[response.id] = frozenset(response.calls)
        else:
            self.out_of_band.pop(response.id, None)
        details = {"type": status, "reason": reason} if status != "completed" else None
        body = {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "conversation_id": "conv_1" if response.default else None,
        }
        return [*frames, self.frame("response.done", response=body)]

    def stray(self, kind: str) -> list[Out]:
        """Frames no faithful server sends: ``audio`` of a response that never began, the
        ``call`` of one (its arguments complete: it must be answered), a function call
        ``named`` that never completes, the ``output`` of a call never made."""
        response_id, call_id = self.new_id("resp_stray"), self.new_id("call_stray")
        where: dict[str, Any] = {
            "response_id": response_id,
            "item_id": self.new_id("item"),
            "output_index": 0,
        }
        match kind:
            case "audio":
                delta = base64.b64encode(bytes(96)).decode()
                return [
                    self.frame("response.output_audio.delta", delta=delta, content_index=0, **where)
                ]
            case "call":
                self.calls[call_id] = False
                fields = {**where, "call_id": call_id, "arguments": "{}", "name": "get_weather"}
                return [
                    self.frame("response.function_call_arguments.done", "call", call_id, **fields)
                ]
            case "named":
                item = {
                    "id": where["item_id"],
                    "type": "function_call",
                    "name": "hang_up",
                    "call_id": call_id,
                }
                return [
                    self.frame(
                        "response.output_item.added",
                        response_id=response_id,
                        output_index=0,
                        item=item,
                    )
                ]
        item = {
            "id": where["item_id"],
            "type": "function_call_output",
            "call_id": call_id,
            "output": "{}",
        }
        return [self.added(item)]

    # --- the user --------------------------------------------------------------------------

    def speech_started(self) -> list[Out]:
        """The user starts speaking: VAD cuts the default conversation's response."""
        frames = [
            self.frame(
                "input_audio_buffer.speech_started",
                audio_start_ms=1000,
                item_id=self.new_id("user"),
            )
        ]
        if self.interrupt_response and self.active is not None:
            frames += self.finish(self.active, "cancelled", "turn_detected", flush=False)
        return frames

    def speech_stopped(self) -> list[Out]:
        """The user's turn ends: committed, added, and the server's own response (if it can)."""
        item_id = self.new_id("user")
        item = {"id": item_id, "type": "message", "role": "user", "content": []}
        frames = [
            self.frame("input_audio_buffer.speech_stopped", audio_end_ms=2000, item_id=item_id),
            self.frame("input_audio_buffer.committed", item_id=item_id),
            self.added(item),
        ]
        if self.active is None:
            frames += self.start(default=True)
        return frames

    def added(self, item: dict[str, Any]) -> Out:
        """The item enters the conversation, at its end."""
        previous = self.items[-1] if self.items else None
        self.items.append(item["id"])
        return self.frame("conversation.item.added", previous_item_id=previous, item=item)

    # --- what the client sent --------------------------------------------------------------

    def handle(self, answer: str) -> list[Out]:
        """Handle the oldest client event. ``answer``: how to answer a ``response.create``
        when it may be answered (``start``, ``invalid_value`` or ``bare_done``)."""
        event, sent_seq = self.inbound.popleft()
        match event:
            case ResponseCreate(event_id=event_id, response=params):
                return self._create(event_id, params, sent_seq, answer)
            case ConversationItemCreate(item=FunctionCallOutputItem(call_id=call_id) as output):
                self.output_at[call_id] = self.clock + 1
                item = {"id": self.new_id("item"), **output.model_dump(exclude_none=True)}
                return [self.added(item), self.frame("conversation.item.done", item=item)]
            case ConversationItemTruncate(event_id=event_id, item_id=item_id, audio_end_ms=end):
                if end > self.audio[item_id] // BYTES_PER_MS:
                    return [self.error("invalid_value", event_id)]  # "already shorter than"
                return [
                    self.frame(
                        "conversation.item.truncated",
                        item_id=item_id,
                        content_index=0,
                        audio_end_ms=end,
                    )
                ]
            case ConversationItemDelete(event_id=event_id, item_id=item_id):
                if item_id not in self.items:
                    return [self.error("item_not_found", event_id)]
                self.items.remove(item_id)
                return [self.frame("conversation.item.deleted", item_id=item_id)]
            case ResponseCancel(event_id=event_id, response_id=response_id):
                target = self.responses.get(response_id or "") if response_id else self.active
                if target is None or target not in self.live():
                    return [self.error("response_cancel_not_active", event_id, "cancel_not_active")]
                return self.finish(target, "cancelled", "client_cancelled")
        return []

    def _create(
        self, event_id: str | None, params: ResponseCreateParams | None, sent_seq: int, answer: str
    ) -> list[Out]:
        default = params is None or params.conversation != "none"
        tag = (params.metadata or {}).get("request") if params is not None else None
        tag = tag if isinstance(tag, str) else None
        active = self.active
        if default and active is not None:
            if active.created_seq is not None and active.created_seq <= sent_seq:
                self.unjustified_races += 1  # the core knew of it when it sent this
            return [self.error(ACTIVE_RESPONSE, event_id, "race")]
        if tag is None:
            self.untagged_answered += 1
        if answer == "invalid_value":
            if tag is None:
                self.untagged_refused.append(self.clock + 1)
            else:
                self.refused.add(tag)
            return [self.error("invalid_value", event_id, "refusal")]
        if answer == "bare_done" and default:
            if tag is not None:
                self.served[tag] += 1
            else:
                self.untagged_refused.append(self.clock + 1)
            response = SimResponse(self.new_id("resp"), default=True, tag=tag)
            return self.finish(response, "failed")
        return self.start(default=default, tag=tag)


def in_conversation(response: Response) -> bool:
    """The response writes to the default conversation (out of band: ``conversation_id: null``)."""
    return not ("conversation_id" in response.model_fields_set and response.conversation_id is None)


class Told:
    """What the core has been told of the default conversation, from the events delivered to
    it: the response active (the newest one begun and not ended: the server runs one at a
    time), and whether its last ``response.create`` was answered (by a ``response.created``,
    an error naming it, or a ``response.done`` that had none). The start of a response that
    has ended, heard again, is a repeat: it starts nothing."""

    def __init__(self) -> None:
        self.active: str | None = None
        self.created: set[str] = set()
        self.ended: set[str] = set()
        self.unanswered: str | None = None
        """The event_id of the core's last ``response.create``, until it is answered."""

    def hear(self, event: s.ServerEvent | UnknownServerEvent) -> None:
        match event:
            case s.ResponseCreated(response=response) if (
                in_conversation(response) and response.id not in self.ended
            ):
                self.active = response.id or ""
                self.created.add(self.active)
                self.unanswered = None
            case s.ResponseDone(response=response) if in_conversation(response):
                self.ended.add(response.id or "")
                if response.id == self.active:
                    self.active = None
                elif response.id not in self.created and self.active is None:
                    self.unanswered = None
            case s.ErrorEvent(error=error) if error.event_id == self.unanswered:
                self.unanswered = None


@dataclass
class Playing:
    """One item in the simulated playout."""

    received: int = 0
    """Bytes the core gave it to play."""
    played: int = 0
    """Bytes heard."""
    ended: bool = False
    stopped: bool = False

    @property
    def finished(self) -> bool:
        return self.ended and self.played >= self.received


class SimPlayout:
    """The playout, as the runtime's behaves: it plays what the core gives it; on a barge-in
    it freezes the items asked for and any other still audible, and reports where each
    stopped, never beyond what it was given."""

    def __init__(self) -> None:
        self.items: dict[Key, Playing] = {}
        self.cut: set[Key] = set()
        """Items the core truncated or deleted."""

    def item(self, key: Key) -> Playing:
        return self.items.setdefault(key, Playing())

    def play(self, key: Key, size: int) -> None:
        assert key not in self.cut, f"audio played for {key[0]} after it was cut"
        playing = self.item(key)
        playing.received += size
        assert not playing.ended, f"audio played for {key[0]} after its end"

    def playing(self) -> list[Key]:
        """The items still playing (with audio not yet heard)."""
        return [k for k, p in self.items.items() if not p.stopped and p.played < p.received]

    def stop(self, keys: tuple[Key, ...], draw: Draw) -> list[tuple[str, int, float, bool]]:
        """Freeze (at a point ``draw`` picks, or where they are) and report, as the runtime's
        ``Playout.stop`` does: (item_id, content_index, played_ms, finished) of each."""
        audible = [key for key, p in self.items.items() if not p.stopped and not p.finished]
        positions = []
        for key in dict.fromkeys([*keys, *audible]):
            playing = self.item(key)
            if not playing.stopped and draw is not None:
                playing.played = draw(played_between(playing.played, playing.received))
            playing.stopped = True
            positions.append((*key, playing.played / BYTES_PER_MS, playing.finished))
        return positions

    def check_cuts(
        self,
        positions: list[tuple[str, int, float, bool]],
        actions: list[Action],
        tracks: dict[Key, AudioTrack],
    ) -> None:
        """What the core did with the positions: each truncate above 0 and within what was
        heard and received, a delete only for under 1 ms heard, one ``AudioInterrupted`` per
        item so cut and no other, and no item heard only in part left uncut."""
        heard = {item_id: (index, ms, finished) for item_id, index, ms, finished in positions}
        cuts: dict[str, int | None] = {}
        for action in actions:
            if not isinstance(action, SendEvent):
                continue
            event = action.event
            assert isinstance(event, ConversationItemTruncate | ConversationItemDelete), event
            assert event.item_id in heard and event.item_id not in cuts, event
            index, ms, finished = heard[event.item_id]
            assert not finished, f"{event.item_id} had finished playing: {event}"
            if isinstance(event, ConversationItemTruncate):
                received = self.items[(event.item_id, index)].received
                end = event.audio_end_ms
                assert 0 < end <= ms and end <= received // BYTES_PER_MS, (event, ms, received)
                cuts[event.item_id] = end
            else:
                assert ms < 1, f"{event.item_id} deleted after {ms} ms were heard"
                cuts[event.item_id] = None
            self.cut.add((event.item_id, index))
        interrupted = [
            a.event
            for a in actions
            if isinstance(a, Emit) and isinstance(a.event, app.AudioInterrupted)
        ]
        assert sorted(e.item_id for e in interrupted) == sorted(cuts), (interrupted, cuts)
        for e in interrupted:
            assert (e.truncated_ms, e.deleted) == (cuts[e.item_id], cuts[e.item_id] is None), e
        for item_id, (index, _, _) in heard.items():
            playing = self.items[(item_id, index)]
            if item_id not in cuts and (item_id, index) in tracks:
                assert playing.ended and playing.received - playing.played < BYTES_PER_MS, (
                    f"{item_id} was cut off and not truncated: {playing}"
                )
