"""The package as installed: typed, with its public API documented."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect

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
