"""Your agent's tests, offline: ``pytest examples/test_my_agent.py``.

pytest loads realtime_agent's plugin by itself (the package registers it): the
``realtime_server`` fixture starts a local Realtime server for a test, and the
``realtime_script`` marker makes it play a conversation script, here ``weather.toml``
beside this file. ``converse`` connects the agent and says things to it; each ``say``
waits until the assistant is done (tools called, answers given), then the assertions
look at what happened. These tests use pytest-asyncio; the fixtures need no plugin of
the kind (they run the server in a thread of its own), so anyio or plain sync tests with
``asyncio.run`` work the same.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

from realtime_agent import Agent, tool
from realtime_agent.demo import sample_wav
from realtime_agent.server import CallTool, ScriptedResponder
from realtime_agent.testing import ServerThread, converse

pytestmark = pytest.mark.asyncio


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 21 degrees in {city}"


agent = Agent(instructions="You are a weather assistant.", tools=[get_weather])


@pytest.mark.realtime_script("weather.toml")
async def test_a_typed_question_calls_the_tool(realtime_server: ServerThread) -> None:
    async with converse(agent, realtime_server) as talk:
        await talk.say("What's the weather in Paris?")
        talk.assert_called("get_weather", city="Paris")
        talk.assert_said("sunny")


@pytest.mark.realtime_script("weather.toml")
async def test_a_spoken_question_calls_the_tool(realtime_server: ServerThread) -> None:
    async with converse(agent, realtime_server) as talk:
        turn = await talk.say_audio(sample_wav())  # a WAV file, or pcm16 24 kHz bytes
        call = talk.assert_called("get_weather", city="Paris")
        assert call.output == "Sunny and 21 degrees in Paris"
        assert turn.said == ["It is sunny and 21 degrees in Paris."]


async def test_a_scripted_responder(realtime_server_factory: Callable[..., ServerThread]) -> None:
    responder = ScriptedResponder([CallTool("get_weather", {"city": "Tokyo"}), "Sunny in Tokyo."])
    server = realtime_server_factory(responder=responder)
    async with converse(agent, server) as talk:
        await talk.say("And in Tokyo?")
        talk.assert_called("get_weather", city="Tokyo")
        talk.assert_said("sunny in tokyo")
    assert responder.responses == 2  # the call, then the answer to its output


@pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None, reason="needs the voice extra"
)
async def test_the_stand_in_model_hears_and_calls(realtime_server: ServerThread) -> None:
    # No script: the default stand-in model recognizes the speech and picks the tool.
    async with converse(agent, realtime_server) as talk:
        await talk.speak("What's the weather in Tokyo?")  # espeak-ng says it aloud
        talk.assert_called("get_weather", city="Tokyo")
        talk.assert_said("Tokyo")
