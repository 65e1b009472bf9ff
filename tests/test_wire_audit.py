"""The wire audit: its validator against the SDK's param types, and the suite-wide spy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai", reason="the audit checks frames against the openai SDK's types")

from tests.wire_audit import (
    APPEND_HEAD,
    APPEND_TAIL,
    FULLY_CHECKED_APPENDS,
    WireRecorder,
    check_frame,
    is_beta_request,
)

BOTH = pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])


def problems(event: dict[str, Any], *, beta: bool = False) -> list[tuple[str, str]]:
    return [(v.path, v.problem) for v in check_frame(json.dumps(event), beta=beta)]


@BOTH
def test_a_null_response_is_flagged_where_it_is(beta: bool) -> None:
    (found,) = check_frame('{"type":"response.create","response":null}', beta=beta)
    assert (found.event, found.path) == ("response.create", "response")
    assert "explicit null" in found.problem
    assert '"response":null' in found.excerpt


@BOTH
def test_a_bare_response_create_passes(beta: bool) -> None:
    assert problems({"type": "response.create"}, beta=beta) == []
    assert problems({"type": "response.create", "response": {}}, beta=beta) == []


def test_turn_detection_null_passes_where_it_means_no_vad() -> None:
    no_vad = {"audio": {"input": {"turn_detection": None}}}
    assert problems({"type": "session.update", "session": {"type": "realtime", **no_vad}}) == []
    # The beta type omits Optional, but its docstring says null turns detection off.
    beta = {"type": "session.update", "session": {"turn_detection": None}}
    assert problems(beta, beta=True) == []


def test_a_null_elsewhere_in_a_session_is_flagged() -> None:
    ga = {"type": "session.update", "session": {"type": "realtime", "instructions": None}}
    ((path, problem),) = problems(ga)
    assert path == "session.instructions (as RealtimeSessionCreateRequestParam)"
    assert "explicit null" in problem
    beta = {"type": "session.update", "session": {"instructions": None}}
    assert [path for path, _ in problems(beta, beta=True)] == ["session.instructions"]


@BOTH
def test_a_bad_field_inside_a_list_is_flagged(beta: bool) -> None:
    # The SDK types lists as Iterable[...], which pydantic alone would never look into.
    tools = [{"type": "function", "name": "ok"}, {"type": "function", "name": 5}]
    event = {"type": "response.create", "response": {"tools": tools}}
    ((path, problem),) = problems(event, beta=beta)
    assert path.startswith("response.tools[1].name")
    assert "valid string" in problem


def test_a_bad_field_two_lists_deep_is_flagged() -> None:
    content = [{"type": "input_text", "text": "hi"}, {"type": "input_text", "text": None}]
    item = {"type": "message", "role": "user", "content": content}
    found = problems({"type": "conversation.item.create", "item": item})
    assert [path.split(" ")[0] for path, _ in found] == ["item.content[1].text"]


def test_a_missing_required_field_and_an_unknown_type_are_flagged() -> None:
    assert problems({"type": "conversation.item.delete"}) == [("item_id", "Field required")]
    assert problems({"type": "response.make"}) == [("type", "not a GA client event of the SDK")]
    assert problems({"type": "transcription_session.update", "session": {}}, beta=True) == []
    assert problems({"type": "transcription_session.update", "session": {}}) == [
        ("type", "not a GA client event of the SDK")
    ]
    (not_json,) = check_frame("{", beta=False)
    assert not_json.problem.startswith("not JSON")


def test_unknown_keys_are_not_an_error() -> None:
    event = {"type": "input_audio_buffer.commit", "event_id": "e1", "something_new": None}
    assert problems(event) == []


def test_the_beta_dialect_is_the_header_or_the_azure_preview_path() -> None:
    assert is_beta_request("realtime=v1", "/v1/realtime?model=m")
    assert is_beta_request(None, "/openai/realtime?api-version=2025-04-01-preview&deployment=d")
    assert not is_beta_request(None, "/openai/v1/realtime?model=d")
    assert not is_beta_request(None, "/")


def test_audio_appends_past_the_first_few_are_checked_for_their_shape() -> None:
    recorder, connection = WireRecorder(), object()
    good = f"{APPEND_HEAD}AAAA{APPEND_TAIL}"
    for _ in range(FULLY_CHECKED_APPENDS + 5):
        recorder.record(connection, False, good)
    assert recorder.frames == FULLY_CHECKED_APPENDS + 5
    assert recorder.violations() == []
    recorder.record(connection, False, f'{APPEND_HEAD}AA","audio":null{APPEND_TAIL}')
    recorder.record(connection, False, b"binary")
    assert [v.problem for v in recorder.violations()] == [
        "not the append template's shape",
        "not a text frame but bytes",
    ]


def test_the_first_appends_are_validated_in_full() -> None:
    recorder = WireRecorder()
    recorder.record(object(), False, f'{APPEND_HEAD}AAAA","event_id":5}}')
    ((violation),) = recorder.violations()
    assert (violation.event, violation.path) == ("input_audio_buffer.append", "event_id")


INNER = """
import pytest
from websockets.asyncio.client import ClientConnection, connect

from realtime_agent.runtime.transport import _DirectConnection
from realtime_agent.server import LocalRealtimeServer

NULL_RESPONSE = '{"type":"response.create","response":null}'
BETA_ONLY = '{"type":"transcription_session.update","session":{}}'


async def send(frame, connection=_DirectConnection, headers=()):
    async with LocalRealtimeServer() as server:
        async with connect(
            server.url, create_connection=connection, additional_headers=headers
        ) as ws:
            await ws.send(frame)


async def test_ours_sends_a_null():
    await send(NULL_RESPONSE)


@pytest.mark.no_wire_audit("sends a null on purpose")
async def test_ours_sends_a_null_on_purpose():
    await send(NULL_RESPONSE)


async def test_another_client_sends_a_null():
    await send(NULL_RESPONSE, ClientConnection)


async def test_ours_sends_a_beta_event_in_ga():
    await send(BETA_ONLY)


async def test_ours_sends_a_beta_event_in_beta():
    await send(BETA_ONLY, headers=[("OpenAI-Beta", "realtime=v1")])


@pytest.mark.no_wire_audit
def test_an_opt_out_without_a_reason():
    pass
"""

INNER_OPTIONS = (
    *("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio"),
    *("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"),
    "--loop-watch-report",  # the local server's speech synthesis may block: not the subject
)


@pytest.mark.no_wire_audit("its inner suite sends refused frames on purpose")
def test_the_suite_fails_what_our_socket_sends_and_nothing_else(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest(*INNER_OPTIONS)
    result.assert_outcomes(passed=5, errors=3)
    errors = "\n".join(line for line in result.outlines if line.startswith("ERROR"))
    assert "test_ours_sends_a_null " in errors + " "
    assert "test_ours_sends_a_beta_event_in_ga" in errors
    assert "test_an_opt_out_without_a_reason" in errors
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_ours_sends_a_null*",
            "*response.create: response: explicit null*",
            '*frame: {"type":"response.create","response":null}*',
        ]
    )
    result.stdout.fnmatch_lines(["*no_wire_audit needs a reason*"])


@pytest.mark.no_wire_audit("its inner suite sends refused frames on purpose")
def test_the_report_lists_what_was_refused_and_fails_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest(*INNER_OPTIONS, "--wire-audit-report")
    result.assert_outcomes(passed=5, errors=1)  # only the opt-out without a reason
    result.stdout.re_match_lines(
        [
            r".*wire audit: client frames the SDK's types refuse",
            r"response\.create: response: explicit null.*\[1 tests\]",
            r" +test_inner\.py::test_ours_sends_a_null$",
        ]
    )
