"""The session core: server events in, actions out. No asyncio, no sockets, no clock.

:class:`SessionCore` holds what a client must remember to get a realtime conversation
right, and decides what to do about each event:

* the conversation (items, responses, the audio received per assistant item);
* barge-in: on ``speech_started`` (when ``interrupt_response`` is on) or
  :meth:`~SessionCore.interrupt`, stop playout, drop the rest of the cut response's
  audio, and once the playout reports where it stopped, truncate each cut item at
  what was heard (:func:`~realtime_agent.protocol.turns.plan_cut`);
* ``response.create`` sequencing (:class:`~realtime_agent.protocol.turns.ResponseSequencer`):
  never two at once, each request kept in order (at most :data:`MAX_WAITING_REQUESTS`
  waiting), the race with the server's own responses absorbed;
* function calls: each answered exactly once, then one ``response.create`` after all
  calls of a response are answered and its ``response.done`` has arrived (not after a
  response the user interrupted: their next turn gets the answer).

The runtime feeds it with :meth:`~SessionCore.receive` (server events),
:meth:`~SessionCore.receive_tool_result`, :meth:`~SessionCore.receive_playback` and
:meth:`~SessionCore.playout_stopped`, and carries out the actions it returns, in order.
Everything the application may do goes through it too (:meth:`~SessionCore.send`,
:meth:`~SessionCore.create_response`, :meth:`~SessionCore.interrupt`), so that one
object sees every event in order.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Collection, Iterable

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.errors import LocalProtocolError, RemoteProtocolError
from realtime_agent.protocol import events as app
from realtime_agent.protocol.actions import (
    Action,
    CallTool,
    Emit,
    EndAudio,
    HistoryChanged,
    PlayAudio,
    SendEvent,
    StopPlayout,
    ToolCall,
)
from realtime_agent.protocol.calls import CallBook
from realtime_agent.protocol.conversation import Conversation
from realtime_agent.protocol.turns import ResponseRequest, ResponseSequencer, plan_cut
from realtime_agent.schema import server as s
from realtime_agent.schema.client import (
    ClientEvent,
    ConversationItemCreate,
    ResponseCancel,
    ResponseCreate,
)
from realtime_agent.schema.codec import UnknownServerEvent
from realtime_agent.schema.items import FunctionCallItem, FunctionCallOutputItem, Item
from realtime_agent.schema.response import ResponseCreateParams
from realtime_agent.schema.session import SemanticVad, ServerVad, SessionConfig

__all__ = ["SessionCore"]

ACTIVE_RESPONSE = "conversation_already_has_active_response"
#: Finished responses remembered (their audio tracks and calls); older ones are forgotten.
KEEP_RESPONSES = 32
CANCEL_NOT_ACTIVE = "response_cancel_not_active"
#: Items created and not yet reported by the server that are remembered (for a replay).
MAX_UNACKNOWLEDGED = 64
#: Response requests the application may have waiting at once (``create_response``).
MAX_WAITING_REQUESTS = 16


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
        self.sequencer = ResponseSequencer(self.next_event_id)
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
        self._last_created_seq = 0  # when the newest response in the conversation began
        self._output_seq: dict[str, int] = {}  # call_id -> when its output item was added
        self._audio_response: str | None = None  # the newest response with audio
        self._cut_responses: set[str] = set()
        self._cancels: deque[str] = deque(maxlen=KEEP_RESPONSES)  # our recent response.cancel ids
        self._cancel_on_start = False  # interrupted while our response.create was on its way
        self.unacknowledged: dict[str, Item] = {}
        """Items this client created (with ids) that the server has not reported yet."""
        self.partial_text: dict[tuple[str, int], str] = {}
        """The assistant's text or transcript deltas of each part not done yet, joined:
        all there is of a part a dropped connection cut short."""
        self.user_transcripts: dict[str, str] = {}
        """The transcripts of the users' audio items, by item id (replayed after a drop)."""

    # --- what the application does -------------------------------------------------------

    def next_event_id(self) -> str:
        """A fresh client ``event_id`` (errors carry it back)."""
        return f"evt_{next(self._ids)}"

    def send(self, event: ClientEvent) -> list[Action]:
        """Send a client event as it is, with an ``event_id`` if it had none.

        An item created with an id of its own is remembered until the server reports it
        (:attr:`unacknowledged`): a connection lost before that replays it. One already in
        the conversation (a replay) is not: it is kept there, and would push out of the
        bounded memory what is really on its way."""
        if event.event_id is None:
            event.event_id = self.next_event_id()
        if (
            isinstance(event, ConversationItemCreate)
            and event.item.id is not None
            and self.conversation.get(event.item.id) is None
        ):
            self.unacknowledged[event.item.id] = event.item
            while len(self.unacknowledged) > MAX_UNACKNOWLEDGED:
                del self.unacknowledged[next(iter(self.unacknowledged))]
        return [SendEvent(event)]

    def create_response(self, params: ResponseCreateParams | None = None) -> list[Action]:
        """Ask for a response; it goes when no other response is active (never two).

        Each request is kept, with its parameters, in order. An out-of-band response
        (``conversation="none"``) goes at once. Raises LocalProtocolError when
        :data:`MAX_WAITING_REQUESTS` already wait.
        """
        if params is not None and params.conversation == "none":
            event = ResponseCreate(event_id=self.next_event_id(), response=params)
            return [SendEvent(event)]
        if len(self.sequencer.waiting) >= MAX_WAITING_REQUESTS:
            raise LocalProtocolError(
                f"{MAX_WAITING_REQUESTS} response requests are already waiting for the "
                "active response to end"
            )
        self.sequencer.request(ResponseRequest(params))
        return self._send_next()

    def interrupt(self) -> list[Action]:
        """Cut the assistant off now: cancel the active response and stop its playout.

        A response asked for and not begun yet is cancelled as soon as it begins.
        """
        active = self.sequencer.active
        if active is None:
            self._cancel_on_start = self.sequencer.in_flight is not None
            return self._barge_in()
        return [self._cancel(active), *self._barge_in()]

    def _cancel(self, response_id: str) -> SendEvent:
        event_id = self.next_event_id()
        self._cancels.append(event_id)
        return SendEvent(ResponseCancel(event_id=event_id, response_id=response_id))

    # --- what the runtime reports --------------------------------------------------------

    @property
    def events_received(self) -> int:
        """Server events received so far."""
        return self._seq

    def receive_tool_result(
        self, call_id: str, output: str, *, error: str | None = None
    ) -> list[Action]:
        """A tool's answer; it is sent once (a second answer for a call is ignored)."""
        call = self.calls.answer(call_id, output)
        if call is None:
            return []
        item = FunctionCallOutputItem(call_id=call_id, output=output)
        actions: list[Action] = [
            SendEvent(ConversationItemCreate(event_id=self.next_event_id(), item=item)),
            Emit(app.ToolEnd(call_id, call.name, output, error)),
        ]
        return actions + self._follow_up(call.response_id)

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
        reply still playing). Truncates each at what was heard and deletes what was not
        heard at all, each with an ``AudioInterrupted``; what had finished playing is
        left alone, and no event claims it was interrupted.
        """
        actions: list[Action] = []
        for item_id, content_index, played_ms, finished in positions:
            track = self.conversation.tracks.get((item_id, content_index))
            if track is None:
                continue
            track.played_ms = played_ms
            track.finished = track.finished or (finished and track.complete)
            cut = plan_cut(track, played_ms, self.output_format, self.next_event_id())
            if cut is None:
                continue  # heard in full: nothing was cut
            track.cut = True
            truncated = getattr(cut, "audio_end_ms", None)
            interrupted = app.AudioInterrupted(
                item_id, content_index, int(played_ms), truncated, deleted=truncated is None
            )
            actions.append(Emit(interrupted))
            if not track.stale:  # the new connection's server has it as text: nothing to cut
                actions.append(SendEvent(cut))
        return actions

    def connection_lost(self, unsent: Collection[str] = ()) -> tuple[list[Action], bool]:
        """The connection is gone: what was under way on it will never finish.

        Each assistant audio part still arriving ends where it is (the playout plays what
        it has); every response is over; a ``response.create`` sent and not answered goes
        again first on the next connection, unless it never left (its event_id in
        ``unsent``). Returns the actions, and whether a response was under way (cut short
        by the drop).
        """
        actions: list[Action] = []
        for track in self.conversation.tracks.values():
            track.stale = True
            if not track.complete:
                track.complete = True
                if not track.cut:
                    actions.append(EndAudio(track.item_id, track.content_index))
        for state in self.conversation.responses.values():
            if not state.done:
                state.done = True
                state.status, state.reason = "incomplete", "connection_lost"
        self._cancel_on_start = False
        under_way = self.sequencer.connection_lost(unsent)
        return actions, under_way

    def receive_error(self, error: RemoteProtocolError) -> list[Action]:
        """A frame that failed to decode: the session goes on; the application hears of it.

        A function call whose ``arguments.done`` is broken is still answered (with an
        error the model can read), so that no call is left without its answer.
        """
        actions: list[Action] = [
            Emit(app.ErrorRaised(str(error), code="remote_protocol_error", raw=error.raw))
        ]
        call_id = error.ids.get("call_id")
        if error.event_type == "response.function_call_arguments.done" and call_id:
            name = self.calls.name_of(call_id) or error.ids.get("name", "")
            response_id = error.ids.get("response_id", "")
            call = ToolCall(call_id, name, "", response_id, error.ids.get("item_id", ""))
            if self.calls.start(call):
                self._add_call(response_id, call_id)
                message = f"The call could not be read: {error}"
                actions.append(Emit(app.ToolStart(call_id, name, "")))
                actions += self.receive_tool_result(
                    call_id, json.dumps({"error": message}), error=message
                )
        return actions

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
                key = (event.item_id, event.content_index)
                self.partial_text[key] = self.partial_text.pop(key, "") + event.delta
                while len(self.partial_text) > KEEP_RESPONSES:  # parts whose done never came
                    del self.partial_text[next(iter(self.partial_text))]
                track = self.conversation.tracks.get(key)
                if track is None or not track.cut:
                    actions.append(
                        Emit(app.TranscriptDelta(event.item_id, "assistant", event.delta))
                    )
            case s.ResponseOutputAudioTranscriptDone():
                self.partial_text.pop((event.item_id, event.content_index), None)
                actions.append(Emit(app.Transcript(event.item_id, "assistant", event.transcript)))
            case s.ResponseOutputTextDone():
                self.partial_text.pop((event.item_id, event.content_index), None)
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
                self.user_transcripts[event.item_id] = event.transcript
                actions.append(Emit(app.Transcript(event.item_id, "user", event.transcript)))
            case s.ConversationItemAdded() | s.ConversationItemCreated():
                if event.item.id is not None:
                    self.unacknowledged.pop(event.item.id, None)
                if isinstance(event.item, FunctionCallOutputItem) and self.calls.knows(
                    event.item.call_id
                ):
                    self._output_seq[event.item.call_id] = self._seq
                if self.conversation.put(event.item, event.previous_item_id):
                    actions.append(Emit(app.HistoryAdded(event.item)))
            case s.ConversationItemDone() | s.ConversationItemRetrieved():
                self.conversation.put(event.item, getattr(event, "previous_item_id", None))
                actions.append(HistoryChanged())
            case s.ConversationItemDeleted():
                self.conversation.remove(event.item_id)
                self.user_transcripts.pop(event.item_id, None)
                actions.append(HistoryChanged())
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
        if len(self.conversation.tracks) > 2 * KEEP_RESPONSES:
            self._forget_strays()
        if track.cut or event.response_id in self._cut_responses:
            track.cut = True
            return []  # the listener cut this response off: its audio is dropped
        if track.complete:
            return []  # after its response.output_audio.done: not part of the item
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
        if state is None:
            return []  # forgotten long ago: nothing of it plays any more
        if not state.done:
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
        self._add_call(event.response_id, call.call_id)
        actions: list[Action] = [Emit(app.ToolStart(call.call_id, name, call.arguments))]
        if name not in self.tool_names:
            message = f"There is no tool named {name!r}. Available: {sorted(self.tool_names)}."
            output = json.dumps({"error": message})
            return actions + self.receive_tool_result(call.call_id, output, error=message)
        return [*actions, CallTool(call)]

    def _add_call(self, response_id: str, call_id: str) -> None:
        """A call of a response; one that came after its response ended is followed up too."""
        state = self.conversation.response(response_id)
        state.calls.add(call_id)
        if state.done:
            state.follow_up = False  # a response to the answers is still owed
        self._forget_strays()

    def _forget_strays(self) -> None:
        """A server that sends content of responses that never begin makes a state each:
        forget old ones now, not only at the next response.done."""
        if len(self.conversation.responses) > 2 * KEEP_RESPONSES:
            self._forget_old()

    def _response_created(self, event: s.ResponseCreated) -> list[Action]:
        response = event.response
        response_id = response.id or ""
        if response_id in self._created_seq:
            return []  # a repeat of the start of a response that began already
        known = self.conversation.responses.get(response_id)
        if known is not None and known.done:
            return []  # the start of a response that ended (long forgotten, or a stray)
        in_conversation = not (
            "conversation_id" in response.model_fields_set and response.conversation_id is None
        )
        self.sequencer.created(response_id, in_conversation)
        self._created_seq[response_id] = self._seq
        self.conversation.response(response_id)
        actions: list[Action] = [Emit(app.AgentStart(response_id))]
        if in_conversation:
            self._last_created_seq = self._seq
            if self._cancel_on_start:
                self._cancel_on_start = False
                self._cut_responses.add(response_id)
                actions.append(self._cancel(response_id))
        return actions

    def _response_done(self, event: s.ResponseDone) -> list[Action]:
        response = event.response
        response_id = response.id or ""
        state = self.conversation.response(response_id)
        state.done = True
        state.status = response.status
        details = response.status_details
        state.reason = details.reason if details is not None else None
        actions: list[Action] = [Emit(app.AgentEnd(response_id, state.status or "", state.reason))]
        in_conversation = not (
            "conversation_id" in response.model_fields_set and response.conversation_id is None
        )
        self.sequencer.done(
            response_id,
            seen_created=response_id in self._created_seq,
            in_conversation=in_conversation,
        )
        self._forget_old()
        return actions + self._follow_up(response_id)

    def _forget_old(self) -> None:
        """Keep memory bounded over long sessions: forget long-finished responses."""
        responses = self.conversation.responses
        for response_id in list(responses)[:-KEEP_RESPONSES]:
            state = responses[response_id]
            began = response_id in self._created_seq
            if (began and not state.done) or not self.calls.all_answered(response_id):
                continue  # still going (a response that never began is a stray: forgotten)
            for key in state.tracks:
                self.conversation.tracks.pop(key, None)
            for call_id in self.calls.calls_of(response_id):
                self._output_seq.pop(call_id, None)
            self.calls.forget(response_id)
            self._created_seq.pop(response_id, None)
            self._cut_responses.discard(response_id)
            del responses[response_id]

    def _follow_up(self, response_id: str) -> list[Action]:
        """Ask, once, for a response to the answers of a finished response's calls; and send
        what may go now."""
        state = self.conversation.responses.get(response_id)
        if (
            state is not None
            and state.done
            and state.calls
            and not state.follow_up
            and self.calls.all_answered(response_id)
        ):
            state.follow_up = True
            if state.status != "cancelled":  # interrupted: the user's next turn is answered
                self.sequencer.request(ResponseRequest(follow_up=frozenset(state.calls)))
        return self._send_next()

    def resume(self) -> list[Action]:
        """On a new connection, after the replay: the ``response.create`` that may go now."""
        return self._send_next()

    def _send_next(self) -> list[Action]:
        """The ``response.create`` that may go now, if any (``response`` only when given)."""
        request = self.sequencer.next(self._served)
        if request is None:
            return []
        event = ResponseCreate(event_id=request.event_id)
        if request.params is not None:
            event.response = request.params
        return [SendEvent(event)]

    def _served(self, request: ResponseRequest) -> bool:
        """A follow-up is served when a response began after all its answers were in."""
        if not request.follow_up:
            return False
        outputs = [self._output_seq.get(call_id) for call_id in request.follow_up]
        return all(seq is not None and seq < self._last_created_seq for seq in outputs)

    def _error(self, event: s.ErrorEvent) -> list[Action]:
        error = event.error
        if error.code == ACTIVE_RESPONSE and self.sequencer.refused(error.event_id, retry=True):
            # The race: the server started a response of its own first. Ours goes again
            # after it (unless it was a follow-up that response answers: see _served).
            return self._send_next()
        if error.code == CANCEL_NOT_ACTIVE and error.event_id in self._cancels:
            return []  # our interrupt raced the end of the response: nothing to cancel
        raised: list[Action] = [Emit(app.ErrorRaised(error.message, code=error.code, detail=error))]
        if self.sequencer.refused(error.event_id, retry=False):
            return raised + self._send_next()  # our request was refused: the next may go
        return raised
