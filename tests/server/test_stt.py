"""Speech in: the local server recognizes user turns (pocketsphinx, the voice extra)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import soxr

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.audio.g711 import pcm16_to_ulaw
from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from realtime_agent.server.stt import (
    PocketsphinxRecognizer,
    session_hints,
    tidy,
    word_error_rate,
)
from tests.server.client import client, types
from tests.speech import REAL, VOICE, spoken

needs_voice = pytest.mark.skipif(not REAL, reason="the voice extra is not installed")

COMMANDS = [
    "What's the weather in Paris?",
    "Set a timer for five minutes.",
    "Turn on the lights in the kitchen.",
    "What is the weather like in Tokyo today?",
    "Is it raining in London?",
    "Thank you very much.",
]

TRANSCRIBED: dict[str, Any] = {
    "type": "realtime",
    "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
}


def test_word_error_rate_counts_edits() -> None:
    assert word_error_rate("What is the weather?", "what is weather") == (1, 4)
    assert word_error_rate("a b c", "a x c d") == (2, 3)
    assert word_error_rate("hello", None) == (1, 1)


def test_a_transcript_reads_like_one() -> None:
    assert tidy("what is the weather in paris") == "What is the weather in Paris?"
    assert tidy("set a timer for ada", "Call Ada. You are kind.") == "Set a timer for Ada."
    assert tidy("") == ""


@needs_voice
def test_commands_are_recognized_within_a_word_error_bound() -> None:
    recognizer = PocketsphinxRecognizer(processes=0)
    errors = words = 0
    for text in COMMANDS:
        heard = recognizer.recognize(VOICE.synthesize(text).pcm, PCM16_24K)
        wrong, count = word_error_rate(text, heard)
        errors, words = errors + wrong, words + count
    assert errors / words <= 0.25, (errors, words)  # measured: 0-10 % (bench/stt.py)


@needs_voice
def test_the_session_words_teach_the_recognizer_new_ones() -> None:
    recognizer = PocketsphinxRecognizer(processes=0)
    pcm = VOICE.synthesize("Book a flight to Reykjavik.").pcm
    tool = {
        "name": "book_flight",
        "parameters": {"properties": {"destination": {"enum": ["Reykjavik", "Oslo"]}}},
    }
    hints = session_hints("You book flights.", tools=[type("Tool", (), tool)()])
    assert "Reykjavik" not in (recognizer.recognize(pcm, PCM16_24K) or "")
    assert "Reykjavik" in (recognizer.recognize(pcm, PCM16_24K, hints) or "")


@needs_voice
def test_phone_audio_is_recognized() -> None:
    pcm24 = np.frombuffer(VOICE.synthesize("Turn on the lights in the kitchen.").pcm, "<i2")
    pcm8 = np.asarray(soxr.resample(pcm24, 24000, 8000), dtype="<i2").tobytes()
    heard = PocketsphinxRecognizer(processes=0).recognize(
        pcm16_to_ulaw(pcm8), AudioFormat("ulaw", 8000, 1)
    )
    assert word_error_rate("Turn on the lights in the kitchen.", heard)[0] <= 1


@needs_voice
def test_silence_and_noise_are_not_words() -> None:
    recognizer = PocketsphinxRecognizer(processes=0)
    noise = np.random.default_rng(0).normal(0, 300, 24000).astype("<i2").tobytes()
    assert recognizer.recognize(bytes(48 * 500), PCM16_24K) is None
    assert recognizer.recognize(noise, PCM16_24K) is None


def transcription_events(events: list[dict[str, Any]], item_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["type"].startswith("conversation.item.input_audio_transcription")
        and e["item_id"] == item_id
    ]


@needs_voice
async def test_a_spoken_turn_is_transcribed_in_order_and_the_responder_gets_the_words() -> None:
    responder = ScriptedResponder(["It is sunny."])
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.send({"type": "session.update", "session": TRANSCRIBED})
        await peer.expect("session.updated")
        await peer.append(spoken("What's the weather in Paris?"))
        events = await peer.until("response.done")
        while "conversation.item.input_audio_transcription.completed" not in types(events):
            events.append(await peer.recv())  # may come after the response's events
    names = types(events)
    item_id = events[names.index("input_audio_buffer.committed")]["item_id"]
    transcription = transcription_events(events, item_id)
    kinds = [e["type"].rsplit(".", 1)[1] for e in transcription]
    assert kinds[-1] == "completed" and set(kinds[:-1]) == {"delta"} and len(kinds) > 2
    completed = transcription[-1]
    assert completed["transcript"] == "What's the weather in Paris?"
    assert "".join(e["delta"] for e in transcription[:-1]) == completed["transcript"]
    assert completed["usage"]["type"] == "duration" and completed["usage"]["seconds"] > 1
    # After the user item, and before the response speaks: the responder had the words.
    assert names.index("conversation.item.done") < events.index(transcription[0])
    assert events.index(completed) < names.index("response.output_item.added")
    assert responder.contexts[0].user_text == "What's the weather in Paris?"


@needs_voice
async def test_a_turn_without_words_fails_to_transcribe_and_the_session_goes_on() -> None:
    responder = ScriptedResponder(["Sorry?"])
    session: dict[str, Any] = {
        "type": "realtime",
        "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}},
    }
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.send({"type": "session.update", "session": session})
        await peer.expect("session.updated")
        await peer.append(bytes(48 * 400))
        await peer.send({"type": "input_audio_buffer.commit"})
        item_id = (await peer.expect("input_audio_buffer.committed"))["item_id"]
        failed = await peer.expect("conversation.item.input_audio_transcription.failed")
        assert failed["item_id"] == item_id and failed["content_index"] == 0
        assert failed["error"] == {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
            "param": None,
        }
        await peer.send({"type": "response.create"})
        assert (await peer.expect("response.done"))["response"]["status"] == "completed"
    assert responder.contexts[0].user_text is None


@needs_voice
async def test_without_transcription_asked_the_words_still_reach_the_responder() -> None:
    responder = ScriptedResponder(["Five minutes, starting now."])
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.append(spoken("Set a timer for five minutes."))
        events = await peer.until("response.done")
    assert not [e for e in events if "input_audio_transcription" in e["type"]]
    assert responder.contexts[0].user_text == "Set a timer for five minutes."


async def test_with_recognition_off_user_audio_gets_the_placeholder() -> None:
    responder = ScriptedResponder(["Hello."])
    async with (
        LocalRealtimeServer(responder=responder, recognizer="off") as server,
        client(server.url) as peer,
    ):
        await peer.send({"type": "session.update", "session": TRANSCRIBED})
        await peer.expect("session.updated")
        await peer.append(spoken("Hello there, how are you?"))
        completed = await peer.expect("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"].startswith("(speech, ")
    assert responder.contexts[0].user_text == completed["transcript"]


@pytest.mark.skipif(REAL, reason="the voice extra is installed")
async def test_without_the_voice_extra_user_audio_gets_the_placeholder() -> None:
    async with LocalRealtimeServer() as server:
        assert server.recognizer is None


@needs_voice
def test_the_recognition_worker_is_started_again_after_it_dies() -> None:
    from realtime_agent.server import stt

    recognizer = PocketsphinxRecognizer(processes=1)
    pcm = VOICE.synthesize("Turn on the lights.").pcm
    assert recognizer.recognize(pcm, PCM16_24K) == "Turn on the lights."
    worker = stt._workers(1)._workers[0]
    assert worker._process is not None
    dead = worker._process
    dead.kill()
    dead.wait()
    assert recognizer.recognize(pcm, PCM16_24K) == "Turn on the lights."
    assert worker._process is not dead


WITHOUT_POCKETSPHINX = """
import logging, sys
sys.modules["pocketsphinx"] = None
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from realtime_agent.server.stt import PocketsphinxRecognizer, default_recognizer
assert default_recognizer() is None and default_recognizer() is None
try:
    PocketsphinxRecognizer()
except RuntimeError as error:
    print("error:", error)
"""


def test_without_pocketsphinx_the_server_says_why_once() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_POCKETSPHINX], capture_output=True, text=True, check=True
    )
    notes = [line for line in result.stderr.splitlines() if "speech recognition" in line]
    assert notes == [
        "realtime_agent.server: no speech recognition: user audio gets a placeholder "
        "transcript; pip install 'realtime-agent[voice]' to recognize it"
    ]
    assert result.stdout.strip() == (
        "error: pocketsphinx is not installed: pip install 'realtime-agent[voice]'"
    )


@pytest.mark.parametrize(
    ("model", "deltas"),
    [("gpt-4o-transcribe", ["Set ", "a ", "timer."]), ("whisper-1", ["Set a timer."])],
)
async def test_the_deltas_stream_as_the_model_does(model: str, deltas: list[str]) -> None:
    responder = ScriptedResponder(["Done."], transcripts=["Set a timer."])
    session = {"type": "realtime", "audio": {"input": {"transcription": {"model": model}}}}
    async with LocalRealtimeServer(responder=responder) as server, client(server.url) as peer:
        await peer.send({"type": "session.update", "session": session})
        await peer.expect("session.updated")
        await peer.append(spoken("Set a timer."))
        events = await peer.until("conversation.item.input_audio_transcription.completed")
    assert [e["delta"] for e in events if e["type"].endswith("transcription.delta")] == deltas
