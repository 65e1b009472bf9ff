"""The shipped responders and the synthetic voice."""

from __future__ import annotations

from realtime_agent.schema.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
    OutputTextPart,
)
from realtime_agent.schema.session import FunctionTool
from realtime_agent.server import (
    CallTool,
    ResponseContext,
    RuleResponder,
    Say,
    ScriptedResponder,
    SyntheticVoice,
)
from realtime_agent.server.responder import arguments_from_schema, placeholder_transcript

TOOL = FunctionTool(
    name="book_table",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "guests": {"type": "integer", "minimum": 2},
            "time": {"type": "string", "enum": ["19:00", "20:00"]},
            "vegan": {"type": "boolean"},
            "notes": {"type": "string", "default": "window seat"},
            "price": {"type": ["number", "null"]},
            "when": {"type": "string", "examples": ["tomorrow"]},
        },
    },
)


def context(*items: Item, tools: tuple[FunctionTool, ...] = ()) -> ResponseContext:
    return ResponseContext(
        conversation=list(items), instructions="", tools=tools, output_audio=True
    )


def test_arguments_from_schema_use_defaults_enums_examples_then_plausible_values() -> None:
    assert arguments_from_schema(TOOL.parameters) == {
        "city": "Paris",
        "guests": 2,
        "time": "19:00",
        "vegan": True,
        "notes": "window seat",
        "price": 1.0,
        "when": "tomorrow",
    }
    assert arguments_from_schema(None) == {}


def test_rule_responder_calls_the_first_tool_on_speech_it_could_not_recognise() -> None:
    spoken = MessageItem(role="user", content=[InputAudioPart(transcript="(speech, 1.2 s)")])
    outputs = RuleResponder().respond(context(spoken, tools=(TOOL,)))
    assert outputs == (CallTool("book_table", arguments_from_schema(TOOL.parameters)),)
    recognised = MessageItem(role="user", content=[InputAudioPart(transcript="how are you")])
    outputs = RuleResponder().respond(context(recognised, tools=(TOOL,)))
    assert outputs == (Say("I heard you: how are you. I am the local Realtime server."),)
    asked = MessageItem(role="user", content=[InputAudioPart(transcript="Who are you?")])
    outputs = RuleResponder().respond(context(asked))
    assert outputs == (Say("I heard you: Who are you? I am the local Realtime server."),)
    booking = MessageItem(role="user", content=[InputAudioPart(transcript="book in rome")])
    outputs = RuleResponder().respond(context(booking, tools=(TOOL,)))
    assert outputs == (CallTool("book_table", {"city": "Rome", "notes": "window seat"}),)
    call = FunctionCallItem(name="book_table", arguments="{}", call_id="c1")
    answered = FunctionCallOutputItem(call_id="c1", output='{"booked": true}')
    outputs = RuleResponder().respond(context(spoken, call, answered, tools=(TOOL,)))
    assert outputs == (Say("Here is what I found: booked True."),)
    again = RuleResponder().respond(context(spoken, call, answered, spoken, tools=(TOOL,)))
    assert isinstance(again[0], Say) and "I heard you" in again[0].text


def test_rule_responder_answers_text_by_keyword() -> None:
    hello = MessageItem(role="user", content=[InputTextPart(text="Hi there")])
    assert RuleResponder().respond(context(hello)) == (Say(RuleResponder.GREETING),)
    other = MessageItem(role="user", content=[InputTextPart(text="What time is it")])
    assert RuleResponder({"time": "It is noon."}).respond(context(other)) == (Say("It is noon."),)
    assert RuleResponder().respond(context(other)) == (Say("You said: What time is it"),)


def test_scripted_responder_plays_its_turns_then_says_it_is_done() -> None:
    responder = ScriptedResponder(
        ["one", [Say("two"), CallTool("f", '{"a": 1}')]], transcripts=["hello"]
    )
    assert responder.respond(context()) == (Say("one"),)
    assert responder.respond(context()) == (Say("two"), CallTool("f", '{"a": 1}'))
    assert responder.respond(context()) == (Say("That is all I was scripted to say."),)
    assert responder.responses == 3 and len(responder.contexts) == 3
    assert responder.transcribe(1000) == "hello"
    assert responder.transcribe(1400) is None  # the server recognizes it, or a placeholder
    assert placeholder_transcript(1400) == "(speech, 1.4 s)"
    assert CallTool("f", {"b": [1]}).arguments_json == '{"b": [1]}'


def test_synthetic_voice_is_deterministic_and_lasts_with_the_text() -> None:
    voice = SyntheticVoice()
    short, long = (
        voice.synthesize("Hello."),
        voice.synthesize("Hello there, how are you doing today?"),
    )
    assert voice.synthesize("Hello.") == short
    assert SyntheticVoice().synthesize("Hello.").pcm == short.pcm
    assert 300 < short.duration_ms < long.duration_ms < 4000
    assert "".join(word for _, word in long.words) == "Hello there, how are you doing today?"
    offsets = [offset for offset, _ in long.words]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] < len(long.pcm) // 2
    assert len(short.pcm) % 2 == 0
    assert SyntheticVoice(speed=2.0).synthesize("Hello.").duration_ms < short.duration_ms


def test_rule_responder_gives_an_answer_cut_short_again() -> None:
    # After a dropped connection the client replays the answer it had, "...", and asks
    # for a response: the stand-in model answers the tool's output again, whole.
    asked = MessageItem(role="user", content=[InputTextPart(text="weather in Paris?")])
    call = FunctionCallItem(name="book_table", arguments="{}", call_id="c1")
    answered = FunctionCallOutputItem(call_id="c1", output='{"booked": true}')
    cut = MessageItem(role="assistant", content=[OutputTextPart(text="Here is what I...")])
    outputs = RuleResponder().respond(context(asked, call, answered, cut, cut, tools=(TOOL,)))
    assert outputs == (Say("Here is what I found: booked True."),)
    whole = MessageItem(role="assistant", content=[OutputTextPart(text="Here it is.")])
    again = RuleResponder().respond(context(asked, call, answered, whole, tools=(TOOL,)))
    assert again != outputs  # a whole answer is not given twice
