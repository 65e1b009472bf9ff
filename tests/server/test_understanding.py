"""The stand-in model's understanding: a table of utterances x tool sets, then end to end.

Each row states the decision a person would expect. Rows the module gets wrong are kept,
marked ``MISS`` (a strict xfail: fixing one fails the suite until its mark goes), so the
table's accuracy is a measure, not a tautology.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from realtime_agent.audio.format import PCM16_24K
from realtime_agent.schema.session import FunctionTool
from realtime_agent.server import LocalRealtimeServer
from realtime_agent.server.stt import PocketsphinxRecognizer, session_hints
from realtime_agent.server.understanding import Ask, Call, Intent, NoTool, answer, understand
from tests.server.client import Client, client
from tests.speech import REAL, VOICE


def tool(name: str, description: str, required: tuple[str, ...] = (), **properties: Any) -> Any:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return FunctionTool(name=name, description=description, parameters=schema)


WEATHER = tool(
    "get_weather",
    "Current weather for a city.",
    ("city",),
    city={"type": "string", "description": 'The city, e.g. "Paris".'},
    unit={"type": "string", "enum": ["celsius", "fahrenheit"]},
)
FORECAST = tool(
    "get_forecast",
    "The weather forecast for the coming days.",
    ("city",),
    city={"type": "string"},
    days={"type": "integer", "description": "How many days ahead"},
)
TIMER = tool(
    "set_timer",
    "Start a countdown timer.",
    ("minutes",),
    minutes={"type": "integer"},
    seconds={"type": "integer", "default": 0},
)
LIGHTS = tool(
    "set_lights",
    "Turn the lights of a room on or off.",
    ("room", "on"),
    room={"type": "string"},
    on={"type": "boolean"},
)
EMAIL = tool(
    "send_email",
    "Send an email.",
    ("to", "subject"),
    to={"type": "string", "description": "The recipient"},
    subject={"type": "string"},
)
SEARCH = tool(
    "search",
    "Search the web.",
    ("query",),
    query={"type": "string", "description": "What to search for"},
)
TIME = tool("getCurrentTime", "The current time, in UTC.")
HOME = (WEATHER, TIMER, LIGHTS, EMAIL, SEARCH, TIME)
"""A session with many tools: the choice among them is part of what a row tests."""
BOOK = tool(
    "book_table",
    "Book a table at a restaurant.",
    ("restaurant", "guests", "time"),
    restaurant={"type": "string", "description": "The restaurant's name."},
    guests={"type": "integer", "description": "How many people, 1-12."},
    time={"type": "string", "description": "When, as HH:MM."},
)
HANG_UP = tool("hang_up", "End the call.")
ALARM = tool("set_alarm", "Set an alarm clock.", ("time",), time={"type": "string"})
CONCIERGE = (WEATHER, BOOK, HANG_UP, TIMER, ALARM)

MISS = pytest.mark.xfail(strict=True, reason="a known miss of the stand-in model")

ROWS: list[Any] = [
    # weather: a city after a preposition, title-cased; the enum when said
    ("What's the weather in Paris?", HOME, Call("get_weather", {"city": "Paris"})),
    ("what's the weather in tokyo", HOME, Call("get_weather", {"city": "Tokyo"})),
    ("whats the weather like in new york today", HOME, Call("get_weather", {"city": "New York"})),
    ("is it going to rain in london", HOME, Call("get_weather", {"city": "London"})),
    (
        "temperature in rome in fahrenheit",
        HOME,
        Call("get_weather", {"city": "Rome", "unit": "fahrenheit"}),
    ),
    (
        "weather for Berlin in celsius please",
        HOME,
        Call("get_weather", {"city": "Berlin", "unit": "celsius"}),
    ),
    ("Weather in São Paulo", HOME, Call("get_weather", {"city": "São Paulo"})),
    (
        "What is the weather in Paris? Use get_weather.",
        HOME,
        Call("get_weather", {"city": "Paris"}),
    ),
    ("how cold is it in oslo", HOME, Call("get_weather", {"city": "Oslo"})),
    ("What's the weather?", HOME, Ask("get_weather", "city", "Which city?")),
    ("tell me the forecast", (WEATHER,), Ask("get_weather", "city", "Which city?")),
    (
        "weather in fahrenheit",
        HOME,
        Ask("get_weather", "city", "Which city?", {"unit": "fahrenheit"}),
    ),
    pytest.param(
        "what's the paris weather",
        HOME,
        Call("get_weather", {"city": "Paris"}),
        marks=MISS,
        id="a city before the tool's word",
    ),
    # a timer: numbers in words and digits, next to their unit; a default
    ("set a timer for five minutes", HOME, Call("set_timer", {"minutes": 5, "seconds": 0})),
    ("set a timer for twenty five minutes", HOME, Call("set_timer", {"minutes": 25, "seconds": 0})),
    ("timer for a hundred minutes", HOME, Call("set_timer", {"minutes": 100, "seconds": 0})),
    ("Set a timer for 10 minutes.", HOME, Call("set_timer", {"minutes": 10, "seconds": 0})),
    ("set a timer for 1 minute", HOME, Call("set_timer", {"minutes": 1, "seconds": 0})),
    (
        "set a timer for two hundred and fifty minutes",
        HOME,
        Call("set_timer", {"minutes": 250, "seconds": 0}),
    ),
    (
        "start a countdown of two minutes and thirty seconds",
        HOME,
        Call("set_timer", {"minutes": 2, "seconds": 30}),
    ),
    ("remind me in fifteen minutes", HOME, Call("set_timer", {"minutes": 15, "seconds": 0})),
    ("set a timer for eight", HOME, Call("set_timer", {"minutes": 8, "seconds": 0})),
    (
        "set a timer for 30 seconds",
        HOME,
        Ask("set_timer", "minutes", "How many minutes?", {"seconds": 30}),
    ),
    ("set a timer", HOME, Ask("set_timer", "minutes", "How many minutes?")),
    # lights: a room and a boolean, both required
    (
        "turn on the lights in the kitchen",
        HOME,
        Call("set_lights", {"room": "Kitchen", "on": True}),
    ),
    (
        "switch off the light in the bedroom",
        HOME,
        Call("set_lights", {"room": "Bedroom", "on": False}),
    ),
    (
        "Turn the lights off in the Living Room.",
        HOME,
        Call("set_lights", {"room": "Living Room", "on": False}),
    ),
    ("enable the lamp in the garage", HOME, Call("set_lights", {"room": "Garage", "on": True})),
    ("lights on", HOME, Ask("set_lights", "room", "Which room?", {"on": True})),
    ("the lights in the hall", HOME, Ask("set_lights", "on", "On or off?", {"room": "Hall"})),
    pytest.param(
        "turn on the kitchen lights",
        HOME,
        Call("set_lights", {"room": "Kitchen", "on": True}),
        marks=MISS,
        id="a room before the tool's word",
    ),
    # email: a person after "to", a proper noun, a subject after "about" or "saying"
    (
        "send an email to ada about the meeting tomorrow",
        HOME,
        Call("send_email", {"to": "Ada", "subject": "meeting tomorrow"}),
    ),
    ("Email Ada about lunch", HOME, Call("send_email", {"to": "Ada", "subject": "lunch"})),
    (
        "Mail Bob saying see you at noon",
        HOME,
        Call("send_email", {"to": "Bob", "subject": "see you at noon"}),
    ),
    (
        "send an email about the budget to grace",
        HOME,
        Call("send_email", {"to": "Grace", "subject": "budget"}),
    ),
    ("send an email to bob", HOME, Ask("send_email", "subject", "Which subject?", {"to": "Bob"})),
    ("write an email", HOME, Ask("send_email", "to", "Which recipient?")),
    # search: free text, kept as said
    ("search for cheap flights to rome", HOME, Call("search", {"query": "cheap flights to rome"})),
    ("look up the population of france", HOME, Call("search", {"query": "population of france"})),
    ("google python tutorials", HOME, Call("search", {"query": "python tutorials"})),
    ("search the web for Python 3.11", HOME, Call("search", {"query": "Python 3.11"})),
    ("find me a recipe for pancakes", HOME, Call("search", {"query": "recipe for pancakes"})),
    ("search", HOME, Ask("search", "query", "What to search for?")),
    # a tool with no parameters (a camelCase name)
    ("what time is it", HOME, Call("getCurrentTime", {})),
    ("What's the current time?", HOME, Call("getCurrentTime", {})),
    # two similar tools: the name said wins
    ("what's the weather in paris", (WEATHER, FORECAST), Call("get_weather", {"city": "Paris"})),
    (
        "what's the forecast for the next three days in paris",
        (WEATHER, FORECAST),
        Call("get_forecast", {"city": "Paris", "days": 3}),
    ),
    ("forecast for oslo", (WEATHER, FORECAST), Call("get_forecast", {"city": "Oslo"})),
    # rows written as a held-out check, before the code was tuned to them
    (
        "could you tell me the weather in madrid please",
        HOME,
        Call("get_weather", {"city": "Madrid"}),
    ),
    ("i'd like the forecast for amsterdam", HOME, Call("get_weather", {"city": "Amsterdam"})),
    (
        "how's the weather looking in chicago tomorrow",
        HOME,
        Call("get_weather", {"city": "Chicago"}),
    ),
    ("is it sunny in barcelona", HOME, Call("get_weather", {"city": "Barcelona"})),
    ("weather", HOME, Ask("get_weather", "city", "Which city?")),
    ("what's the temperature outside", HOME, Ask("get_weather", "city", "Which city?")),
    ("i want to know the weather in lisbon", HOME, Call("get_weather", {"city": "Lisbon"})),
    (
        "what's the weather going to be like in hong kong",
        CONCIERGE,
        Call("get_weather", {"city": "Hong Kong"}),
    ),
    (
        "hows the weather in paris in celsius",
        CONCIERGE,
        Call("get_weather", {"city": "Paris", "unit": "celsius"}),
    ),
    ("weather in the city of london", CONCIERGE, Call("get_weather", {"city": "London"})),
    ("Is it raining in Dublin?", CONCIERGE, Call("get_weather", {"city": "Dublin"})),
    ("set an alarm for seven minutes", HOME, Call("set_timer", {"minutes": 7, "seconds": 0})),
    ("countdown three minutes", HOME, Call("set_timer", {"minutes": 3, "seconds": 0})),
    ("set a timer for forty five minutes", HOME, Call("set_timer", {"minutes": 45, "seconds": 0})),
    ("give me a timer of 12 minutes", HOME, Call("set_timer", {"minutes": 12, "seconds": 0})),
    ("set the timer to 20 minutes", HOME, Call("set_timer", {"minutes": 20, "seconds": 0})),
    ("set a timer for six minutes", CONCIERGE, Call("set_timer", {"minutes": 6, "seconds": 0})),
    ("a timer for fifteen", CONCIERGE, Call("set_timer", {"minutes": 15, "seconds": 0})),
    pytest.param(
        "wake me up with an alarm at seven",
        CONCIERGE,
        Call("set_alarm", {"time": "07:00"}),
        marks=MISS,
        id="a time said in words",
    ),
    ("turn off the lamp in the office", HOME, Call("set_lights", {"room": "Office", "on": False})),
    (
        "please switch the lights on in the dining room",
        HOME,
        Call("set_lights", {"room": "Dining Room", "on": True}),
    ),
    (
        "disable the lights in the basement",
        HOME,
        Call("set_lights", {"room": "Basement", "on": False}),
    ),
    (
        "lights off in the kitchen please",
        HOME,
        Call("set_lights", {"room": "Kitchen", "on": False}),
    ),
    (
        "send an email to alice",
        HOME,
        Ask("send_email", "subject", "Which subject?", {"to": "Alice"}),
    ),
    (
        "email john about the party on friday",
        HOME,
        Call("send_email", {"to": "John", "subject": "party on friday"}),
    ),
    (
        "can you search for the best pizza near me",
        HOME,
        Call("search", {"query": "best pizza near me"}),
    ),
    (
        "look up how tall the eiffel tower is",
        HOME,
        Call("search", {"query": "how tall the eiffel tower is"}),
    ),
    pytest.param(
        "search wikipedia for alan turing",
        HOME,
        Call("search", {"query": "alan turing"}),
        marks=MISS,
        id="a site to search is part of the query",
    ),
    ("what is the time in utc", HOME, Call("getCurrentTime", {})),
    (
        "book a table at chez nous for four people",
        CONCIERGE,
        Ask("book_table", "time", "When?", {"restaurant": "Chez Nous", "guests": 4}),
    ),
    (
        "i need a table for two at luigi's",
        CONCIERGE,
        Ask("book_table", "time", "When?", {"restaurant": "Luigi's", "guests": 2}),
    ),
    pytest.param(
        "book chez nous",
        CONCIERGE,
        Ask("book_table", "guests", "How many people?", {"restaurant": "Chez Nous"}),
        marks=MISS,
        id="a lower-case name with no preposition",
    ),
    ("please hang up", CONCIERGE, Call("hang_up", {})),
    ("goodbye", CONCIERGE, Call("hang_up", {})),  # as a model given hang_up would
    ("what can you do", CONCIERGE, NoTool()),
    ("yes please", CONCIERGE, NoTool()),
    ("no thanks that's all", CONCIERGE, NoTool()),
    ("what's up", HOME, NoTool()),
    ("bye", HOME, NoTool()),
    ("nice to meet you", HOME, NoTool()),
    ("okay thanks a lot", HOME, NoTool()),
    # small talk with tools present calls nothing
    ("hello", HOME, NoTool()),
    ("Hi there!", HOME, NoTool()),
    ("thank you", HOME, NoTool()),
    ("how are you", HOME, NoTool()),
    ("good morning", HOME, NoTool()),
    ("tell me a joke", HOME, NoTool()),
    ("what's your name", HOME, NoTool()),
    ("can you hear me", HOME, NoTool()),
    ("", HOME, NoTool()),
    ("what's the weather in paris", (), NoTool()),
]


@pytest.mark.parametrize(("text", "tools", "expected"), ROWS)
def test_understand(text: str, tools: tuple[FunctionTool, ...], expected: Intent) -> None:
    assert understand(text, tools) == expected


def asked(text: str, tools: tuple[FunctionTool, ...] = HOME) -> Ask:
    question = understand(text, tools)
    assert isinstance(question, Ask)
    return question


REPLIES: list[Any] = [
    ("What's the weather?", "Paris", Call("get_weather", {"city": "Paris"})),
    ("What's the weather?", "in paris please", Call("get_weather", {"city": "Paris"})),
    ("What's the weather?", "um", Ask("get_weather", "city", "Which city?")),
    (
        "What's the weather?",
        "new york in fahrenheit",
        Call("get_weather", {"city": "New York", "unit": "fahrenheit"}),
    ),
    ("What's the weather?", "the weather in rome", Call("get_weather", {"city": "Rome"})),
    ("What's the weather?", "never mind", NoTool()),
    (
        "What's the weather?",
        "set a timer for five minutes",
        Call("set_timer", {"minutes": 5, "seconds": 0}),
    ),
    ("set a timer", "five", Call("set_timer", {"minutes": 5, "seconds": 0})),
    ("set a timer", "twenty minutes", Call("set_timer", {"minutes": 20, "seconds": 0})),
    ("the lights in the hall", "off", Call("set_lights", {"room": "Hall", "on": False})),
    ("lights on", "the kitchen", Call("set_lights", {"room": "Kitchen", "on": True})),
    ("write an email", "ada", Ask("send_email", "subject", "Which subject?", {"to": "Ada"})),
    (
        "send an email to ada",
        "lunch with bob",
        Call("send_email", {"to": "Ada", "subject": "lunch with bob"}),
    ),
    ("search", "Best pizza in town", Call("search", {"query": "Best pizza in town"})),
]


@pytest.mark.parametrize(("first", "reply", "expected"), REPLIES)
def test_answer(first: str, reply: str, expected: Intent) -> None:
    assert answer(asked(first), reply, HOME) == expected


def test_a_reply_about_a_tool_that_is_gone_calls_nothing() -> None:
    assert answer(asked("What's the weather?"), "Paris", (TIMER,)) == NoTool()


# --- end to end, over a real socket through the local server -----------------------------


def wire(tool: FunctionTool) -> dict[str, Any]:
    return tool.model_dump(exclude_none=True)


async def say(peer: Client, text: str) -> list[dict[str, Any]]:
    """Type ``text`` as the user, ask for a response; its events up to ``response.done``."""
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    await peer.send({"type": "conversation.item.create", "item": item})
    await peer.expect("conversation.item.done")
    await peer.send({"type": "response.create"})
    return await peer.until("response.done")


async def reply_output(peer: Client, call_id: str, output: dict[str, Any]) -> list[dict[str, Any]]:
    item = {"type": "function_call_output", "call_id": call_id, "output": json.dumps(output)}
    await peer.send({"type": "conversation.item.create", "item": item})
    await peer.expect("conversation.item.done")
    await peer.send({"type": "response.create"})
    return await peer.until("response.done")


def spoken(events: list[dict[str, Any]]) -> str:
    done = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    assert len(done) == 1, [e["type"] for e in events]
    return str(done[0]["transcript"])


def calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "response.function_call_arguments.done"]


async def test_a_typed_question_calls_the_tool_that_fits_and_its_result_is_answered(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        session = {"type": "realtime", "tools": [wire(t) for t in HOME]}
        await peer.send({"type": "session.update", "session": session})
        await peer.expect("session.updated")
        events = await say(peer, "What's the weather in Tokyo in fahrenheit?")
        [call] = calls(events)
        assert call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Tokyo", "unit": "fahrenheit"}
        result = {"city": "Tokyo", "sky": "light rain", "temperature_f": 61}
        answered = await reply_output(peer, call["call_id"], result)
        assert calls(answered) == []  # answered, not called again
        text = spoken(answered)
        assert "Tokyo" in text and "light rain" in text and "61" in text
        await peer.send({"type": "response.create"})  # no new words: no new call
        assert calls(await peer.until("response.done")) == []


async def test_a_missing_argument_is_asked_for_and_the_reply_fills_it(
    server: LocalRealtimeServer,
) -> None:
    async with client(server.url) as peer:
        session = {"type": "realtime", "tools": [wire(WEATHER), wire(TIMER)]}
        await peer.send({"type": "session.update", "session": session})
        await peer.expect("session.updated")
        question = await say(peer, "what's the weather")
        assert calls(question) == [] and spoken(question) == "Which city?"
        events = await say(peer, "in paris")
        [call] = calls(events)
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
        answered = await reply_output(peer, call["call_id"], {"city": "Paris", "sky": "clear"})
        assert spoken(answered) == "Here is what I found: city Paris, sky clear."
        timer = await say(peer, "and set a timer for twenty five minutes")
        [call] = calls(timer)
        assert call["name"] == "set_timer"
        assert json.loads(call["arguments"]) == {"minutes": 25, "seconds": 0}


async def test_small_talk_with_tools_calls_nothing(server: LocalRealtimeServer) -> None:
    async with client(server.url) as peer:
        session = {"type": "realtime", "tools": [wire(t) for t in HOME]}
        await peer.send({"type": "session.update", "session": session})
        await peer.expect("session.updated")
        hello = await say(peer, "Hello!")
        assert calls(hello) == [] and spoken(hello).startswith("Hello! This is the local")
        thanks = await say(peer, "thank you")
        assert calls(thanks) == [] and spoken(thanks) == "You said: thank you"


SPOKEN = [0, 1, 2, 3, 4, 5, 9, 13, 16, 19, 20, 24, 25, 35, 46, 47, 48, 50, 54, 56, 60, 63, 64, 71]
"""Rows of the table that espeak-ng's marin voice says clearly enough for the recognizer
(bench/stt.py measures the whole table spoken)."""


@pytest.mark.skipif(not REAL, reason="the voice extra is not installed")
def test_the_table_spoken_and_recognized() -> None:
    recognizer = PocketsphinxRecognizer(processes=0)
    wrong = []
    for index in SPOKEN:
        text, tools, expected = ROWS[index]
        heard = recognizer.recognize(
            VOICE.synthesize(text).pcm, PCM16_24K, session_hints(tools=tools)
        )
        if understand(heard or "", tools) != expected:
            wrong.append((text, heard))
    # espeak-ng renders differ a little from run to run: a miss or two is the model's.
    assert len(wrong) <= 2, wrong
