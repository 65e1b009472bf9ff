"""The session core: server events in, actions out. No asyncio, no sockets, no clock.

:class:`SessionCore` holds what a client must remember to get a realtime conversation
right, and decides what to do about each event:

* the conversation (items, responses, the audio received per assistant item);
* barge-in: on ``speech_started`` (when ``interrupt_response`` is on) or
  :meth:`~SessionCore.interrupt`, stop playout, drop the rest of the cut response's
  audio, and once the playout reports where it stopped, truncate each cut item at
  what was heard (:func:`~realtime_agent.protocol.turns.plan_cut`);
* ``response.create`` sequencing (:class:`~realtime_agent.protocol.turns.ResponseSequencer`);
* function calls: each answered exactly once, then one ``response.create`` after all
  calls of a response are answered and its ``response.done`` has arrived (not after a
  response the user interrupted: their next turn gets the answer).

The runtime feeds it with :meth:`receive` (server events), :meth:`receive_tool_result`,
:meth:`receive_playback` and :meth:`playout_stopped`, and carries out the actions it
returns, in order. Everything the application may do goes through it too
(:meth:`send`, :meth:`create_response`, :meth:`interrupt`), so that one object sees
every event in order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.errors import RemoteProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import (
    Action,
    CallTool,
    Emit,
    EndAudio,
    PlayAudio,
    SendEvent,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol.calls import CallBook
from realtime_agent.protocol.conversation import Conversation
from realtime_agent.protocol.turns import ResponseSequencer, plan_cut
from realtime_agent.schema import server as s
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    ResponseCancel,
    ResponseCreate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import FunctionCallItem, FunctionCallOutputItem
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.session import SemanticVad, ServerVad, SessionConfig

__all__ = ["SessionCore"]

ACTIVE_RESPONSE = "conversation_already_has_active_response"
#: Finished responses remembered (their audio tracks and calls); older ones are forgotten.
KEEP_RESPONSES = 32
CANCEL_NOT_ACTIVE = "response_cancel_not_active"


class SessionCore:
    """The sans-I/O state machine of one session (see the module docstring).

    Args:
        tool_names: the functions the application can run; a call of any other name is
            answered at once with an error the model can read.
        raw_events: also emit every server event as a ``RawServerEvent``.
    """

    def __init__(self, *, tool_names: Iterable[str] = (), raw_events: bool = False) -> None:
        self.conversation = Conversation()
        self.calls = CallBook()
        self.sequencer = ResponseSequencer()
        self.tool_names = set(tool_names)
        self.raw_events = raw_events
        self.session: SessionConfig | None = None
        self.output_format: AudioFormat = PCM16_24K
        self.interrupt_response = True
        self.audio_spoken = False
        """True once assistant audio arrived (the voice can no longer change)."""
        self._ids = itertools.count(1)
        self._seq = 0  # server events received so far
        self._created_seq: dict[str, int] = {}
        self._output_seq: dict[str, int] = {}  # call_id -> when its output item was added
        self._follow_up_calls: set[str] = set()
        self._queued: ResponseCreateParams | None = None
        self._audio_response: str | None = None  # the newest response with audio
        self._cut_responses: set[str] = set()
        self._cancels: set[str] = set()  # event ids of our response.cancel

    # --- what the application does -------------------------------------------------------

    def next_event_id(self) -> str:
        """A fresh client ``event_id`` (errors carry it back)."""
        return f"evt_{next(self._ids)}"

    def send(self, event: ClientEvent) -> list[Action]:
        """Send a client event as it is, with an ``event_id`` if it had none."""
        if event.event_id is None:
            event.event_id = self.next_event_id()
        return [SendEvent(event)]

    def create_response(self, params: ResponseCreateParams | None = None) -> list[Action]:
        """Ask for a response; it goes when no other response is active (never two)."""
        event_id = self.next_event_id()
        if params is not None and params.conversation == "none":
            return [SendEvent(ResponseCreate(event_id=event_id, response=params))]
        if self.sequencer.request(event_id):
            return [SendEvent(ResponseCreate(event_id=event_id, response=params))]
        self._queued = params
        return []

    def interrupt(self) -> list[Action]:
        """Cut the assistant off now: cancel the active response and stop its playout."""
        actions: list[Action] = []
        active = self.sequencer.active
        if active is not None:
            event_id = self.next_event_id()
            self._cancels.add(event_id)
            actions.append(SendEvent(ResponseCancel(event_id=event_id, response_id=active)))
        return actions + self._barge_in()

    # --- what the runtime reports --------------------------------------------------------

    @property
    def events_received(self) -> int:
        """Server events received so far."""
        return self._seq

    def receive_tool_result(
        self, call_id: str, output: str, *, error: str | None = None
    ) -> list[Action]:
        """A tool's answer; it is sent once (a second answer for a call is ignored)."""
        call = self.calls.answer(call_id)
        if call is None:
            return []
        item = FunctionCallOutputItem(call_id=call_id, output=output)
        actions: list[Action] = [
            SendEvent(ConversationItemCreate(event_id=self.next_event_id(), item=item)),
            Emit(app.ToolEnd(call_id, call.name, output, error)),
        ]
        if self._follow_up_needed(call.response_id):
            actions += self.create_response()
        return actions

    def receive_playback(
        self, item_id: str, content_index: int, played_ms: float, *, finished: bool = False
    ) -> list[Action]:
        """Where playback of an item is; ``finished`` once all of it was played."""
        track = self.conversation.tracks.get((item_id, content_index))
        if track is not None:
            track.played_ms = max(track.played_ms, played_ms)
            track.finished = track.finished or (finished and track.complete)
        return []

    def playout_stopped(self, positions: Iterable[tuple[str, int, float, bool]]) -> list[Action]:
        """After a ``StopPlayout``: (item_id, content_index, played_ms, finished) of each item.

        The playout reports the items asked for and any other it silenced (an older
        reply still playing). Truncates each at what was heard, deletes what was not
        heard at all, and leaves alone what had finished playing.
        """
        actions: list[Action] = []
        for item_id, content_index, played_ms, finished in positions:
            track = self.conversation.tracks.get((item_id, content_index))
            if track is None:
                continue
            track.cut = True
            track.played_ms = played_ms
            track.finished = track.finished or (finished and track.complete)
            cut = plan_cut(track, played_ms, self.output_format, self.next_event_id())
            truncated = getattr(cut, "audio_end_ms", None)
            deleted = cut is not None and truncated is None
            actions.append(
                Emit(
                    app.AudioInterrupted(
                        item_id, content_index, int(played_ms), truncated, deleted=deleted
                    )
                )
            )
            if cut is not None:
                actions.append(SendEvent(cut))
        return actions

    def receive_error(self, error: RemoteProtocolError) -> list[Action]:
        """A frame that failed to decode: the session goes on; the application hears of it."""
        return [Emit(app.ErrorRaised(str(error), code="remote_protocol_error", raw=error.raw))]

    # --- server events -------------------------------------------------------------------

    def receive(self, event: s.ServerEvent | UnknownServerEvent) -> list[Action]:
        """The actions one server event calls for, in order."""
        self._seq += 1
        actions: list[Action] = []
        if self.raw_events or isinstance(event, UnknownServerEvent):
            actions.append(Emit(app.RawServerEvent(event)))
        match event:
            case s.ResponseOutputAudioDelta():
                actions += self._audio_delta(event)
            case s.ResponseOutputAudioTranscriptDelta() | s.ResponseOutputTextDelta():
                track = self.conversation.tracks.get((event.item_id, event.content_index))
                if track is None or not track.cut:
                    actions.append(
                        Emit(app.TranscriptDelta(event.item_id, "assistant", event.delta))
                    )
            case s.ResponseOutputAudioTranscriptDone():
                actions.append(Emit(app.Transcript(event.item_id, "assistant", event.transcript)))
            case s.ResponseOutputTextDone():
                actions.append(Emit(app.Transcript(event.item_id, "assistant", event.text)))
            case s.ResponseOutputAudioDone():
                track = self.conversation.track(
                    event.item_id, event.content_index, event.response_id
                )
                track.complete = True
                if not track.cut:
                    actions.append(EndAudio(event.item_id, event.content_index))
                    actions.append(Emit(app.AudioEnd(event.item_id, event.content_index)))
            case s.InputAudioBufferSpeechStarted():
                actions.append(Emit(app.SpeechStarted(event.item_id, event.audio_start_ms)))
                if self.interrupt_response:
                    actions += self._barge_in()
            case s.InputAudioBufferSpeechStopped():
                actions.append(Emit(app.SpeechStopped(event.item_id, event.audio_end_ms)))
            case s.InputAudioTranscriptionDelta():
                actions.append(Emit(app.TranscriptDelta(event.item_id, "user", event.delta or "")))
            case s.InputAudioTranscriptionCompleted():
                actions.append(Emit(app.Transcript(event.item_id, "user", event.transcript)))
            case s.ConversationItemAdded() | s.ConversationItemCreated():
                if isinstance(event.item, FunctionCallOutputItem):
                    self._output_seq[event.item.call_id] = self._seq
                if self.conversation.put(event.item, event.previous_item_id):
                    actions.append(Emit(app.HistoryAdded(event.item)))
            case s.ConversationItemDone() | s.ConversationItemRetrieved():
                self.conversation.put(event.item, getattr(event, "previous_item_id", None))
                actions.append(Emit(app.HistoryUpdated(self.conversation.items())))
            case s.ConversationItemDeleted():
                self.conversation.remove(event.item_id)
                actions.append(Emit(app.HistoryUpdated(self.conversation.items())))
            case s.ResponseOutputItemAdded():
                if isinstance(event.item, FunctionCallItem) and event.item.call_id:
                    self.calls.named(event.item.call_id, event.item.name or "")
            case s.ResponseFunctionCallArgumentsDone():
                actions += self._call(event)
            case s.ResponseCreated():
                actions += self._response_created(event)
            case s.ResponseDone():
                actions += self._response_done(event)
            case s.SessionCreated() | s.SessionUpdated():
                if isinstance(event.session, SessionConfig):
                    self._configure(event.session)
            case s.ErrorEvent():
                actions += self._error(event)
            case _:
                pass
        return actions

    # --- details -------------------------------------------------------------------------

    def _configure(self, session: SessionConfig) -> None:
        self.session = session
        audio = session.audio
        if (
            audio is not None
            and audio.input is not None
            and "turn_detection" in (audio.input.model_fields_set)
        ):
            detection = audio.input.turn_detection
            self.interrupt_response = (
                isinstance(detection, ServerVad | SemanticVad)
                and detection.interrupt_response is not False
            )
        if audio is not None and audio.output is not None and audio.output.format is not None:
            try:
                self.output_format = AudioFormat.from_wire(audio.output.format)
            except ValueError:
                pass  # an unknown format: keep counting as before

    def _audio_delta(self, event: s.ResponseOutputAudioDelta) -> list[Action]:
        track = self.conversation.track(event.item_id, event.content_index, event.response_id)
        if track.cut or event.response_id in self._cut_responses:
            track.cut = True
            return []  # the listener cut this response off: its audio is dropped
        try:
            audio = event.audio_bytes
        except RemoteProtocolError as error:
            return self.receive_error(error)
        track.received_bytes += len(audio)
        self.audio_spoken = True
        self._audio_response = event.response_id
        return [
            PlayAudio(event.item_id, event.content_index, audio),
            Emit(app.AudioDelta(event.item_id, event.content_index, event.response_id, audio)),
        ]

    def _barge_in(self) -> list[Action]:
        """Stop the audio of the newest response that has any (see ``playout_stopped``)."""
        response_id = self._audio_response
        if response_id is None:
            return []
        state = self.conversation.responses.get(response_id)
        if state is None or not state.done:
            self._cut_responses.add(response_id)
        keys = tuple(
            key
            for key, track in self.conversation.tracks.items()
            if track.response_id == response_id and not track.cut and not track.finished
        )
        for key in keys:
            self.conversation.tracks[key].cut = True
        return [StopPlayout(keys)] if keys else []

    def _call(self, event: s.ResponseFunctionCallArgumentsDone) -> list[Action]:
        name = event.name or self.calls.name_of(event.call_id) or ""
        call = ToolCall(event.call_id, name, event.arguments, event.response_id, event.item_id)
        if not self.calls.start(call):
            return []  # a duplicate: already running or answered
        self.conversation.response(event.response_id).calls.add(call.call_id)
        actions: list[Action] = [Emit(app.ToolStart(call.call_id, name, call.arguments))]
        if name not in self.tool_names:
            message = f"There is no tool named {name!r}. Available: {sorted(self.tool_names)}."
            output = json.dumps({"error": message})
            return actions + self.receive_tool_result(call.call_id, output, error=message)
        return [*actions, CallTool(call)]

    def _response_created(self, event: s.ResponseCreated) -> list[Action]:
        response = event.response
        response_id = response.id or ""
        in_conversation = not (
            "conversation_id" in response.model_fields_set and response.conversation_id is None
        )
        self.sequencer.created(response_id, in_conversation)
        self._created_seq[response_id] = self._seq
        self.conversation.response(response_id)
        return [Emit(app.AgentStart(response_id))]

    def _response_done(self, event: s.ResponseDone) -> list[Action]:
        response = event.response
        response_id = response.id or ""
        state = self.conversation.response(response_id)
        state.done = True
        state.status = response.status
        details = response.status_details
        state.reason = details.reason if details is not None else None
        actions: list[Action] = [Emit(app.AgentEnd(response_id, state.status or "", state.reason))]
        self._forget_old()
        queued = self.sequencer.done(response_id)
        if self._follow_up_needed(response_id) or queued:
            # One response serves both a queued request and the answers to the calls.
            event_id = self.next_event_id()
            if self.sequencer.request(event_id):
                actions.append(SendEvent(ResponseCreate(event_id=event_id, response=self._queued)))
                self._queued = None
        return actions

    def _forget_old(self) -> None:
        """Keep memory bounded over long sessions: forget long-finished responses."""
        responses = self.conversation.responses
        for response_id in list(responses)[:-KEEP_RESPONSES]:
            state = responses[response_id]
            if not state.done or not self.calls.all_answered(response_id):
                continue
            for key in state.tracks:
                self.conversation.tracks.pop(key, None)
            for call_id in self.calls.calls_of(response_id):
                self._output_seq.pop(call_id, None)
            self.calls.forget(response_id)
            self._created_seq.pop(response_id, None)
            self._cut_responses.discard(response_id)
            del responses[response_id]

    def _follow_up_needed(self, response_id: str) -> bool:
        """True, once, when every call of a finished response is answered."""
        state = self.conversation.responses.get(response_id)
        if state is None or not state.done or not state.calls or state.follow_up:
            return False
        if not self.calls.all_answered(response_id):
            return False
        state.follow_up = True
        if state.status == "cancelled":
            return False  # interrupted: the user's next turn will be answered anyway
        self._follow_up_calls = set(state.calls)
        return True

    def _error(self, event: s.ErrorEvent) -> list[Action]:
        error = event.error
        if error.code == ACTIVE_RESPONSE and self.sequencer.rejected(error.event_id):
            # The race: the server started a response of its own first. If it started
            # after our tool outputs were in, it answers them: ask for nothing more.
            active = self.sequencer.active
            outputs = [self._output_seq.get(call) for call in self._follow_up_calls]
            if (
                active is not None
                and outputs
                and all(
                    seq is not None and seq < self._created_seq.get(active, 0) for seq in outputs
                )
            ):
                self.sequencer.withdraw()
            return []
        if error.code == CANCEL_NOT_ACTIVE and error.event_id in self._cancels:
            return []  # our interrupt raced the end of the response: nothing to cancel
        return [Emit(app.ErrorRaised(error.message, code=error.code, detail=error))]
