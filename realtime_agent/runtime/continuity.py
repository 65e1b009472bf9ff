"""Conversations that survive their connection: when to reconnect, and what to replay.

Pure decisions, carried out by :class:`~realtime_agent.runtime.session.RealtimeSession`:

* :class:`ReconnectPolicy`: which failures are worth another connection
  (:meth:`~ReconnectPolicy.retryable`), and how long to wait before each attempt;
* :func:`plan_replay`: the items that re-create the conversation on a new connection,
  and what could not be restored;
* :class:`InputTape`: the caller's audio sent since the last commit, so that an
  utterance in flight when the connection dropped is appended again, byte for byte.

**What is replayed, and why.** A new connection is a new server session: it knows
nothing. After the session configuration, each item goes again with its own id:

* text messages (the user's, the system's) as they were;
* a user's audio message as its audio (``input_audio``, with its transcript if known),
  while it is among the turns kept (:class:`TurnAudio`, the newest up to
  ``replay_audio_seconds``), else as its transcript (``input_text``); one with neither
  cannot be restored and is listed as lost;
* an assistant's audio message as its transcript, in an ``output_text`` part: the API
  does not take assistant audio from a client. A message the caller cut off is replayed
  only as far as it was heard (its transcript cut in proportion to the audio heard, at a
  word), so the model knows what the caller heard of it, not what it meant to say; one
  the drop cut short, as the text that had come of it, ending in "..." (the response
  asked for then says the rest);
* a function call with its arguments, and its output: from the conversation, or from
  the answer sent (it may not have reached the server before the drop). A call still
  running is replayed without an output; its answer goes when the tool returns. Tools
  never run twice. A call whose arguments had not all arrived is dropped (the tool
  never ran) and listed as lost.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from realtime_agent.errors import AuthenticationError, ConnectError, ConnectionLost
from realtime_agent.schema.client import ClientEvent, ConversationItemCreate
from realtime_agent.schema.common import encode_base64
from realtime_agent.schema.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
    OutputAudioPart,
    OutputTextPart,
    TextPart,
)

__all__ = [
    "RETRYABLE_CLOSE_CODES",
    "InputTape",
    "ReconnectPolicy",
    "Replay",
    "TurnAudio",
    "plan_replay",
]

RETRYABLE_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})
"""Close codes a new connection may cure: going away (a deploy, the 60-minute cap), an
abnormal drop (no close frame; an unanswered ping), a server error, a restart, try
again later, a bad gateway. 1000 (the server ended it), 1002/1003/1007/1009 (a
protocol fault), 1008 (a policy: a refused key, a bad request) are final."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a session reconnects after a transient failure (``connect(reconnect=...)``).

    Attempt ``n`` waits ``min(max_delay, initial_delay * multiplier ** (n - 1))``, more
    or less ``jitter`` of it at random, so that many sessions dropped at once do not
    come back at once. It gives up after ``attempts`` attempts, or once ``deadline``
    seconds have passed since the drop, counting over connections that fail within
    ``stable_after`` of opening; the session then ends with the last error.
    """

    attempts: int = 8
    initial_delay: float = 0.1
    max_delay: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    deadline: float = 30.0
    stable_after: float = 10.0
    """A connection that lasted this long, or finished a response, was a success: the
    next failure starts counting attempts and the deadline afresh. Connections that fail
    sooner count as one outage."""
    reappend_seconds: float = 30.0
    """At most this much of the caller's audio since the last commit is kept to be
    appended again (the oldest goes first past it)."""
    replay_audio_seconds: float = 20.0
    """The caller's committed turns are kept as audio, the newest first, up to this much
    in all, to be replayed as audio (older turns go as their transcripts)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts is at least 1")
        if (
            min(
                self.initial_delay,
                self.max_delay,
                self.deadline,
                self.reappend_seconds,
                self.replay_audio_seconds,
            )
            < 0
        ):
            raise ValueError("delays, deadline and the audio kept are >= 0")
        if self.multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("multiplier is >= 1 and jitter in [0, 1]")

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt ``attempt`` (from 1); ``rng`` in [0, 1)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rng() - 1)))

    @staticmethod
    def retryable(error: BaseException) -> bool:
        """True for a failure another connection may cure (see ``RETRYABLE_CLOSE_CODES``).

        A lost connection without a code (a failed read or write), or a connect that
        failed without an HTTP answer (unreachable, timed out) or with a 5xx or 429, is
        retried; a refused key (401, 403) and any other HTTP answer are final.
        """
        if isinstance(error, ConnectionLost):
            return error.code is None or error.code in RETRYABLE_CLOSE_CODES
        if isinstance(error, AuthenticationError):
            return False
        if isinstance(error, ConnectError):
            return error.status is None or error.status >= 500 or error.status == 429
        return False


class InputTape:
    """The caller's audio sent since the last commit, up to ``limit`` bytes (the newest);
    while nobody speaks, only the last ``idle_limit`` bytes (the onset of speech the VAD
    has not reported yet), so that a silent line costs next to nothing.

    The session records what it hands to the connection; a commit (the server's
    ``input_audio_buffer.committed``) or a clear empties it. ``speaking`` is true between
    a ``speech_started`` and the commit that follows: the utterance in flight.
    """

    def __init__(self, limit: int, idle_limit: int | None = None) -> None:
        self.limit = limit
        self.idle_limit = min(limit, limit // 30 if idle_limit is None else idle_limit)
        self._frames: deque[bytes] = deque()
        self.size = 0
        self.speaking = False

    def record(self, frame: bytes) -> None:
        self._frames.append(frame)
        self.size += len(frame)
        limit = self.limit if self.speaking else self.idle_limit
        while self.size > limit and self._frames:
            self.size -= len(self._frames.popleft())

    def committed(self) -> None:
        self._frames.clear()
        self.size = 0
        self.speaking = False

    def take(self) -> bytes:
        """All of it, emptied (to append again on a new connection)."""
        audio = b"".join(self._frames)
        self.committed()
        return audio


class TurnAudio:
    """The caller's committed turns as audio, by item id, up to ``limit`` bytes in all
    (the oldest turns are forgotten first): what a replay sends as ``input_audio``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._turns: dict[str, bytes] = {}
        self.size = 0

    def keep(self, item_id: str, audio: bytes) -> None:
        if not audio or len(audio) > self.limit:
            return
        self.size += len(audio) - len(self._turns.pop(item_id, b""))
        self._turns[item_id] = audio
        while self.size > self.limit:
            oldest = next(iter(self._turns))
            self.size -= len(self._turns.pop(oldest))

    def get(self, item_id: str) -> bytes | None:
        return self._turns.get(item_id)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._turns


@dataclass
class Replay:
    """What a new connection is sent after the session configuration."""

    events: list[ClientEvent] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    last_role: str | None = None
    """What the last item replayed is: a message's role ("user", "assistant", "system";
    "user_audio" for what the caller said: a turn that may be owed its answer), "call"
    (a function call) or "tool" (a function call's output)."""


@dataclass(frozen=True)
class Heard:
    """How much of an assistant audio part the listener heard (from the playout)."""

    played_ms: float
    received_ms: float
    cut: bool


def plan_replay(
    items: Iterable[Item],
    *,
    heard: Mapping[tuple[str, int], Heard],
    answers: Mapping[str, str],
    running: Iterable[str],
    transcripts: Mapping[str, str],
    partial: Mapping[tuple[str, int], str] | None = None,
    audio: TurnAudio | None = None,
) -> Replay:
    """The items that re-create ``items`` on a new connection (see the module docstring).

    ``heard``: the assistant audio parts, by (item_id, content_index); ``partial``: the
    text received of the assistant's parts not done yet (the deltas); ``audio``: the
    caller's turns kept as audio (replayed as audio, with their transcripts); ``answers``: the
    output sent for each answered call; ``running``: the call ids whose tool still runs;
    ``transcripts``: the users' audio transcripts, by item id.
    """
    replay = Replay()
    running = set(running)
    items = list(items)
    outputs = {i.call_id for i in items if isinstance(i, FunctionCallOutputItem)}
    previous: str | None = "root"
    for item in items:
        created = _replayed(
            item,
            heard,
            partial or {},
            audio or TurnAudio(0),
            transcripts,
            answers,
            running,
            outputs,
            replay.lost,
        )
        for new in created:
            replay.events.append(ConversationItemCreate(item=new, previous_item_id=previous))
            previous = new.id
        if not created:
            continue
        last = created[-1]
        if isinstance(last, MessageItem):
            spoken = isinstance(item, MessageItem) and any(
                isinstance(p, InputAudioPart) for p in item.content
            )
            replay.last_role = "user_audio" if spoken and last.role == "user" else last.role
        elif isinstance(last, FunctionCallOutputItem):
            replay.last_role = "tool"
        else:
            replay.last_role = "call"  # its output follows in the conversation, or comes
    return replay


def _replayed(
    item: Item,
    heard: Mapping[tuple[str, int], Heard],
    partial: Mapping[tuple[str, int], str],
    audio: TurnAudio,
    transcripts: Mapping[str, str],
    answers: Mapping[str, str],
    running: set[str],
    outputs: set[str],
    lost: list[str],
) -> list[Item]:
    item_id = item.id
    match item:
        case MessageItem(role="assistant"):
            texts = []
            indexes = range(
                max(len(item.content), 1 + max((i for k, i in partial if k == item_id), default=-1))
            )
            for index in indexes:
                key = (item_id or "", index)
                part = item.content[index] if index < len(item.content) else None
                text = _part_text(part)
                track = heard.get(key)
                if not text and partial.get(key):  # cut short by the drop: it says so
                    text = partial[key].rstrip() + "..."
                elif track is not None and track.cut:
                    text = _cut(text, track.played_ms, track.received_ms)
                if text:
                    texts.append(text)
            if not texts:
                lost.append(f"assistant message {item_id}: nothing of it was heard or written")
                return []
            parts = [OutputTextPart(text=" ".join(texts))]
            return [MessageItem(id=item_id, role="assistant", content=list(parts))]
        case MessageItem():
            parts_out: list[InputTextPart | InputAudioPart] = []
            for part in item.content:
                if isinstance(part, InputTextPart) and part.text:
                    parts_out.append(InputTextPart(text=part.text))
                elif isinstance(part, InputAudioPart):
                    said = part.transcript or transcripts.get(item_id or "")
                    kept = audio.get(item_id or "")
                    if kept is not None:
                        heard_part = InputAudioPart(audio=encode_base64(kept))
                        if said:  # never an explicit null: the API refuses one
                            heard_part.transcript = said
                        parts_out.append(heard_part)
                    elif said:
                        parts_out.append(InputTextPart(text=said))
                    else:
                        lost.append(f"{item.role} audio {item_id}: no audio or transcript kept")
            if not parts_out:
                return []
            return [MessageItem(id=item_id, role=item.role, content=list(parts_out))]
        case FunctionCallItem(call_id=call_id) if call_id:
            if item.status == "in_progress" and call_id not in answers and call_id not in running:
                lost.append(f"function call {item.name} ({call_id}): its arguments never came")
                return []
            call = FunctionCallItem(
                id=item_id, name=item.name, arguments=item.arguments or "{}", call_id=call_id
            )
            if call_id in answers and call_id not in outputs:
                # Answered, but the answer never came back from the server: sent again.
                return [call, FunctionCallOutputItem(call_id=call_id, output=answers[call_id])]
            return [call]
        case FunctionCallOutputItem():
            return [FunctionCallOutputItem(id=item_id, call_id=item.call_id, output=item.output)]
        case _:
            lost.append(f"{item.type} {item_id}: not replayed")
            return []


def _part_text(part: object) -> str:
    if isinstance(part, OutputTextPart | TextPart):
        return part.text or ""
    if isinstance(part, OutputAudioPart | AudioPart):
        return part.transcript or ""
    return ""


def _cut(text: str, played_ms: float, received_ms: float) -> str:
    """The part of ``text`` said in the first ``played_ms`` of ``received_ms``, to a word."""
    if received_ms <= 0 or played_ms >= received_ms:
        return text
    keep = int(len(text) * max(0.0, played_ms) / received_ms)
    if keep <= 0:
        return ""
    cut = text[:keep]
    if keep < len(text) and not text[keep].isspace():
        cut = re.sub(r"\S*$", "", cut)  # the word under way was not heard in full
    cut = cut.rstrip().rstrip(",;:").rstrip()
    return cut + "..." if cut.strip(",;:.!? ") else ""
