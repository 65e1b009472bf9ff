"""The pytest plugin, used as a user would: their own test files, run by pytest (pytester)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARGS = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")

WEATHER_TOML = """\
[[turn]]
expect_user = "weather"
call = { name = "get_weather", arguments = { city = "Paris" } }

[[turn]]
expect_tool_output = "sunny"
say = "It is sunny in Paris."
"""

AGENT = """\
import asyncio

import pytest

from realtime_agent import Agent, tool
from realtime_agent.server import CallTool, ScriptedResponder
from realtime_agent.testing import converse


@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"Sunny in {city}"


agent = Agent(tools=[get_weather], output="text")


async def weather(url):
    async with converse(agent, url) as talk:
        await talk.say("What's the weather in Paris?")
        talk.assert_called("get_weather", city="Paris")
        talk.assert_said("sunny")
"""

USERS_TESTS = (
    AGENT
    + """

def test_the_plugin_came_from_its_entry_point(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("realtime_agent")
    assert plugin is not None and plugin.__name__ == "realtime_agent.testing.plugin"


@pytest.mark.realtime_script("weather.toml")
def test_sync(realtime_server):
    asyncio.run(weather(realtime_server.url))


@pytest.mark.realtime_script("weather.toml")
@pytest.mark.asyncio
async def test_pytest_asyncio(realtime_server):
    await weather(realtime_server)


@pytest.mark.realtime_script("weather.toml")
@pytest.mark.anyio
async def test_anyio(realtime_server):
    await weather(realtime_server)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.asyncio
async def test_a_responder(realtime_server_factory):
    responder = ScriptedResponder([CallTool("get_weather", {"city": "Paris"}), "It is sunny."])
    await weather(realtime_server_factory(responder=responder))
    assert responder.responses == 2


def test_the_default_server(realtime_server):
    assert realtime_server.url.startswith("ws://127.0.0.1:")
    assert realtime_server.script is None
"""
)


ANYIO = importlib.util.find_spec("anyio") is not None
"""anyio (and its pytest plugin) come with the openai SDK, installed beside us in CI."""


def users_project(pytester: pytest.Pytester, tests: str) -> None:
    pytester.makefile(".toml", weather=WEATHER_TOML)
    pytester.makepyfile(test_users=tests)


def no_server_thread_left() -> bool:
    return not [t for t in threading.enumerate() if t.name == "realtime-agent-local-server"]


def test_a_users_tests_run_with_the_plugin_from_its_entry_point(pytester: pytest.Pytester) -> None:
    users_project(pytester, USERS_TESTS)
    # A new process, as the user runs pytest: no conftest, no -p: the entry point loads it.
    result = pytester.runpytest_subprocess(*ARGS, "-v")
    if ANYIO:
        result.assert_outcomes(passed=6)
        result.stdout.fnmatch_lines(["*test_sync PASSED*", "*test_anyio PASSED*"])
    else:  # no anyio plugin here (the wheel's venv): its test cannot run, the others do
        result.assert_outcomes(passed=5, failed=1)
        result.stdout.fnmatch_lines(["*test_sync PASSED*", "*test_anyio FAILED*"])


FAILING = (
    AGENT
    + """

@pytest.mark.realtime_script("weather.toml")
@pytest.mark.asyncio
async def test_wrong_city(realtime_server):
    async with converse(agent, realtime_server) as talk:
        await talk.say("What's the weather in Paris?")
        talk.assert_called("get_weather", city="London")


@pytest.mark.realtime_script("weather.toml")
@pytest.mark.asyncio
async def test_off_script(realtime_server):
    async with converse(agent, realtime_server) as talk:
        await talk.say("Tell me a joke.")


@pytest.mark.realtime_script("weather.toml")
@pytest.mark.asyncio
async def test_ignores_the_error(realtime_server):
    async with converse(agent, realtime_server.url) as talk:
        await talk.session.send_text("Tell me a joke.")
        async for event in talk.session:
            if type(event).__name__ == "ErrorRaised":
                break


@pytest.mark.realtime_script("bad.toml")
def test_bad_script(realtime_server):
    pass
"""
)


def test_failures_read_well(pytester: pytest.Pytester) -> None:
    users_project(pytester, FAILING)
    pytester.makefile(".toml", bad='[[turn]]\nsay = "hi"\nfault = "explode"\n')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=2, errors=2)
    out = result.stdout.str()
    # A wrong argument: what was expected, and the whole turn.
    assert (
        "AssertionError: expected a call to get_weather(city='London'); it was called as "
        "get_weather(city='Paris') -> 'Sunny in Paris'" in out
    )
    result.stdout.fnmatch_lines(
        ["E  *the turn:", 'E  *  user: "What\'s the weather in Paris?"', "E  *  assistant: *"]
    )
    # Off script: the test fails where it said the wrong thing, naming the script's line.
    assert re.search(
        r"ScriptExpectationError: script \S*weather\.toml, turn 1 \(line 1\): expected the "
        r"user to say 'weather', but the user said 'Tell me a joke\.'",
        out,
    )
    # A test that passed although the script's expectation failed fails at teardown.
    assert "ERROR at teardown of test_ignores_the_error" in out
    # A bad script: one line at setup, with its file and line.
    assert "ERROR at setup of test_bad_script" in out
    assert re.search(r"\S*bad\.toml:3: turn 1: fault: unknown fault 'explode'", out)
    assert no_server_thread_left()


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*ARGS, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.realtime_script(script, **server_options):*"])


def test_marker_options_and_text_scripts(pytester: pytest.Pytester) -> None:
    tests = (
        AGENT
        + """

@pytest.mark.realtime_script(\'[[turn]]\\nsay = "Hi from text."\\n\', seed=3, vad="energy")
def test_text_and_options(realtime_server):
    assert realtime_server.server.vad == "energy"
    async def hello():
        async with converse(agent, realtime_server) as talk:
            await talk.say("hello")
            talk.assert_said("hi from text")
    asyncio.run(hello())
    realtime_server.check(finished=True)


@pytest.mark.realtime_script()
def test_no_script_given(realtime_server):
    pass
"""
    )
    pytester.makepyfile(test_users=tests)
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*use @pytest.mark.realtime_script(script, **server_options)*"])


def test_the_example_runs(pytester: pytest.Pytester) -> None:
    for name in ("test_my_agent.py", "weather.toml"):
        shutil.copy(ROOT / "examples" / name, pytester.path / name)
    result = pytester.runpytest(*ARGS)
    if importlib.util.find_spec("pocketsphinx") is not None:
        result.assert_outcomes(passed=4)  # the stand-in hears a question too
    else:
        result.assert_outcomes(passed=3, skipped=1)


def test_the_readmes_example_runs(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Test your agent offline", 1)[1].split("\n## ", 1)[0]
    (test,) = re.findall(r"```python[^\n]*\n(.*?)```", section, re.S)
    toml = re.findall(r"```toml[^\n]*\n(.*?)```", section, re.S)[0]
    pytester.makefile(".toml", weather=toml)
    pytester.makepyfile(test_readme_example=test)
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1)
