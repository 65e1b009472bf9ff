"""The package as installed: typed, with its public API documented."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import subprocess
import sys

import realtime_agent
from realtime_agent import schema
from realtime_agent.audio import format as audio_format
from realtime_agent.audio import g711
from realtime_agent.schema import beta, client, codec, common, dialect, items, response, server
from realtime_agent.schema import session as session_module
from realtime_agent.server import (
    app,
    config,
    conversation,
    faults,
    messages,
    planning,
    responses,
    speech,
    state,
    vad,
)
from realtime_agent.server import items as server_items
from realtime_agent.server import responder as responder_module


def test_package_is_typed() -> None:
    assert importlib.resources.files("realtime_agent").joinpath("py.typed").is_file()


def test_public_names_exist_and_are_documented() -> None:
    extra = [
        importlib.import_module(f"realtime_agent.{name}")
        for name in (
            "redact",
            "protocol",
            "protocol.actions",
            "protocol.calls",
            "protocol.conversation",
            "protocol.core",
            "protocol.events",
            "protocol.turns",
            "runtime",
            "runtime.agent",
            "runtime.events",
            "runtime.session",
            "runtime.transport",
            "tools",
            "tools.dispatch",
            "tools.handoff",
            "tools.tool",
            "audio.playout",
            "audio.sinks",
            "audio.sources",
            "server.espeak",
            "server.stt",
            "server.understanding",
            "server.script",
            "server.chat",
            "http",
            "http.sse",
            "http.chunks",
            "http.client",
            "http.errors",
            "http.wav",
            "testing",
            "testing.conversation",
            "testing.server",
            "testing.plugin",
        )
    ]
    modules = [
        *extra,
        realtime_agent,
        schema,
        beta,
        client,
        codec,
        common,
        dialect,
        items,
        response,
        server,
        session_module,
        app,
        config,
        conversation,
        faults,
        server_items,
        messages,
        planning,
        responder_module,
        responses,
        speech,
        state,
        vad,
        audio_format,
        g711,
    ]
    for module in modules:
        assert module.__doc__, module.__name__
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def test_the_pytest_plugin_loads_without_the_runtime() -> None:
    # pytest loads the plugin in every run where the package is installed: importing it
    # must not build the Realtime schema (it took 1.2 s before the package imported lazily).
    code = (
        "import sys, realtime_agent.testing.plugin, realtime_agent\n"
        "heavy = [m for m in ('realtime_agent.runtime', 'realtime_agent.schema', 'pydantic')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
        "from realtime_agent import Agent, connect, events\n"
        "print(Agent.__module__, connect.__module__, events.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "[]",
        "realtime_agent.runtime.agent realtime_agent.runtime.session realtime_agent.runtime.events",
    ]
