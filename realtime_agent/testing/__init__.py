"""Test your agent offline: a pytest plugin and helpers over the local Realtime server.

::

    import pytest
    from realtime_agent import Agent, tool
    from realtime_agent.testing import converse

    @tool
    def get_weather(city: str) -> str:
        \"\"\"Current weather for a city.\"\"\"
        return f"Sunny in {city}"

    agent = Agent(tools=[get_weather])

    @pytest.mark.realtime_script("weather.toml")   # beside the test file
    async def test_weather(realtime_server):
        async with converse(agent, realtime_server) as talk:
            await talk.say("What's the weather in Paris?")
            talk.assert_called("get_weather", city="Paris")
            talk.assert_said("sunny")

* The plugin (:mod:`realtime_agent.testing.plugin`, loaded by pytest through the
  package's ``pytest11`` entry point): the ``realtime_server`` fixture, the
  ``realtime_script`` marker, the ``realtime_server_factory`` fixture.
* :func:`converse` and :class:`Conversation` (:mod:`realtime_agent.testing.conversation`):
  say text or audio, then assert which tools were called and what was said.
* :func:`start_server` and :class:`ServerThread` (:mod:`realtime_agent.testing.server`):
  a local server in a background thread, outside pytest too.
* Conversation scripts: :func:`load_script` (:mod:`realtime_agent.server.script`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime_agent.server.script import (
        ConversationScript,
        ScriptError,
        ScriptExpectationError,
        load_script,
    )
    from realtime_agent.testing.conversation import (
        Conversation,
        ConversationTimeout,
        InstantSink,
        ToolCall,
        Turn,
        converse,
    )
    from realtime_agent.testing.server import ServerThread, start_server

__all__ = [
    "Conversation",
    "ConversationScript",
    "ConversationTimeout",
    "InstantSink",
    "ScriptError",
    "ScriptExpectationError",
    "ServerThread",
    "ToolCall",
    "Turn",
    "converse",
    "load_script",
    "start_server",
]

_HOMES = {
    "ConversationScript": "realtime_agent.server.script",
    "ScriptError": "realtime_agent.server.script",
    "ScriptExpectationError": "realtime_agent.server.script",
    "load_script": "realtime_agent.server.script",
    "ServerThread": "realtime_agent.testing.server",
    "start_server": "realtime_agent.testing.server",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: pytest imports the plugin (and so this package) in every run
    # of every project where realtime-agent is installed; the helpers cost a third of a
    # second to import, paid only by the tests that use them.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = _HOMES.get(name, "realtime_agent.testing.conversation")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
