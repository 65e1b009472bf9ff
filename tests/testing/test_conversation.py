"""The conversation helpers, against local servers started by the plugin's own fixture."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from realtime_agent import Agent, connect, tool
from realtime_agent.audio.format import ULAW_8K
from realtime_agent.audio.sinks import write_wav
from realtime_agent.server import CallTool, ScriptedResponder, SyntheticVoice, faults
from realtime_agent.server.responder import Output
from realtime_agent.server.script import ScriptExpectationError, load_script
from realtime_agent.server.stt import word_error_rate
from realtime_agent.testing import (
    ConversationTimeout,
    InstantSink,
    ServerThread,
    converse,
)
from tests.speech import REAL

Start = Callable[..., ServerThread]


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


@tool
async def slow_forecast(city: str) -> str:
    """A forecast that takes a while."""
    await asyncio.sleep(30)
    return "later"


TYPED = Agent(tools=[get_weather, slow_forecast], output="text")
WEATHER: list[Output | str] = [
    CallTool("get_weather", {"city": "London"}),
    "It is sunny in London.",
]


def speech() -> bytes:
    """Half a second of speech-like pcm16 24 kHz (enough for the VAD to hear a turn)."""
    return SyntheticVoice(seed=3).synthesize("what is the weather in paris").pcm


async def test_a_turn_collects_calls_outputs_and_words(realtime_server_factory: Start) -> None:
    server = realtime_server_factory(responder=ScriptedResponder(WEATHER))
    async with converse(TYPED, server) as talk:
        turn = await talk.say("What's the weather in London?")
        assert turn.user == "What's the weather in London?"
        assert [(c.name, c.arguments, c.output) for c in turn.calls] == [
            ("get_weather", {"city": "London"}, "Sunny in London")
        ]
        assert turn.said == ["It is sunny in London."] and turn.errors == []
        assert [end.status for end in turn.responses] == ["completed", "completed"]
        call = talk.assert_called("get_weather", city="London")
        assert call is turn.calls[0]
        talk.assert_called("get_weather")
        talk.assert_said("SUNNY in london")
        talk.assert_said(re.compile(r"sunny in \w+"))
        talk.assert_not_called("slow_forecast")
    assert talk.session.ended


async def test_failed_assertions_say_what_was_expected_and_what_happened(
    realtime_server_factory: Start,
) -> None:
    server = realtime_server_factory(responder=ScriptedResponder([*WEATHER, "Hello."]))
    async with converse(TYPED, server) as talk:
        await talk.say("What's the weather in Paris?")
        with pytest.raises(AssertionError) as wrong:
            talk.assert_called("get_weather", city="Paris")
        assert str(wrong.value) == (
            "expected a call to get_weather(city='Paris'); it was called as "
            "get_weather(city='London') -> 'Sunny in London'\n"
            "the turn:\n"
            '  user: "What\'s the weather in Paris?"\n'
            "  tool: get_weather(city='London') -> 'Sunny in London'\n"
            "  assistant: 'It is sunny in London.'"
        )
        with pytest.raises(AssertionError, match=r"^expected a call to book_table; get_weather\("):
            talk.assert_called("book_table")
        with pytest.raises(AssertionError, match=r"^expected no tool call; get_weather\("):
            talk.assert_not_called()
        with pytest.raises(AssertionError, match=re.escape("it said 'It is sunny in London.'")):
            talk.assert_said("rain")
        await talk.say("hi")
        with pytest.raises(AssertionError, match=r"^expected a call to get_weather; no tool was"):
            talk.assert_called("get_weather")
        regex = re.escape("say something matching 'ra+in'; it said 'Hello.'")
        with pytest.raises(AssertionError, match=regex):
            talk.assert_said(re.compile("ra+in"))


async def test_nothing_said_yet_is_a_clear_failure(realtime_server: ServerThread) -> None:
    async with converse(TYPED, realtime_server.url) as talk:
        with pytest.raises(AssertionError, match="nothing was said yet"):
            talk.assert_said("hello")


@pytest.mark.parametrize("detection", ["server_vad", None], ids=["server-vad", "push-to-talk"])
async def test_say_audio_is_a_spoken_turn(
    realtime_server_factory: Start, detection: str | None
) -> None:
    responder = ScriptedResponder(WEATHER, transcripts=["weather in london"])
    server = realtime_server_factory(responder=responder, vad="energy")
    agent = Agent(
        tools=[get_weather],
        turn_detection="server_vad" if detection else None,
        input_transcription="whisper-1",
    )
    async with converse(agent, server) as talk:
        turn = await talk.say_audio(speech())
        assert turn.user == "weather in london"  # the transcript of the user's audio
        talk.assert_called("get_weather", city="London")
        assert turn.said == ["It is sunny in London."]
        assert turn.interruptions == []  # heard at once (InstantSink): never barged in on
    (session,) = server.sessions
    assert responder.responses == 2 and session.input_ms >= turn.audio_ms > 500


async def test_say_audio_from_a_wav_file_in_the_agents_format(
    realtime_server_factory: Start, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "question.wav", speech())
    responder = ScriptedResponder(WEATHER, transcripts=["weather in london"])
    server = realtime_server_factory(responder=responder, vad="energy")
    agent = Agent(tools=[get_weather], input_format=ULAW_8K)
    async with converse(agent, server) as talk:
        turn = await talk.say_audio(wav)
        talk.assert_called("get_weather", city="London")
    (session,) = server.sessions
    assert session.input_format == ULAW_8K and turn.audio_ms == pytest.approx(
        session.input_ms, abs=1
    )


async def test_silence_is_no_turn_and_the_timeout_says_so(realtime_server: ServerThread) -> None:
    agent = Agent(tools=[get_weather])
    async with converse(agent, realtime_server, turn_timeout=0.5) as talk:
        with pytest.raises(ConversationTimeout) as caught:
            await talk.say_audio(bytes(48 * 300))
    assert str(caught.value).startswith(
        "the turn did not end within 0.5 s: no response began, and the server's VAD heard "
        "no speech in the audio"
    )


async def test_a_tool_that_runs_too_long_times_out_clearly(realtime_server_factory: Start) -> None:
    responder = ScriptedResponder([CallTool("slow_forecast", {"city": "Paris"})])
    server = realtime_server_factory(responder=responder)
    async with converse(TYPED, server, turn_timeout=0.3) as talk:
        with pytest.raises(ConversationTimeout) as caught:
            await talk.say("forecast?")
    assert "1 response(s) began, 1 ended; 1 tool call(s) still running" in str(caught.value)
    assert "tool: slow_forecast(city='Paris') (not answered)" in str(caught.value)


async def test_a_failed_expectation_raises_in_the_test(realtime_server_factory: Start) -> None:
    script = load_script('[[turn]]\nexpect_user = "weather"\nsay = "Sunny."\n', name="w.toml")
    message = (
        "script w.toml, turn 1 (line 1): expected the user to say 'weather', "
        "but the user said 'hello'"
    )
    server = realtime_server_factory(script)
    # Given only the URL, the helper knows the failure from the server's error event.
    async with converse(TYPED, server.url) as talk:
        with pytest.raises(ScriptExpectationError) as caught:
            await talk.say("hello")
        assert str(caught.value) == message
        await talk.say("the weather?")  # the turn stayed next
        talk.assert_said("sunny")
    assert server.script is not None
    server.script.failures.clear()  # seen by the test: not a teardown error too


async def test_a_failed_expectation_seen_only_as_a_failed_response(
    realtime_server_factory: Start,
) -> None:
    # A spoken turn whose words the server waits for decides late: a refusal then fails
    # the response, and the helper learns why from the script of the ServerThread.
    script = load_script(
        'transcripts = ["good morning"]\n[[turn]]\nexpect_user = "weather"\nsay = "Sunny."\n',
        name="w.toml",
    )
    server = realtime_server_factory(script, vad="energy")
    agent = Agent(tools=[get_weather])
    async with converse(agent, server) as talk:
        with pytest.raises(ScriptExpectationError, match="but the user said 'good morning'"):
            await talk.say_audio(speech())
    assert server.script is not None
    assert len(server.script.failures) == 1
    server.script.failures.clear()


async def test_a_dropped_connection_ends_the_turn(realtime_server_factory: Start) -> None:
    server = realtime_server_factory(
        responder=ScriptedResponder(["Hi."]), faults=[faults.drop(at_event="response.created")]
    )
    async with converse(TYPED, server, reconnect=None) as talk:
        turn = await talk.say("hello")
    assert turn.closed is not None and turn.said == []
    assert "session ended:" in turn.describe()


async def test_a_turn_survives_a_dropped_connection(realtime_server_factory: Start) -> None:
    # Reconnect is on by default: the first connection drops as the answer begins; the
    # second carries the conversation (the question, replayed) and answers it.
    server = realtime_server_factory(
        responder=lambda: ScriptedResponder(["Hi."]),  # one per connection: a new session
        faults=lambda n: [faults.drop(at_event="response.created")] if n == 0 else [],
    )
    async with converse(TYPED, server) as talk:
        turn = await talk.say("hello")
        assert turn.closed is None and turn.said == ["Hi."]
        assert talk.session.reconnects == 1


async def test_listen_waits_for_a_turn_nobody_said(realtime_server_factory: Start) -> None:
    server = realtime_server_factory(responder=ScriptedResponder(["Welcome!"]))
    async with converse(TYPED, server) as talk:
        await talk.session.create_response()
        turn = await talk.listen()
        assert turn.user is None and turn.said == ["Welcome!"]


async def test_converse_with_a_session_of_yours(realtime_server_factory: Start) -> None:
    server = realtime_server_factory(responder=ScriptedResponder(["One.", "Two."]))
    async with connect(TYPED, url=server.url, audio_out=InstantSink()) as session:
        async with converse(session) as talk:
            await talk.say("one")
            talk.assert_said("one")
        assert not session.ended  # yours: left open
        async with converse(session) as talk:
            await talk.say("two")
            talk.assert_said("two")
        with pytest.raises(TypeError):
            async with converse(session, server.url):
                pass


def test_the_instant_sink_hears_everything_at_once() -> None:
    sink = InstantSink(rate=8000, sample_width=1)
    sink.write(bytes(800))
    assert (sink.rate, sink.sample_width) == (8000, 1)
    assert sink.played_samples == sink.written_samples == 800 and sink.clear() == 0


@pytest.mark.skipif(not REAL, reason="the voice extra is not installed")
@pytest.mark.parametrize(
    ("said", "tool_name", "arguments"),
    [
        ("What's the weather in Tokyo?", "get_weather", {"city": "Tokyo"}),
        ("Set a timer for five minutes.", "set_timer", {"minutes": 5}),
        ("Turn on the lights in the kitchen.", "lights", {"room": "Kitchen", "on": True}),
    ],
)
async def test_the_default_stand_in_calls_the_tool_it_heard(
    realtime_server: ServerThread, said: str, tool_name: str, arguments: dict[str, object]
) -> None:
    # Spoken by espeak-ng, recognized by pocketsphinx, understood by the rule responder.
    agent = Agent(tools=[get_weather, set_timer, lights], input_transcription="whisper-1")
    async with converse(agent, realtime_server) as talk:
        turn = await talk.speak(said)
        assert word_error_rate(said, turn.user)[0] <= 1, turn.user  # a small model
        talk.assert_called(tool_name, **arguments)
        assert turn.said  # and it answered the tool's output


@tool
def set_timer(minutes: int) -> str:
    """Set a timer.

    Args:
        minutes: How many minutes.
    """
    return f"Timer set for {minutes} minutes."


@tool
def lights(room: str, on: bool) -> str:
    """Turn the lights on or off in a room."""
    return f"Lights {'on' if on else 'off'} in the {room}."
