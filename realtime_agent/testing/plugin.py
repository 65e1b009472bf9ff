"""The pytest plugin of realtime_agent: a local Realtime server for each test that asks.

Installed with the package (the ``pytest11`` entry point ``realtime_agent``): nothing to
configure. It gives:

``realtime_server`` (fixture)
    A local Realtime server started for the test, stopped after it: a
    :class:`~realtime_agent.testing.ServerThread` with ``url`` (give it to ``connect`` or
    :func:`~realtime_agent.testing.converse`), ``server`` (the
    ``LocalRealtimeServer``: its ``sessions`` to inspect) and ``script``. It plays the
    conversation script of the test's ``realtime_script`` marker, or else answers with
    the default stand-in model.
``@pytest.mark.realtime_script(script, **server_options)`` (marker)
    The script ``realtime_server`` plays: a TOML file (a path relative to the test's
    file, or absolute) or TOML text (see :mod:`realtime_agent.server.script`);
    ``server_options`` go to ``LocalRealtimeServer`` (``vad="energy"``, ``seed=1``...).
``realtime_server_factory`` (fixture)
    ``realtime_server_factory(script=None, *, responder=None, **server_options)`` starts
    another server (with a ``ScriptedResponder`` or any responder, say), stopped after
    the test.

Each server runs on its own event loop in a background thread, so the fixtures are
plain (not async) and work the same in sync tests, pytest-asyncio tests and anyio tests.
Audio is sent instantly. After the test every server is stopped (its connections
closed, its thread joined), and a test that passed although its script's expectations
failed fails at teardown with them.

::

    @pytest.mark.realtime_script("weather.toml")
    async def test_weather(realtime_server):
        async with converse(agent, realtime_server) as talk:
            await talk.say("What's the weather in Paris?")
            talk.assert_called("get_weather", city="Paris")
            talk.assert_said("sunny")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from realtime_agent.server.responder import Responder
    from realtime_agent.server.script import ConversationScript
    from realtime_agent.testing.server import ServerThread

    StartServer = Callable[..., ServerThread]

__all__ = ["MARKER", "realtime_server", "realtime_server_factory"]

MARKER = "realtime_script"

_call_failed = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(script, **server_options): the conversation script (a TOML file relative "
        "to the test's file, or TOML text) that the realtime_server fixture plays; "
        "server_options go to LocalRealtimeServer",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Note whether the test itself failed: its teardown then adds no script failures."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call":
        item.stash[_call_failed] = report.failed


def _near_test(script: Any, test_file: Path) -> Any:
    """A script path relative to the test's file, when it is one and the file is there."""
    is_path = isinstance(script, os.PathLike) or (
        isinstance(script, str) and "\n" not in script and script.strip().endswith(".toml")
    )
    if not is_path:
        return script
    path = Path(script)
    beside = test_file.parent / path
    return beside if not path.is_absolute() and beside.exists() else path


@pytest.fixture
def realtime_server_factory(request: pytest.FixtureRequest) -> Iterator[StartServer]:
    """Start local Realtime servers for this test; all are stopped after it.

    ``realtime_server_factory(script=None, *, responder=None, **server_options)`` returns
    a started :class:`~realtime_agent.testing.ServerThread` (see the module docstring).
    """
    from realtime_agent.server.script import ScriptError
    from realtime_agent.testing.server import start_server

    started: list[ServerThread] = []

    def start(
        script: str | os.PathLike[str] | ConversationScript | None = None,
        *,
        responder: Responder | None = None,
        **server_options: Any,
    ) -> ServerThread:
        try:
            server = start_server(
                _near_test(script, request.path), responder=responder, **server_options
            )
        except ScriptError as exc:
            pytest.fail(str(exc), pytrace=False)
        started.append(server)
        return server

    yield start
    problems: list[str] = []
    for server in reversed(started):
        try:
            server.stop()
        except RuntimeError as exc:
            problems.append(str(exc))
    if not request.node.stash.get(_call_failed, False):
        for server in started:
            if server.script is not None:
                problems += [failure.message for failure in server.script.failures]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def realtime_server(
    request: pytest.FixtureRequest, realtime_server_factory: StartServer
) -> ServerThread:
    """A local Realtime server for this test, playing its ``realtime_script`` marker's
    script if it has one (see the module docstring)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return realtime_server_factory()
    if len(marker.args) != 1:
        pytest.fail(
            f"use @pytest.mark.{MARKER}(script, **server_options): one script", pytrace=False
        )
    return realtime_server_factory(marker.args[0], **marker.kwargs)
