"""Conversation scripts: what the local server says, turn by turn, read from a TOML file.

``realtime-agent serve --script FILE`` and the pytest plugin (:mod:`realtime_agent.testing`)
play a script: one ``[[turn]]`` per response of the server, in order. A turn says what
the response says and which tools it calls, may expect something of the conversation
before it (what the user said, what a tool returned), and may wait or inject a fault
first. The file is TOML, read with the standard library's ``tomllib``: no dependency.

::

    # weather.toml
    exhausted = "That is all."       # optional: what every response says after the last turn
                                     #   ("" for an empty response; default: a sentence saying so)
    transcripts = ["What's the weather in Paris?"]
                                     # optional: the words of the user's audio turns, in order
                                     #   (instead of what the server heard)
    connections = "restart"          # optional: "restart" (default): each connection plays the
                                     #   script from its first turn; "continue": a new connection
                                     #   (a reconnect) goes on at the next turn

    [[turn]]                         # the first response
    expect_user = "weather"          # optional: the user's newest message (text, or the
                                     #   transcript of their audio) contains this, in any case
    call = { name = "get_weather", arguments = { city = "Paris" } }

    [[turn]]                         # the second response (after the tool's output)
    expect_tool_output = "sunny"     # optional: the function_call_output(s) just before this
                                     #   response contain this, in any case
    say = "It is sunny in Paris."
    delay_ms = 200                   # optional: hold the response back this long
    fault = "drop"                   # optional: a fault at this turn (see below)

Keys of a turn (all optional; a turn with none is an empty response):

``say``
    A string, or an array of strings: each one assistant message (speech with its
    transcript, or text in a text-only response).
``call``
    A table ``{ name = "...", arguments = { ... } }``, or an array of them (``[[turn.call]]``):
    function calls, after the messages. ``arguments`` is a table, or a string sent as the
    call's JSON text as it is (invalid JSON too, to test how the agent copes).
``expect_user``, ``expect_tool_output``
    Expectations, checked when the response is asked for. One that fails refuses the
    response: the server answers with an ``error`` event (code
    ``script_expectation_failed``, type ``invalid_request_error``, the request's
    ``event_id``) whose message names the file, the turn and its line, what was expected
    and what was there. (A response that waited for the user's speech to be recognised
    has begun by then: it fails instead, its ``response.done`` carrying the same error.)
    The failure is kept in :attr:`ConversationScript.failures`
    (:meth:`~ConversationScript.check` raises it) and logged; the turn stays next.
``delay_ms``
    Milliseconds the response waits before its first event (a ``delay`` fault).
``fault``
    One fault of :mod:`realtime_agent.server.faults`, or an array of them, fired at this
    turn's response: a name (``"drop"``, ``"expire"``, ``"duplicate"``, ``"reorder"``,
    ``"close"``, ``"error"``, ``"malformed"``, ``"fragment"``) or a table with ``action``
    and the fault's settings: ``close``: ``code``, ``reason``; ``error``: ``message``,
    ``code``; ``malformed``: ``text``; ``fragment``: ``pieces``; ``delay``: ``ms``. ``at``
    says where: ``"response.created"`` (the default: before the response starts) or
    ``"response.done"`` (after its output, before it ends). For example
    ``fault = { action = "close", code = 1012, reason = "restarting", at = "response.done" }``.

Faults and delays are the server's own fault plan (:class:`~realtime_agent.server.faults.Fault`
triggered at the k-th ``response.created`` or ``response.done`` of the connection): each
response plays one turn, so the k-th of those events on a connection belongs to the k-th
turn it plays. A response refused before it began sends neither; one that failed after
it began (above) counts, so later turns' faults then fire a response early.

A script that is not valid raises :class:`ScriptError`, whose message names the file
and the line: ``weather.toml:7: turn 2: unknown key 'sya' (a turn has: say, call, ...)``.

Serving a script: ``script.server()`` is a :class:`~realtime_agent.server.LocalRealtimeServer`
that plays it; or give a server ``responder=script.for_connection`` and
``faults=script.fault_plan`` (as ``realtime-agent serve --script`` does).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import tomllib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from realtime_agent.errors import LocalProtocolError, excerpt
from realtime_agent.schema.items import Item, MessageItem
from realtime_agent.server import faults
from realtime_agent.server.faults import Fault, FaultPlan
from realtime_agent.server.responder import (
    CallTool,
    Output,
    ResponseContext,
    ResponseRefused,
    Say,
    ScriptedResponder,
    tool_outputs,
)

if TYPE_CHECKING:
    from realtime_agent.server.app import LocalRealtimeServer

__all__ = [
    "EXPECTATION_FAILED",
    "KEPT_FAILURES",
    "ConversationScript",
    "ExpectationFailure",
    "ScriptError",
    "ScriptExpectationError",
    "ScriptTurn",
    "load_script",
]

logger = logging.getLogger("realtime_agent.server")

EXPECTATION_FAILED = "script_expectation_failed"
"""The ``error.code`` of a response refused because its turn's expectation failed."""
KEPT_FAILURES = 1000
"""The failed expectations a script keeps (the newest)."""

Connections = Literal["restart", "continue"]

_TOP_KEYS = ("turn", "exhausted", "transcripts", "connections")
_TURN_KEYS = ("say", "call", "expect_user", "expect_tool_output", "delay_ms", "fault")
_CALL_KEYS = ("name", "arguments")
_FAULT_AT = ("response.created", "response.done")
_FAULT_OPTIONS: dict[str, tuple[str, ...]] = {
    "drop": (),
    "expire": (),
    "duplicate": (),
    "reorder": (),
    "close": ("code", "reason"),
    "error": ("message", "code"),
    "malformed": ("text",),
    "fragment": ("pieces",),
    "delay": ("ms",),
}
_UNSET: Any = object()


class ScriptError(LocalProtocolError, ValueError):
    """A conversation script that cannot be played: ``FILE:LINE: what is wrong``.

    Attributes:
        source: the file's path as given (``<script>`` for text).
        line: the line at fault (1-based), when known.
        column: the column, for a TOML syntax error.
        problem: the message without the place.
    """

    def __init__(
        self, problem: str, source: str, line: int | None = None, column: int | None = None
    ) -> None:
        place = source if line is None else f"{source}:{line}"
        if line is not None and column is not None:
            place += f":{column}"
        super().__init__(f"{place}: {problem}")
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ExpectationFailure:
    """A turn's expectation that the conversation did not meet."""

    source: str
    turn: int
    """The turn's number (1-based)."""
    line: int | None
    """The line of the turn's ``[[turn]]`` header."""
    expected: str
    saw: str

    @property
    def message(self) -> str:
        """One line: where, what was expected, what was there."""
        where = f"turn {self.turn}" + (f" (line {self.line})" if self.line else "")
        return f"script {self.source}, {where}: expected {self.expected}, but {self.saw}"


class ScriptExpectationError(AssertionError):
    """Expectations of a script failed (:meth:`ConversationScript.check`, the test helpers).

    ``failures`` lists them; the message has one line for each.
    """

    def __init__(self, message: str, failures: Sequence[ExpectationFailure] = ()) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


@dataclass(frozen=True, slots=True)
class ScriptTurn:
    """One turn of a script: one response of the server."""

    number: int
    """1-based."""
    line: int | None
    """The line of its ``[[turn]]`` header."""
    outputs: tuple[Output, ...] = ()
    expect_user: str | None = None
    expect_tool_output: str | None = None
    delay_ms: float = 0.0
    faults: tuple[Fault, ...] = ()
    """Its faults (``delay_ms`` first), each triggered at the first ``at_event``: the
    script counts them on to this turn's response."""

    def unmet(self, context: ResponseContext) -> tuple[str, str] | None:
        """``(expected, what was there)`` for the first expectation not met, or None."""
        if self.expect_user is not None:
            said = context.user_text
            if said is None:
                return _expected_user(self.expect_user), "no user message came before it"
            if self.expect_user.lower() not in said.lower():
                return _expected_user(self.expect_user), f"the user said {_quote(said)}"
        if self.expect_tool_output is not None:
            expected = f"a function_call_output containing {self.expect_tool_output!r}"
            outputs = tool_outputs(context.conversation)
            if not outputs:
                newest = _describe(context.conversation[-1] if context.conversation else None)
                return (
                    expected,
                    f"none came just before this response (the newest item is {newest})",
                )
            if not any(self.expect_tool_output.lower() in output.lower() for output in outputs):
                shown = ", ".join(_quote(output) for output in outputs)
                return expected, f"the output{'s were' if len(outputs) > 1 else ' was'} {shown}"
        return None


def _expected_user(text: str) -> str:
    return f"the user to say {text!r}"


def _quote(text: str) -> str:
    return repr(excerpt(text, 160))


def _describe(item: Item | None) -> str:
    if item is None:
        return "none: the conversation is empty"
    if isinstance(item, MessageItem):
        return f"a {item.role} message"
    return f"a {item.type}"


class ConversationScript(ScriptedResponder):
    """A script being played: a :class:`ScriptedResponder` of its turns that checks each
    turn's expectations first (see the module docstring). Make one with :func:`load_script`.

    One object plays one conversation. With ``connections = "restart"`` a server made by
    :meth:`server` (or given :meth:`for_connection`) plays this object on its first
    connection and a :meth:`replay` on each later one (in :attr:`replays`); all of them
    record their failures in the same :attr:`failures`.
    """

    def __init__(
        self,
        turns: Sequence[ScriptTurn],
        *,
        source: str = "<script>",
        exhausted: str | None = _UNSET,
        transcripts: Iterable[str] = (),
        connections: Connections = "restart",
        failures: list[ExpectationFailure] | None = None,
    ) -> None:
        self.turns = tuple(turns)
        self.transcripts = tuple(transcripts)
        """The user's audio turns' words, as scripted."""
        options: dict[str, Any] = {"transcripts": self.transcripts}
        if exhausted is not _UNSET:
            options["exhausted"] = exhausted
        super().__init__([turn.outputs for turn in self.turns], **options)
        self.source = source
        self.connections: Connections = connections
        self.failures: list[ExpectationFailure] = [] if failures is None else failures
        """The expectations that failed, in order (shared with the replays; the last
        :data:`KEPT_FAILURES` of them, so that a server on a port stays bounded)."""
        self._replays: list[weakref.ref[ConversationScript]] = []
        self._claimed = False

    def __repr__(self) -> str:
        return (
            f"<ConversationScript {self.source} turn {self.responses + 1} of {len(self.turns)}"
            f" failures={len(self.failures)}>"
        )

    @property
    def finished(self) -> bool:
        """True once every turn has been played."""
        return self.responses >= len(self.turns)

    def respond(self, context: ResponseContext) -> Sequence[Output]:
        """The next turn's outputs; raises ResponseRefused if its expectation fails."""
        index = self.responses
        if index < len(self.turns):
            turn = self.turns[index]
            unmet = turn.unmet(context)
            if unmet is not None:
                failure = ExpectationFailure(self.source, turn.number, turn.line, *unmet)
                self.failures.append(failure)
                del self.failures[:-KEPT_FAILURES]
                logger.warning("%s", failure.message)
                raise ResponseRefused(failure.message, code=EXPECTATION_FAILED)
        return super().respond(context)

    @property
    def replays(self) -> list[ConversationScript]:
        """The plays of later connections (``connections = "restart"``), in order, while
        something holds them (the server, while it keeps their sessions)."""
        return [replay for ref in self._replays if (replay := ref()) is not None]

    def check(self, *, finished: bool = False) -> None:
        """Raise :class:`ScriptExpectationError` if an expectation failed (or, with
        ``finished``, if a turn of this play was never played)."""
        lines = [failure.message for failure in self.failures]
        if finished and not self.finished:
            turn = self.turns[self.responses]
            where = f" (line {turn.line})" if turn.line else ""
            lines.append(
                f"script {self.source}: {len(self.turns) - self.responses} of "
                f"{len(self.turns)} turns were not played (the next: turn {turn.number}{where})"
            )
        if lines:
            raise ScriptExpectationError("\n".join(lines), self.failures)

    def replay(self) -> ConversationScript:
        """A new play of the same script from its first turn, recording into the same
        :attr:`failures` (listed in :attr:`replays` while it is in use)."""
        replay = ConversationScript(
            self.turns,
            source=self.source,
            exhausted=self.exhausted,
            transcripts=self.transcripts,
            connections=self.connections,
            failures=self.failures,
        )
        self._replays = [ref for ref in self._replays if ref() is not None]
        self._replays.append(weakref.ref(replay))
        return replay

    def for_connection(self) -> ConversationScript:
        """The play for a new connection: a responder factory for ``LocalRealtimeServer``.

        ``"continue"``: this object. ``"restart"``: this object for the first
        connection, a :meth:`replay` for each later one.
        """
        if self.connections == "continue":
            return self
        if not self._claimed:
            self._claimed = True
            return self
        return self.replay()

    def fault_plan(self, connection: int = 0) -> list[Fault]:
        """The faults (delays included) of the turns a connection that opens now will play.

        A fault plan for ``LocalRealtimeServer(faults=...)``, beside :meth:`for_connection`:
        the k-th turn still to play gets the k-th ``response.created`` (or ``response.done``)
        of the connection.
        """
        start = self.responses if self.connections == "continue" else 0
        return [
            dataclasses.replace(fault, occurrence=index - start + 1)
            for index, turn in enumerate(self.turns)
            if index >= start
            for fault in turn.faults
        ]

    def server(self, **options: Any) -> LocalRealtimeServer:
        """A local server that plays this script (``options``: ``LocalRealtimeServer``'s;
        ``faults`` given there are added to the script's)."""
        from realtime_agent.server.app import LocalRealtimeServer

        extra: FaultPlan = options.pop("faults", ())

        def plan(connection: int) -> list[Fault]:
            more = extra(connection) if callable(extra) else extra
            return [*self.fault_plan(connection), *more]

        return LocalRealtimeServer(responder=self.for_connection, faults=plan, **options)


# --- loading -------------------------------------------------------------------------------


def load_script(script: str | os.PathLike[str], *, name: str | None = None) -> ConversationScript:
    """Read a conversation script (see the module docstring).

    ``script`` is a path (a ``Path``, or a one-line string ending in ``.toml``) or the
    TOML text itself. ``name`` is what messages call it (default: the path as given, or
    ``<script>`` for text). Raises :class:`ScriptError` (a ``ValueError``) naming the file
    and the line of the problem, for a file that cannot be read too.
    """
    if isinstance(script, os.PathLike) or (
        "\n" not in script and script.strip().lower().endswith(".toml")
    ):
        source = name or os.fspath(script)
        try:
            text = Path(script).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot read it: {exc.strerror or exc}", source) from exc
        except UnicodeDecodeError as exc:
            raise ScriptError(f"not UTF-8 text ({exc.reason})", source) from exc
    else:
        text, source = script, name or "<script>"
    return _Reader(text, source).script()


_SYNTAX_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?\s*(?:#.*)?$")


def _kind(value: object) -> str:
    """A TOML value's kind, for messages."""
    match value:
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case float():
            return "a float"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "a table"
        case _:
            return "a date or time"


def _names(keys: Iterable[str]) -> str:
    return ", ".join(keys)


class _Locator:
    """Where things are in the text: the n-th ``[[turn]]`` header, a key of a turn."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (line, dotted name, array?)
        for number, line in enumerate(self.lines, start=1):
            match = _HEADER.match(line)
            if match:
                dotted = ".".join(p.strip().strip("\"'") for p in match.group(2).split("."))
                self.headers.append((number, dotted, match.group(1) == "[["))
        self.turn_headers = [n for n, dotted, array in self.headers if dotted == "turn" and array]

    def turn(self, number: int) -> int | None:
        """The line of turn ``number``'s header (1-based), if it has one."""
        if 0 < number <= len(self.turn_headers):
            return self.turn_headers[number - 1]
        return self.top_key("turn")

    def _region(self, number: int) -> tuple[int, int]:
        """Turn ``number``'s lines: from its header to the next table that is not its own."""
        start = self.turn(number) or 1
        end = len(self.lines) + 1
        for line, dotted, array in self.headers:
            own = dotted.startswith("turn.")
            if line > start and (not own or (dotted == "turn" and array)):
                end = line
                break
        return start, end

    def _find(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"(?:^|[\s{{,])[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, min(end, len(self.lines) + 1)):
            text = self.lines[number - 1].split("#", 1)[0]
            if pattern.search(text):
                return number
        return None

    def top_key(self, key: str) -> int | None:
        """The line of a top-level key: ``key = ...`` before any table, or a ``[key]``
        (``[[key]]``, ``[key.sub]``) header."""
        end = self.headers[0][0] if self.headers else len(self.lines) + 1
        line = self._find(key, 1, end)
        if line is None:
            tables = [n for n, dotted, _ in self.headers if dotted.split(".")[0] == key]
            line = tables[0] if tables else None
        return line

    def key(self, number: int, name: str, index: int = 0, sub: str | None = None) -> int:
        """The line of key ``name`` of turn ``number`` (for an array of tables, of its
        ``index``-th ``[[turn.name]]``), or of ``sub`` inside it; else the nearest line
        found on the way (the turn's header at worst)."""
        start, end = self._region(number)
        tables = [n for n, dotted, _ in self.headers if dotted == f"turn.{name}"]
        tables = [n for n in tables if start <= n < end]
        if tables:
            found = tables[min(index, len(tables) - 1)]
        else:
            found = self._find(name, start, end) or start
        if sub is not None:
            found = self._find(sub, found, end) or found
        return found


class _Reader:
    """Checks the parsed TOML and builds the script, raising ScriptError at the first
    problem, placed on its line."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.where = _Locator(text)

    def fail(self, problem: str, line: int | None) -> ScriptError:
        return ScriptError(problem, self.source, line)

    def script(self) -> ConversationScript:
        try:
            document = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            place = _SYNTAX_PLACE.search(message)
            line = getattr(exc, "lineno", None) or (int(place.group(1)) if place else None)
            column = getattr(exc, "colno", None) or (int(place.group(2)) if place else None)
            problem = getattr(exc, "msg", None) or _SYNTAX_PLACE.sub("", message)
            raise ScriptError(f"invalid TOML: {problem}", self.source, line, column) from None
        for key in document:
            if key not in _TOP_KEYS:
                raise self.fail(
                    f"unknown key {key!r} (a script has: {_names(_TOP_KEYS)})",
                    self.where.top_key(key),
                )
        options: dict[str, Any] = {}
        if "exhausted" in document:
            exhausted = document["exhausted"]
            self.expect_string(exhausted, "exhausted", self.where.top_key("exhausted"))
            options["exhausted"] = exhausted or None
        transcripts = document.get("transcripts", [])
        line = self.where.top_key("transcripts")
        if not isinstance(transcripts, list) or not all(isinstance(t, str) for t in transcripts):
            raise self.fail("transcripts must be an array of strings", line)
        connections = document.get("connections", "restart")
        if connections not in ("restart", "continue"):
            shown = repr(connections) if isinstance(connections, str) else _kind(connections)
            raise self.fail(
                f"connections must be 'restart' or 'continue', not {shown}",
                self.where.top_key("connections"),
            )
        tables = document.get("turn", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.fail(
                "'turn' must be an array of tables: write each turn as [[turn]]",
                self.where.top_key("turn"),
            )
        turns = [self.turn(number, table) for number, table in enumerate(tables, start=1)]
        return ConversationScript(
            turns,
            source=self.source,
            transcripts=transcripts,
            connections=connections,
            **options,
        )

    def expect_string(self, value: object, what: str, line: int | None) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{what} must be a string, not {_kind(value)}", line)
        return value

    def turn(self, number: int, table: Mapping[str, Any]) -> ScriptTurn:
        at = self.where
        prefix = f"turn {number}: "
        for key in table:
            if key not in _TURN_KEYS:
                raise self.fail(
                    f"{prefix}unknown key {key!r} (a turn has: {_names(_TURN_KEYS)})",
                    at.key(number, key),
                )
        outputs: list[Output] = []
        says = table.get("say", [])
        says = [says] if isinstance(says, str) else says
        if not isinstance(says, list) or not all(isinstance(s, str) for s in says):
            raise self.fail(
                f"{prefix}say must be a string or an array of strings, not {_kind(table['say'])}",
                at.key(number, "say"),
            )
        outputs += [Say(text) for text in says]
        calls = table.get("call", [])
        calls = [calls] if isinstance(calls, dict) else calls
        if not isinstance(calls, list):
            raise self.fail(
                f"{prefix}call must be a table {{ name = ..., arguments = {{ ... }} }} "
                f"or an array of them, not {_kind(table['call'])}",
                at.key(number, "call"),
            )
        outputs += [self.call(number, index, call) for index, call in enumerate(calls)]
        expectations: dict[str, str | None] = {}
        for key in ("expect_user", "expect_tool_output"):
            value = table.get(key)
            if value is not None:
                text = self.expect_string(value, prefix + key, at.key(number, key))
                if not text:
                    raise self.fail(f"{prefix}{key} is empty", at.key(number, key))
            expectations[key] = value
        delay_ms = table.get("delay_ms", 0)
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, int | float) or delay_ms < 0:
            shown = repr(delay_ms) if isinstance(delay_ms, int | float) else _kind(delay_ms)
            raise self.fail(
                f"{prefix}delay_ms must be a number of milliseconds (0 or more), not {shown}",
                at.key(number, "delay_ms"),
            )
        fired: list[Fault] = []
        if delay_ms:
            fired.append(faults.delay(delay_ms / 1000, at_event="response.created"))
        given = table.get("fault", [])
        given = given if isinstance(given, list) else [given]
        fired += [self.fault(number, fault) for fault in given]
        return ScriptTurn(
            number=number,
            line=at.turn(number),
            outputs=tuple(outputs),
            expect_user=expectations["expect_user"],
            expect_tool_output=expectations["expect_tool_output"],
            delay_ms=float(delay_ms),
            faults=tuple(fired),
        )

    def call(self, number: int, index: int, call: object) -> CallTool:
        prefix = f"turn {number}: call: "
        line = self.where.key(number, "call", index)
        keyed = functools.partial(self.where.key, number, "call", index)
        if not isinstance(call, dict):
            raise self.fail(f"{prefix}each call is a table, not {_kind(call)}", line)
        for key in call:
            if key not in _CALL_KEYS:
                raise self.fail(
                    f"{prefix}unknown key {key!r} (a call has: {_names(_CALL_KEYS)})",
                    keyed(key),
                )
        name = call.get("name")
        if name is None:
            raise self.fail(f"{prefix}a call needs a name (the function tool to call)", line)
        if not isinstance(name, str) or not name:
            shown = "empty" if name == "" else _kind(name)
            raise self.fail(
                f"{prefix}name must be the tool's name, not {shown}",
                keyed("name"),
            )
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict | str):
            raise self.fail(
                f"{prefix}arguments must be a table (or a string of JSON text), "
                f"not {_kind(arguments)}",
                keyed("arguments"),
            )
        return CallTool(name, arguments)

    def fault(self, number: int, fault: object) -> Fault:
        prefix = f"turn {number}: fault: "
        line = self.where.key(number, "fault")
        known = _names(_FAULT_OPTIONS)
        settings: dict[str, Any]
        if isinstance(fault, str):
            settings = {"action": fault}
        elif isinstance(fault, dict):
            settings = dict(fault)
        else:
            raise self.fail(
                f"{prefix}a fault is a name ({known}) or a table with an action, "
                f"not {_kind(fault)}",
                line,
            )
        action = settings.pop("action", None)
        if not isinstance(action, str):
            problem = "a fault table needs an action" if action is None else "action is a name"
            raise self.fail(f"{prefix}{problem} ({known})", line)
        if action not in _FAULT_OPTIONS:
            raise self.fail(f"{prefix}unknown fault {action!r} (known: {known})", line)
        at_event = settings.pop("at", "response.created")
        if at_event not in _FAULT_AT:
            shown = repr(at_event) if isinstance(at_event, str) else _kind(at_event)
            raise self.fail(
                f"{prefix}at must be {' or '.join(map(repr, _FAULT_AT))}, not {shown}", line
            )
        allowed = _FAULT_OPTIONS[action]
        for key in settings:
            if key not in allowed:
                takes = f"takes {_names(allowed)}" if allowed else "takes no settings"
                raise self.fail(
                    f"{prefix}unknown key {key!r} for {action!r} ({action} {takes}, and at)",
                    line,
                )
        try:
            return self._fault(action, at_event, settings)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{prefix}{action}: {exc}", line) from None

    @staticmethod
    def _fault(action: str, at_event: str, settings: Mapping[str, Any]) -> Fault:
        def typed(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
            value = settings.get(key, default)
            if isinstance(value, bool) or not isinstance(value, kind):
                wanted = "a string" if kind is str else "an integer" if kind is int else "a number"
                raise TypeError(f"{key} must be {wanted}, not {_kind(value)}")
            return value

        builders: dict[str, Callable[[], Fault]] = {
            "drop": lambda: faults.drop(at_event=at_event),
            "duplicate": lambda: faults.duplicate(at_event=at_event),
            "reorder": lambda: faults.reorder(at_event=at_event),
            "expire": lambda: Fault(
                "expire",
                at_event=at_event,
                code=1001,
                reason=faults.SESSION_EXPIRED_MESSAGE,
            ),
            "close": lambda: faults.close(
                _close_code(typed("code", int, 1011)),
                typed("reason", str, ""),
                at_event=at_event,
            ),
            "error": lambda: faults.inject_error(
                typed("message", str, "The server had an error while processing your request."),
                typed("code", str, "server_error"),
                at_event=at_event,
            ),
            "malformed": lambda: faults.malformed(
                typed("text", str, None) if "text" in settings else None, at_event=at_event
            ),
            "fragment": lambda: faults.fragment(typed("pieces", int, 3), at_event=at_event),
            "delay": lambda: faults.delay(
                _milliseconds(typed("ms", (int, float), 0)) / 1000, at_event=at_event
            ),
        }
        return builders[action]()


def _close_code(code: int) -> int:
    if not (1000 <= code <= 4999) or code in (1005, 1006, 1015):
        raise ValueError(f"code must be a WebSocket close code one may send, not {code}")
    return code


def _milliseconds(ms: float) -> float:
    if ms < 0:
        raise ValueError(f"ms must be 0 or more, not {ms!r}")
    return ms
