"""The local server's speech recognition: word error rate on espeak-ng's voices.

Each utterance is spoken by each of the server's espeak-ng voices (the voice extra) and
recognized as the local server does (:class:`PocketsphinxRecognizer`, with a session's
language model: the everyday corpus plus the session's words, here the demo agent's
instructions and a weather tool). Half of the utterances are not sentences of the corpus
(``held out``): they use its words in new orders, or words it does not hold.

The baseline, measured in the same run on the same audio: pocketsphinx with the general
English language model shipped in its wheel (what one gets without a session's model).
The ratio line compares word error rates; time is CPU per second of speech.

Run: ``python bench/stt.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from realtime_agent.audio.format import PCM16_24K
from realtime_agent.server import stt
from realtime_agent.server.speech import ESPEAK_VOICES, EspeakVoice
from realtime_agent.server.stt import session_hints, word_error_rate

IN_CORPUS = [
    "What's the weather in Paris?",
    "Set a timer for five minutes.",
    "Turn on the lights in the kitchen.",
    "What is the weather like in Tokyo today?",
    "Is it raining in London?",
    "Thank you very much.",
    "Tell me a joke.",
    "What time is it?",
    "Book a table for two at eight.",
    "Remind me to call my mother tomorrow.",
]
HELD_OUT = [
    "Is it sunny in Berlin today?",
    "Set a timer for twenty minutes please.",
    "Turn off the kitchen lights.",
    "What is the temperature in Rome?",
    "How is the weather in Madrid tomorrow?",
    "Call my mother please.",
    "Send a message to Alice.",
    "Play some music in the kitchen.",
    "Will it rain in Seattle tomorrow?",
    "Cancel the timer.",
]
WEATHER_TOOL = type(
    "Tool",
    (),
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"properties": {"city": {"type": "string", "description": "The city."}}},
    },
)()
HINTS = session_hints(
    "You are a friendly voice assistant. Use get_weather for weather questions.",
    tools=[WEATHER_TOOL],
)


@dataclass
class Tally:
    errors: int = 0
    words: int = 0
    right: int = 0
    sentences: int = 0
    cpu: float = 0.0
    speech_s: float = 0.0
    misses: list[tuple[str, str]] = field(default_factory=list)

    def add(self, said: str, heard: str | None, cpu: float, seconds: float) -> None:
        wrong, count = word_error_rate(said, heard)
        self.errors, self.words = self.errors + wrong, self.words + count
        self.right += wrong == 0
        self.sentences += 1
        self.cpu += cpu
        self.speech_s += seconds
        if wrong:
            self.misses.append((said, heard or "(nothing)"))

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.words)

    def row(self, name: str) -> str:
        return (
            f"  {name:<22} WER {self.wer:6.1%}   sentences right {self.right:3}/{self.sentences:<3}"
            f"   CPU {1000 * self.cpu / max(self.speech_s, 1e-9):5.0f} ms per s of speech"
        )


def general_decoder() -> object:
    """pocketsphinx with its general English model (the baseline)."""
    import pocketsphinx

    pocketsphinx.set_loglevel("FATAL")
    return pocketsphinx.Decoder(samprate=stt.RATE, loglevel="FATAL")


def general(decoder: object, pcm24: bytes) -> str | None:
    from realtime_agent.audio.resample import Resampler

    resampler = Resampler(24000, stt.RATE)
    pcm = b"".join([*resampler.push(pcm24), *resampler.flush()])
    padded = bytes(6400) + pcm + bytes(6400)
    decoder.start_utt()  # type: ignore[attr-defined]
    decoder.process_raw(padded, full_utt=True)  # type: ignore[attr-defined]
    decoder.end_utt()  # type: ignore[attr-defined]
    hypothesis = decoder.hyp()  # type: ignore[attr-defined]
    return hypothesis.hypstr if hypothesis is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 voices, 4 utterances each set")
    args = parser.parse_args()
    voices = ["marin", "cedar", "sage"] if args.quick else list(ESPEAK_VOICES)
    sets = {"in corpus": IN_CORPUS, "held out": HELD_OUT}
    if args.quick:
        sets = {name: texts[:4] for name, texts in sets.items()}
    voice = EspeakVoice()
    engine = stt._engine()
    engine.recognize(bytes(3200), stt.PCM16_16K, HINTS)  # load the model and the dictionary
    baseline_decoder = general_decoder()
    ours: dict[str, Tally] = {name: Tally() for name in sets}
    per_voice: dict[str, Tally] = {name: Tally() for name in voices}
    baseline = Tally()
    for name, texts in sets.items():
        for text in texts:
            for speaker in voices:
                speech = voice.synthesize(text, speaker)
                seconds = speech.duration_ms / 1000
                start = time.process_time()
                heard = engine.recognize(speech.pcm, PCM16_24K, HINTS)
                cpu = time.process_time() - start
                ours[name].add(text, heard, cpu, seconds)
                per_voice[speaker].add(text, heard, cpu, seconds)
                if speaker == voices[0]:  # the baseline is slow: one voice
                    start = time.process_time()
                    plain = general(baseline_decoder, speech.pcm)
                    baseline.add(text, plain, time.process_time() - start, seconds)
    total = Tally()
    for tally in ours.values():
        for key in ("errors", "words", "right", "sentences", "cpu", "speech_s"):
            setattr(total, key, getattr(total, key) + getattr(tally, key))
    print(
        f"speech recognition, {len(voices)} espeak-ng voices x {total.sentences // len(voices)}"
        " utterances (bench/stt.py)"
    )
    for name, tally in ours.items():
        print(tally.row(f"session model, {name}"))
    print(total.row("session model, all"))
    print(baseline.row(f"general model ({voices[0]})"))
    print("  by voice: " + ", ".join(f"{v} {t.wer:.0%}" for v, t in per_voice.items()))
    ours_first = per_voice[voices[0]]
    print(
        f"ratio: session-model WER / general-model WER = "
        f"{ours_first.wer / max(baseline.wer, 1e-9):.2f} ({voices[0]}, same audio); "
        f"CPU {ours_first.cpu / max(baseline.cpu, 1e-9):.2f}x"
    )
    print(
        "  misses (session model): "
        + "; ".join(f"{said!r} -> {heard!r}" for said, heard in total_misses(ours)[:8])
    )
    tool_choice(args.quick)


def tool_choice(quick: bool) -> None:
    """The stand-in model's decisions on its test table, typed and then spoken."""
    import sys
    from pathlib import Path

    from realtime_agent.server.understanding import understand

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.server.test_understanding import ROWS  # the table the tests hold

    rows = []
    for row in ROWS:
        values = getattr(row, "values", row)  # a pytest.param (a known miss) or a tuple
        rows.append(tuple(values))
    if quick:
        rows = rows[::6]
    voice, engine = EspeakVoice(), stt._engine()
    typed = spoken = 0
    wrong: list[str] = []
    for text, tools, expected in rows:
        typed += understand(text, tools) == expected
        hints = session_hints(tools=tools)
        heard = engine.recognize(voice.synthesize(text).pcm, PCM16_24K, hints) or ""
        if understand(heard, tools) == expected:
            spoken += 1
        else:
            wrong.append(f"{text!r} heard {heard!r}")
    print(
        f"tool choice on the stand-in's table ({len(rows)} rows, tests/server/"
        f"test_understanding.py): typed {typed}/{len(rows)} ({typed / len(rows):.0%}), "
        f"spoken by marin and recognized {spoken}/{len(rows)} ({spoken / len(rows):.0%})"
    )
    print("  spoken misses: " + "; ".join(wrong[:6]))


def total_misses(ours: dict[str, Tally]) -> list[tuple[str, str]]:
    return [miss for tally in ours.values() for miss in tally.misses]


if __name__ == "__main__":
    main()
