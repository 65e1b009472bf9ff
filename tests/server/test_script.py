"""Conversation scripts: the TOML format, its errors by line, and how a server plays one."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputTextPart,
    Item,
    MessageItem,
)
from realtime_agent.server import CallTool, ResponseContext, Say
from realtime_agent.server.script import (
    EXPECTATION_FAILED,
    ConversationScript,
    ExpectationFailure,
    ScriptError,
    ScriptExpectationError,
    load_script,
)
from tests.server.client import Client, Event, client, types

FULL = """\
# Every key the format has.
exhausted = ""
transcripts = ["what's the weather in paris"]
connections = "continue"

[[turn]]
expect_user = "weather"
say = "Let me look."
call = { name = "get_weather", arguments = { city = "Paris", days = 2 } }

[[turn]]
expect_tool_output = "sunny"
say = ["It is sunny.", "Anything else?"]
delay_ms = 150
fault = { action = "close", code = 1012, reason = "restarting", at = "response.done" }

[[turn]]
fault = ["duplicate", { action = "error", message = "boom", code = "oops" }]

[[turn.call]]
name = "book"
arguments = '{"broken": '

[[turn.call]]
name = "hang_up"
"""


def test_a_valid_script_reads_as_written() -> None:
    script = load_script(FULL, name="full.toml")
    assert isinstance(script, ConversationScript)
    assert script.source == "full.toml" and script.connections == "continue"
    assert script.exhausted is None and script.transcripts == ("what's the weather in paris",)
    first, second, third = script.turns
    assert (first.number, first.line, second.line, third.line) == (1, 6, 11, 17)
    assert first.outputs == (
        Say("Let me look."),
        CallTool("get_weather", {"city": "Paris", "days": 2}),
    )
    assert first.expect_user == "weather" and first.faults == ()
    assert second.outputs == (Say("It is sunny."), Say("Anything else?"))
    assert second.expect_tool_output == "sunny"
    delay, close = second.faults
    assert (delay.action, delay.seconds, delay.at_event) == ("delay", 0.15, "response.created")
    assert (close.action, close.code, close.reason) == ("close", 1012, "restarting")
    assert close.at_event == "response.done"
    assert third.outputs == (CallTool("book", '{"broken": '), CallTool("hang_up", {}))
    assert [(f.action, f.reason, f.error_code) for f in third.faults] == [
        ("duplicate", "", "server_error"),
        ("error", "boom", "oops"),
    ]
    # The k-th turn's faults fire at the connection's k-th response.created / done.
    assert [(f.action, f.occurrence) for f in script.fault_plan(0)] == [
        ("delay", 2),
        ("close", 2),
        ("duplicate", 3),
        ("error", 3),
    ]


def test_a_path_or_text() -> None:
    assert load_script('[[turn]]\nsay = "hi"\n').source == "<script>"
    assert load_script("").turns == ()  # no turns: every response says the exhausted line


def test_a_file_is_read_and_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "hello.toml"
    path.write_text('[[turn]]\nsay = "Hello!"\n', encoding="utf-8")
    for given in (path, str(path)):
        script = load_script(given)
        assert script.source == str(path) and script.turns[0].outputs == (Say("Hello!"),)


INVALID = [
    ('[[turn]]\nsay = "a"\n\n[[turn]]\nsya = "b"\n', 5, "turn 2: unknown key 'sya' (a turn has:"),
    ('[[turn]]\nsay = "a"\n[[turn]]\ncall = { arguments = {} }\n', 4, "turn 2: call: a call needs"),
    ('[[turn]]\n[[turn.call]]\nname = "a"\n[[turn.call]]\nnme = "b"\n', 5, "unknown key 'nme'"),
    ("[[turn]]\ncall = { name = 7 }\n", 2, "call: name must be the tool's name, not an integer"),
    ('[[turn]]\ncall = { name = "a", arguments = 3 }\n', 2, "arguments must be a table"),
    ('[[turn]]\ncall = "get_weather"\n', 2, "call must be a table"),
    ("[[turn]]\n\nsay = 3\n", 3, "turn 1: say must be a string or an array of strings"),
    ('[[turn]]\ndelay_ms = "200"\n', 2, "delay_ms must be a number of milliseconds"),
    ("[[turn]]\ndelay_ms = -5\n", 2, "(0 or more), not -5"),
    ("[[turn]]\nexpect_user = 1\n", 2, "expect_user must be a string, not an integer"),
    ('[[turn]]\nsay = "a"\nfault = "explode"\n', 3, "unknown fault 'explode' (known: drop,"),
    ("[[turn]]\nfault = { code = 1 }\n", 2, "a fault table needs an action"),
    ('[[turn]]\nfault = { action = "drop", at = "x" }\n', 2, "at must be 'response.created'"),
    ('[[turn]]\nfault = { action = "close", cod = 1 }\n', 2, "unknown key 'cod' for 'close'"),
    ('[[turn]]\nfault = { action = "close", code = "x" }\n', 2, "code must be an integer"),
    ('[[turn]]\nfault = { action = "close", code = 1006 }\n', 2, "a WebSocket close code"),
    ('[[turn]]\nfault = { action = "fragment", pieces = 1 }\n', 2, "at least 2 pieces"),
    ("[[turn]]\nfault = 3\n", 2, "a fault is a name"),
    ('say = "a"\n[[turn]]\n', 1, "unknown key 'say' (a script has: turn,"),
    ('[[turns]]\nsay = "a"\n', 1, "unknown key 'turns'"),
    ('turn = "a"\n', 1, "'turn' must be an array of tables"),
    ('connections = "always"\n', 1, "connections must be 'restart' or 'continue'"),
    ("exhausted = 1\n", 1, "exhausted must be a string"),
    ('transcripts = "a"\n', 1, "transcripts must be an array of strings"),
]


@pytest.mark.parametrize(("text", "line", "problem"), INVALID)
def test_an_invalid_script_names_the_file_and_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(ScriptError) as caught:
        load_script(text, name="bad.toml")
    message = str(caught.value)
    assert caught.value.line == line, message
    assert message.startswith(f"bad.toml:{line}: ") and problem in message
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)


def test_a_toml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ScriptError) as caught:
        load_script('[[turn]]\nsay = "It is\n', name="bad.toml")
    assert (caught.value.line, caught.value.column) == (2, 13)
    assert str(caught.value).startswith("bad.toml:2:13: invalid TOML: ")


def test_a_file_that_cannot_be_read_is_a_script_error(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"missing\.toml: cannot read it: No such file"):
        load_script(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[[turn]]\nsay = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ScriptError, match=r"latin\.toml: not UTF-8 text"):
        load_script(latin)


def user(text: str) -> MessageItem:
    return MessageItem(role="user", content=[InputTextPart(text=text)])


def context(*items: Item) -> ResponseContext:
    return ResponseContext(conversation=list(items), instructions="", tools=(), output_audio=False)


CALL = FunctionCallItem(call_id="c1", name="get_weather", arguments="{}")

UNMET = [
    ("expect_user", "Weather", [user("the WEATHER please")], None),
    ("expect_user", "weather", [], "but no user message came before it"),
    ("expect_user", "weather", [user("hello")], "but the user said 'hello'"),
    (
        "expect_tool_output",
        "sunny",
        [CALL, FunctionCallOutputItem(call_id="c1", output="Sunny")],
        None,
    ),
    (
        "expect_tool_output",
        "sunny",
        [CALL, FunctionCallOutputItem(call_id="c1", output="rain")],
        "but the output was 'rain'",
    ),
    (
        "expect_tool_output",
        "sunny",
        [CALL, FunctionCallOutputItem(call_id="c1", output="rain"), user("and?")],
        "but none came just before this response (the newest item is a user message)",
    ),
]


@pytest.mark.parametrize(("key", "value", "items", "saw"), UNMET)
def test_expectations_say_what_they_saw(
    key: str, value: str, items: list[Item], saw: str | None
) -> None:
    script = load_script(f"[[turn]]\n{key} = {value!r}\n", name="e.toml")
    unmet = script.turns[0].unmet(context(*items))
    if saw is None:
        assert unmet is None
    else:
        assert unmet is not None
        message = ExpectationFailure("e.toml", 1, 1, *unmet).message
        assert message.startswith("script e.toml, turn 1 (line 1): expected ")
        assert message.endswith(saw)


# --- played by a server, over a real socket ---------------------------------------------------

TEXT_ONLY = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


async def ask(peer: Client, text: str | None, event_id: str) -> list[Event]:
    """Say ``text`` (if any), ask for a response; its events up to response.done or error."""
    if text is not None:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await peer.send({"type": "conversation.item.create", "item": item})
    await peer.send({"type": "response.create", "event_id": event_id})
    return await peer.until("response.done", "error")


def written(events: list[Event]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "response.output_text.done"]


async def test_a_failed_expectation_is_an_error_for_that_request_and_the_turn_stays() -> None:
    script = load_script('[[turn]]\nexpect_user = "weather"\nsay = "Sunny."\n', name="w.toml")
    async with script.server(seed=1) as server, client(server.url) as peer:
        await peer.send(TEXT_ONLY)
        refused = await ask(peer, "hello there", "evt_ask_1")
        assert types(refused)[-1] == "error" and "response.created" not in types(refused)
        error = refused[-1]["error"]
        assert error["code"] == EXPECTATION_FAILED and error["type"] == "invalid_request_error"
        assert error["event_id"] == "evt_ask_1"
        assert error["message"] == (
            "script w.toml, turn 1 (line 1): expected the user to say 'weather', "
            "but the user said 'hello there'"
        )
        with pytest.raises(ScriptExpectationError) as caught:
            script.check()
        assert str(caught.value) == error["message"] and len(caught.value.failures) == 1
        # The turn is still next: a response to the expected words plays it.
        assert written(await ask(peer, "and the weather?", "evt_ask_2")) == ["Sunny."]
        assert script.finished
        with pytest.raises(ScriptExpectationError) as caught:
            script.check(finished=True)  # the failure is kept; all turns were played
        assert str(caught.value) == error["message"]
    assert len(script.failures) == 1


async def test_a_tool_output_expectation_over_the_wire() -> None:
    text = """
[[turn]]
call = { name = "get_weather", arguments = { city = "Paris" } }
[[turn]]
expect_tool_output = "sunny"
say = "It is sunny."
"""
    script = load_script(text, name="t.toml")
    async with script.server(seed=1) as server, client(server.url) as peer:
        await peer.send(TEXT_ONLY)
        events = await ask(peer, "weather?", "evt_1")
        done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert [(e["name"], e["arguments"]) for e in done] == [("get_weather", '{"city": "Paris"}')]
        output = {"type": "function_call_output", "call_id": done[0]["call_id"], "output": "Rain"}
        await peer.send({"type": "conversation.item.create", "item": output})
        refused = await ask(peer, None, "evt_2")
        assert refused[-1]["error"]["message"].endswith(
            "turn 2 (line 4): expected a function_call_output containing 'sunny', "
            "but the output was 'Rain'"
        )


async def test_a_delay_holds_the_response_back() -> None:
    script = load_script('[[turn]]\nsay = "Now."\n[[turn]]\nsay = "Later."\ndelay_ms = 250\n')
    loop = asyncio.get_running_loop()
    async with script.server() as server, client(server.url) as peer:
        await peer.send(TEXT_ONLY)
        assert written(await ask(peer, "one", "e1")) == ["Now."]
        began = loop.time()
        assert written(await ask(peer, "two", "e2")) == ["Later."]
        # A lower bound only: the delay guarantees it, however loaded the machine (how
        # long an undelayed answer takes is a timing, and timings go in bench/).
        assert loop.time() - began >= 0.25


async def test_a_drop_fault_at_a_turn() -> None:
    script = load_script('[[turn]]\nsay = "One."\n[[turn]]\nsay = "Two."\nfault = "drop"\n')
    async with script.server() as server, client(server.url) as peer:
        await peer.send(TEXT_ONLY)
        assert written(await ask(peer, "one", "e1")) == ["One."]
        with pytest.raises(ConnectionClosed) as caught:
            await ask(peer, "two", "e2")
        assert caught.value.rcvd is None  # dropped: no close frame
        assert "response.created" not in types(peer.received[-3:])


async def test_a_close_fault_at_response_done() -> None:
    text = (
        '[[turn]]\nsay = "Bye."\nfault = { action = "close", code = 1012, at = "response.done" }\n'
    )
    script = load_script(text)
    async with script.server() as server, client(server.url) as peer:
        await peer.send(TEXT_ONLY)
        with pytest.raises(ConnectionClosed) as caught:
            await ask(peer, "hi", "e1")
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1012
        assert written(peer.received) == ["Bye."] and "response.done" not in types(peer.received)


@pytest.mark.parametrize(
    ("connections", "second"), [("restart", ["One.", "Two."]), ("continue", ["Two.", ""])]
)
async def test_connections_restart_or_continue_the_script(
    connections: str, second: list[str]
) -> None:
    text = f"""
connections = "{connections}"
exhausted = ""
[[turn]]
say = "One."
[[turn]]
say = "Two."
fault = {{ action = "error", message = "turn two", code = "two" }}
"""
    script = load_script(text)
    async with script.server() as server:
        async with client(server.url) as peer:
            await peer.send(TEXT_ONLY)
            assert written(await ask(peer, "a", "e1")) == ["One."]
        async with client(server.url) as peer:
            await peer.send(TEXT_ONLY)
            heard = []
            for number in range(2):
                events = await ask(peer, "b", f"e{number}")
                if types(events)[-1] == "error":  # the fault's error, before response.created
                    assert events[-1]["error"]["code"] == "two"
                    events = await peer.until("response.done")
                heard.append("".join(written(events)))
            assert heard == second
    assert len(script.replays) == (1 if connections == "restart" else 0)


async def test_extra_faults_join_the_scripts() -> None:
    from realtime_agent.server import faults

    script = load_script('[[turn]]\nsay = "Hi."\n')
    async with script.server(faults=[faults.close(1011, at_event="response.done")]) as server:
        async with client(server.url) as peer:
            await peer.send(TEXT_ONLY)
            with pytest.raises(ConnectionClosed) as caught:
                await ask(peer, "hi", "e1")
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011


# --- realtime-agent serve --script -----------------------------------------------------------


def test_serve_with_a_bad_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[turn]]\nsay = "hi"\n\n[[turn]]\ncall = { arguments = {} }\n', "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "realtime_agent.cli", "serve", "--script", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"realtime-agent: {bad}:5: turn 2: call: a call needs a name (the function tool to call)"
    ]


async def test_serve_plays_a_script(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[turn]]\nexpect_user = "hello"\nsay = "Hello from the script."\n', "utf-8")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "realtime_agent.cli", "serve", "--port", "0"),
        *("--pacing", "instant", "--script", str(good)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = line.split(" at ", 1)[1].strip()
        async with client(url) as peer:
            await peer.send(TEXT_ONLY)
            refused = await ask(peer, "good morning", "e1")
            assert refused[-1]["error"]["code"] == EXPECTATION_FAILED
            assert written(await ask(peer, "hello", "e2")) == ["Hello from the script."]
        async with client(url) as peer:  # each connection plays it from the start
            await peer.send(TEXT_ONLY)
            assert written(await ask(peer, "hello again", "e3")) == ["Hello from the script."]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0 and b"Traceback" not in err
    assert f"playing the conversation script {good}".encode() in out
    # The failed expectation is logged by the server, for whoever watches it.
    assert b"expected the user to say 'hello', but the user said 'good morning'" in err
